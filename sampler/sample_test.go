package sampler

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// dummyModel is a fixed, cheap stand-in for a network: 0.1·x + 0.05·sin(0.37·i + t/97),
// shifted by +0.2 under the prompt so that cond and uncond differ.
func dummyModel(x []float32, t int, cond bool) []float32 {
	out := make([]float32, len(x))
	shift := 0.0
	if cond {
		shift = 0.2
	}
	for i, v := range x {
		out[i] = float32(0.1*float64(v) + 0.05*math.Sin(0.37*float64(i)+float64(t)/97) + shift)
	}
	return out
}

// countingDenoiser records how it was called.
type countingDenoiser struct {
	calls  int
	needs  []Need
	uncond int
}

func (c *countingDenoiser) fn(x []float32, t int, need Need) (cond, uncond []float32, err error) {
	c.calls++
	c.needs = append(c.needs, need)
	if need&Cond != 0 {
		cond = dummyModel(x, t, true)
	}
	if need&Uncond != 0 {
		c.uncond++
		uncond = dummyModel(x, t, false)
	}
	return cond, uncond, nil
}

// spy wraps a Scheduler and keeps the model outputs it was given.
type spy struct {
	Scheduler
	outputs [][]float32
}

func (s *spy) Step(out, x []float32, t int, rng *rand.Rand) (StepOutput, error) {
	s.outputs = append(s.outputs, slices.Clone(out))
	return s.Scheduler.Step(out, x, t, rng)
}

func TestGuidance(t *testing.T) {
	const n, steps = 64, 8
	ddim, _ := NewDDIM(DefaultConfig())

	// w = 1 and w = 0: one conditional evaluation per step, no unconditional.
	var ref []float32
	for _, w := range []float64{1, 0} {
		var c countingDenoiser
		got, err := Sample(context.Background(), ddim, n, c.fn, newRand(3), Options{Steps: steps, Guidance: w})
		if err != nil {
			t.Fatal(err)
		}
		if c.calls != steps || c.uncond != 0 {
			t.Errorf("w=%v: %d calls, %d unconditional; want %d and 0", w, c.calls, c.uncond, steps)
		}
		if ref == nil {
			ref = got
		} else if !slices.Equal(ref, got) {
			t.Errorf("w=0 and w=1 differ")
		}
	}
	// ... and equal to the conditional path written by hand.
	rng := newRand(3)
	x := gaussian(rng, n)
	ddim.SetTimesteps(steps)
	for _, tt := range ddim.Timesteps() {
		out, err := ddim.Step(dummyModel(x, tt, true), x, tt, rng)
		if err != nil {
			t.Fatal(err)
		}
		x = out.Prev
	}
	if !slices.Equal(x, ref) {
		t.Errorf("w=1 differs from the conditional loop")
	}

	// w = 3: one batched call per step asking for both; Step sees uncond + w·(cond - uncond).
	var c countingDenoiser
	sp := &spy{Scheduler: ddim}
	if _, err := Sample(context.Background(), sp, n, c.fn, newRand(3), Options{Steps: steps, Guidance: 3}); err != nil {
		t.Fatal(err)
	}
	if c.calls != steps || c.uncond != steps {
		t.Errorf("w=3: %d calls, %d unconditional; want %d, %d", c.calls, c.uncond, steps, steps)
	}
	for _, need := range c.needs {
		if need != Cond|Uncond {
			t.Fatalf("w=3 asked for %b, want both in one call", need)
		}
	}
	// At the first step x = x_T, known from the seed.
	xT := gaussian(newRand(3), n)
	t0 := ddim.Timesteps()[0]
	cond, uncond := dummyModel(xT, t0, true), dummyModel(xT, t0, false)
	for i := range xT {
		want := float64(uncond[i]) + 3*(float64(cond[i])-float64(uncond[i]))
		if math.Abs(float64(sp.outputs[0][i])-want) > 1e-6 {
			t.Fatalf("guided output[%d] = %v, want %v", i, sp.outputs[0][i], want)
		}
	}

	// Unconditional: only the null prompt.
	c = countingDenoiser{}
	if _, err := Sample(context.Background(), ddim, n, c.fn, newRand(3), Options{Steps: steps, Unconditional: true, Guidance: 5}); err != nil {
		t.Fatal(err)
	}
	for _, need := range c.needs {
		if need != Uncond {
			t.Fatalf("Unconditional asked for %b", need)
		}
	}
}

func TestPerCondition(t *testing.T) {
	var calls []bool
	f := PerCondition(func(x []float32, tt int, cond bool) ([]float32, error) {
		calls = append(calls, cond)
		return dummyModel(x, tt, cond), nil
	})
	ddim, _ := NewDDIM(DefaultConfig())
	if _, err := Sample(context.Background(), ddim, 8, f, newRand(1), Options{Steps: 2, Guidance: 2}); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(calls, []bool{true, false, true, false}) {
		t.Errorf("calls %v", calls)
	}
}

func TestDeterminism(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Eta = 0.7
	for _, name := range Names() {
		s, _ := New(name, cfg)
		run := func(seed uint64) []float32 {
			x, err := Sample(context.Background(), s, 300, PerCondition(func(x []float32, t int, c bool) ([]float32, error) {
				return dummyModel(x, t, c), nil
			}), newRand(seed), Options{Steps: 12, Guidance: 2.5})
			if err != nil {
				t.Fatal(err)
			}
			return x
		}
		a, b, c := run(42), run(42), run(43)
		if !slices.Equal(a, b) {
			t.Errorf("%s: same seed, different samples", name)
		}
		if slices.Equal(a, c) {
			t.Errorf("%s: different seeds, same samples", name)
		}
	}
}

func TestSampleStopAndErrors(t *testing.T) {
	ddim, _ := NewDDIM(DefaultConfig())
	var c countingDenoiser
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	_, err := Sample(ctx, ddim, 16, c.fn, newRand(1), Options{Steps: 10, Callback: func(s StepInfo) error {
		if s.Step == 3 {
			cancel()
		}
		return nil
	}})
	if !errors.Is(err, context.Canceled) || c.calls != 3 {
		t.Errorf("cancel: err %v after %d calls, want context.Canceled after 3", err, c.calls)
	}

	var infos []StepInfo
	x, err := Sample(context.Background(), ddim, 16, c.fn, newRand(1), Options{Steps: 10, Callback: func(s StepInfo) error {
		infos = append(infos, s)
		if s.Step == 4 {
			return ErrStop
		}
		return nil
	}})
	if err != nil || len(x) != 16 || len(infos) != 4 {
		t.Fatalf("ErrStop: x %d values, err %v, %d callbacks", len(x), err, len(infos))
	}
	if infos[3].Total != 10 || infos[3].T != 699 || !slices.Equal(infos[3].X, x) {
		t.Errorf("StepInfo %+v", infos[3])
	}

	boom := errors.New("boom")
	if _, err := Sample(context.Background(), ddim, 16, func([]float32, int, Need) ([]float32, []float32, error) {
		return nil, nil, boom
	}, newRand(1), Options{Steps: 3}); !errors.Is(err, boom) {
		t.Errorf("denoise error: %v", err)
	}
	short := func(x []float32, t int, need Need) ([]float32, []float32, error) {
		return x[:3], x[:3], nil
	}
	for _, w := range []float64{1, 4} {
		if _, err := Sample(context.Background(), ddim, 16, short, newRand(1), Options{Steps: 3, Guidance: w}); !errors.Is(err, ErrLength) {
			t.Errorf("w=%v: short model output: %v, want ErrLength", w, err)
		}
	}
	if _, err := Sample(context.Background(), ddim, 16, c.fn, nil, Options{Steps: 3}); !errors.Is(err, ErrNoRand) {
		t.Errorf("nil rng: %v", err)
	}
	if _, err := Sample(context.Background(), ddim, 16, c.fn, nil, Options{Steps: 3, Noise: make([]float32, 15)}); !errors.Is(err, ErrLength) {
		t.Errorf("short noise: %v", err)
	}
	if _, err := Sample(context.Background(), ddim, 16, c.fn, nil, Options{Steps: 3, Noise: make([]float32, 16)}); err != nil {
		t.Errorf("deterministic with given noise and nil rng: %v", err)
	}
	if _, err := Sample(context.Background(), ddim, 16, c.fn, newRand(1), Options{Steps: 5000}); !errors.Is(err, ErrSteps) {
		t.Errorf("5000 steps: %v", err)
	}
}
