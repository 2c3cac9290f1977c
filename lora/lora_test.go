package lora

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"t2t"
	"t2t/internal/gradcheck"
	"t2t/unet"
)

// micro is a very small UNet with attention at both levels.
func micro(seed uint64) unet.Config {
	c := unet.Tiny()
	c.Rows, c.Channels, c.Attn, c.Heads, c.Groups = 4, []int{4, 8}, []bool{true, true}, 2, 2
	c.TimeDim, c.EmbedDim, c.ContextDim, c.MaxTokens, c.VocabCap = 4, 6, 4, 2, 5
	c.Layout = t2t.LayoutSpec{UDP: true}
	c.Cols = 64
	c.Seed = seed
	return c
}

// newModel builds a model whose zero-initialised weights (the output
// layer, zero convolutions) are made random, as after training, so that
// every layer reaches the output.
func newModel(t testing.TB, c unet.Config, dt tensor.Dtype) *unet.UNet {
	t.Helper()
	u, err := unet.New(c, dt)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(c.Seed, 9))
	for _, p := range u.Params.List() {
		if !strings.HasSuffix(p.Name, ".weight") {
			continue
		}
		d := p.Float32s()
		zero := true
		for _, v := range d {
			zero = zero && v == 0
		}
		if zero {
			for i := range d {
				d[i] = float32(rng.NormFloat64() * 0.1)
			}
		}
	}
	return u
}

// batch is a fixed random input of b samples with null prompts.
type batch struct {
	x      []float32
	ts     []int
	tokens []int
}

func randomBatch(c unet.Config, b int, seed uint64) batch {
	rng := rand.New(rand.NewPCG(seed, 2))
	in := batch{x: make([]float32, b*c.InputSize()), ts: make([]int, b), tokens: make([]int, b*c.MaxTokens)}
	for i := range in.x {
		in.x[i] = float32(rng.NormFloat64())
	}
	for i := range in.ts {
		in.ts[i] = rng.IntN(1000)
	}
	for i := range in.tokens {
		in.tokens[i] = rng.IntN(2) // <null> or <unk>
	}
	return in
}

// output compiles u as it is now and runs it on in.
func output(t testing.TB, u *unet.UNet, in batch) []float32 {
	t.Helper()
	n, err := unet.Compile(u, len(in.ts), false)
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	if err := n.SetInputs(in.x, in.ts, in.tokens); err != nil {
		t.Fatal(err)
	}
	if err := n.Run(); err != nil {
		t.Fatal(err)
	}
	return n.Output(nil)
}

// randomizeUp gives every adapter a random up, so that it changes the
// output.
func randomizeUp(s *Set, seed uint64, std float64) {
	rng := rand.New(rand.NewPCG(seed, 3))
	for _, a := range s.Adapters {
		if d := a.Up.Float32s(); d != nil {
			for i := range d {
				d[i] = float32(rng.NormFloat64() * std)
			}
		} else {
			d := a.Up.Float64s()
			for i := range d {
				d[i] = rng.NormFloat64() * std
			}
		}
	}
}

func snapshot(ps *unet.Params) [][]float32 {
	var out [][]float32
	for _, p := range ps.List() {
		out = append(out, append([]float32(nil), p.Float32s()...))
	}
	return out
}

func maxRelDiff(a, b []float32) float64 {
	m := 0.0
	for i := range a {
		d := math.Abs(float64(a[i])-float64(b[i])) / math.Max(1, math.Abs(float64(b[i])))
		if math.IsNaN(d) {
			return math.Inf(1)
		}
		m = max(m, d)
	}
	return m
}

func TestConfigJSONAndValidate(t *testing.T) {
	c := DefaultConfig()
	c.Tokens = []string{"newclass"}
	c.Targets = append(c.Targets, "re:mid\\.res\\.[01]\\.conv1")
	b, err := c.MarshalConfig()
	if err != nil {
		t.Fatal(err)
	}
	got, err := ParseConfig(b)
	if err != nil {
		t.Fatal(err)
	}
	if got.Rank != c.Rank || got.Alpha != c.Alpha || len(got.Targets) != len(c.Targets) || got.Targets[4] != c.Targets[4] || got.Tokens[0] != "newclass" {
		t.Fatalf("round trip %+v, want %+v", got, c)
	}
	for _, bad := range []Config{
		{Rank: 0, Alpha: 1},
		{Rank: 2, Alpha: 0},
		{Rank: 2, Alpha: 1, Dropout: 0.1},
		{Rank: 2, Alpha: 1, Targets: []string{"["}},
		{Rank: 2, Alpha: 1, Targets: []string{"re:("}},
		{Rank: 2, Alpha: 1, Tokens: []string{"a b"}},
		{Rank: 2, Alpha: 1, Tokens: []string{"x", "X"}},
	} {
		if err := bad.Validate(); err == nil {
			t.Errorf("%+v: no error", bad)
		}
	}
	if _, err := ParseConfig([]byte(`{"rank":2,"alpha":1,"rnak":3}`)); err == nil {
		t.Error("unknown field: no error")
	}
}

func TestTargets(t *testing.T) {
	u := newModel(t, micro(1), tensor.Float32)
	s, err := New(u, "a", DefaultConfig(), 1)
	if err != nil {
		t.Fatal(err)
	}
	// micro: attention at down.0, down.1, up.1, up.0, mid.self, mid.cross,
	// four projections each
	if len(s.Adapters) != 6*4 {
		t.Fatalf("%d adapters, want 24", len(s.Adapters))
	}
	for _, a := range s.Adapters {
		if a.Down.Name != a.Layer.Name+".lora.a.down" || a.Up.Name != a.Layer.Name+".lora.a.up" {
			t.Fatalf("names %s %s", a.Down.Name, a.Up.Name)
		}
		if len(a.Down.Shape()) != 2 || a.Down.Shape()[0] != a.Layer.In || a.Up.Shape()[1] != a.Layer.Out {
			t.Fatalf("%s: shapes %v %v for layer [%d %d]", a.Layer.Name, a.Down.Shape(), a.Up.Shape(), a.Layer.In, a.Layer.Out)
		}
	}
	cfg := DefaultConfig()
	cfg.Targets = []string{"re:mid\\.res\\.\\d\\.conv[12]"}
	s, err = New(u, "convs", cfg, 1)
	if err != nil || len(s.Adapters) != 4 {
		t.Fatalf("conv targets: %v, %d adapters", err, len(s.Adapters))
	}
	cfg.Targets = []string{"*.to_q", "*.nothing"}
	if _, err := New(u, "x", cfg, 1); err == nil {
		t.Error("a target matching nothing: no error")
	}
	if _, err := New(u, "a.b", DefaultConfig(), 1); err == nil {
		t.Error("a name with a dot: no error")
	}
}

// TestFreshAdapterNoop: a fresh adapter (up = 0) leaves the Tiny UNet's
// output unchanged, value for value.
func TestFreshAdapterNoop(t *testing.T) {
	u := newModel(t, unet.Tiny(), tensor.Float32)
	in := randomBatch(u.Config, 2, 1)
	base := output(t, u, in)
	cfg := DefaultConfig()
	cfg.Targets = append(cfg.Targets, "*.conv1", "*.conv2")
	s, err := New(u, "fresh", cfg, 7)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Attach(); err != nil {
		t.Fatal(err)
	}
	got := output(t, u, in)
	for i := range base {
		if got[i] != base[i] {
			t.Fatalf("output[%d] = %g with a fresh adapter, %g without", i, got[i], base[i])
		}
	}
	// and a non-zero up does change it (the adapters are in the graph)
	randomizeUp(s, 1, 0.1)
	if maxRelDiff(output(t, u, in), base) == 0 {
		t.Fatal("an adapter with up != 0 changes nothing: not in the graph?")
	}
}

// TestAdapterGradient checks an adapted Linear against finite differences
// with respect to down, up, the base weights and the input.
func TestAdapterGradient(t *testing.T) {
	ps := unet.NewParams(tensor.Float64)
	rng := rand.New(rand.NewPCG(5, 5))
	l := unet.NewLinear(ps, "blk.to_q", 5, 3, true, false, rng)
	for _, p := range ps.List() {
		for i := range p.Float64s() {
			p.Float64s()[i] = rng.NormFloat64() * 0.5
		}
	}
	s := setOn(t, l, "g", Config{Rank: 2, Alpha: 3}, 9)
	randomizeUp(s, 2, 0.5)
	s.SetWeight(0.7)
	g := unet.NewGraph(ps)
	xv := tensor.New(tensor.WithShape(4, 5), tensor.WithBacking(randn(rng, 20)))
	x := G.NewMatrix(g.G, tensor.Float64, G.WithShape(4, 5), G.WithName("x"), G.WithValue(xv))
	y := l.Forward(g, x)
	params, nodes := g.Bound()
	var vals []*tensor.Dense
	have := map[string]bool{}
	for _, p := range params {
		vals = append(vals, p.Value)
		have[p.Name] = true
	}
	for _, a := range s.Adapters {
		if !have[a.Down.Name] || !have[a.Up.Name] {
			t.Fatalf("adapter parameters not in the graph: %v", have)
		}
	}
	nodes = append(nodes, x)
	vals = append(vals, xv)
	res, err := gradcheck.Check(g.G, y, nodes, vals, rand.New(rand.NewPCG(7, 7)), 12, 1e-6)
	if err != nil {
		t.Fatal(err)
	}
	if res.MaxErr > 1e-6 || res.Checked < 4*8 {
		t.Fatalf("gradient mismatch at %s: analytic %g, numeric %g (err %g over %d coordinates)", res.Where, res.Analytic, res.Numeric, res.MaxErr, res.Checked)
	}
	t.Logf("%d coordinates, max error %.2g", res.Checked, res.MaxErr)
}

// setOn makes a set over a lone Linear, through a one-layer stand-in for
// the UNet's layer table.
func setOn(t *testing.T, l *unet.Linear, name string, cfg Config, seed uint64) *Set {
	t.Helper()
	s := &Set{Name: name, Config: cfg, params: unet.NewParams(l.W.Value.Dtype())}
	rng := rand.New(rand.NewPCG(seed, 0x6c6f7261))
	a := &Adapter{Layer: l, Scale: cfg.Alpha / float64(cfg.Rank), Weight: 1, set: s}
	a.Down = s.params.New(l.Name+".lora."+name+".down", []int{l.In, cfg.Rank}, unet.InitUniform, l.In, 1, rng)
	a.Up = s.params.New(l.Name+".lora."+name+".up", []int{cfg.Rank, l.Out}, unet.InitZeros, 0, 1, rng)
	s.Adapters = []*Adapter{a}
	if err := s.Attach(); err != nil {
		t.Fatal(err)
	}
	return s
}

func randn(rng *rand.Rand, n int) []float64 {
	v := make([]float64, n)
	for i := range v {
		v[i] = rng.NormFloat64()
	}
	return v
}

// TestMergeUnmerge: merged output equals attached output; unmerge
// restores the base weights; detach restores the base output exactly.
func TestMergeUnmerge(t *testing.T) {
	u := newModel(t, micro(1), tensor.Float32)
	in := randomBatch(u.Config, 2, 4)
	base := output(t, u, in)
	before := snapshot(u.Params)
	cfg := DefaultConfig()
	cfg.Targets = append(cfg.Targets, "*.conv1")
	s, err := New(u, "m", cfg, 3)
	if err != nil {
		t.Fatal(err)
	}
	randomizeUp(s, 5, 0.3)
	s.SetWeight(0.8)
	if err := s.Attach(); err != nil {
		t.Fatal(err)
	}
	adapted := output(t, u, in)
	if d := maxRelDiff(adapted, base); d < 1e-3 {
		t.Fatalf("the adapter barely changes the output (%g): test is vacuous", d)
	}
	if err := s.Merge(); err != nil {
		t.Fatal(err)
	}
	if s.Attached() {
		t.Fatal("merged set still attached")
	}
	merged := output(t, u, in)
	if d := maxRelDiff(merged, adapted); d > 1e-4 {
		t.Fatalf("merged output differs from attached by %g (relative)", d)
	}
	if err := s.Unmerge(); err != nil {
		t.Fatal(err)
	}
	after := snapshot(u.Params)
	worst := 0.0
	for i := range before {
		for j := range before[i] {
			worst = max(worst, math.Abs(float64(after[i][j]-before[i][j])))
		}
	}
	if worst > 1e-6 {
		t.Fatalf("unmerge leaves the base weights off by %g", worst)
	}
	if !s.Attached() {
		t.Fatal("unmerge did not re-attach the set")
	}
	if d := maxRelDiff(output(t, u, in), adapted); d > 1e-5 {
		t.Fatalf("attached after unmerge differs by %g", d)
	}
	// exact base weights again for the detach check (unmerge may be off
	// by an ulp)
	for i, p := range u.Params.List() {
		copy(p.Float32s(), before[i])
	}
	s.Detach()
	got := output(t, u, in)
	for i := range base {
		if got[i] != base[i] {
			t.Fatalf("output[%d] = %g after detach, base %g", i, got[i], base[i])
		}
	}
	if err := s.Unmerge(); err == nil {
		t.Error("unmerge of an unmerged set: no error")
	}
}

// TestTwoAdapters: on a Linear with adapters A (weight 1) and B (weight
// 0.5), the output is the base plus the delta of A alone plus half the
// delta of B alone at weight 1.
func TestTwoAdapters(t *testing.T) {
	ps := unet.NewParams(tensor.Float64)
	rng := rand.New(rand.NewPCG(11, 1))
	l := unet.NewLinear(ps, "x.to_v", 6, 4, true, false, rng)
	xv := randn(rng, 3*6)
	run := func() []float64 {
		g := unet.NewGraph(ps)
		x := G.NewMatrix(g.G, tensor.Float64, G.WithShape(3, 6), G.WithName("x"),
			G.WithValue(tensor.New(tensor.WithShape(3, 6), tensor.WithBacking(append([]float64(nil), xv...)))))
		y := l.Forward(g, x)
		m := G.NewTapeMachine(g.G)
		defer m.Close()
		if err := m.RunAll(); err != nil {
			t.Fatal(err)
		}
		return append([]float64(nil), y.Value().Data().([]float64)...)
	}
	base := run()
	a := setOn(t, l, "a", Config{Rank: 2, Alpha: 2}, 1)
	randomizeUp(a, 1, 1)
	a.Detach()
	b := setOn(t, l, "b", Config{Rank: 3, Alpha: 1}, 2)
	randomizeUp(b, 2, 1)
	onlyB := run()
	b.Detach()
	a.Attach()
	onlyA := run()
	b.Attach()
	b.SetWeight(0.5)
	both := run()
	if len(l.Adapters) != 2 {
		t.Fatalf("%d adapters on the layer", len(l.Adapters))
	}
	for i := range base {
		dA, dB := onlyA[i]-base[i], onlyB[i]-base[i]
		if math.Abs(dA) < 1e-3 || math.Abs(dB) < 1e-3 {
			t.Fatalf("delta %d: %g, %g: too small to test", i, dA, dB)
		}
		want := base[i] + dA + 0.5*dB
		if math.Abs(both[i]-want) > 1e-12*math.Max(1, math.Abs(want)) {
			t.Fatalf("y[%d] = %g with both, want %g", i, both[i], want)
		}
	}
	if err := a.Attach(); err == nil {
		t.Error("attaching twice: no error")
	}
	a.Detach()
	b.Detach()
	if l.Adapters != nil {
		t.Fatalf("adapters left after detaching both: %v", l.Adapters)
	}
}
