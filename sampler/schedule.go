package sampler

import (
	"fmt"
	"math"
)

// Schedule is the forward process q(x_t | x_0) of a Config: the betas and
// their cumulative products. Index t runs over 0..T-1 as in diffusers (t = 0
// is the least noisy step). The slices are the Schedule's own; don't modify them.
//
// Symbols: beta_t = Betas[t], alpha_t = 1 - beta_t = Alphas[t],
// alpha_bar_t (ab_t) = prod_{s<=t} alpha_s = AlphasCumprod[t]. In the
// continuous-time notation of DPM-Solver, alpha_t there is sqrt(ab_t) here and
// sigma_t there is sqrt(1 - ab_t).
type Schedule struct {
	Betas         []float64
	Alphas        []float64
	AlphasCumprod []float64
	cfg           Config
}

// NewSchedule validates cfg and computes its schedule.
func NewSchedule(cfg Config) (*Schedule, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	betas := Betas(cfg)
	if cfg.RescaleBetasZeroSNR {
		betas = rescaleZeroTerminalSNR(betas)
	}
	s := &Schedule{Betas: betas, cfg: cfg}
	s.Alphas = make([]float64, len(betas))
	s.AlphasCumprod = make([]float64, len(betas))
	ab := 1.0
	for i, b := range betas {
		s.Alphas[i] = 1 - b
		ab *= 1 - b
		s.AlphasCumprod[i] = ab
	}
	return s, nil
}

// Config returns the configuration the schedule was built from.
func (s *Schedule) Config() Config { return s.cfg }

// Betas returns the beta schedule of cfg (before any zero-SNR rescaling).
// cfg must be valid.
func Betas(cfg Config) []float64 {
	T := cfg.NumTrainTimesteps
	b := make([]float64, T)
	frac := func(i int) float64 { // i/(T-1), the linspace position
		if T == 1 {
			return 0
		}
		return float64(i) / float64(T-1)
	}
	switch cfg.BetaSchedule {
	case Linear:
		for i := range b {
			b[i] = cfg.BetaStart + (cfg.BetaEnd-cfg.BetaStart)*frac(i)
		}
	case ScaledLinear:
		s0, s1 := math.Sqrt(cfg.BetaStart), math.Sqrt(cfg.BetaEnd)
		for i := range b {
			r := s0 + (s1-s0)*frac(i)
			b[i] = r * r
		}
	case SquaredCosCapV2, Cosine:
		// Nichol & Dhariwal (2021), Eq. 17: beta_t = min(1 - ab(t+1)/ab(t), 0.999)
		// with ab(t) = f(t)/f(0) and f(t) = cos²((t/T + s)/(1 + s)·π/2).
		for i := range b {
			b[i] = math.Min(1-CosineAlphaBar(float64(i+1)/float64(T))/CosineAlphaBar(float64(i)/float64(T)), 0.999)
		}
	default:
		panic("sampler: Betas: invalid BetaSchedule " + cfg.BetaSchedule)
	}
	return b
}

// CosineAlphaBar is f(u) = cos²((u + 0.008)/1.008 · π/2) of the cosine
// schedule, u = t/T in [0, 1].
func CosineAlphaBar(u float64) float64 {
	c := math.Cos((u + 0.008) / 1.008 * math.Pi / 2)
	return c * c
}

// rescaleZeroTerminalSNR is Algorithm 1 of Lin et al. (2023), "Common
// Diffusion Noise Schedules and Sample Steps are Flawed": shift sqrt(ab) so the
// last is 0, scale so the first is unchanged, and recover the betas.
func rescaleZeroTerminalSNR(betas []float64) []float64 {
	T := len(betas)
	r := make([]float64, T) // sqrt(ab_t)
	ab := 1.0
	for i, b := range betas {
		ab *= 1 - b
		r[i] = math.Sqrt(ab)
	}
	first, last := r[0], r[T-1]
	if first == last { // T == 1: nothing to rescale against
		return append([]float64(nil), betas...)
	}
	for i := range r {
		r[i] = (r[i] - last) * first / (first - last)
	}
	out := make([]float64, T)
	prev := 1.0
	for i := range r {
		ab := r[i] * r[i]
		out[i] = 1 - ab/prev
		prev = ab
	}
	return out
}

// AlphaBar returns ab_t. It panics if t is outside 0..T-1.
func (s *Schedule) AlphaBar(t int) float64 { return s.AlphasCumprod[t] }

// SNR returns the signal-to-noise ratio ab_t/(1-ab_t) (e.g. for min-SNR loss weights).
func (s *Schedule) SNR(t int) float64 {
	ab := s.AlphasCumprod[t]
	return ab / (1 - ab)
}

func (s *Schedule) checkT(t int) error {
	if t < 0 || t >= len(s.AlphasCumprod) {
		return fmt.Errorf("%w: %d not in 0..%d", ErrTimestep, t, len(s.AlphasCumprod)-1)
	}
	return nil
}

func checkLen(what string, got, want int) error {
	if got != want {
		return fmt.Errorf("%w: %s has %d values, want %d", ErrLength, what, got, want)
	}
	return nil
}

// combine returns a·x + b·y elementwise, computed in float64.
func combine(a float64, x []float32, b float64, y []float32) []float32 {
	out := make([]float32, len(x))
	for i := range x {
		out[i] = float32(a*float64(x[i]) + b*float64(y[i]))
	}
	return out
}

// AddNoise samples q(x_t | x_0): x_t = sqrt(ab_t)·x0 + sqrt(1-ab_t)·noise,
// noise ~ N(0, I); for a Mask process, x0 with the cells masked whose
// first-plane noise falls below the normal quantile of MaskRate(t). For a batch with one timestep per sample, call it on each
// sample's sub-slice.
func (s *Schedule) AddNoise(x0, noise []float32, t int) ([]float32, error) {
	if err := s.checkT(t); err != nil {
		return nil, err
	}
	if err := checkLen("noise", len(noise), len(x0)); err != nil {
		return nil, err
	}
	if s.cfg.Process == Mask {
		return maskCells(x0, noise, t, s.cfg.NumTrainTimesteps, s.cfg.MaskCols)
	}
	ab := s.AlphasCumprod[t]
	return combine(math.Sqrt(ab), x0, math.Sqrt(1-ab), noise), nil
}

// Velocity returns the v-prediction target v = sqrt(ab_t)·noise - sqrt(1-ab_t)·x0.
func (s *Schedule) Velocity(x0, noise []float32, t int) ([]float32, error) {
	if err := s.checkT(t); err != nil {
		return nil, err
	}
	if err := checkLen("noise", len(noise), len(x0)); err != nil {
		return nil, err
	}
	ab := s.AlphasCumprod[t]
	return combine(-math.Sqrt(1-ab), x0, math.Sqrt(ab), noise), nil
}

// Target returns what the model should output for x_t = AddNoise(x0, noise, t)
// under the configured Prediction: noise, Velocity(x0, noise, t) or x0.
// The result is a new slice.
func (s *Schedule) Target(x0, noise []float32, t int) ([]float32, error) {
	if err := s.checkT(t); err != nil {
		return nil, err
	}
	if err := checkLen("noise", len(noise), len(x0)); err != nil {
		return nil, err
	}
	switch s.cfg.Prediction {
	case VPrediction:
		return s.Velocity(x0, noise, t)
	case SamplePrediction:
		return append([]float32(nil), x0...), nil
	default:
		return append([]float32(nil), noise...), nil
	}
}

// InitNoiseSigma is the standard deviation of the initial noise x_T (1 for
// the variance-preserving schedulers of this package).
func (s *Schedule) InitNoiseSigma() float64 { return 1 }
