package unet

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"t2t/internal/gradcheck"
)

// randomize gives every parameter random values, so that zero-initialised
// layers pass gradient to everything in a check.
func randomize(ps *Params, rng *rand.Rand) {
	for _, p := range ps.List() {
		d := p.Float64s()
		for i := range d {
			d[i] = rng.NormFloat64() * 0.5
		}
	}
}

func randDense(rng *rand.Rand, shape ...int) *tensor.Dense {
	n := 1
	for _, s := range shape {
		n *= s
	}
	v := make([]float64, n)
	for i := range v {
		v[i] = rng.NormFloat64()
	}
	return tensor.New(tensor.WithShape(shape...), tensor.WithBacking(v))
}

func inputNode(g *Graph, name string, v *tensor.Dense) *G.Node {
	return G.NewTensor(g.G, tensor.Float64, v.Dims(), G.WithShape(v.Shape()...), G.WithName(name), G.WithValue(v))
}

// checkGrad runs a finite-difference check of out with respect to every
// parameter the graph uses and to the given inputs.
func checkGrad(t *testing.T, g *Graph, out *G.Node, inputs map[*G.Node]*tensor.Dense, tol float64) {
	t.Helper()
	ps, nodes := g.Bound()
	var vals []*tensor.Dense
	for _, p := range ps {
		vals = append(vals, p.Value)
	}
	for n, v := range inputs {
		nodes = append(nodes, n)
		vals = append(vals, v)
	}
	res, err := gradcheck.Check(g.G, out, nodes, vals, rand.New(rand.NewPCG(7, 7)), 12, 1e-6)
	if err != nil {
		t.Fatal(err)
	}
	if res.MaxErr > tol || res.Checked == 0 {
		t.Fatalf("gradient mismatch at %s: analytic %g, numeric %g (err %g over %d coordinates)", res.Where, res.Analytic, res.Numeric, res.MaxErr, res.Checked)
	}
	t.Logf("%d coordinates, max error %.2g", res.Checked, res.MaxErr)
}

// forward runs a graph and returns out's values.
func forward(t *testing.T, g *Graph, out *G.Node) []float64 {
	t.Helper()
	m := G.NewTapeMachine(g.G)
	defer m.Close()
	if err := m.RunAll(); err != nil {
		t.Fatal(err)
	}
	return append([]float64(nil), out.Value().Data().([]float64)...)
}

func near(t *testing.T, what string, got, want []float64, tol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, want %d", what, len(got), len(want))
	}
	for i := range got {
		if math.Abs(got[i]-want[i]) > tol*math.Max(1, math.Abs(want[i])) || math.IsNaN(got[i]) {
			t.Fatalf("%s[%d] = %g, want %g", what, i, got[i], want[i])
		}
	}
}

func setup(seed uint64) (*Params, *rand.Rand) {
	return NewParams(tensor.Float64), rand.New(rand.NewPCG(seed, 1))
}

// refLinear is x·W + b on [n, in] rows.
func refLinear(x []float64, n, in, out int, w, b []float64) []float64 {
	y := make([]float64, n*out)
	for r := 0; r < n; r++ {
		for o := 0; o < out; o++ {
			s := 0.0
			if b != nil {
				s = b[o]
			}
			for i := 0; i < in; i++ {
				s += x[r*in+i] * w[i*out+o]
			}
			y[r*out+o] = s
		}
	}
	return y
}

func TestLinear(t *testing.T) {
	ps, rng := setup(1)
	l := NewLinear(ps, "lin", 5, 3, true, false, rng)
	randomize(ps, rng)
	g := NewGraph(ps)
	xv := randDense(rng, 2, 4, 5)
	x := inputNode(g, "x", xv)
	y := l.Forward(g, x)
	if s := y.Shape(); s[0] != 2 || s[1] != 4 || s[2] != 3 {
		t.Fatalf("shape %v", s)
	}
	near(t, "linear", forward(t, g, y), refLinear(xv.Data().([]float64), 8, 5, 3, l.W.Float64s(), l.B.Float64s()), 1e-12)
	g = NewGraph(ps)
	x = inputNode(g, "x", xv)
	checkGrad(t, g, l.Forward(g, x), map[*G.Node]*tensor.Dense{x: xv}, 1e-6)
}

func refConv(x []float64, b, l, in, out int, w, bias []float64) []float64 {
	cat := make([]float64, b*l*3*in)
	for s := 0; s < b; s++ {
		for p := 0; p < l; p++ {
			for k := 0; k < 3; k++ {
				q := p + k - 1
				if q < 0 || q >= l {
					continue
				}
				copy(cat[(s*l+p)*3*in+k*in:], x[(s*l+q)*in:(s*l+q+1)*in])
			}
		}
	}
	return refLinear(cat, b*l, 3*in, out, w, bias)
}

func TestConv1D(t *testing.T) {
	for _, l := range []int{1, 2, 6} {
		ps, rng := setup(2)
		c := NewConv1D(ps, "conv", 3, 4, false, rng)
		randomize(ps, rng)
		g := NewGraph(ps)
		xv := randDense(rng, 2, l, 3)
		x := inputNode(g, "x", xv)
		y := c.Forward(g, x)
		near(t, fmt.Sprintf("conv L=%d", l), forward(t, g, y), refConv(xv.Data().([]float64), 2, l, 3, 4, c.W.Float64s(), c.B.Float64s()), 1e-12)
		g = NewGraph(ps)
		x = inputNode(g, "x", xv)
		checkGrad(t, g, c.Forward(g, x), map[*G.Node]*tensor.Dense{x: xv}, 1e-6)
	}
}

func refGroupNorm(x []float64, b, l, c, groups int, gamma, beta []float64, eps float64) []float64 {
	y := make([]float64, len(x))
	cg := c / groups
	for s := 0; s < b; s++ {
		for gr := 0; gr < groups; gr++ {
			var sum, sq float64
			n := float64(l * cg)
			for p := 0; p < l; p++ {
				for k := 0; k < cg; k++ {
					sum += x[(s*l+p)*c+gr*cg+k]
				}
			}
			mean := sum / n
			for p := 0; p < l; p++ {
				for k := 0; k < cg; k++ {
					d := x[(s*l+p)*c+gr*cg+k] - mean
					sq += d * d
				}
			}
			std := math.Sqrt(sq/n + eps)
			for p := 0; p < l; p++ {
				for k := 0; k < cg; k++ {
					i := (s*l+p)*c + gr*cg + k
					y[i] = (x[i]-mean)/std*gamma[gr*cg+k] + beta[gr*cg+k]
				}
			}
		}
	}
	return y
}

// TestGroupNorm checks the forward against a float64 reference on a
// realistic size (groups of 512 elements, where gorgonia's own GroupNorm
// goes wrong) and the gradient on a small one.
func TestGroupNorm(t *testing.T) {
	ps, rng := setup(3)
	n := NewGroupNorm(ps, "gn", 128, 8, rng)
	randomize(ps, rng)
	g := NewGraph(ps)
	xv := randDense(rng, 2, 32, 128)
	for i, v := range xv.Data().([]float64) { // an offset and scale per sample
		xv.Data().([]float64)[i] = v*3 + float64(i/(32*128))*5
	}
	y := n.Forward(g, inputNode(g, "x", xv))
	near(t, "groupnorm", forward(t, g, y), refGroupNorm(xv.Data().([]float64), 2, 32, 128, 8, n.Gamma.Float64s(), n.Beta.Float64s(), n.Eps), 1e-9)

	ps, rng = setup(4)
	n = NewGroupNorm(ps, "gn", 6, 2, rng)
	randomize(ps, rng)
	g = NewGraph(ps)
	xv = randDense(rng, 2, 3, 6)
	x := inputNode(g, "x", xv)
	checkGrad(t, g, n.Forward(g, x), map[*G.Node]*tensor.Dense{x: xv}, 1e-5)
}

func TestLayerNorm(t *testing.T) {
	ps, rng := setup(5)
	n := NewLayerNorm(ps, "ln", 6, rng)
	randomize(ps, rng)
	g := NewGraph(ps)
	xv := randDense(rng, 2, 3, 6)
	y := n.Forward(g, inputNode(g, "x", xv))
	// a layer norm is a group norm with one position and one group
	near(t, "layernorm", forward(t, g, y), refGroupNorm(xv.Data().([]float64), 6, 1, 6, 1, n.Gamma.Float64s(), n.Beta.Float64s(), n.Eps), 1e-9)
	g = NewGraph(ps)
	x := inputNode(g, "x", xv)
	checkGrad(t, g, n.Forward(g, x), map[*G.Node]*tensor.Dense{x: xv}, 1e-5)
}

func refAttention(a *Attention, x, ctx []float64, b, l, tn int) []float64 {
	c, d := a.C, a.C/a.Heads
	h := refGroupNorm(x, b*l, 1, c, 1, a.Norm.Gamma.Float64s(), a.Norm.Beta.Float64s(), a.Norm.Eps)
	if ctx == nil {
		ctx, tn = h, l
	}
	q := refLinear(h, b*l, c, c, a.Q.W.Float64s(), nil)
	k := refLinear(ctx, b*tn, a.Ctx, c, a.K.W.Float64s(), nil)
	v := refLinear(ctx, b*tn, a.Ctx, c, a.V.W.Float64s(), nil)
	o := make([]float64, b*l*c)
	for s := 0; s < b; s++ {
		for hd := 0; hd < a.Heads; hd++ {
			for i := 0; i < l; i++ {
				w := make([]float64, tn)
				z := 0.0
				for j := 0; j < tn; j++ {
					dot := 0.0
					for e := 0; e < d; e++ {
						dot += q[(s*l+i)*c+hd*d+e] * k[(s*tn+j)*c+hd*d+e]
					}
					w[j] = math.Exp(dot / math.Sqrt(float64(d)))
					z += w[j]
				}
				for j := 0; j < tn; j++ {
					for e := 0; e < d; e++ {
						o[(s*l+i)*c+hd*d+e] += w[j] / z * v[(s*tn+j)*c+hd*d+e]
					}
				}
			}
		}
	}
	out := refLinear(o, b*l, c, c, a.Out.W.Float64s(), a.Out.B.Float64s())
	for i := range out {
		out[i] += x[i]
	}
	return out
}

func TestAttention(t *testing.T) {
	for _, cross := range []bool{false, true} {
		ps, rng := setup(6)
		ctxDim := 4
		if !cross {
			ctxDim = 6
		}
		a := NewAttention(ps, "attn", 6, ctxDim, 2, rng)
		randomize(ps, rng)
		xv := randDense(rng, 2, 3, 6)
		var cv *tensor.Dense
		var cdata []float64
		if cross {
			cv = randDense(rng, 2, 5, 4)
			cdata = cv.Data().([]float64)
		}
		g := NewGraph(ps)
		var ctx *G.Node
		if cross {
			ctx = inputNode(g, "ctx", cv)
		}
		y := a.Forward(g, inputNode(g, "x", xv), ctx)
		near(t, fmt.Sprintf("attention cross=%v", cross), forward(t, g, y), refAttention(a, xv.Data().([]float64), cdata, 2, 3, 5), 1e-9)
		g = NewGraph(ps)
		x := inputNode(g, "x", xv)
		in := map[*G.Node]*tensor.Dense{x: xv}
		ctx = nil
		if cross {
			ctx = inputNode(g, "ctx", cv)
			in[ctx] = cv
		}
		checkGrad(t, g, a.Forward(g, x, ctx), in, 1e-5)
	}
}

func TestResBlock(t *testing.T) {
	for _, out := range []int{4, 6} {
		ps, rng := setup(7)
		r := NewResBlock(ps, "res", 4, out, 5, 2, rng)
		randomize(ps, rng)
		g := NewGraph(ps)
		xv, tv := randDense(rng, 2, 4, 4), randDense(rng, 2, 5)
		x, tm := inputNode(g, "x", xv), inputNode(g, "t", tv)
		y := r.Forward(g, x, tm)
		if s := y.Shape(); s[2] != out {
			t.Fatalf("shape %v", s)
		}
		checkGrad(t, g, y, map[*G.Node]*tensor.Dense{x: xv, tm: tv}, 1e-5)
	}
}

func TestDownUp(t *testing.T) {
	ps, rng := setup(8)
	d := NewDown(ps, "down", 3, 5, rng)
	u := NewUp(ps, "up", 5, 3, rng)
	g := NewGraph(ps)
	xv := randDense(rng, 2, 4, 3)
	x := inputNode(g, "x", xv)
	h := d.Forward(g, x)
	y := u.Forward(g, h)
	if s := h.Shape(); s[1] != 2 || s[2] != 5 {
		t.Fatalf("down shape %v", s)
	}
	if s := y.Shape(); s[1] != 4 || s[2] != 3 {
		t.Fatalf("up shape %v", s)
	}
	// down merges positions 2i and 2i+1: a reference on the pairs
	want := refLinear(xv.Data().([]float64), 4, 6, 5, d.W.Float64s(), d.B.Float64s())
	g2 := NewGraph(ps)
	near(t, "down", forward(t, g2, d.Forward(g2, inputNode(g2, "x", xv))), want, 1e-12)
	checkGrad(t, g, y, map[*G.Node]*tensor.Dense{x: xv}, 1e-6)
}

func TestTimestepEmbedding(t *testing.T) {
	ps, rng := setup(9)
	te := NewTimestepEmbedding(ps, "time", 8, 6, rng)
	sv := make([]float64, 2*8)
	Sinusoidal(sv[:8], 0)
	Sinusoidal(sv[8:], 999)
	if sv[0] != 1 || sv[4] != 0 || math.Abs(sv[8+4]-math.Sin(999)) > 1e-12 {
		t.Fatalf("sinusoidal: %v", sv)
	}
	g := NewGraph(ps)
	s := tensor.New(tensor.WithShape(2, 8), tensor.WithBacking(sv))
	x := inputNode(g, "s", s)
	checkGrad(t, g, te.Forward(g, x), map[*G.Node]*tensor.Dense{x: s}, 1e-6)
}
