package unet

import (
	"fmt"
	"math"
	"math/rand/v2"

	G "gorgonia.org/gorgonia"
)

// Activations are channels-last sequences: nodes of shape [B, L, C], B
// samples, L positions along the packet axis, C channels. Every layer here
// is a struct of parameters plus a Forward that adds its operations to a
// Graph; construction (shapes, names, initial values from a seeded source)
// is separate from graph building, so one model serves graphs of any batch
// size.

func must(n *G.Node, err error) *G.Node {
	if err != nil {
		panic(err)
	}
	return n
}

func silu(x *G.Node) *G.Node { return must(G.HadamardProd(x, must(G.Sigmoid(x)))) }

func add(a, b *G.Node) *G.Node { return must(G.Add(a, b)) }

// Adapter adds a learned term to a Linear layer's output (LoRA). x is the
// layer's input flattened to [N, In]; the result must be [N, Out].
type Adapter interface {
	Delta(g *Graph, x *G.Node) *G.Node
}

// Linear is y = x·W + b, W of shape [In, Out].
type Linear struct {
	Name     string
	In, Out  int
	W, B     *Param
	Adapters []Adapter // extra terms (LoRA), applied in order
}

// NewLinear registers <name>.weight [in,out] and, with bias, <name>.bias
// [out]. zero makes the weight start at 0 (output convolutions).
func NewLinear(ps *Params, name string, in, out int, bias, zero bool, rng *rand.Rand) *Linear {
	l := &Linear{Name: ps.Prefix + name, In: in, Out: out}
	init := InitUniform
	if zero {
		init = InitZeros
	}
	l.W = ps.New(name+".weight", []int{in, out}, init, in, 1, rng)
	if bias {
		l.B = ps.New(name+".bias", []int{out}, InitZeros, in, 1, rng)
	}
	return l
}

// Forward applies the layer to x of shape [..., In].
func (l *Linear) Forward(g *Graph, x *G.Node) *G.Node {
	s := x.Shape()
	if s[len(s)-1] != l.In {
		panic(fmt.Sprintf("unet: %s: input %v, want last dim %d", l.Name, s, l.In))
	}
	n := s.TotalSize() / l.In
	x2 := x
	if len(s) != 2 {
		x2 = reshape(x, n, l.In)
	}
	y := must(G.Mul(x2, g.Node(l.W)))
	for _, a := range l.Adapters {
		y = add(y, a.Delta(g, x2))
	}
	if l.B != nil {
		y = must(G.BroadcastAdd(y, reshape(g.Node(l.B), 1, l.Out), nil, []byte{0}))
	}
	if len(s) != 2 {
		out := append(append([]int(nil), s[:len(s)-1]...), l.Out)
		y = reshape(y, out...)
	}
	return y
}

// Conv1D is a convolution of kernel 3, stride 1, zero padding 1 along the
// packet axis of a [B, L, C] sequence, computed as a Linear over the
// concatenated neighbours [x(l-1), x(l), x(l+1)] (weight [3·In, Out]).
type Conv1D struct {
	*Linear
}

// NewConv1D registers <name>.weight [3·in, out] and <name>.bias.
func NewConv1D(ps *Params, name string, in, out int, zero bool, rng *rand.Rand) *Conv1D {
	return &Conv1D{NewLinear(ps, name, 3*in, out, true, zero, rng)}
}

// Forward: x [B, L, In] -> [B, L, Out]. It computes the three taps as
// three products with row blocks of the weight, the outer ones shifted
// along L (shiftRows): the same sum as the Linear over the concatenated
// neighbours, without copying them. Adapters, which see the
// concatenated input [x(l-1), x(l), x(l+1)], get it built for them.
func (c *Conv1D) Forward(g *Graph, x *G.Node) *G.Node {
	s := x.Shape()
	b, l, in := s[0], s[1], s[2]
	x2 := reshape(x, b*l, in)
	// the weight's row blocks, one per tap, sliced from a [3, In·Out] view:
	// gorgonia hashes a slice's bounds as bytes, so row ranges that agree
	// modulo 256 (taps 0 and 2 at 128 channels, all three at 256) would be
	// merged into one node by its common-subexpression elimination; tap
	// indices 0..2 hash apart
	w := reshape(g.Node(c.W), 3, in*c.Out)
	tap := func(k int) *G.Node {
		y := must(G.Mul(x2, reshape(must(G.Slice(w, G.S(k))), in, c.Out)))
		return reshape(y, b, l, c.Out)
	}
	y := tap(1)
	if l > 1 {
		y = add(y, shiftSeq(tap(0), 1))  // out[l] += x[l-1]·W_prev
		y = add(y, shiftSeq(tap(2), -1)) // out[l] += x[l+1]·W_next
	}
	if len(c.Adapters) > 0 {
		cat := reshape(c.neighbours(g, x), b*l, 3*in)
		for _, a := range c.Adapters {
			y = add(y, reshape(a.Delta(g, cat), b, l, c.Out))
		}
	}
	if c.B != nil {
		y = must(G.BroadcastAdd(y, reshape(g.Node(c.B), 1, 1, c.Out), nil, []byte{0, 1}))
	}
	return y
}

// neighbours is x's concatenated neighbours [x(l-1), x(l), x(l+1)]
// ([B, L, 3·In], zero past the ends), the input of a convolution as a
// Linear.
func (c *Conv1D) neighbours(g *Graph, x *G.Node) *G.Node {
	s := x.Shape()
	b, l, in := s[0], s[1], s[2]
	if l == 1 {
		z := g.Const(fmt.Sprintf("%s.pad%d", c.Name, b), []int{b, 1, in}, make([]float64, b*in))
		return must(G.Concat(2, z, x, z))
	}
	z := g.Const(fmt.Sprintf("%s.pad%dx%d", c.Name, b, l), []int{b, 1, in}, make([]float64, b*in))
	// (a slice of one position loses its axis in gorgonia: reshape it back)
	head := reshape(must(G.Slice(x, nil, G.S(0, l-1))), b, l-1, in)
	tail := reshape(must(G.Slice(x, nil, G.S(1, l))), b, l-1, in)
	prev := must(G.Concat(1, z, head))
	next := must(G.Concat(1, tail, z))
	return must(G.Concat(2, prev, x, next))
}

// GroupNorm normalises each sample over groups of channels and all
// positions, then scales and shifts each channel. It is built from
// one-axis means (gorgonia's own GroupNorm is wrong once a group holds more
// than 256 elements).
type GroupNorm struct {
	Name        string
	C, Groups   int
	Eps         float64
	Gamma, Beta *Param
}

// NewGroupNorm registers <name>.gamma (ones) and <name>.beta (zeros).
func NewGroupNorm(ps *Params, name string, c, groups int, rng *rand.Rand) *GroupNorm {
	if groups <= 0 || c%groups != 0 {
		panic(fmt.Sprintf("unet: %s: %d channels do not split into %d groups", name, c, groups))
	}
	return &GroupNorm{Name: name, C: c, Groups: groups, Eps: 1e-5,
		Gamma: ps.New(name+".gamma", []int{c}, InitOnes, c, 1, rng),
		Beta:  ps.New(name+".beta", []int{c}, InitZeros, c, 1, rng)}
}

// Forward: x [B, L, C] -> [B, L, C].
func (n *GroupNorm) Forward(g *Graph, x *G.Node) *G.Node {
	s := x.Shape()
	b, l := s[0], s[1]
	cg := n.C / n.Groups
	x4 := reshape(x, b, l, n.Groups, cg)
	mean := must(G.Mean(must(G.Mean(x4, 3)), 1)) // [B, G]
	cen := must(G.BroadcastSub(x4, reshape(mean, b, 1, n.Groups, 1), nil, []byte{1, 3}))
	v := must(G.Mean(must(G.Mean(must(G.Square(cen)), 3)), 1))
	std := must(G.Sqrt(must(G.Add(v, g.Scalar(n.Eps)))))
	y := must(G.BroadcastHadamardDiv(cen, reshape(std, b, 1, n.Groups, 1), nil, []byte{1, 3}))
	y = reshape(y, b, l, n.C)
	return affine(g, y, n.Gamma, n.Beta)
}

// affine scales and shifts the channels of [B, L, C].
func affine(g *Graph, y *G.Node, gamma, beta *Param) *G.Node {
	c := gamma.Value.Shape()[0]
	y = must(G.BroadcastHadamardProd(y, reshape(g.Node(gamma), 1, 1, c), nil, []byte{0, 1}))
	return must(G.BroadcastAdd(y, reshape(g.Node(beta), 1, 1, c), nil, []byte{0, 1}))
}

// LayerNorm normalises each position over its channels.
type LayerNorm struct {
	Name        string
	C           int
	Eps         float64
	Gamma, Beta *Param
}

// NewLayerNorm registers <name>.gamma and <name>.beta.
func NewLayerNorm(ps *Params, name string, c int, rng *rand.Rand) *LayerNorm {
	return &LayerNorm{Name: name, C: c, Eps: 1e-5,
		Gamma: ps.New(name+".gamma", []int{c}, InitOnes, c, 1, rng),
		Beta:  ps.New(name+".beta", []int{c}, InitZeros, c, 1, rng)}
}

// Forward: x [B, L, C] -> [B, L, C].
func (n *LayerNorm) Forward(g *Graph, x *G.Node) *G.Node {
	s := x.Shape()
	b, l := s[0], s[1]
	mean := reshape(must(G.Mean(x, 2)), b, l, 1)
	cen := must(G.BroadcastSub(x, mean, nil, []byte{2}))
	v := must(G.Mean(must(G.Square(cen)), 2))
	std := reshape(must(G.Sqrt(must(G.Add(v, g.Scalar(n.Eps))))), b, l, 1)
	y := must(G.BroadcastHadamardDiv(cen, std, nil, []byte{2}))
	return affine(g, y, n.Gamma, n.Beta)
}

// Attention is multi-head scaled dot-product attention from a [B, L, C]
// sequence to a [B, T, Ctx] context (the sequence itself for
// self-attention), with a pre-norm and a residual connection:
// x + to_out(softmax(q·kᵀ/√d)·v).
type Attention struct {
	Name          string
	C, Ctx, Heads int
	Norm          *LayerNorm
	Q, K, V, Out  *Linear
}

// NewAttention registers <name>.norm, <name>.to_q, to_k, to_v (no bias) and
// <name>.to_out (zero-initialised, so a new block starts as the identity).
func NewAttention(ps *Params, name string, c, ctx, heads int, rng *rand.Rand) *Attention {
	if c%heads != 0 {
		panic(fmt.Sprintf("unet: %s: %d channels do not split into %d heads", name, c, heads))
	}
	return &Attention{Name: name, C: c, Ctx: ctx, Heads: heads,
		Norm: NewLayerNorm(ps, name+".norm", c, rng),
		Q:    NewLinear(ps, name+".to_q", c, c, false, false, rng),
		K:    NewLinear(ps, name+".to_k", ctx, c, false, false, rng),
		V:    NewLinear(ps, name+".to_v", ctx, c, false, false, rng),
		Out:  NewLinear(ps, name+".to_out", c, c, true, true, rng)}
}

// heads: [B, L, C] -> [B·h, L, d].
func (a *Attention) split(x *G.Node) *G.Node {
	s := x.Shape()
	b, l := s[0], s[1]
	d := a.C / a.Heads
	x = reshape(x, b, l, a.Heads, d)
	x = must(G.Transpose(x, 0, 2, 1, 3))
	return reshape(x, b*a.Heads, l, d)
}

// Forward: x [B, L, C], ctx [B, T, Ctx] (nil: self-attention) -> [B, L, C].
func (a *Attention) Forward(g *Graph, x, ctx *G.Node) *G.Node {
	s := x.Shape()
	b, l := s[0], s[1]
	d := a.C / a.Heads
	h := a.Norm.Forward(g, x)
	if ctx == nil {
		ctx = h
	}
	q := a.split(a.Q.Forward(g, h))
	k := a.split(a.K.Forward(g, ctx))
	v := a.split(a.V.Forward(g, ctx))
	sc := must(G.BatchedMatMul(q, k, false, true)) // [B·h, L, T]
	sc = must(G.HadamardProd(sc, g.Scalar(1/math.Sqrt(float64(d)))))
	p := softmax(sc)
	o := must(G.BatchedMatMul(p, v)) // [B·h, L, d]
	o = reshape(o, b, a.Heads, l, d)
	o = must(G.Transpose(o, 0, 2, 1, 3))
	o = reshape(o, b, l, a.C)
	return add(x, a.Out.Forward(g, o))
}

// softmax over the last axis of a 3-D node, from exp and one-axis sums,
// shifted by the row maximum so that exp cannot overflow in float32 (the
// shift cancels in value and in gradient).
func softmax(x *G.Node) *G.Node {
	s := x.Shape()
	mx := reshape(must(G.Max(x, 2)), s[0], s[1], 1)
	e := must(G.Exp(must(G.BroadcastSub(x, mx, nil, []byte{2}))))
	z := reshape(must(G.Sum(e, 2)), s[0], s[1], 1)
	return must(G.BroadcastHadamardDiv(e, z, nil, []byte{2}))
}

// ResBlock is GroupNorm-SiLU-Conv, plus the projected time embedding, then
// GroupNorm-SiLU-Conv (zero-initialised), added to the input (projected
// when the width changes).
type ResBlock struct {
	Name         string
	In, Out      int
	Norm1, Norm2 *GroupNorm
	Conv1, Conv2 *Conv1D
	Time         *Linear
	Skip         *Linear // nil when In == Out
}

// NewResBlock registers the block's parameters under name.
func NewResBlock(ps *Params, name string, in, out, temb, groups int, rng *rand.Rand) *ResBlock {
	r := &ResBlock{Name: name, In: in, Out: out,
		Norm1: NewGroupNorm(ps, name+".norm1", in, groups, rng),
		Conv1: NewConv1D(ps, name+".conv1", in, out, false, rng),
		Time:  NewLinear(ps, name+".time", temb, out, true, false, rng),
		Norm2: NewGroupNorm(ps, name+".norm2", out, groups, rng),
		Conv2: NewConv1D(ps, name+".conv2", out, out, true, rng)}
	if in != out {
		r.Skip = NewLinear(ps, name+".skip", in, out, true, false, rng)
	}
	return r
}

// Forward: x [B, L, In], temb [B, E] -> [B, L, Out].
func (r *ResBlock) Forward(g *Graph, x, temb *G.Node) *G.Node {
	b := x.Shape()[0]
	h := r.Conv1.Forward(g, silu(r.Norm1.Forward(g, x)))
	t := reshape(r.Time.Forward(g, silu(temb)), b, 1, r.Out)
	h = must(G.BroadcastAdd(h, t, nil, []byte{1}))
	h = r.Conv2.Forward(g, silu(r.Norm2.Forward(g, h)))
	skip := x
	if r.Skip != nil {
		skip = r.Skip.Forward(g, x)
	}
	return add(skip, h)
}

// Down halves the packet axis: pairs of positions are merged and
// projected, a convolution of kernel 2 and stride 2.
type Down struct{ *Linear }

// NewDown registers <name>.weight [2·in, out].
func NewDown(ps *Params, name string, in, out int, rng *rand.Rand) *Down {
	return &Down{NewLinear(ps, name, 2*in, out, true, false, rng)}
}

// Forward: [B, L, In] -> [B, L/2, Out].
func (d *Down) Forward(g *Graph, x *G.Node) *G.Node {
	s := x.Shape()
	return d.Linear.Forward(g, reshape(x, s[0], s[1]/2, 2*s[2]))
}

// Up doubles the packet axis: each position is projected to two, a
// transposed convolution of kernel 2 and stride 2.
type Up struct {
	*Linear
	out int
}

// NewUp registers <name>.weight [in, 2·out].
func NewUp(ps *Params, name string, in, out int, rng *rand.Rand) *Up {
	return &Up{NewLinear(ps, name, in, 2*out, true, false, rng), out}
}

// Forward: [B, L, In] -> [B, 2L, Out].
func (u *Up) Forward(g *Graph, x *G.Node) *G.Node {
	s := x.Shape()
	return reshape(u.Linear.Forward(g, x), s[0], 2*s[1], u.out)
}

// TimestepEmbedding maps diffusion timesteps to vectors: a sinusoidal
// embedding (computed outside the graph, see Sinusoidal) through
// Linear-SiLU-Linear.
type TimestepEmbedding struct {
	Dim    int // sinusoidal width
	L1, L2 *Linear
}

// NewTimestepEmbedding registers <name>.0 and <name>.2.
func NewTimestepEmbedding(ps *Params, name string, dim, out int, rng *rand.Rand) *TimestepEmbedding {
	return &TimestepEmbedding{Dim: dim,
		L1: NewLinear(ps, name+".0", dim, out, true, false, rng),
		L2: NewLinear(ps, name+".2", out, out, true, false, rng)}
}

// Forward: sinusoidal [B, Dim] -> [B, Out].
func (t *TimestepEmbedding) Forward(g *Graph, s *G.Node) *G.Node {
	return t.L2.Forward(g, silu(t.L1.Forward(g, s)))
}

// Sinusoidal writes the sinusoidal embedding of timestep t (dim values:
// cos then sin of t·10000^(-i/(dim/2))) into dst.
func Sinusoidal(dst []float64, t float64) {
	half := len(dst) / 2
	for i := 0; i < half; i++ {
		f := math.Exp(-math.Log(10000) * float64(i) / float64(half))
		dst[i] = math.Cos(t * f)
		dst[half+i] = math.Sin(t * f)
	}
}

// ConvTapsKey, with the value ConvTapsExact, marks a weights file written
// since Conv1D computes the exact convolution; a file without it holds
// weights trained as LegacyTaps says, which its reader passes through
// KeepLegacyTaps.
const (
	ConvTapsKey   = "conv_taps"
	ConvTapsExact = "exact"
)

// LegacyTaps gives, for a convolution of in input channels, the row
// block of its weight that each tap read before t2t 2026-12-01: Conv1D
// sliced its weight by row ranges, and gorgonia hashes a slice's bounds
// as bytes, so ranges that agree modulo 256 were merged into the first
// one built (tap 1, then 0, then 2). At 128 (or 384) input channels tap 2
// read tap 0's block; at 256 (or 512) every tap read tap 1's.
func LegacyTaps(in int) [3]int {
	rep := [3]int{0, 1, 2}
	key := func(k int) [2]byte { return [2]byte{byte(k * in), byte((k + 1) * in)} }
	order := []int{1, 0, 2}
	for i, k := range order {
		for _, j := range order[:i] {
			if key(j) == key(k) {
				rep[k] = rep[j]
				break
			}
		}
	}
	return rep
}

// KeepLegacyTaps rewrites the convolution weights of a model trained
// before the slicing fix (see LegacyTaps) so that the exact convolution
// computes what the model computed when it was trained: each tap's block
// becomes the block it read. It returns the layers it changed. Files made
// for the model before (adapters, ControlNets), which name the weights'
// fingerprint as read, still fit it (CheckFile).
func (u *UNet) KeepLegacyTaps() []string {
	var changed []string
	before := Fingerprint(u)
	defer func() {
		if len(changed) > 0 && u.legacyFingerprint == "" {
			u.legacyFingerprint = before
		}
	}()
	fix := func(c *Conv1D) {
		in := c.In / 3
		rep := LegacyTaps(in)
		if rep == [3]int{0, 1, 2} {
			return
		}
		switch d := c.W.Value.Data().(type) {
		case []float32:
			copyTaps(d, rep, in*c.Out)
		case []float64:
			copyTaps(d, rep, in*c.Out)
		}
		changed = append(changed, c.Name)
	}
	var blocks []*ResBlock
	for _, lvs := range [][]*level{u.down, u.up} {
		for _, lv := range lvs {
			blocks = append(blocks, lv.res...)
		}
	}
	blocks = append(blocks, u.mid[0], u.mid[1])
	for _, r := range blocks {
		if r != nil {
			fix(r.Conv1)
			fix(r.Conv2)
		}
	}
	return changed
}

// copyTaps makes each tap's block of a convolution weight (blocks of
// block values) the block rep says it reads.
func copyTaps[T float32 | float64](d []T, rep [3]int, block int) {
	for k, r := range rep {
		if r != k {
			copy(d[k*block:(k+1)*block], d[r*block:(r+1)*block])
		}
	}
}
