package sampler

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
)

// Errors returned by the schedulers, wrapped with details; test with errors.Is.
var (
	ErrNotSet   = errors.New("sampler: Step called before SetTimesteps")
	ErrTimestep = errors.New("sampler: bad timestep")
	ErrLength   = errors.New("sampler: length mismatch")
	ErrNoRand   = errors.New("sampler: stochastic step needs a *rand.Rand")
	ErrOrder    = errors.New("sampler: steps out of order")
	ErrSteps    = errors.New("sampler: bad number of inference steps")
)

// StepOutput is the result of one reverse step.
type StepOutput struct {
	// Prev is x_{t'}, the sample at the next (less noisy) timestep t' (or the
	// final clean sample after the last timestep).
	Prev []float32
	// PredX0 is the model's estimate of the clean sample x0 at this step,
	// after clipping or thresholding. Useful for previews.
	PredX0 []float32
}

// A Scheduler turns model outputs into denoising steps, in the manner of
// diffusers. Tensors are flat []float32 slices: a batch of B samples is B
// samples back to back, all at the same timestep, and the scheduler does not
// need their shape. Step treats the slice as a whole only for dynamic
// thresholding (Config.Thresholding).
//
// The caller writes (or uses Sample for) the loop:
//
//	s.SetTimesteps(20)
//	for _, t := range s.Timesteps() {
//		out := model(x, t)
//		step, err := s.Step(out, x, t, rng)
//		x = step.Prev
//	}
//
// A Scheduler holds per-loop state (the timesteps; DPM-Solver++ its history)
// and is not safe for concurrent use; make one per goroutine.
type Scheduler interface {
	// SetTimesteps picks the n inference timesteps out of 0..T-1 and resets
	// the loop state. It must be called before Step.
	SetTimesteps(n int) error
	// Timesteps returns the inference timesteps in descending order (a copy).
	Timesteps() []int
	// Step takes the model output at timestep t (one of Timesteps, in order)
	// and the current sample x_t, and returns x at the next timestep. rng is
	// used by stochastic schedulers (DDPM, DDIM with eta > 0) and may be nil
	// for deterministic ones.
	Step(modelOutput, sample []float32, t int, rng *rand.Rand) (StepOutput, error)
	// AddNoise samples q(x_t | x_0) for training: sqrt(ab_t)·x0 + sqrt(1-ab_t)·noise.
	AddNoise(x0, noise []float32, t int) ([]float32, error)
	// Velocity is the v-prediction target sqrt(ab_t)·noise - sqrt(1-ab_t)·x0.
	Velocity(x0, noise []float32, t int) ([]float32, error)
	// Target is the training target of the configured Prediction.
	Target(x0, noise []float32, t int) ([]float32, error)
	// InitNoiseSigma is the standard deviation of the initial noise x_T.
	InitNoiseSigma() float64
	// Config returns the scheduler's configuration.
	Config() Config
}

// Scheduler names accepted by New.
const (
	NameDDPM         = "ddpm"
	NameDDIM         = "ddim"
	NameDPMSolver2M  = "dpm++2m"
	NameMask         = "mask" // Masked, for models trained with Process Mask
	nameDPMSolverAlt = "dpmsolver++"
)

// Names lists the scheduler names New accepts.
func Names() []string { return []string{NameDDPM, NameDDIM, NameDPMSolver2M} }

// New returns the scheduler called name ("ddpm", "ddim", "dpm++2m"; case
// insensitive, "dpmsolver++" is an alias) for cfg. It is the one line a
// pipeline changes to swap algorithms.
func New(name string, cfg Config) (Scheduler, error) {
	if cfg.Process == Mask {
		switch strings.ToLower(name) {
		case NameMask, NameDDPM, NameDDIM, NameDPMSolver2M, nameDPMSolverAlt, "dpm-solver++", "dpmpp2m", "":
			return NewMasked(cfg) // the only sampler of a masked model
		}
		return nil, fmt.Errorf("sampler: unknown scheduler %q", name)
	}
	switch strings.ToLower(name) {
	case NameMask:
		return nil, fmt.Errorf("sampler: scheduler %q needs a model trained with process %q", name, Mask)
	case NameDDPM:
		return NewDDPM(cfg)
	case NameDDIM:
		return NewDDIM(cfg)
	case NameDPMSolver2M, nameDPMSolverAlt, "dpm-solver++", "dpmpp2m":
		return NewDPMSolver(cfg)
	}
	return nil, fmt.Errorf("sampler: unknown scheduler %q (want one of %s)", name, strings.Join(Names(), ", "))
}

// timesteps is the inference-time part shared by the schedulers: the chosen
// timesteps t_0 > t_1 > ... > t_{n-1}.
type timesteps struct {
	ts []int
}

// set picks the n inference timesteps of cfg.
func (st *timesteps) set(cfg Config, n int) error {
	ts, err := spacing(cfg, n)
	if err != nil {
		return err
	}
	st.ts = ts
	return nil
}

// Timesteps returns the inference timesteps in descending order.
func (st *timesteps) Timesteps() []int { return slices.Clone(st.ts) }

// spacing computes n timesteps of a T-step schedule as diffusers does.
func spacing(cfg Config, n int) ([]int, error) {
	T := cfg.NumTrainTimesteps
	if n < 1 || n > T {
		return nil, fmt.Errorf("%w: %d, want 1..%d (NumTrainTimesteps)", ErrSteps, n, T)
	}
	ts := make([]int, n)
	switch cfg.TimestepSpacing {
	case Leading:
		ratio := T / n
		for k := range n {
			ts[n-1-k] = k*ratio + cfg.StepsOffset
		}
		if ts[0] >= T {
			return nil, fmt.Errorf("%w: leading spacing with StepsOffset %d reaches timestep %d >= %d", ErrSteps, cfg.StepsOffset, ts[0], T)
		}
	case Trailing:
		ratio := float64(T) / float64(n)
		for k := range n {
			ts[k] = int(math.RoundToEven(float64(T)-float64(k)*ratio)) - 1
		}
	case Linspace:
		for k := range n {
			var u float64
			if n > 1 {
				u = float64(k) * float64(T-1) / float64(n-1)
			}
			ts[n-1-k] = int(math.RoundToEven(u))
		}
	default:
		return nil, &ConfigError{Field: "TimestepSpacing", Reason: fmt.Sprintf("%q", cfg.TimestepSpacing)}
	}
	return ts, nil
}

// index finds t among the timesteps.
func (st *timesteps) index(t int) (int, error) {
	if st.ts == nil {
		return 0, ErrNotSet
	}
	for i, u := range st.ts {
		if u == t {
			return i, nil
		}
	}
	return 0, fmt.Errorf("%w: %d is not one of the %d timesteps set by SetTimesteps", ErrTimestep, t, len(st.ts))
}

// checkStep validates the common arguments of Step and returns t's index.
func (st *timesteps) checkStep(modelOutput, sample []float32, t int) (int, error) {
	i, err := st.index(t)
	if err != nil {
		return 0, err
	}
	if err := checkLen("modelOutput", len(modelOutput), len(sample)); err != nil {
		return 0, err
	}
	return i, nil
}

// predictX0 converts a model output at x_t with ab = ab_t into the data
// prediction x0, clipped or thresholded as configured:
//
//	epsilon: x0 = (x_t - sqrt(1-ab)·eps)/sqrt(ab)
//	v:       x0 = sqrt(ab)·x_t - sqrt(1-ab)·v
//	sample:  x0 = model output
//
// The arithmetic is float64; the result is a new float32 slice (Step's PredX0).
func (s *Schedule) predictX0(out, x []float32, ab float64) []float32 {
	a, sg := math.Sqrt(ab), math.Sqrt(1-ab) // alpha_t, sigma_t of DPM-Solver
	x0 := make([]float32, len(x))
	lo, hi := math.Inf(-1), math.Inf(1)
	if s.cfg.ClipSample && !s.cfg.Thresholding {
		lo, hi = -s.cfg.ClipSampleRange, s.cfg.ClipSampleRange
	}
	switch s.cfg.Prediction {
	case Epsilon:
		for i := range x {
			x0[i] = float32(min(max((float64(x[i])-sg*float64(out[i]))/a, lo), hi))
		}
	case VPrediction:
		for i := range x {
			x0[i] = float32(min(max(a*float64(x[i])-sg*float64(out[i]), lo), hi))
		}
	default:
		for i := range x {
			x0[i] = float32(min(max(float64(out[i]), lo), hi))
		}
	}
	if s.cfg.Thresholding {
		threshold(x0, s.cfg.DynamicThresholdingRatio, s.cfg.SampleMaxValue)
	}
	return x0
}

// threshold is Imagen's dynamic thresholding over the whole slice.
func threshold(x0 []float32, ratio, maxValue float64) {
	if len(x0) == 0 {
		return
	}
	abs := make([]float64, len(x0))
	for i, v := range x0 {
		abs[i] = math.Abs(float64(v))
	}
	slices.Sort(abs)
	// Quantile with linear interpolation (as torch.quantile).
	pos := ratio * float64(len(abs)-1)
	lo := int(pos)
	q := abs[lo]
	if lo+1 < len(abs) {
		q += (pos - float64(lo)) * (abs[lo+1] - abs[lo])
	}
	sc := min(max(q, 1), maxValue)
	for i, v := range x0 {
		x0[i] = float32(min(max(float64(v), -sc), sc) / sc)
	}
}

// finalAlphaBar is the ab that the step after the last timestep lands on.
func (s *Schedule) finalAlphaBar() float64 {
	if s.cfg.SetAlphaToOne {
		return 1
	}
	return s.AlphasCumprod[0]
}
