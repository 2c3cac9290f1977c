package sampler

import (
	"fmt"
	"math"
	"math/rand/v2"
)

// DPMSolver is DPM-Solver++(2M) of Lu et al. (2022), "DPM-Solver++: Fast
// Solver for Guided Sampling of Diffusion Probabilistic Models", Algorithm 2:
// a multistep second-order solver of the diffusion ODE in data prediction
// (x0) form, good in 10-20 steps.
//
// In the paper's notation alpha_t = sqrt(ab_t), sigma_t = sqrt(1-ab_t) and
// lambda_t = log(alpha_t/sigma_t) (half the log-SNR). From timestep s = t_i to
// t = t_{i+1}, with h = lambda_t - lambda_s and the data predictions m_i (now)
// and m_{i-1} (previous step):
//
//	first order (= DDIM):  x_t = (sigma_t/sigma_s)·x_s - alpha_t·(e^{-h} - 1)·m_i
//	second order (2M):     x_t = (sigma_t/sigma_s)·x_s - alpha_t·(e^{-h} - 1)·D
//	                       D = (1 + 1/(2r))·m_i - 1/(2r)·m_{i-1},  r = h_{i-1}/h
//
// The first step is first order (no history). The last step is first order
// when it lands on sigma = 0 (Config.SetAlphaToOne) or when
// Config.LowerOrderFinal is set and fewer than 15 steps are taken; this
// "lower order final" keeps few-step sampling stable. Config.SolverOrder = 1
// gives DPM-Solver++(1), which is DDIM.
//
// Steps must be taken in the order of Timesteps; a Step at the first timestep
// restarts the history.
type DPMSolver struct {
	*Schedule
	timesteps
	last    int       // index of the last step taken, -1 for none
	prevX0  []float32 // m_{i-1}, a buffer reused across steps
	prevLam float64   // lambda_{t_{i-1}}
}

// NewDPMSolver returns a DPM-Solver++ scheduler (2M when cfg.SolverOrder is 2).
func NewDPMSolver(cfg Config) (*DPMSolver, error) {
	s, err := NewSchedule(cfg)
	if err != nil {
		return nil, err
	}
	return &DPMSolver{Schedule: s, last: -1}, nil
}

// SetTimesteps picks n of the T training timesteps and clears the history.
func (d *DPMSolver) SetTimesteps(n int) error {
	ts, err := spacing(d.cfg, n)
	if err != nil {
		return err
	}
	d.ts, d.last, d.prevX0 = ts, -1, d.prevX0[:0]
	return nil
}

// lambda is log(alpha/sigma) for ab = alpha²: +Inf at ab = 1, -Inf at ab = 0.
func lambda(ab float64) float64 {
	return 0.5*math.Log(ab) - 0.5*math.Log(1-ab)
}

// Step advances the ODE solution from t to the next timestep. rng is unused.
func (d *DPMSolver) Step(modelOutput, sample []float32, t int, _ *rand.Rand) (StepOutput, error) {
	i, err := d.checkStep(modelOutput, sample, t)
	if err != nil {
		return StepOutput{}, err
	}
	if i == 0 {
		d.last, d.prevX0 = -1, d.prevX0[:0]
	} else if i != d.last+1 {
		return StepOutput{}, fmt.Errorf("%w: timestep %d (step %d) after step %d; call SetTimesteps to restart", ErrOrder, t, i, d.last)
	} else if len(d.prevX0) != len(sample) {
		return StepOutput{}, fmt.Errorf("%w: sample has %d values, the previous step had %d", ErrLength, len(sample), len(d.prevX0))
	}

	abS := d.AlphasCumprod[t]
	abT := d.finalAlphaBar()
	final := i+1 == len(d.ts)
	if !final {
		abT = d.AlphasCumprod[d.ts[i+1]]
	}
	sigmaS, sigmaT := math.Sqrt(1-abS), math.Sqrt(1-abT)
	alphaT := math.Sqrt(abT)
	lamS, lamT := lambda(abS), lambda(abT)
	h := lamT - lamS

	m0 := d.predictX0(modelOutput, sample, abS) // m_i, the data prediction
	order := d.cfg.SolverOrder
	if d.last < 0 || (final && (sigmaT == 0 || (d.cfg.LowerOrderFinal && len(d.ts) < 15))) {
		order = 1
	}

	ratio := sigmaT / sigmaS       // sigma_t/sigma_s
	cm := -alphaT * math.Expm1(-h) // -alpha_t·(e^{-h} - 1)
	prev := make([]float32, len(sample))
	if order == 1 {
		for j := range sample {
			prev[j] = float32(ratio*float64(sample[j]) + cm*float64(m0[j]))
		}
	} else {
		r := (lamS - d.prevLam) / h // r = h_{i-1}/h
		c1 := 1 / (2 * r)
		m1 := d.prevX0
		for j := range sample {
			m0j := float64(m0[j])
			D := m0j + c1*(m0j-float64(m1[j]))
			prev[j] = float32(ratio*float64(sample[j]) + cm*D)
		}
	}
	d.last, d.prevX0, d.prevLam = i, append(d.prevX0[:0], m0...), lamS
	return StepOutput{Prev: prev, PredX0: m0}, nil
}
