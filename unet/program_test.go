package unet

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"gorgonia.org/tensor"

	"t2t/internal/prog"
)

// randomize32 gives every parameter of a float32 model random values
// (zero-initialised output layers included), so that every layer shapes
// the output.
func randomize32(ps *Params, rng *rand.Rand, std float64) {
	for _, p := range ps.List() {
		d := p.Float32s()
		for i := range d {
			d[i] = float32(rng.NormFloat64() * std)
		}
	}
}

// graphOutput runs p as a gorgonia graph.
func graphOutput(t *testing.T, p Predictor, x []float32, ts, toks []int) []float32 {
	t.Helper()
	n, err := Compile(p, len(ts), false)
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	if err := n.SetInputs(x, ts, toks); err != nil {
		t.Fatal(err)
	}
	if err := n.Run(); err != nil {
		t.Fatal(err)
	}
	return n.Output(nil)
}

// ProgramOutput runs a program on the CPU reference.
func programOutput(t *testing.T, p *prog.Program, c Config, x []float32, ts, toks []int, ctl []float32) []float32 {
	t.Helper()
	bufs, err := ProgramInputValues(p, c, x, ts, toks, ctl)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Run(bufs); err != nil {
		t.Fatal(err)
	}
	return bufs[p.Out]
}

// relDiff is the largest difference between a and b over b's largest
// magnitude.
func relDiff(a, b []float32) float64 {
	var d, m float64
	for i := range a {
		d = math.Max(d, math.Abs(float64(a[i])-float64(b[i])))
		m = math.Max(m, math.Abs(float64(b[i])))
	}
	return d / m
}

func TestProgramMatchesGraph(t *testing.T) {
	three := Tiny()
	three.Name, three.Channels, three.Attn, three.Rows = "three", []int{16, 24, 32}, []bool{true, false, true}, 8
	three.ResBlocks = 2
	three.PoolPrompt = false
	small := Small()
	small.Rows = 8
	for _, cfg := range []Config{Tiny(), three, small} {
		t.Run(cfg.Name, func(t *testing.T) {
			u, err := New(cfg, tensor.Float32)
			if err != nil {
				t.Fatal(err)
			}
			rng := rand.New(rand.NewPCG(3, 4))
			randomize32(u.Params, rng, 0.2)
			const b = 3
			x := make([]float32, b*cfg.InputSize())
			for i := range x {
				x[i] = float32(rng.NormFloat64())
			}
			ts := []int{0, 500, 999}
			toks := make([]int, b*cfg.MaxTokens)
			for i := range toks {
				toks[i] = rng.IntN(cfg.VocabCap)
			}
			want := graphOutput(t, u, x, ts, toks)
			p, err := u.Program(b)
			if err != nil {
				t.Fatal(err)
			}
			got := programOutput(t, p, cfg, x, ts, toks, nil)
			if len(got) != len(want) {
				t.Fatalf("program gives %d values, graph %d", len(got), len(want))
			}
			if d := relDiff(got, want); d > 1e-4 || math.IsNaN(d) {
				t.Fatalf("program and graph differ by %.3g of the output's scale", d)
			}
			// the same program on one sample gives that sample's output:
			// samples do not see each other
			p1, err := u.Program(1)
			if err != nil {
				t.Fatal(err)
			}
			one := programOutput(t, p1, cfg, x[cfg.InputSize():2*cfg.InputSize()], ts[1:2], toks[cfg.MaxTokens:2*cfg.MaxTokens], nil)
			if d := relDiff(one, want[cfg.InputSize():2*cfg.InputSize()]); d > 1e-4 {
				t.Fatalf("sample 1 alone differs by %.3g", d)
			}
		})
	}
}

func TestProgramRefuses(t *testing.T) {
	u64, err := New(Tiny(), tensor.Float64)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := u64.Program(1); err == nil || !strings.Contains(err.Error(), "float32") {
		t.Fatalf("a float64 model became a program: %v", err)
	}
	u, err := New(Tiny(), tensor.Float32)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := u.Program(0); err == nil {
		t.Fatal("a program for a batch of 0")
	}
	u.in.Adapters = append(u.in.Adapters, nil)
	if _, err := u.Program(1); err == nil || !strings.Contains(err.Error(), "unmerged adapters") || !strings.Contains(err.Error(), "in") {
		t.Fatalf("a model with adapters became a program: %v", err)
	}
}
