package sampler

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"testing"
)

func maskConfig(cols int) Config {
	c := DefaultConfig()
	c.Process, c.Prediction, c.MaskCols = Mask, SamplePrediction, cols
	return c
}

// TestMaskCellsRate: training masks whole cells (all three planes), each
// with probability MaskRate(t), and keeps the others as they were.
func TestMaskCellsRate(t *testing.T) {
	const cols, rows = 50, 40
	c := maskConfig(cols)
	s, err := NewSchedule(c)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	x0 := make([]float32, rows*3*cols)
	for i := range x0 {
		x0[i] = -1
	}
	for r := 0; r < rows; r++ {
		for j := 0; j < cols; j++ {
			x0[r*3*cols+(r+j)%3*cols+j] = 1
		}
	}
	for _, ts := range []int{0, 250, 500, 999} {
		noise := make([]float32, len(x0))
		for i := range noise {
			noise[i] = float32(rng.NormFloat64())
		}
		xt, err := s.AddNoise(x0, noise, ts)
		if err != nil {
			t.Fatal(err)
		}
		masked := 0
		for r := 0; r < rows; r++ {
			for j := 0; j < cols; j++ {
				a, b, d := r*3*cols+j, r*3*cols+cols+j, r*3*cols+2*cols+j
				switch {
				case xt[a] == 0 && xt[b] == 0 && xt[d] == 0:
					masked++
				case xt[a] != x0[a] || xt[b] != x0[b] || xt[d] != x0[d]:
					t.Fatalf("t=%d: cell (%d,%d) neither masked nor kept", ts, r, j)
				}
			}
		}
		got, want := float64(masked)/(rows*cols), MaskRate(ts, c.NumTrainTimesteps)
		if math.Abs(got-want) > 0.04 {
			t.Errorf("t=%d: %.3f of cells masked, want %.3f", ts, got, want)
		}
	}
	if tg, _ := s.Target(x0, x0, 3); tg[0] != x0[0] {
		t.Error("target of a masked process is not x0")
	}
}

// TestMaskedSampling: from all masked, sampling with a model that always
// predicts the same distribution ends with every cell one-hot, categories
// drawn in the predicted proportions (never one of probability 0), the
// same seed giving the same sample; a model that predicts a one-hot image
// gets it back exactly.
func TestMaskedSampling(t *testing.T) {
	const cols, rows = 64, 32
	c := maskConfig(cols)
	c.MaskOrder = MaskRandom    // the unbiased ancestral order: draws keep the model's proportions
	s, err := New("dpm++2m", c) // any name: a masked model has one sampler
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := s.(*Masked); !ok {
		t.Fatalf("New gave %T for a masked config", s)
	}
	n := rows * 3 * cols
	// p = (0.75, 0.25, 0): planes 2p-1
	dist := make([]float32, n)
	for r := 0; r < rows; r++ {
		for j := 0; j < cols; j++ {
			dist[r*3*cols+j], dist[r*3*cols+cols+j], dist[r*3*cols+2*cols+j] = 0.5, -0.5, -1
		}
	}
	model := func(x []float32, _ int, _ Need) ([]float32, []float32, error) { return dist, dist, nil }
	run := func(seed uint64) []float32 {
		x, err := Sample(context.Background(), s, n, model, rand.New(rand.NewPCG(seed, 1)), Options{Steps: 10, Guidance: 2})
		if err != nil {
			t.Fatal(err)
		}
		return x
	}
	x := run(1)
	var count [3]int
	for r := 0; r < rows; r++ {
		for j := 0; j < cols; j++ {
			hot := -1
			for k := 0; k < 3; k++ {
				switch v := x[r*3*cols+k*cols+j]; v {
				case 1:
					if hot >= 0 {
						t.Fatalf("cell (%d,%d) has two hot planes", r, j)
					}
					hot = k
				case -1:
				default:
					t.Fatalf("cell (%d,%d) plane %d is %g", r, j, k, v)
				}
			}
			if hot < 0 {
				t.Fatalf("cell (%d,%d) still masked", r, j)
			}
			count[hot]++
		}
	}
	if share := float64(count[0]) / (rows * cols); math.Abs(share-0.75) > 0.05 || count[2] != 0 {
		t.Errorf("categories drawn %v, want 75%% / 25%% / 0", count)
	}
	y := run(1)
	for i := range x {
		if x[i] != y[i] {
			t.Fatal("same seed, different sample")
		}
	}
	// a confident model is followed exactly
	want := make([]float32, n)
	for i := range want {
		want[i] = -1
	}
	for r := 0; r < rows; r++ {
		for j := 0; j < cols; j++ {
			want[r*3*cols+(r*7+j)%3*cols+j] = 1
		}
	}
	sure := func(x []float32, _ int, _ Need) ([]float32, []float32, error) {
		for i := range x { // known cells never change
			if x[i] != 0 && x[i] != want[i] {
				return nil, nil, errors.New("a known cell changed")
			}
		}
		return want, nil, nil
	}
	for _, order := range []string{MaskRandom, MaskConfidence} {
		c.MaskOrder = order
		s, _ := NewMasked(c)
		got, err := Sample(context.Background(), s, n, sure, rand.New(rand.NewPCG(3, 1)), Options{Steps: 7})
		if err != nil {
			t.Fatal(err)
		}
		for i := range got {
			if got[i] != want[i] {
				t.Fatalf("order %s: value %d: %g, want %g", order, i, got[i], want[i])
			}
		}
	}
}

// TestMaskedConfig: a masked process needs x0 prediction and a cell width.
func TestMaskedConfig(t *testing.T) {
	c := maskConfig(8)
	c.Prediction = Epsilon
	if err := c.Validate(); err == nil {
		t.Error("epsilon prediction for a masked process: no error")
	}
	c = maskConfig(0)
	if err := c.Validate(); err == nil {
		t.Error("MaskCols 0: no error")
	}
	c = maskConfig(8)
	c.Process = "uniform"
	if err := c.Validate(); err == nil {
		t.Error("unknown process: no error")
	}
	if _, err := New("mask", DefaultConfig()); err == nil {
		t.Error("the mask sampler for a Gaussian model: no error")
	}
}

// TestMaskedKnownPresent: cells that start masked but known present
// (planes 0, 0, -1) are drawn from the first two categories even when the
// model favours the third, and the model sees them as plain masks.
func TestMaskedKnownPresent(t *testing.T) {
	const cols, rows = 16, 8
	c := maskConfig(cols)
	s, _ := NewMasked(c)
	n := rows * 3 * cols
	start := make([]float32, n)
	for r := 0; r < rows; r++ {
		for j := 0; j < cols; j++ {
			start[r*3*cols+2*cols+j] = -1
		}
	}
	out := make([]float32, n) // p = (0.1, 0.1, 0.8)
	for r := 0; r < rows; r++ {
		for j := 0; j < cols; j++ {
			out[r*3*cols+j], out[r*3*cols+cols+j], out[r*3*cols+2*cols+j] = -0.8, -0.8, 0.6
		}
	}
	model := func(x []float32, _ int, _ Need) ([]float32, []float32, error) {
		y := append([]float32(nil), x...)
		MaskInput(y, cols)
		for i, v := range y {
			if v == -1 && x[i] == -1 && i%(3*cols) >= 2*cols && y[i-2*cols] == 0 {
				return nil, nil, errors.New("the model saw a known-present mark")
			}
		}
		return out, nil, nil
	}
	x, err := Sample(context.Background(), s, n, model, rand.New(rand.NewPCG(1, 1)), Options{Steps: 5, Noise: start})
	if err != nil {
		t.Fatal(err)
	}
	for r := 0; r < rows; r++ {
		for j := 0; j < cols; j++ {
			if x[r*3*cols+2*cols+j] != -1 {
				t.Fatalf("cell (%d,%d) drawn vacant", r, j)
			}
		}
	}
	y := []float32{0, 0, -1, 1, -1, -1}
	MaskInput(y[:3], 1)
	if y[2] != 0 {
		t.Error("MaskInput kept the known-present mark")
	}
}
