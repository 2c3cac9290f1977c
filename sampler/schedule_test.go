package sampler

import (
	"encoding/json"
	"errors"
	"math"
	"reflect"
	"slices"
	"testing"
)

func mustSchedule(t *testing.T, cfg Config) *Schedule {
	t.Helper()
	s, err := NewSchedule(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestBetasEndpointsAndMonotone(t *testing.T) {
	for _, tc := range []struct {
		schedule   string
		start, end float64
		checkEnds  bool
		T          int
	}{
		{Linear, 0.0001, 0.02, true, 1000},
		{ScaledLinear, 0.00085, 0.012, true, 1000},
		{Linear, 0.001, 0.05, true, 37},
		{Cosine, 0, 0, false, 1000},
		{SquaredCosCapV2, 0, 0, false, 50},
	} {
		cfg := DefaultConfig()
		cfg.BetaSchedule, cfg.NumTrainTimesteps = tc.schedule, tc.T
		if tc.checkEnds {
			cfg.BetaStart, cfg.BetaEnd = tc.start, tc.end
		}
		s := mustSchedule(t, cfg)
		if len(s.Betas) != tc.T || len(s.AlphasCumprod) != tc.T {
			t.Fatalf("%s: lengths %d, %d, want %d", tc.schedule, len(s.Betas), len(s.AlphasCumprod), tc.T)
		}
		if tc.checkEnds {
			if math.Abs(s.Betas[0]-tc.start) > 1e-15 || math.Abs(s.Betas[tc.T-1]-tc.end) > 1e-15 {
				t.Errorf("%s: betas[0]=%v betas[T-1]=%v, want %v, %v", tc.schedule, s.Betas[0], s.Betas[tc.T-1], tc.start, tc.end)
			}
		}
		for i, b := range s.Betas {
			if !(b > 0 && b <= 0.999) {
				t.Fatalf("%s: beta[%d] = %v out of (0, 0.999]", tc.schedule, i, b)
			}
			if math.Abs(s.Alphas[i]-(1-b)) > 1e-15 {
				t.Fatalf("%s: alpha[%d] = %v, want 1-beta", tc.schedule, i, s.Alphas[i])
			}
			if i > 0 && !(s.AlphasCumprod[i] < s.AlphasCumprod[i-1]) {
				t.Fatalf("%s: alphas_cumprod not decreasing at %d", tc.schedule, i)
			}
		}
		// Product check at the end.
		p := 1.0
		for _, b := range s.Betas {
			p *= 1 - b
		}
		if math.Abs(p-s.AlphasCumprod[tc.T-1]) > 1e-15 {
			t.Errorf("%s: alphas_cumprod[T-1] = %v, product %v", tc.schedule, s.AlphasCumprod[tc.T-1], p)
		}
	}
}

func TestScaledLinearMidpoint(t *testing.T) {
	cfg := DefaultConfig()
	cfg.BetaSchedule, cfg.BetaStart, cfg.BetaEnd, cfg.NumTrainTimesteps = ScaledLinear, 0.00085, 0.012, 11
	s := mustSchedule(t, cfg)
	// With 11 steps index 5 is the middle of linspace(sqrt(0.00085), sqrt(0.012)).
	want := math.Pow((math.Sqrt(0.00085)+math.Sqrt(0.012))/2, 2)
	if math.Abs(s.Betas[5]-want) > 1e-15 {
		t.Errorf("beta[5] = %v, want %v", s.Betas[5], want)
	}
	// Linear at the same point is the arithmetic mean, which is larger.
	if lin := (0.00085 + 0.012) / 2; !(s.Betas[5] < lin) {
		t.Errorf("scaled_linear midpoint %v not below linear %v", s.Betas[5], lin)
	}
}

func TestCosineScheduleClosedForm(t *testing.T) {
	const T = 1000
	cfg := DefaultConfig()
	cfg.BetaSchedule = Cosine
	s := mustSchedule(t, cfg)
	f := func(t float64) float64 { // Nichol & Dhariwal Eq. 17, by hand
		c := math.Cos((t/T + 0.008) / (1 + 0.008) * math.Pi / 2)
		return c * c
	}
	for _, i := range []int{0, 1, 10, 250, 500, 900, 998, 999} {
		want := math.Min(1-f(float64(i+1))/f(float64(i)), 0.999)
		if math.Abs(s.Betas[i]-want) > 1e-12*math.Max(1, want) {
			t.Errorf("beta[%d] = %.15g, want %.15g", i, s.Betas[i], want)
		}
		// Telescoping: while no beta is capped, ab_t = f(t+1)/f(0).
		if i < 990 {
			abWant := f(float64(i+1)) / f(0)
			if math.Abs(s.AlphasCumprod[i]-abWant) > 1e-9*abWant {
				t.Errorf("alphas_cumprod[%d] = %.15g, want f(t+1)/f(0) = %.15g", i, s.AlphasCumprod[i], abWant)
			}
		}
	}
	if s.Betas[999] != 0.999 {
		t.Errorf("last cosine beta = %v, want the cap 0.999", s.Betas[999])
	}
}

func TestRescaleZeroTerminalSNR(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Prediction = VPrediction
	plain := mustSchedule(t, cfg)
	cfg.RescaleBetasZeroSNR = true
	s := mustSchedule(t, cfg)
	if ab := s.AlphasCumprod[999]; ab > 1e-20 {
		t.Errorf("terminal alpha_bar = %v, want 0", ab)
	}
	if math.Abs(s.AlphasCumprod[0]-plain.AlphasCumprod[0]) > 1e-12 {
		t.Errorf("first alpha_bar moved: %v vs %v", s.AlphasCumprod[0], plain.AlphasCumprod[0])
	}
	// sqrt(ab) is an affine map of the original sqrt(ab).
	r := func(s *Schedule, i int) float64 { return math.Sqrt(s.AlphasCumprod[i]) }
	a0, aT := r(plain, 0), r(plain, 999)
	for _, i := range []int{100, 500, 900} {
		want := (r(plain, i) - aT) * a0 / (a0 - aT)
		if math.Abs(r(s, i)-want) > 1e-12 {
			t.Errorf("sqrt(ab[%d]) = %v, want %v", i, r(s, i), want)
		}
	}
}

func TestSpacing(t *testing.T) {
	seq := func(from, step, n int) []int {
		out := make([]int, n)
		for i := range out {
			out[i] = from + i*step
		}
		return out
	}
	for _, tc := range []struct {
		spacing string
		offset  int
		n       int
		want    []int
	}{
		{Trailing, 0, 10, seq(999, -100, 10)},
		{Leading, 0, 10, seq(900, -100, 10)},
		{Leading, 1, 10, seq(901, -100, 10)},
		{Linspace, 0, 10, seq(999, -111, 10)},
		// numpy rounds half to even: 937.5 -> 938, 812.5 -> 812.
		{Trailing, 0, 16, []int{999, 937, 874, 811, 749, 687, 624, 561, 499, 437, 374, 311, 249, 187, 124, 61}},
		{Trailing, 0, 1, []int{999}},
		{Linspace, 0, 1, []int{0}},
		{Trailing, 0, 1000, seq(999, -1, 1000)},
		{Leading, 0, 1000, seq(999, -1, 1000)},
	} {
		cfg := DefaultConfig()
		cfg.TimestepSpacing, cfg.StepsOffset = tc.spacing, tc.offset
		d, err := NewDDIM(cfg)
		if err != nil {
			t.Fatal(err)
		}
		if err := d.SetTimesteps(tc.n); err != nil {
			t.Fatal(err)
		}
		if got := d.Timesteps(); !slices.Equal(got, tc.want) {
			t.Errorf("%s offset %d n %d: %v, want %v", tc.spacing, tc.offset, tc.n, got, tc.want)
		}
	}
}

func TestConfigJSONRoundTrip(t *testing.T) {
	for _, c := range []Config{DefaultConfig(), StableDiffusionConfig()} {
		c.Eta = 0.3
		c.RescaleBetasZeroSNR = true
		b, err := json.Marshal(c)
		if err != nil {
			t.Fatal(err)
		}
		var back Config
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(c, back) {
			t.Errorf("round trip changed config:\n%+v\n%+v", c, back)
		}
	}
	// diffusers' names are understood.
	var c Config
	if err := json.Unmarshal([]byte(`{"beta_schedule":"scaled_linear","prediction_type":"v_prediction","num_train_timesteps":1000,"trained_betas":null}`), &c); err != nil {
		t.Fatal(err)
	}
	if c.BetaSchedule != ScaledLinear || c.Prediction != VPrediction || c.NumTrainTimesteps != 1000 {
		t.Errorf("diffusers JSON read as %+v", c)
	}
}

func TestValidate(t *testing.T) {
	if err := DefaultConfig().Validate(); err != nil {
		t.Fatalf("DefaultConfig invalid: %v", err)
	}
	if err := StableDiffusionConfig().Validate(); err != nil {
		t.Fatalf("StableDiffusionConfig invalid: %v", err)
	}
	for _, tc := range []struct {
		field string
		edit  func(*Config)
	}{
		{"NumTrainTimesteps", func(c *Config) { c.NumTrainTimesteps = 0 }},
		{"BetaStart", func(c *Config) { c.BetaStart = -1 }},
		{"BetaStart", func(c *Config) { c.BetaStart = math.NaN() }},
		{"BetaEnd", func(c *Config) { c.BetaEnd = 1 }},
		{"BetaEnd", func(c *Config) { c.BetaEnd = c.BetaStart / 2 }},
		{"BetaSchedule", func(c *Config) { c.BetaSchedule = "quadratic" }},
		{"Prediction", func(c *Config) { c.Prediction = "eps" }},
		{"RescaleBetasZeroSNR", func(c *Config) { c.RescaleBetasZeroSNR = true }},
		{"TimestepSpacing", func(c *Config) { c.TimestepSpacing = "" }},
		{"StepsOffset", func(c *Config) { c.StepsOffset = -1 }},
		{"ClipSampleRange", func(c *Config) { c.ClipSampleRange = 0 }},
		{"DynamicThresholdingRatio", func(c *Config) { c.Thresholding, c.DynamicThresholdingRatio = true, 1.5 }},
		{"SampleMaxValue", func(c *Config) { c.Thresholding, c.SampleMaxValue = true, 0.5 }},
		{"VarianceType", func(c *Config) { c.VarianceType = "learned" }},
		{"Eta", func(c *Config) { c.Eta = -0.1 }},
		{"SolverOrder", func(c *Config) { c.SolverOrder = 3 }},
	} {
		c := DefaultConfig()
		tc.edit(&c)
		err := c.Validate()
		var ce *ConfigError
		if !errors.As(err, &ce) || ce.Field != tc.field {
			t.Errorf("%s: Validate() = %v, want a ConfigError on %s", tc.field, err, tc.field)
			continue
		}
		if _, err := New("ddim", c); !errors.As(err, &ce) {
			t.Errorf("%s: New accepted a bad config (%v)", tc.field, err)
		}
	}
}
