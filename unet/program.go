package unet

import (
	"fmt"
	"math"

	"t2t/internal/prog"
)

// Programmable is a Predictor that can also describe its forward pass as
// a prog.Program, the form a device backend (t2t/internal/cuda) runs: a
// UNet, or a ControlNet steering one. Adapters must be merged into the
// weights first (lora.Set.Merge): a program has no adapter terms.
type Programmable interface {
	Predictor
	Program(batch int) (*prog.Program, error)
}

// ProgramInputs are the input buffers of a program being built.
type ProgramInputs struct {
	X, Time, Tokens, Control int
}

// ProgramResiduals are buffers added, times Scale, to the skips and the
// middle block (prog.None where a ControlNet adds nothing), as Residuals
// are to a graph.
type ProgramResiduals struct {
	Skips []int
	Mid   int
	Scale float64
}

// ProgramBuilder builds the program of a model for one batch size. Its
// methods panic on a model that cannot become a program (a float64
// model, unmerged adapters); BuildProgram turns the panic into an error.
type ProgramBuilder struct {
	*prog.Builder
	B    int
	silu map[int]int // SiLU of a buffer, computed once (the time embedding)
}

type programError struct{ error }

// BuildProgram runs f on a new builder for batches of b samples and
// returns the program whose output f returns.
func BuildProgram(b int, f func(pb *ProgramBuilder) int) (p *prog.Program, err error) {
	if b < 1 {
		return nil, fmt.Errorf("unet: program for a batch of %d", b)
	}
	pb := &ProgramBuilder{Builder: prog.NewBuilder(b), B: b, silu: map[int]int{}}
	defer func() {
		if r := recover(); r != nil {
			pe, ok := r.(programError)
			if !ok {
				panic(r)
			}
			p, err = nil, pe.error
		}
	}()
	out := f(pb)
	return pb.Program(out)
}

func (pb *ProgramBuilder) param(p *Param) int {
	if p == nil {
		return prog.None
	}
	d := p.Float32s()
	if d == nil {
		panic(programError{fmt.Errorf("unet: %s is not float32: only float32 models become programs", p.Name)})
	}
	return pb.Param(p.Name, p.Shape(), d)
}

// Inputs adds the input buffers of u's forward pass (control: cols of a
// control row, 0 for none).
func (pb *ProgramBuilder) Inputs(u *UNet, control int) ProgramInputs {
	c := u.Config
	in := ProgramInputs{X: pb.Buffer(pb.B * c.InputSize()), Time: pb.Buffer(pb.B * c.TimeDim),
		Tokens: pb.Buffer(pb.B * c.MaxTokens), Control: prog.None}
	if control > 0 {
		in.Control = pb.Buffer(pb.B * c.Rows * control)
	}
	pb.Builder.Inputs(in.X, in.Time, in.Tokens, in.Control)
	return in
}

// SiLU of n rows of width w in x.
func (pb *ProgramBuilder) SiLU(x, n, w int) int {
	if y, ok := pb.silu[x]; ok {
		return y
	}
	y := pb.Emit(prog.Op{Kind: prog.SiLU, A: x, B: prog.None, C: prog.None, W: prog.None, Bias: prog.None, N: n, In: w}, n*w)
	pb.silu[x] = y
	return y
}

// Add returns a + scale·b, n rows of width w.
func (pb *ProgramBuilder) Add(a, b, n, w int, scale float64) int {
	return pb.Emit(prog.Op{Kind: prog.Add, A: a, B: b, C: prog.None, W: prog.None, Bias: prog.None, N: n, In: w, Scale: scale}, n*w)
}

// Linear applies l to n rows of x.
func (pb *ProgramBuilder) Linear(l *Linear, x, n int) int {
	if len(l.Adapters) > 0 {
		panic(programError{fmt.Errorf("unet: %s carries %d unmerged adapters: merge them (lora.Set.Merge) before building a program", l.Name, len(l.Adapters))})
	}
	return pb.Emit(prog.Op{Kind: prog.Linear, A: x, B: prog.None, C: prog.None, W: pb.param(l.W), Bias: pb.param(l.B),
		N: n, In: l.In, Out: l.Out}, n*l.Out)
}

func (pb *ProgramBuilder) conv(c *Conv1D, x, l int) int {
	if len(c.Adapters) > 0 {
		panic(programError{fmt.Errorf("unet: %s carries %d unmerged adapters: merge them (lora.Set.Merge) before building a program", c.Name, len(c.Adapters))})
	}
	n := pb.B * l
	return pb.Emit(prog.Op{Kind: prog.Conv3, A: x, B: prog.None, C: prog.None, W: pb.param(c.W), Bias: pb.param(c.B),
		N: n, L: l, In: c.In / 3, Out: c.Out}, n*c.Out)
}

func (pb *ProgramBuilder) groupNorm(g *GroupNorm, x, l int, act bool) int {
	n := pb.B * l
	return pb.Emit(prog.Op{Kind: prog.GroupNorm, A: x, B: prog.None, C: prog.None, W: pb.param(g.Gamma), Bias: pb.param(g.Beta),
		N: n, L: l, In: g.C, Groups: g.Groups, Eps: g.Eps, Act: act}, n*g.C)
}

func (pb *ProgramBuilder) res(r *ResBlock, x, temb, l int) int {
	n := pb.B * l
	h := pb.conv(r.Conv1, pb.groupNorm(r.Norm1, x, l, true), l)
	t := pb.Linear(r.Time, pb.SiLU(temb, pb.B, r.Time.In), pb.B)
	h = pb.Emit(prog.Op{Kind: prog.AddRows, A: h, B: t, C: prog.None, W: prog.None, Bias: prog.None, N: n, L: l, In: r.Out}, n*r.Out)
	h = pb.conv(r.Conv2, pb.groupNorm(r.Norm2, h, l, true), l)
	skip := x
	if r.Skip != nil {
		skip = pb.Linear(r.Skip, x, n)
	}
	return pb.Add(skip, h, n, r.Out, 1)
}

// attention: x [B, l, C] attends to ctx [B, t, Ctx] (ctx None: to its
// own normalised self, t = l).
func (pb *ProgramBuilder) attention(a *Attention, x, l, ctx, t int) int {
	n := pb.B * l
	h := pb.Emit(prog.Op{Kind: prog.LayerNorm, A: x, B: prog.None, C: prog.None, W: pb.param(a.Norm.Gamma), Bias: pb.param(a.Norm.Beta),
		N: n, In: a.C, Eps: a.Norm.Eps}, n*a.C)
	if ctx == prog.None {
		ctx, t = h, l
	}
	q := pb.Linear(a.Q, h, n)
	k := pb.Linear(a.K, ctx, pb.B*t)
	v := pb.Linear(a.V, ctx, pb.B*t)
	d := a.C / a.Heads
	o := pb.Emit(prog.Op{Kind: prog.Attention, A: q, B: k, C: v, W: prog.None, Bias: prog.None,
		N: n, L: l, In: a.C, Out: t, Heads: a.Heads, Scale: 1 / math.Sqrt(float64(d))}, n*a.C)
	return pb.Add(x, pb.Linear(a.Out, o, n), n, a.C, 1)
}

// Context embeds the prompt tokens: [B, MaxTokens, ContextDim].
func (pb *ProgramBuilder) Context(u *UNet, tokens int) int {
	c := u.Config
	n := pb.B * c.MaxTokens
	return pb.Emit(prog.Op{Kind: prog.Embed, A: tokens, B: prog.None, C: prog.None, W: pb.param(u.tokens), Bias: prog.None,
		N: n, In: 1, Out: c.ContextDim}, n*c.ContextDim)
}

// Encoder is UNet.EncoderCtx as a program: the skips (one per level),
// the lowest-resolution features and the time embedding. hint (prog.None
// for none) is added to the patch embedding.
func (pb *ProgramBuilder) Encoder(u *UNet, in ProgramInputs, hint, ctx int) (skips []int, h, temb int) {
	c := u.Config
	temb = pb.Linear(u.time.L2, pb.SiLU(pb.Linear(u.time.L1, in.Time, pb.B), pb.B, c.EmbedDim), pb.B)
	if u.pool != nil {
		pooled := pb.Emit(prog.Op{Kind: prog.MeanRows, A: ctx, B: prog.None, C: prog.None, W: prog.None, Bias: prog.None,
			N: pb.B * c.MaxTokens, L: c.MaxTokens, In: c.ContextDim}, pb.B*c.ContextDim)
		temb = pb.Add(temb, pb.Linear(u.pool, pooled, pb.B), pb.B, c.EmbedDim, 1)
	}
	l := c.Rows
	h = pb.Linear(u.in, in.X, pb.B*l)
	if hint != prog.None {
		h = pb.Add(h, hint, pb.B*l, c.Channels[0], 1)
	}
	for _, lv := range u.down {
		for j, r := range lv.res {
			h = pb.res(r, h, temb, l)
			if lv.attn[j] != nil {
				h = pb.attention(lv.attn[j], h, l, ctx, c.MaxTokens)
			}
		}
		skips = append(skips, h)
		if d, ok := lv.resize.(*Down); ok {
			// [B, l, C] read as [B, l/2, 2C]: pairs of positions merged
			l /= 2
			h = pb.Linear(d.Linear, h, pb.B*l)
		}
	}
	return skips, h, temb
}

// Mid is the middle block as a program, at the lowest resolution.
func (pb *ProgramBuilder) Mid(u *UNet, h, temb, ctx int) int {
	c := u.Config
	l := c.Rows >> (len(c.Channels) - 1)
	h = pb.res(u.mid[0], h, temb, l)
	h = pb.attention(u.self, h, l, prog.None, 0)
	h = pb.attention(u.cross, h, l, ctx, c.MaxTokens)
	return pb.res(u.mid[1], h, temb, l)
}

// Forward is UNet.Forward as a program: the prediction
// [B, Rows, 3·Cols], with a ControlNet's residuals when res is not nil.
func (pb *ProgramBuilder) Forward(u *UNet, in ProgramInputs, res *ProgramResiduals) int {
	c := u.Config
	ctx := pb.Context(u, in.Tokens)
	skips, h, temb := pb.Encoder(u, in, prog.None, ctx)
	h = pb.Mid(u, h, temb, ctx)
	l := c.Rows >> (len(c.Channels) - 1)
	w := c.Channels[len(c.Channels)-1]
	if res != nil && res.Mid != prog.None {
		h = pb.Add(h, res.Mid, pb.B*l, w, res.Scale)
	}
	for k, lv := range u.up {
		i := len(u.down) - 1 - k
		if up, ok := lv.resize.(*Up); ok {
			// [B, l, 2C] read as [B, 2l, C]
			h = pb.Linear(up.Linear, h, pb.B*l)
			l *= 2
			w = up.out
		}
		s := skips[i]
		if res != nil && i < len(res.Skips) && res.Skips[i] != prog.None {
			s = pb.Add(s, res.Skips[i], pb.B*l, c.Channels[i], res.Scale)
		}
		h = pb.Emit(prog.Op{Kind: prog.Concat, A: h, B: s, C: prog.None, W: prog.None, Bias: prog.None,
			N: pb.B * l, In: w, Out: c.Channels[i]}, pb.B*l*(w+c.Channels[i]))
		w += c.Channels[i]
		for j, r := range lv.res {
			h = pb.res(r, h, temb, l)
			w = r.Out
			if lv.attn[j] != nil {
				h = pb.attention(lv.attn[j], h, l, ctx, c.MaxTokens)
			}
		}
	}
	return pb.Linear(u.out, pb.groupNorm(u.norm, h, l, true), pb.B*l)
}

// Program is u's forward pass for batches of b samples (see Programmable).
func (u *UNet) Program(b int) (*prog.Program, error) {
	return BuildProgram(b, func(pb *ProgramBuilder) int {
		return pb.Forward(u, pb.Inputs(u, 0), nil)
	})
}

// ProgramInputValues fills a program's input buffers for a batch, as
// Net.SetInputs fills a graph's: x holds Batch samples of InputSize
// values, ts one timestep per sample, tokens MaxTokens ids per sample.
func ProgramInputValues(p *prog.Program, c Config, x []float32, ts []int, tokens []int, control []float32) ([][]float32, error) {
	b := p.Batch
	if len(x) != b*c.InputSize() || len(ts) != b || len(tokens) != b*c.MaxTokens {
		return nil, fmt.Errorf("unet: program inputs for a batch of %d: %d values, %d timesteps, %d tokens", b, len(x), len(ts), len(tokens))
	}
	bufs := make([][]float32, len(p.Sizes))
	bufs[p.X] = x
	t := make([]float32, b*c.TimeDim)
	sin := make([]float64, c.TimeDim)
	for i, v := range ts {
		Sinusoidal(sin, float64(v))
		for j, s := range sin {
			t[i*c.TimeDim+j] = float32(s)
		}
	}
	bufs[p.Time] = t
	tk := make([]float32, len(tokens))
	for i, id := range tokens {
		if id < 0 || id >= c.VocabCap {
			return nil, fmt.Errorf("unet: token id %d outside the table of %d", id, c.VocabCap)
		}
		tk[i] = float32(id)
	}
	bufs[p.Tokens] = tk
	if p.Control != prog.None {
		if len(control) != p.Sizes[p.Control] {
			return nil, fmt.Errorf("unet: control of %d values, want %d", len(control), p.Sizes[p.Control])
		}
		bufs[p.Control] = control
	} else if control != nil {
		return nil, fmt.Errorf("unet: a control image for a program that takes none")
	}
	return bufs, nil
}
