package unet

import (
	"math/rand/v2"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"t2t"
	"t2t/internal/gradcheck"
)

func TestConfigs(t *testing.T) {
	for _, name := range []string{"tiny", "small", "base"} {
		c, err := Preset(name)
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Validate(); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
	c := Tiny()
	c.Rows = 7
	if err := c.Validate(); err == nil {
		t.Error("rows 7 with 2 levels: no error")
	}
	c = Tiny()
	c.Cols = 1000
	if err := c.Validate(); err == nil {
		t.Error("cols not the layout's width: no error")
	}
	c = Tiny()
	c.Patch = "1x8"
	if err := c.Validate(); err == nil {
		t.Error("unknown patch: no error")
	}
}

// TestTinyShapes runs the Tiny UNet forward on zeros and on a real flow.
func TestTinyShapes(t *testing.T) {
	u, err := New(Tiny(), tensor.Float32)
	if err != nil {
		t.Fatal(err)
	}
	c := u.Config
	for _, b := range []int{1, 3} {
		n, err := Compile(u, b, false)
		if err != nil {
			t.Fatal(err)
		}
		x := make([]float32, b*c.InputSize())
		if err := n.SetInputs(x, make([]int, b), make([]int, b*c.MaxTokens)); err != nil {
			t.Fatal(err)
		}
		if err := n.Run(); err != nil {
			t.Fatal(err)
		}
		out := n.Output(nil)
		if len(out) != len(x) {
			t.Fatalf("batch %d: output of %d values, want %d", b, len(out), len(x))
		}
		// the output layer starts at zero: a fresh UNet predicts 0
		for _, v := range out {
			if v != 0 {
				t.Fatalf("fresh UNet output %g, want 0 (zero-initialised output)", v)
			}
		}
		n.Close()
	}
	if u.Params.Count() < 100000 {
		t.Errorf("Tiny has only %d weights", u.Params.Count())
	}
	seen := map[string]bool{}
	for name := range u.Linears() {
		if seen[name] {
			t.Fatalf("duplicate layer %s", name)
		}
		seen[name] = true
		if u.Params.Get(name+".weight") == nil {
			t.Fatalf("layer %s has no weight parameter", name)
		}
	}
}

// TestSameSeedSameModel: weights come from Config.Seed only.
func TestSameSeedSameModel(t *testing.T) {
	a, _ := New(Tiny(), tensor.Float32)
	b, _ := New(Tiny(), tensor.Float32)
	c2 := Tiny()
	c2.Seed = 2
	c, _ := New(c2, tensor.Float32)
	same, diff := true, false
	for i, p := range a.Params.List() {
		q, r := b.Params.List()[i], c.Params.List()[i]
		for j, v := range p.Float32s() {
			if q.Float32s()[j] != v {
				same = false
			}
			if r.Float32s()[j] != v {
				diff = true
			}
		}
	}
	if !same || !diff {
		t.Fatalf("same seed same weights: %v; other seed differs: %v", same, diff)
	}
}

// micro is the smallest UNet with every kind of block, for gradient checks.
func micro() Config {
	c := Tiny()
	c.Rows, c.Channels, c.Attn, c.Heads, c.Groups = 4, []int{4, 8}, []bool{true, true}, 2, 2
	c.TimeDim, c.EmbedDim, c.ContextDim, c.MaxTokens, c.VocabCap = 4, 6, 4, 2, 5
	c.Layout = t2t.LayoutSpec{UDP: true}
	c.Cols = 64
	return c
}

// TestUNetGradient checks the whole UNet, residual inputs included,
// against finite differences in float64.
func TestUNetGradient(t *testing.T) {
	u, err := New(micro(), tensor.Float64)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(3, 3))
	randomize(u.Params, rng)
	c := u.Config
	g := NewGraph(u.Params)
	b := 2
	xv := randDense(rng, b, c.Rows, 3*c.Cols)
	tv := randDense(rng, b, c.TimeDim)
	tok := tensor.New(tensor.WithShape(b*c.MaxTokens, c.VocabCap), tensor.WithBacking(make([]float64, b*c.MaxTokens*c.VocabCap)))
	for i := 0; i < b*c.MaxTokens; i++ {
		tok.Data().([]float64)[i*c.VocabCap+rng.IntN(c.VocabCap)] = 1
	}
	in := Inputs{X: inputNode(g, "x", xv), Time: inputNode(g, "t", tv), Tokens: inputNode(g, "tok", tok)}
	r0 := randDense(rng, b, c.Rows, c.Channels[0])
	rm := randDense(rng, b, c.Rows/2, c.Channels[1])
	res := &Residuals{Skips: []*G.Node{inputNode(g, "r0", r0), nil}, Mid: inputNode(g, "rm", rm)}
	out := u.Forward(g, in, res)
	ps, nodes := g.Bound()
	var vals []*tensor.Dense
	for _, p := range ps {
		vals = append(vals, p.Value)
	}
	nodes = append(nodes, in.X, in.Time, res.Skips[0], res.Mid)
	vals = append(vals, xv, tv, r0, rm)
	chk, err := gradcheck.Check(g.G, out, nodes, vals, rng, 3, 1e-6)
	if err != nil {
		t.Fatal(err)
	}
	if chk.MaxErr > 1e-5 || chk.Checked < 100 {
		t.Fatalf("gradient mismatch at %s: analytic %g numeric %g (err %g, %d coordinates)", chk.Where, chk.Analytic, chk.Numeric, chk.MaxErr, chk.Checked)
	}
	t.Logf("%d coordinates over %d parameters and 4 inputs, max error %.2g", chk.Checked, len(ps), chk.MaxErr)
}
