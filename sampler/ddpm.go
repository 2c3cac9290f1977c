package sampler

import (
	"math"
	"math/rand/v2"
)

// DDPM is the ancestral sampler of Ho et al. (2020), "Denoising Diffusion
// Probabilistic Models". Each step samples the posterior
//
//	q(x_{t'} | x_t, x0) = N(mu~_t, beta~_t·I)
//	mu~_t    = sqrt(ab_{t'})·beta_t/(1-ab_t)·x0 + sqrt(alpha_t)·(1-ab_{t'})/(1-ab_t)·x_t   (Eq. 7)
//	beta~_t  = (1-ab_{t'})/(1-ab_t)·beta_t                                                (fixed_small)
//
// with x0 predicted by the model, t' the next inference timestep and, when
// fewer than T steps are taken, alpha_t = ab_t/ab_{t'} and beta_t = 1 - alpha_t
// (the effective step). The last step lands on ab = 1 and adds no noise.
type DDPM struct {
	*Schedule
	timesteps
}

// NewDDPM returns a DDPM scheduler for cfg.
func NewDDPM(cfg Config) (*DDPM, error) {
	s, err := NewSchedule(cfg)
	if err != nil {
		return nil, err
	}
	return &DDPM{Schedule: s}, nil
}

// SetTimesteps picks n of the T training timesteps (n = T is the original sampler).
func (d *DDPM) SetTimesteps(n int) error {
	return d.set(d.cfg, n)
}

// coefficients returns ab_t, ab_{t'}, and beta_t of the effective step from
// the timestep at index i.
func (d *DDPM) coefficients(i int) (abT, abPrev, beta float64) {
	abT = d.AlphasCumprod[d.ts[i]]
	abPrev = 1.0 // the step after the last lands on a clean sample
	if i+1 < len(d.ts) {
		abPrev = d.AlphasCumprod[d.ts[i+1]]
	}
	return abT, abPrev, 1 - abT/abPrev
}

// Variance returns the variance of the noise that Step adds at timestep t:
// beta~_t = (1-ab_{t'})/(1-ab_t)·beta_t (fixed_small) or beta_t (fixed_large),
// and 0 at the last timestep.
func (d *DDPM) Variance(t int) (float64, error) {
	i, err := d.index(t)
	if err != nil {
		return 0, err
	}
	return d.variance(i), nil
}

func (d *DDPM) variance(i int) float64 {
	if i == len(d.ts)-1 {
		return 0
	}
	abT, abPrev, beta := d.coefficients(i)
	if d.cfg.VarianceType == FixedLarge {
		return beta
	}
	return max((1-abPrev)/(1-abT)*beta, 1e-20)
}

// Step samples x_{t'} ~ N(mu~_t, beta~_t·I). rng must not be nil except at the last timestep.
func (d *DDPM) Step(modelOutput, sample []float32, t int, rng *rand.Rand) (StepOutput, error) {
	i, err := d.checkStep(modelOutput, sample, t)
	if err != nil {
		return StepOutput{}, err
	}
	variance := d.variance(i)
	if variance > 0 && rng == nil {
		return StepOutput{}, ErrNoRand
	}
	abT, abPrev, beta := d.coefficients(i)
	x0 := d.predictX0(modelOutput, sample, abT)
	cx0 := math.Sqrt(abPrev) * beta / (1 - abT)         // coefficient of x0 in mu~_t
	cxt := math.Sqrt(1-beta) * (1 - abPrev) / (1 - abT) // coefficient of x_t
	std := math.Sqrt(variance)
	prev := make([]float32, len(sample))
	for j := range sample {
		mu := cx0*float64(x0[j]) + cxt*float64(sample[j])
		if std > 0 {
			mu += std * rng.NormFloat64()
		}
		prev[j] = float32(mu)
	}
	return StepOutput{Prev: prev, PredX0: x0}, nil
}
