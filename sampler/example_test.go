package sampler_test

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"

	"t2t/sampler"
)

// A model that knows the answer: given x_t it returns the exact noise that
// separates x_t from x0. DPM-Solver++(2M) lands on x0 in 10 steps.
func ExampleSample() {
	x0 := []float32{0.5, -0.25, 1, 0.125} // two samples of 2 values each
	s, err := sampler.New("dpm++2m", sampler.DefaultConfig())
	if err != nil {
		panic(err)
	}
	sched, _ := sampler.NewSchedule(sampler.DefaultConfig()) // for alpha_bar_t

	// One call evaluates the whole batch, conditional and unconditional together.
	denoise := func(x []float32, t int, need sampler.Need) (cond, uncond []float32, err error) {
		a := sched.AlphaBar(t)
		eps := make([]float32, len(x))
		for i := range x {
			eps[i] = float32((float64(x[i]) - math.Sqrt(a)*float64(x0[i])) / math.Sqrt(1-a))
		}
		if need&sampler.Cond != 0 {
			cond = eps
		}
		if need&sampler.Uncond != 0 {
			uncond = eps
		}
		return cond, uncond, nil
	}

	rng := rand.New(rand.NewPCG(1, 2))
	x, err := sampler.Sample(context.Background(), s, len(x0), denoise, rng, sampler.Options{
		Steps:    10,
		Guidance: 3,
		Callback: func(si sampler.StepInfo) error {
			if si.Step == si.Total {
				fmt.Printf("step %d/%d at t=%d\n", si.Step, si.Total, si.T)
			}
			return nil
		},
	})
	if err != nil {
		panic(err)
	}
	fmt.Printf("%.4f\n", x)
	// Output:
	// step 10/10 at t=99
	// [0.5000 -0.2500 1.0000 0.1250]
}

// The loop written by hand, as diffusers does it, with training's AddNoise.
func ExampleScheduler() {
	cfg := sampler.DefaultConfig()
	cfg.Prediction = sampler.SamplePrediction // the model predicts x0
	s, _ := sampler.NewDDIM(cfg)

	// Training: noise a clean sample at a random timestep; the target is x0.
	x0 := []float32{0.25, -0.75}
	xt, _ := s.AddNoise(x0, []float32{1, -1}, 500)
	target, _ := s.Target(x0, []float32{1, -1}, 500)
	fmt.Printf("x_500 = %.3f, target %.2f\n", xt, target)

	// Sampling: a perfect x0 model.
	_ = s.SetTimesteps(4)
	fmt.Println("timesteps", s.Timesteps())
	x := []float32{0.3, 1.1}
	for _, t := range s.Timesteps() {
		out, err := s.Step(x0, x, t, nil)
		if err != nil {
			panic(err)
		}
		x = out.Prev
	}
	fmt.Printf("%.2f\n", x)
	// Output:
	// x_500 = [1.030 -1.170], target [0.25 -0.75]
	// timesteps [999 749 499 249]
	// [0.25 -0.75]
}
