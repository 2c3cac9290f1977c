package sampler

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
)

// Need says which predictions a DenoiseFunc must return: Cond, Uncond or both.
type Need uint8

const (
	// Cond asks for the prediction under the prompt.
	Cond Need = 1 << iota
	// Uncond asks for the prediction under the null prompt.
	Uncond
)

// DenoiseFunc evaluates the model on x_t at timestep t. x holds the whole
// batch (B samples back to back, shape known to the caller). It returns the
// conditional output when need has Cond and the unconditional output when
// need has Uncond (nil for the one not asked for); each has len(x) values
// and is what the model predicts (Config.Prediction). A model that can
// evaluate both in one batch of 2B should do so when need is Cond|Uncond.
// The returned slices are read, never kept or modified, by the sampler.
type DenoiseFunc func(x []float32, t int, need Need) (cond, uncond []float32, err error)

// PerCondition adapts a model that is called once per condition to a
// DenoiseFunc.
func PerCondition(f func(x []float32, t int, cond bool) ([]float32, error)) DenoiseFunc {
	return func(x []float32, t int, need Need) (c, u []float32, err error) {
		if need&Cond != 0 {
			if c, err = f(x, t, true); err != nil {
				return nil, nil, err
			}
		}
		if need&Uncond != 0 {
			if u, err = f(x, t, false); err != nil {
				return nil, nil, err
			}
		}
		return c, u, nil
	}
}

// Guide applies classifier-free guidance (Ho & Salimans 2022):
// uncond + w·(cond - uncond), computed in float64.
func Guide(cond, uncond []float32, w float64) []float32 {
	return combine(w, cond, 1-w, uncond)
}

// ErrStop may be returned by a Callback to end sampling early; Sample then
// returns the current sample and a nil error.
var ErrStop = errors.New("sampler: stop")

// StepInfo is passed to Options.Callback after every step.
type StepInfo struct {
	Step, Total int       // steps done (1..Total) and steps in all
	T           int       // the timestep just taken
	X           []float32 // the new sample (the next x_t); don't modify
	PredX0      []float32 // the scheduler's estimate of x0 at this step
}

// Options control Sample. The zero value is 50 steps, no guidance, noise from rng.
type Options struct {
	// Steps is the number of inference steps (default 50).
	Steps int
	// Guidance is the classifier-free guidance scale w: the model output is
	// uncond + w·(cond - uncond). 0 (the zero value) and 1 mean no guidance
	// and skip the unconditional evaluation: only the conditional one is made.
	Guidance float64
	// Unconditional samples from the null prompt only (Guidance is ignored).
	Unconditional bool
	// Noise is the initial x_T (copied, not scaled). If nil, x_T is drawn
	// from rng: InitNoiseSigma·N(0, I), element by element in order.
	Noise []float32
	// Callback, if set, is called after every step (progress display,
	// previews). An error stops sampling; ErrStop stops it without error.
	Callback func(StepInfo) error
}

// Sample runs the reverse process of s over n values (a batch of B samples
// of size n/B: the scheduler does not care) and returns x_0. It calls
// s.SetTimesteps(opt.Steps), draws x_T from rng (math/rand/v2: the same
// seed gives the same samples), and at every timestep evaluates denoise,
// combines the conditional and unconditional outputs with opt.Guidance and
// steps the scheduler. rng also drives stochastic schedulers; it may be nil
// only when opt.Noise is given and the scheduler is deterministic.
// ctx is checked before every step; on cancellation Sample returns ctx.Err().
func Sample(ctx context.Context, s Scheduler, n int, denoise DenoiseFunc, rng *rand.Rand, opt Options) ([]float32, error) {
	if n < 1 {
		return nil, fmt.Errorf("%w: sample size %d", ErrLength, n)
	}
	steps := opt.Steps
	if steps == 0 {
		steps = 50
	}
	if err := s.SetTimesteps(steps); err != nil {
		return nil, err
	}

	// x_T
	var x []float32
	if opt.Noise != nil {
		if err := checkLen("Options.Noise", len(opt.Noise), n); err != nil {
			return nil, err
		}
		x = append([]float32(nil), opt.Noise...)
	} else {
		if rng == nil {
			return nil, ErrNoRand
		}
		sigma := s.InitNoiseSigma()
		x = make([]float32, n)
		for i := range x {
			x[i] = float32(sigma * rng.NormFloat64())
		}
	}

	need := Cond
	switch {
	case opt.Unconditional:
		need = Uncond
	case opt.Guidance != 0 && opt.Guidance != 1:
		need = Cond | Uncond
	}

	ts := s.Timesteps()
	for k, t := range ts {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		cond, uncond, err := denoise(x, t, need)
		if err != nil {
			return nil, fmt.Errorf("sampler: denoise at step %d (t=%d): %w", k, t, err)
		}
		var out []float32
		switch need {
		case Cond:
			out = cond
		case Uncond:
			out = uncond
		default:
			if err := checkLen("unconditional output", len(uncond), n); err != nil {
				return nil, err
			}
			if err := checkLen("conditional output", len(cond), n); err != nil {
				return nil, err
			}
			out = Guide(cond, uncond, opt.Guidance)
		}
		if err := checkLen("model output", len(out), n); err != nil {
			return nil, err
		}
		step, err := s.Step(out, x, t, rng)
		if err != nil {
			return nil, err
		}
		x = step.Prev
		if opt.Callback != nil {
			err := opt.Callback(StepInfo{Step: k + 1, Total: len(ts), T: t, X: x, PredX0: step.PredX0})
			if errors.Is(err, ErrStop) {
				return x, nil
			}
			if err != nil {
				return nil, err
			}
		}
	}
	return x, nil
}
