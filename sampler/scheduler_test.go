package sampler

import (
	"errors"
	"math"
	"math/rand/v2"
	"testing"
)

func newRand(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, 0x5eed)) }

func gaussian(rng *rand.Rand, n int) []float32 {
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(rng.NormFloat64())
	}
	return x
}

func uniform(rng *rand.Rand, n int, lo, hi float64) []float32 {
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(lo + (hi-lo)*rng.Float64())
	}
	return x
}

// meanVar returns the mean and unbiased variance of x.
func meanVar(x []float64) (mean, variance float64) {
	for _, v := range x {
		mean += v
	}
	mean /= float64(len(x))
	for _, v := range x {
		variance += (v - mean) * (v - mean)
	}
	return mean, variance / float64(len(x)-1)
}

func TestAddNoiseStatistics(t *testing.T) {
	s := mustSchedule(t, DefaultConfig())
	rng := newRand(1)
	x0 := []float32{0.8, -0.5, 0, 1}
	const N = 20000
	for _, tt := range []int{0, 10, 300, 700, 999} {
		ab := s.AlphasCumprod[tt]
		samples := make([][]float64, len(x0))
		for range N {
			xt, err := s.AddNoise(x0, gaussian(rng, len(x0)), tt)
			if err != nil {
				t.Fatal(err)
			}
			for j, v := range xt {
				samples[j] = append(samples[j], float64(v))
			}
		}
		wantVar := 1 - ab
		for j := range x0 {
			mean, variance := meanVar(samples[j])
			wantMean := math.Sqrt(ab) * float64(x0[j])
			// 5 standard errors: sd(mean) = sqrt(var/N), sd(var) ≈ var·sqrt(2/(N-1)).
			if tol := 5 * math.Sqrt(wantVar/N); math.Abs(mean-wantMean) > tol {
				t.Errorf("t=%d x0=%v: mean %v, want sqrt(ab)·x0 = %v ± %v", tt, x0[j], mean, wantMean, tol)
			}
			if tol := 5 * wantVar * math.Sqrt(2.0/(N-1)); math.Abs(variance-wantVar) > tol {
				t.Errorf("t=%d x0=%v: variance %v, want 1-ab = %v ± %v", tt, x0[j], variance, wantVar, tol)
			}
		}
	}
}

func TestVelocityAndTarget(t *testing.T) {
	cfg := DefaultConfig()
	rng := newRand(2)
	x0, noise := uniform(rng, 100, -1, 1), gaussian(rng, 100)
	for _, pred := range []string{Epsilon, VPrediction, SamplePrediction} {
		cfg.Prediction = pred
		s := mustSchedule(t, cfg)
		const tt = 400
		ab := s.AlphasCumprod[tt]
		xt, _ := s.AddNoise(x0, noise, tt)
		v, err := s.Velocity(x0, noise, tt)
		if err != nil {
			t.Fatal(err)
		}
		target, err := s.Target(x0, noise, tt)
		if err != nil {
			t.Fatal(err)
		}
		for i := range x0 {
			// v = sqrt(ab)·eps - sqrt(1-ab)·x0, so x0 = sqrt(ab)·x_t - sqrt(1-ab)·v.
			back := math.Sqrt(ab)*float64(xt[i]) - math.Sqrt(1-ab)*float64(v[i])
			if math.Abs(back-float64(x0[i])) > 1e-5 {
				t.Fatalf("x0 from v: %v, want %v", back, x0[i])
			}
			want := map[string]float32{Epsilon: noise[i], VPrediction: v[i], SamplePrediction: x0[i]}[pred]
			if target[i] != want {
				t.Fatalf("%s: Target[%d] = %v, want %v", pred, i, target[i], want)
			}
		}
	}
}

// oracle returns the exact model output for x_t when the data is x0:
// eps = (x_t - sqrt(ab_t)·x0)/sqrt(1-ab_t), converted to the prediction type.
func oracle(s *Schedule, x0 []float32) func(x []float32, t int) []float32 {
	return func(x []float32, t int) []float32 {
		ab := s.AlphasCumprod[t]
		a, sg := math.Sqrt(ab), math.Sqrt(1-ab)
		out := make([]float32, len(x))
		for i := range x {
			eps := (float64(x[i]) - a*float64(x0[i])) / sg
			switch s.Config().Prediction {
			case Epsilon:
				out[i] = float32(eps)
			case VPrediction:
				out[i] = float32(a*eps - sg*float64(x0[i]))
			default:
				out[i] = x0[i]
			}
		}
		return out
	}
}

type namedScheduler struct {
	name string
	new  func(Config) (Scheduler, error)
	edit func(*Config)
}

var oracleSchedulers = []namedScheduler{
	{"ddim", func(c Config) (Scheduler, error) { return NewDDIM(c) }, nil},
	{"ddim-eta1", func(c Config) (Scheduler, error) { return NewDDIM(c) }, func(c *Config) { c.Eta = 1 }},
	{"ddpm", func(c Config) (Scheduler, error) { return NewDDPM(c) }, nil},
	{"dpm++2m", func(c Config) (Scheduler, error) { return NewDPMSolver(c) }, nil},
	{"dpm++2m-no-lof", func(c Config) (Scheduler, error) { return NewDPMSolver(c) }, func(c *Config) { c.LowerOrderFinal = false }},
	{"dpm++1", func(c Config) (Scheduler, error) { return NewDPMSolver(c) }, func(c *Config) { c.SolverOrder = 1 }},
}

// TestOracleRecoversX0: with a perfect model every scheduler must land on x0
// from pure noise.
func TestOracleRecoversX0(t *testing.T) {
	type variant struct {
		name string
		edit func(*Config)
	}
	variants := []variant{
		{"linear/eps", func(c *Config) {}},
		{"linear/v", func(c *Config) { c.Prediction = VPrediction }},
		{"linear/sample", func(c *Config) { c.Prediction = SamplePrediction }},
		{"scaled_linear/eps/leading", func(c *Config) {
			c.BetaSchedule, c.BetaStart, c.BetaEnd, c.TimestepSpacing = ScaledLinear, 0.00085, 0.012, Leading
		}},
		{"cosine/v/linspace", func(c *Config) { c.BetaSchedule, c.Prediction, c.TimestepSpacing = Cosine, VPrediction, Linspace }},
		{"zero-snr/v", func(c *Config) { c.Prediction, c.RescaleBetasZeroSNR = VPrediction, true }},
	}
	for _, sch := range oracleSchedulers {
		for _, v := range variants {
			for _, steps := range []int{10, 20, 50} {
				cfg := DefaultConfig()
				cfg.ClipSample = false
				v.edit(&cfg)
				if sch.edit != nil {
					sch.edit(&cfg)
				}
				s, err := sch.new(cfg)
				if err != nil {
					t.Fatal(err)
				}
				rng := newRand(uint64(steps))
				x0 := uniform(rng, 256, -1, 1)
				model := oracle(mustSchedule(t, cfg), x0)
				if err := s.SetTimesteps(steps); err != nil {
					t.Fatal(err)
				}
				x := gaussian(rng, len(x0))
				for _, tt := range s.Timesteps() {
					out, err := s.Step(model(x, tt), x, tt, rng)
					if err != nil {
						t.Fatal(err)
					}
					x = out.Prev
				}
				var worst float64
				for i := range x {
					worst = max(worst, math.Abs(float64(x[i]-x0[i])))
				}
				if worst > 1e-4 {
					t.Errorf("%s %s %d steps: max |x - x0| = %.3g, want < 1e-4", sch.name, v.name, steps, worst)
				}
			}
		}
	}
}

func TestDDPMPosteriorVariance(t *testing.T) {
	for _, n := range []int{1000, 25} {
		d, err := NewDDPM(DefaultConfig())
		if err != nil {
			t.Fatal(err)
		}
		if err := d.SetTimesteps(n); err != nil {
			t.Fatal(err)
		}
		ts := d.Timesteps()
		for k, tt := range ts {
			got, err := d.Variance(tt)
			if err != nil {
				t.Fatal(err)
			}
			want := 0.0
			if k+1 < len(ts) {
				abT, abPrev := d.AlphasCumprod[tt], d.AlphasCumprod[ts[k+1]]
				beta := 1 - abT/abPrev
				if n == 1000 {
					beta = d.Betas[tt] // every step: the effective beta is the schedule's
					abPrev = d.AlphasCumprod[tt-1]
				}
				want = beta * (1 - abPrev) / (1 - abT)
			}
			if math.Abs(got-want) > 1e-12*math.Max(want, 1e-8) {
				t.Fatalf("n=%d t=%d: variance %v, want beta·(1-ab_prev)/(1-ab_t) = %v", n, tt, got, want)
			}
		}
		// Empirical: the spread of Step's output around its mean.
		for _, k := range []int{0, len(ts) / 2, len(ts) - 2} {
			tt := ts[k]
			want, _ := d.Variance(tt)
			const N = 40000
			x := make([]float32, N)
			eps := make([]float32, N)
			for i := range x {
				x[i], eps[i] = 0.3, 0.2
			}
			out, err := d.Step(eps, x, tt, newRand(uint64(k)))
			if err != nil {
				t.Fatal(err)
			}
			// Posterior mean by hand from x0 = (x - sqrt(1-ab)·eps)/sqrt(ab), clipped to [-1, 1].
			abT, abPrev := d.AlphasCumprod[tt], d.AlphasCumprod[ts[k+1]]
			x0 := min(max((0.3-math.Sqrt(1-abT)*0.2)/math.Sqrt(abT), -1), 1)
			beta := 1 - abT/abPrev
			wantMean := math.Sqrt(abPrev)*beta/(1-abT)*x0 + math.Sqrt(1-beta)*(1-abPrev)/(1-abT)*0.3
			vals := make([]float64, N)
			for i, v := range out.Prev {
				vals[i] = float64(v)
			}
			mean, variance := meanVar(vals)
			if tol := 5*math.Sqrt(want/N) + 1e-6; math.Abs(mean-wantMean) > tol {
				t.Errorf("n=%d t=%d: mean %v, want %v ± %v", n, tt, mean, wantMean, tol)
			}
			if tol := 5 * want * math.Sqrt(2.0/(N-1)); math.Abs(variance-want) > tol {
				t.Errorf("n=%d t=%d: empirical variance %v, want %v ± %v", n, tt, variance, want, tol)
			}
		}
	}
}

// DDIM with eta = 1 has DDPM's posterior variance (Song et al., Sec. 4.1).
func TestDDIMEtaOneIsDDPMVariance(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Eta = 1
	ddim, _ := NewDDIM(cfg)
	ddpm, _ := NewDDPM(cfg)
	ddim.SetTimesteps(20)
	ddpm.SetTimesteps(20)
	for _, tt := range ddim.Timesteps()[:19] {
		sigma, _ := ddim.Sigma(tt)
		v, _ := ddpm.Variance(tt)
		if math.Abs(sigma*sigma-v) > 1e-12 {
			t.Errorf("t=%d: DDIM sigma² %v, DDPM variance %v", tt, sigma*sigma, v)
		}
	}
}

// One DDIM step against Eq. 12 computed by hand in float64.
func TestDDIMStepByHand(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Eta = 0.5
	d, _ := NewDDIM(cfg)
	d.SetTimesteps(10) // 999, 899, ...
	x := []float32{0.5, -1.2, 2}
	eps := []float32{0.1, 0.3, -0.7}
	got, err := d.Step(eps, x, 899, newRand(7))
	if err != nil {
		t.Fatal(err)
	}
	z := newRand(7) // the same draws
	ab, abPrev := d.AlphasCumprod[899], d.AlphasCumprod[799]
	sigma := 0.5 * math.Sqrt((1-abPrev)/(1-ab)) * math.Sqrt(1-ab/abPrev)
	for i := range x {
		x0 := (float64(x[i]) - math.Sqrt(1-ab)*float64(eps[i])) / math.Sqrt(ab)
		x0 = min(max(x0, -1), 1)
		e := (float64(x[i]) - math.Sqrt(ab)*x0) / math.Sqrt(1-ab)
		want := math.Sqrt(abPrev)*x0 + math.Sqrt(1-abPrev-sigma*sigma)*e + sigma*z.NormFloat64()
		if math.Abs(float64(got.Prev[i])-want) > 1e-6 {
			t.Errorf("prev[%d] = %v, want %v", i, got.Prev[i], want)
		}
		if math.Abs(float64(got.PredX0[i])-x0) > 1e-6 {
			t.Errorf("predX0[%d] = %v, want %v", i, got.PredX0[i], x0)
		}
	}
}

// Two DPM-Solver++(2M) steps against Algorithm 2 by hand.
func TestDPMSolverStepByHand(t *testing.T) {
	cfg := DefaultConfig()
	cfg.ClipSample = false
	cfg.Prediction = SamplePrediction // the model output is m_i itself
	d, _ := NewDPMSolver(cfg)
	d.SetTimesteps(10)
	lam := func(t int) float64 { ab := d.AlphasCumprod[t]; return math.Log(math.Sqrt(ab) / math.Sqrt(1-ab)) }
	sig := func(t int) float64 { return math.Sqrt(1 - d.AlphasCumprod[t]) }
	alp := func(t int) float64 { return math.Sqrt(d.AlphasCumprod[t]) }
	x := 0.7
	m0, m1 := 0.25, -0.4
	s1, _ := d.Step([]float32{float32(m0)}, []float32{float32(x)}, 999, nil)
	h := lam(899) - lam(999)
	want1 := sig(899)/sig(999)*x - alp(899)*(math.Exp(-h)-1)*m0
	if math.Abs(float64(s1.Prev[0])-want1) > 1e-6 {
		t.Fatalf("first order step: %v, want %v", s1.Prev[0], want1)
	}
	s2, _ := d.Step([]float32{float32(m1)}, s1.Prev, 899, nil)
	h2 := lam(799) - lam(899)
	r := h / h2
	D := (1+1/(2*r))*m1 - 1/(2*r)*m0
	want2 := sig(799)/sig(899)*float64(s1.Prev[0]) - alp(799)*(math.Exp(-h2)-1)*D
	if math.Abs(float64(s2.Prev[0])-want2) > 1e-6 {
		t.Fatalf("second order step: %v, want %v", s2.Prev[0], want2)
	}
	// Against first order the correction must matter here.
	first := sig(799)/sig(899)*float64(s1.Prev[0]) - alp(799)*(math.Exp(-h2)-1)*m1
	if math.Abs(first-want2) < 1e-3 {
		t.Fatalf("test is too weak: first and second order agree (%v, %v)", first, want2)
	}
}

func TestClipAndThreshold(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Prediction = SamplePrediction
	s := mustSchedule(t, cfg)
	x0 := s.predictX0([]float32{-3, 0.5, 2}, []float32{0, 0, 0}, 0.5)
	if x0[0] != -1 || x0[1] != 0.5 || x0[2] != 1 {
		t.Errorf("clip: %v", x0)
	}
	cfg.Thresholding, cfg.DynamicThresholdingRatio, cfg.SampleMaxValue = true, 1, 10
	s = mustSchedule(t, cfg)
	x0 = s.predictX0([]float32{-4, 1, 2}, []float32{0, 0, 0}, 0.5) // quantile 1 of |x| is 4
	if x0[0] != -1 || x0[1] != 0.25 || x0[2] != 0.5 {
		t.Errorf("threshold: %v, want [-1 0.25 0.5]", x0)
	}
	cfg.SampleMaxValue = 2
	s = mustSchedule(t, cfg)
	x0 = s.predictX0([]float32{-4, 1, 2}, []float32{0, 0, 0}, 0.5) // s clamped to 2
	if x0[0] != -1 || x0[1] != 0.5 || x0[2] != 1 {
		t.Errorf("threshold capped: %v, want [-1 0.5 1]", x0)
	}
}

func TestStepErrors(t *testing.T) {
	for _, name := range Names() {
		s, err := New(name, DefaultConfig())
		if err != nil {
			t.Fatal(err)
		}
		x := []float32{1, 2, 3}
		if _, err := s.Step(x, x, 999, newRand(1)); !errors.Is(err, ErrNotSet) {
			t.Errorf("%s: Step before SetTimesteps: %v, want ErrNotSet", name, err)
		}
		for _, n := range []int{0, -1, 1001} {
			if err := s.SetTimesteps(n); !errors.Is(err, ErrSteps) {
				t.Errorf("%s: SetTimesteps(%d): %v, want ErrSteps", name, n, err)
			}
		}
		if err := s.SetTimesteps(10); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Step(x[:2], x, 999, newRand(1)); !errors.Is(err, ErrLength) {
			t.Errorf("%s: short model output: %v, want ErrLength", name, err)
		}
		if _, err := s.Step(x, x, 998, newRand(1)); !errors.Is(err, ErrTimestep) {
			t.Errorf("%s: foreign timestep: %v, want ErrTimestep", name, err)
		}
		if _, err := s.AddNoise(x, x[:1], 5); !errors.Is(err, ErrLength) {
			t.Errorf("%s: AddNoise lengths: %v, want ErrLength", name, err)
		}
		if _, err := s.AddNoise(x, x, 1000); !errors.Is(err, ErrTimestep) {
			t.Errorf("%s: AddNoise t=1000: %v, want ErrTimestep", name, err)
		}
		if _, err := s.Velocity(x, x, -1); !errors.Is(err, ErrTimestep) {
			t.Errorf("%s: Velocity t=-1: %v, want ErrTimestep", name, err)
		}
	}
	ddpm, _ := NewDDPM(DefaultConfig())
	ddpm.SetTimesteps(10)
	x := []float32{1, 2}
	if _, err := ddpm.Step(x, x, 999, nil); !errors.Is(err, ErrNoRand) {
		t.Errorf("DDPM without rng: %v, want ErrNoRand", err)
	}
	if _, err := ddpm.Step(x, x, 99, nil); err != nil {
		t.Errorf("DDPM last step is deterministic, got %v", err)
	}
	dpm, _ := NewDPMSolver(DefaultConfig())
	dpm.SetTimesteps(10)
	if _, err := dpm.Step(x, x, 999, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := dpm.Step(x, x, 799, nil); !errors.Is(err, ErrOrder) {
		t.Errorf("DPM skipped step: %v, want ErrOrder", err)
	}
	if _, err := dpm.Step(x[:1], x[:1], 899, nil); !errors.Is(err, ErrLength) {
		t.Errorf("DPM changed length: %v, want ErrLength", err)
	}
	if _, err := dpm.Step(x, x, 999, nil); err != nil { // restart
		t.Errorf("DPM restart at the first timestep: %v", err)
	}
	if _, err := New("euler", DefaultConfig()); err == nil {
		t.Error("New accepted an unknown scheduler")
	}
}
