package sampler

import (
	"context"
	"encoding/json"
	"flag"
	"math"
	"os"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

type goldenRun struct {
	Sum    float64    `json:"sum"`     // sum of the final sample
	AbsSum float64    `json:"abs_sum"` // sum of its absolute values
	X0Sum  float64    `json:"x0_sum"`  // sum of the last predicted x0
	Head   [4]float64 `json:"head"`    // its first values
}

// TestGolden runs each scheduler for a few steps over a fixed dummy model
// and compares sums with committed values (go test -run Golden -update
// rewrites testdata/golden.json).
func TestGolden(t *testing.T) {
	cases := []struct {
		name, scheduler string
		edit            func(*Config)
		steps           int
	}{
		{"ddpm/eps/1000", NameDDPM, func(*Config) {}, 1000},
		{"ddpm/eps/10", NameDDPM, func(*Config) {}, 10},
		{"ddpm/v/fixed_large", NameDDPM, func(c *Config) { c.Prediction, c.VarianceType = VPrediction, FixedLarge }, 10},
		{"ddim/eps", NameDDIM, func(*Config) {}, 10},
		{"ddim/eps/clip", NameDDIM, func(c *Config) { c.ClipSample = true }, 10},
		{"ddim/eps/eta0.5", NameDDIM, func(c *Config) { c.Eta = 0.5 }, 10},
		{"ddim/v/cosine", NameDDIM, func(c *Config) { c.Prediction, c.BetaSchedule = VPrediction, Cosine }, 10},
		{"ddim/eps/sd", NameDDIM, func(c *Config) { *c = StableDiffusionConfig() }, 10},
		{"dpm++2m/eps", NameDPMSolver2M, func(*Config) {}, 10},
		{"dpm++2m/eps/20", NameDPMSolver2M, func(*Config) {}, 20},
		{"dpm++2m/v/zero-snr", NameDPMSolver2M, func(c *Config) { c.Prediction, c.RescaleBetasZeroSNR = VPrediction, true }, 10},
		{"dpm++2m/eps/threshold", NameDPMSolver2M, func(c *Config) { c.Thresholding, c.SampleMaxValue = true, 1.5 }, 10},
	}
	got := map[string]goldenRun{}
	for _, tc := range cases {
		cfg := DefaultConfig()
		cfg.ClipSample = false // the dummy model would saturate every value at ±1
		tc.edit(&cfg)
		s, err := New(tc.scheduler, cfg)
		if err != nil {
			t.Fatal(err)
		}
		var last StepInfo
		x, err := Sample(context.Background(), s, 512, PerCondition(func(x []float32, t int, c bool) ([]float32, error) {
			return dummyModel(x, t, c), nil
		}), newRand(42), Options{Steps: tc.steps, Guidance: 2, Callback: func(si StepInfo) error { last = si; return nil }})
		if err != nil {
			t.Fatal(err)
		}
		var r goldenRun
		for i, v := range x {
			r.Sum += float64(v)
			r.AbsSum += math.Abs(float64(v))
			if i < len(r.Head) {
				r.Head[i] = float64(v)
			}
		}
		for _, v := range last.PredX0 {
			r.X0Sum += float64(v)
		}
		got[tc.name] = r
	}

	path := filepath.Join("testdata", "golden.json")
	if *update {
		b, err := json.MarshalIndent(got, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -run Golden -update to create it)", err)
	}
	var want map[string]goldenRun
	if err := json.Unmarshal(b, &want); err != nil {
		t.Fatal(err)
	}
	close := func(a, b float64) bool { return math.Abs(a-b) <= 1e-5*math.Max(1, math.Abs(b)) }
	for _, tc := range cases {
		g, w := got[tc.name], want[tc.name]
		ok := close(g.Sum, w.Sum) && close(g.AbsSum, w.AbsSum) && close(g.X0Sum, w.X0Sum)
		for i := range g.Head {
			ok = ok && close(g.Head[i], w.Head[i])
		}
		if !ok || w.AbsSum == 0 {
			t.Errorf("%s:\n got %+v\nwant %+v", tc.name, g, w)
		}
	}
}
