package cuda

import (
	"math"
	"math/rand/v2"
	"testing"

	"t2t/internal/prog"
)

func randVals(rng *rand.Rand, n int) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(rng.NormFloat64())
	}
	return v
}

// chain is a program that exercises every kind of operation at sizes
// that are not multiples of the kernels' tiles, over a batch of b samples
// of l positions; its output reads every intermediate result.
func chain(rng *rand.Rand, b, l int) *prog.Program {
	const in, c, groups, heads, t, vocab, ctxd = 70, 48, 4, 4, 3, 11, 20
	pb := prog.NewBuilder(b)
	pb.Param("unused", []int{1}, []float32{0}) // index 0: op below reads 0 as none
	x := pb.Buffer(b * l * in)
	tm := pb.Buffer(b * c)
	tk := pb.Buffer(b * t)
	pb.Inputs(x, tm, tk, prog.None)
	par := func(name string, shape ...int) int {
		n := 1
		for _, s := range shape {
			n *= s
		}
		return pb.Param(name, shape, randVals(rng, n))
	}
	op := func(o prog.Op, size int) int {
		for _, f := range []*int{&o.A, &o.B, &o.C, &o.W, &o.Bias} {
			if *f == 0 && f != &o.A {
				*f = prog.None
			}
		}
		return pb.Emit(o, size)
	}
	n := b * l
	h := op(prog.Op{Kind: prog.Linear, A: x, W: par("in.w", in, c), Bias: par("in.b", c), N: n, In: in, Out: c}, n*c)
	h = op(prog.Op{Kind: prog.GroupNorm, A: h, W: par("gn.g", c), Bias: par("gn.b", c), N: n, L: l, In: c, Groups: groups, Eps: 1e-5, Act: true}, n*c)
	h = op(prog.Op{Kind: prog.Conv3, A: h, W: par("conv.w", 3*c, c), Bias: par("conv.b", c), N: n, L: l, In: c, Out: c}, n*c)
	h = op(prog.Op{Kind: prog.AddRows, A: h, B: tm, N: n, L: l, In: c}, n*c)
	e := op(prog.Op{Kind: prog.Embed, A: tk, W: par("tok", vocab, ctxd), N: b * t, In: 1, Out: ctxd}, b*t*ctxd)
	pooled := op(prog.Op{Kind: prog.MeanRows, A: e, N: b * t, L: t, In: ctxd}, b*ctxd)
	k := op(prog.Op{Kind: prog.Linear, A: e, W: par("k", ctxd, c), N: b * t, In: ctxd, Out: c}, b*t*c)
	v := op(prog.Op{Kind: prog.Linear, A: e, W: par("v", ctxd, c), N: b * t, In: ctxd, Out: c}, b*t*c)
	ln := op(prog.Op{Kind: prog.LayerNorm, A: h, W: par("ln.g", c), Bias: par("ln.b", c), N: n, In: c, Eps: 1e-5}, n*c)
	q := op(prog.Op{Kind: prog.Linear, A: ln, W: par("q", c, c), N: n, In: c, Out: c}, n*c)
	a := op(prog.Op{Kind: prog.Attention, A: q, B: k, C: v, N: n, L: l, In: c, Out: t, Heads: heads, Scale: 1 / math.Sqrt(c/heads)}, n*c)
	self := op(prog.Op{Kind: prog.Attention, A: q, B: q, C: ln, N: n, L: l, In: c, Out: l, Heads: heads, Scale: 0.3}, n*c)
	h = op(prog.Op{Kind: prog.Add, A: h, B: a, N: n, In: c, Scale: 0.5}, n*c)
	h = op(prog.Op{Kind: prog.Add, A: h, B: self, N: n, In: c, Scale: 1}, n*c)
	s := op(prog.Op{Kind: prog.SiLU, A: h, N: n, In: c}, n*c)
	// halve the positions: [b, l, c] read as [b, l/2, 2c]
	d := op(prog.Op{Kind: prog.Linear, A: s, W: par("down", 2*c, c), Bias: par("down.b", c), N: n / 2, In: 2 * c, Out: c}, n/2*c)
	u := op(prog.Op{Kind: prog.Linear, A: d, W: par("up", c, 2*c), N: n / 2, In: c, Out: 2 * c}, n*c)
	cat := op(prog.Op{Kind: prog.Concat, A: u, B: h, N: n, In: c, Out: c}, n*2*c)
	out := op(prog.Op{Kind: prog.Linear, A: cat, W: par("out", 2*c, 5), N: n, In: 2 * c, Out: 5}, n*5)
	pr := op(prog.Op{Kind: prog.Linear, A: pooled, W: par("pool", ctxd, 5), N: b, In: ctxd, Out: 5}, b*5)
	out = op(prog.Op{Kind: prog.AddRows, A: out, B: pr, N: n, L: l, In: 5}, n*5)
	p, err := pb.Program(out)
	if err != nil {
		panic(err)
	}
	return p
}

func inputs(rng *rand.Rand, p *prog.Program, vocab int) [][]float32 {
	in := make([][]float32, len(p.Sizes))
	in[p.X] = randVals(rng, p.Sizes[p.X])
	in[p.Time] = randVals(rng, p.Sizes[p.Time])
	tk := make([]float32, p.Sizes[p.Tokens])
	for i := range tk {
		tk[i] = float32(rng.IntN(vocab))
	}
	in[p.Tokens] = tk
	return in
}

// TestChain checks, in every build, that the test program is well formed
// and runs on the CPU reference to finite values.
func TestChain(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 8))
	p := chain(rng, 3, 8)
	in := inputs(rng, p, 11)
	if err := p.Run(in); err != nil {
		t.Fatal(err)
	}
	for i, v := range in[p.Out] {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			t.Fatalf("output %d is %v", i, v)
		}
	}
	kinds := map[prog.Kind]bool{}
	for _, o := range p.Ops {
		kinds[o.Kind] = true
	}
	if len(kinds) != 11 {
		t.Fatalf("the chain uses %d kinds of operation, want all 11", len(kinds))
	}
}
