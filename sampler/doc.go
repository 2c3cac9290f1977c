// Package sampler holds the diffusion side of t2t that does not depend on a
// model: noise schedules, schedulers (DDPM, DDIM, DPM-Solver++(2M)) and a
// sampling loop with classifier-free guidance. It never imports a network;
// the model comes in as a DenoiseFunc. Tensors are flat []float32 slices
// whose shape only the caller knows: a batch of B images of [C,H,W] is
// B·C·H·W values back to back, all at the same timestep. Arithmetic is done
// in float64 per element. Randomness comes from an injected *rand.Rand of
// math/rand/v2, so the same seed gives the same samples.
//
// # Schedules
//
// A Config describes the forward process x_t = sqrt(ab_t)·x0 + sqrt(1-ab_t)·eps
// over T = NumTrainTimesteps steps, where ab_t (alpha_bar_t) is the product
// of 1 - beta_s for s <= t. BetaSchedule is "linear" (Ho et al.),
// "scaled_linear" (Stable Diffusion) or "squaredcos_cap_v2"/"cosine"
// (Nichol & Dhariwal); RescaleBetasZeroSNR makes the last step pure noise
// (Lin et al. 2023). Prediction says what the model outputs: "epsilon",
// "v_prediction" or "sample". Configs round-trip through JSON with
// diffusers' field names, and Validate names the bad field:
//
//	cfg := sampler.DefaultConfig() // linear 1e-4..0.02, epsilon, trailing, clip to [-1,1]
//	cfg.Prediction = sampler.VPrediction
//	if err := cfg.Validate(); err != nil { ... }
//
// # Training
//
// Every scheduler embeds a *Schedule, which noises clean samples and gives
// the regression target of the configured prediction type:
//
//	t := rng.IntN(cfg.NumTrainTimesteps)
//	xt, _ := s.AddNoise(x0, noise, t)     // one sample's slice; loop for per-sample t
//	target, _ := s.Target(x0, noise, t)   // noise, velocity or x0
//	loss := mse(model(xt, t, prompt), target)
//
// # Sampling
//
// A Scheduler is used as in diffusers: SetTimesteps, then Step at each
// timestep in order. Step returns the next sample and the predicted x0:
//
//	s, _ := sampler.New("dpm++2m", cfg) // or "ddim", "ddpm"
//	s.SetTimesteps(20)
//	x := noise
//	for _, t := range s.Timesteps() {
//		out, err := s.Step(model(x, t), x, t, rng)
//		...
//		x = out.Prev
//	}
//
// DDPM is ancestral sampling (many steps, stochastic); DDIM with Eta = 0 is
// deterministic and fine at 50 steps; DPM-Solver++(2M) is the choice for
// 10 to 20 steps. All three are exact for a perfect model: they return x0
// when the model output is the true noise of x_t.
//
// Sample writes that loop with classifier-free guidance. The DenoiseFunc is
// told which predictions are needed, so that a model can evaluate the
// conditional and unconditional halves as one batch of 2B:
//
//	denoise := func(x []float32, t int, need sampler.Need) (cond, uncond []float32, err error) {
//		// run the UNet on x with the prompt (need&sampler.Cond) and with the
//		// null prompt (need&sampler.Uncond), in one batch when both are asked
//	}
//	x, err := sampler.Sample(ctx, s, B*C*H*W, denoise, rand.New(rand.NewPCG(seed, 0)),
//		sampler.Options{Steps: 20, Guidance: 3, Callback: progress})
//
// The guided output is uncond + w·(cond - uncond). Guidance 0 (the zero
// value) or 1 asks for the conditional prediction only; Options.Unconditional
// asks for the unconditional one only. Cancel ctx, or return ErrStop from the
// Callback, to stop a long generation. PerCondition adapts a model that is
// called once per prompt.
//
// # Errors
//
// Step before SetTimesteps returns ErrNotSet; slices of different lengths
// return ErrLength; a timestep that is not one of Timesteps returns
// ErrTimestep; a stochastic step without a *rand.Rand returns ErrNoRand.
// Invalid configurations return a *ConfigError.
package sampler
