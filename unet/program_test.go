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

// TestGraphHashCollisions holds the graph to the reference program where
// gorgonia's 32-bit node hashes collide: a Small model with 128 prompt rows
// at batch 16 (issue 22: "Div failed: Shape mismatch. Expected (256, 256).
// Got (16, 8, 8)" at 13 or more flows with guidance). The first build of
// that graph holds a colliding pair; Compile must build another and give
// the program's output.
func TestGraphHashCollisions(t *testing.T) {
	if testing.Short() {
		t.Skip("a Small model at batch 16")
	}
	cfg := Small()
	cfg.VocabCap = 128
	u, err := New(cfg, tensor.Float32)
	if err != nil {
		t.Fatal(err)
	}
	const b = 16
	first, err := buildNet(u, b, false, 0)
	if err != nil {
		t.Fatal(err)
	}
	pairs := HashCollisions(first.net.Graph.G)
	if len(pairs) == 0 {
		t.Fatal("the first build at batch 16 holds no colliding nodes: the case this test stands for is gone; find another")
	}
	t.Logf("first build: %d nodes, %d colliding pairs (%s and %s)", first.count, len(pairs), pairs[0][0].Op(), pairs[0][1])
	rng := rand.New(rand.NewPCG(5, 6))
	randomize32(u.Params, rng, 0.2)
	x := make([]float32, b*cfg.InputSize())
	for i := range x {
		x[i] = float32(rng.NormFloat64())
	}
	ts := make([]int, b)
	toks := make([]int, b*cfg.MaxTokens)
	for i := range ts {
		ts[i] = rng.IntN(1000)
	}
	for i := range toks {
		toks[i] = rng.IntN(cfg.VocabCap)
	}
	want := graphOutput(t, u, x, ts, toks)
	p, err := u.Program(b)
	if err != nil {
		t.Fatal(err)
	}
	got := programOutput(t, p, cfg, x, ts, toks, nil)
	if d := relDiff(got, want); d > 1e-4 || math.IsNaN(d) {
		t.Fatalf("program and graph differ by %.3g of the output's scale", d)
	}
	// the training graph of that batch is collision-free too
	n, err := Compile(u, b, true)
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	if c := HashCollisions(n.Graph.G); len(c) > 0 {
		t.Fatalf("the training graph holds %d colliding pairs", len(c))
	}
}

// TestCompileNeverKeepsCollisions builds the graphs a sampler asks for
// (batch 1..32, doubled under guidance) at prompt tables that cross 256
// and checks that what Compile keeps holds no two nodes of one hash.
func TestCompileNeverKeepsCollisions(t *testing.T) {
	if testing.Short() {
		t.Skip("hundreds of graph builds")
	}
	found := 0
	for _, vc := range []int{128, 256} {
		cfg := Small()
		cfg.VocabCap = vc
		u, err := New(cfg, tensor.Float32)
		if err != nil {
			t.Fatal(err)
		}
		for b := 1; b <= 64; b++ {
			first, err := buildNet(u, b, false, 0)
			if err != nil {
				t.Fatal(err)
			}
			if !first.clean {
				found++
			}
			n, err := Compile(u, b, false)
			if err != nil {
				t.Fatalf("vocab %d batch %d: %v", vc, b, err)
			}
			if c := HashCollisions(n.Graph.G); len(c) > 0 {
				t.Fatalf("vocab %d batch %d: Compile kept %d colliding pairs", vc, b, len(c))
			}
			n.Close()
		}
	}
	t.Logf("%d first builds held colliding nodes", found)
}
