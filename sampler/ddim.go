package sampler

import (
	"math"
	"math/rand/v2"
)

// DDIM is the sampler of Song et al. (2021), "Denoising Diffusion Implicit
// Models", Eq. 12: with x0 and eps predicted at x_t,
//
//	x_{t'} = sqrt(ab_{t'})·x0 + sqrt(1 - ab_{t'} - sigma_t²)·eps + sigma_t·z
//	sigma_t = eta·sqrt((1-ab_{t'})/(1-ab_t))·sqrt(1 - ab_t/ab_{t'})          (Eq. 16)
//
// where t' is the next inference timestep (after the last one ab_{t'} is 1,
// or ab_0 when Config.SetAlphaToOne is false) and z ~ N(0, I). eta
// (Config.Eta) = 0 is deterministic; eta = 1 matches DDPM's variance.
type DDIM struct {
	*Schedule
	timesteps
}

// NewDDIM returns a DDIM scheduler for cfg.
func NewDDIM(cfg Config) (*DDIM, error) {
	s, err := NewSchedule(cfg)
	if err != nil {
		return nil, err
	}
	return &DDIM{Schedule: s}, nil
}

// SetTimesteps picks n of the T training timesteps.
func (d *DDIM) SetTimesteps(n int) error {
	return d.set(d.cfg, n)
}

// Sigma returns DDIM's sigma_t (Eq. 16) at timestep t for the configured eta.
func (d *DDIM) Sigma(t int) (float64, error) {
	i, err := d.index(t)
	if err != nil {
		return 0, err
	}
	abT, abPrev := d.alphaBars(i)
	return d.sigma(abT, abPrev), nil
}

func (d *DDIM) alphaBars(i int) (abT, abPrev float64) {
	abT = d.AlphasCumprod[d.ts[i]]
	abPrev = d.finalAlphaBar()
	if i+1 < len(d.ts) {
		abPrev = d.AlphasCumprod[d.ts[i+1]]
	}
	return abT, abPrev
}

func (d *DDIM) sigma(abT, abPrev float64) float64 {
	if d.cfg.Eta == 0 {
		return 0
	}
	return d.cfg.Eta * math.Sqrt((1-abPrev)/(1-abT)*(1-abT/abPrev))
}

// Step computes x_{t'} by Eq. 12. rng is needed only when eta > 0.
func (d *DDIM) Step(modelOutput, sample []float32, t int, rng *rand.Rand) (StepOutput, error) {
	i, err := d.checkStep(modelOutput, sample, t)
	if err != nil {
		return StepOutput{}, err
	}
	abT, abPrev := d.alphaBars(i)
	sigma := d.sigma(abT, abPrev)
	if sigma > 0 && rng == nil {
		return StepOutput{}, ErrNoRand
	}
	x0 := d.predictX0(modelOutput, sample, abT)
	// eps is taken from the (possibly clipped) x0, eps = (x_t - sqrt(ab_t)·x0)/sqrt(1-ab_t),
	// so that x0 and eps stay consistent with x_t. Eq. 12 is then linear in
	// x0 and x_t: x_{t'} = (sqrt(ab_{t'}) - dir·sqrt(ab_t)/sqrt(1-ab_t))·x0 + dir/sqrt(1-ab_t)·x_t + sigma_t·z.
	dir := math.Sqrt(max(1-abPrev-sigma*sigma, 0)) // coefficient of eps, "direction pointing to x_t"
	sg := math.Sqrt(1 - abT)
	cx0 := math.Sqrt(abPrev) - dir*math.Sqrt(abT)/sg
	cxt := dir / sg
	prev := make([]float32, len(sample))
	for j := range sample {
		v := cx0*float64(x0[j]) + cxt*float64(sample[j])
		if sigma > 0 {
			v += sigma * rng.NormFloat64()
		}
		prev[j] = float32(v)
	}
	return StepOutput{Prev: prev, PredX0: x0}, nil
}
