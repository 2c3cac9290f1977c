package unet

import (
	"fmt"
	"math/rand/v2"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"t2t/sampler"
)

// UNet is the conditional denoiser. Its input and output are batches of
// flow images laid out per packet: [B, Rows, 3·Cols], the three palette
// planes of each row one after another (see t2t.Matrix.AppendRowPlanes). It is conditioned on
// the diffusion timestep and on prompt tokens, which it cross-attends to.
//
// Parameter names (the checkpoint keys, and what LoRA targets):
//
//	time.0, time.2                      timestep MLP
//	tokens.embedding                    prompt token table [VocabCap, ContextDim]
//	tokens.pool                         pooled prompt -> time embedding
//	in                                  patch embedding, a row -> Channels[0]
//	down.<i>.res.<j>, down.<i>.attn.<j> encoder level i (ResBlocks, cross-attention)
//	down.<i>.down                       halving of the packet axis
//	mid.res.0, mid.self, mid.cross, mid.res.1
//	up.<i>.up, up.<i>.res.<j>, up.<i>.attn.<j>
//	out.norm, out                       back to a row of 3·Cols
//
// Inside a block: .norm1 .conv1 .time .norm2 .conv2 .skip (ResBlock),
// .norm .to_q .to_k .to_v .to_out (attention), each with .weight/.bias or
// .gamma/.beta.
type UNet struct {
	Config Config
	Params *Params

	time   *TimestepEmbedding
	tokens *Param
	pool   *Linear // pooled prompt -> time embedding (every ResBlock sees the class)
	in     *Linear
	down   []*level
	mid    [2]*ResBlock
	self   *Attention
	cross  *Attention
	up     []*level
	norm   *GroupNorm
	out    *Linear

	// legacyFingerprint is the fingerprint of the weights as read, before
	// KeepLegacyTaps rewrote them: adapters and ControlNets made for the
	// model as it was trained name it.
	legacyFingerprint string
}

type level struct {
	res    []*ResBlock
	attn   []*Attention // nil entries where the level has no attention
	resize interface {
		Forward(g *Graph, x *G.Node) *G.Node
	}
}

// New builds a UNet of dtype dt (tensor.Float32 for models, Float64 for
// gradient checks) with weights drawn from cfg.Seed.
func New(cfg Config, dt tensor.Dtype) (*UNet, error) { return build(cfg, dt, "", false, false) }

// Shapes returns the names and shapes of the parameters New(cfg) makes,
// in creation order, without allocating them: what a weights file for cfg
// must hold. A loader compares them with the file's header (see
// CheckTensors) before New, so that a config asking for more weights than
// the file has is refused before the memory is asked for.
func Shapes(cfg Config) ([]Tensor, error) {
	u, err := build(cfg, tensor.Float32, "", false, true)
	if err != nil {
		return nil, err
	}
	return u.Params.shapes, nil
}

// EncoderCopy returns a copy of base's encoder and middle block — time
// embedding, pooled prompt, patch embedding, encoder levels, mid — with
// base's weights, every parameter name prefixed with prefix (a ControlNet
// names its copy "control."). The copy has no token table (it reads the
// prompt context base computes, see EncoderCtx) and no decoder: use its
// EncoderCtx and Mid, not Forward.
func EncoderCopy(base *UNet, prefix string) (*UNet, error) {
	if prefix == "" {
		return nil, fmt.Errorf("unet: encoder copy: empty prefix")
	}
	u, err := build(base.Config, base.Params.Dtype, prefix, true, false)
	if err != nil {
		return nil, err
	}
	for _, p := range u.Params.List() {
		src := base.Params.Get(p.Name[len(prefix):])
		if src == nil {
			return nil, fmt.Errorf("unet: encoder copy: base has no %s", p.Name[len(prefix):])
		}
		switch d := p.Value.Data().(type) {
		case []float32:
			copy(d, src.Float32s())
		case []float64:
			copy(d, src.Float64s())
		}
	}
	return u, nil
}

// build makes a UNet (its encoder and middle block only when encoderOnly);
// with shapesOnly its parameters record their shapes and hold no values.
func build(cfg Config, dt tensor.Dtype, prefix string, encoderOnly, shapesOnly bool) (*UNet, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	rng := rand.New(rand.NewPCG(cfg.Seed, 0x7432742))
	ps := NewParams(dt)
	ps.Prefix = prefix
	ps.shapesOnly = shapesOnly
	u := &UNet{Config: cfg, Params: ps}
	ch := cfg.Channels
	e, gr := cfg.EmbedDim, cfg.Groups
	u.time = NewTimestepEmbedding(ps, "time", cfg.TimeDim, e, rng)
	if !encoderOnly {
		u.tokens = ps.New("tokens.embedding", []int{cfg.VocabCap, cfg.ContextDim}, InitNormal, 0, 1, rng)
	}
	if cfg.PoolPrompt {
		u.pool = NewLinear(ps, "tokens.pool", cfg.ContextDim, e, true, false, rng)
	}
	u.in = NewLinear(ps, "in", 3*cfg.Cols, ch[0], true, false, rng)
	for i, c := range ch {
		lv := &level{}
		prev := ch[max(i-1, 0)]
		for j := 0; j < cfg.ResBlocks; j++ {
			in := c
			if j == 0 {
				in = prev
			}
			lv.res = append(lv.res, NewResBlock(ps, fmt.Sprintf("down.%d.res.%d", i, j), in, c, e, gr, rng))
			var a *Attention
			if cfg.Attn[i] {
				a = NewAttention(ps, fmt.Sprintf("down.%d.attn.%d", i, j), c, cfg.ContextDim, cfg.Heads, rng)
			}
			lv.attn = append(lv.attn, a)
		}
		if i+1 < len(ch) {
			lv.resize = NewDown(ps, fmt.Sprintf("down.%d.down", i), c, c, rng)
		}
		u.down = append(u.down, lv)
	}
	last := ch[len(ch)-1]
	u.mid[0] = NewResBlock(ps, "mid.res.0", last, last, e, gr, rng)
	u.self = NewAttention(ps, "mid.self", last, last, cfg.Heads, rng)
	u.cross = NewAttention(ps, "mid.cross", last, cfg.ContextDim, cfg.Heads, rng)
	u.mid[1] = NewResBlock(ps, "mid.res.1", last, last, e, gr, rng)
	if encoderOnly {
		return u, nil
	}
	for i := len(ch) - 1; i >= 0; i-- {
		c := ch[i]
		lv := &level{}
		if i+1 < len(ch) {
			lv.resize = NewUp(ps, fmt.Sprintf("up.%d.up", i), ch[i+1], c, rng)
		}
		for j := 0; j < cfg.ResBlocks; j++ {
			in := c
			if j == 0 {
				in = 2 * c // the skip connection is concatenated
			}
			lv.res = append(lv.res, NewResBlock(ps, fmt.Sprintf("up.%d.res.%d", i, j), in, c, e, gr, rng))
			var a *Attention
			if cfg.Attn[i] {
				a = NewAttention(ps, fmt.Sprintf("up.%d.attn.%d", i, j), c, cfg.ContextDim, cfg.Heads, rng)
			}
			lv.attn = append(lv.attn, a)
		}
		u.up = append(u.up, lv)
	}
	u.norm = NewGroupNorm(ps, "out.norm", ch[0], gr, rng)
	u.out = NewLinear(ps, "out", ch[0], 3*cfg.Cols, true, true, rng)
	return u, nil
}

// Inputs are the graph nodes a forward pass reads.
type Inputs struct {
	X      *G.Node // noisy sample [B, Rows, 3·Cols]
	Time   *G.Node // sinusoidal timestep embedding [B, TimeDim] (see Sinusoidal)
	Tokens *G.Node // one-hot prompt tokens [B·MaxTokens, VocabCap]
	// Control is the control image [B, Rows, ControlCols] of a Controlled
	// predictor (a ControlNet); nil for others.
	Control *G.Node
}

// Residuals are added to the UNet's skip connections (one per level, at
// the level's resolution and width) and to the middle block's output, as
// ControlNet produces them. Nil entries add nothing.
type Residuals struct {
	Skips []*G.Node
	Mid   *G.Node
}

// NewInputs makes input nodes for a batch of b samples in g.
func (u *UNet) NewInputs(g *Graph, b int) Inputs {
	c := u.Config
	return Inputs{
		X:      g.Input("x", b, c.Rows, 3*c.Cols),
		Time:   g.Input("t", b, c.TimeDim),
		Tokens: g.Input("tokens", b*c.MaxTokens, c.VocabCap),
	}
}

// Context embeds one-hot prompt tokens: [B·T, V] -> [B, T, ContextDim].
func (u *UNet) Context(g *Graph, tokens *G.Node) *G.Node {
	n := tokens.Shape()[0]
	e := must(G.Mul(tokens, g.Node(u.tokens)))
	return reshape(e, n/u.Config.MaxTokens, u.Config.MaxTokens, u.Config.ContextDim)
}

// Encoder runs the time embedding, the prompt context, the patch embedding
// and the encoder levels; it returns the skips (one per level), the
// lowest-resolution features, the time embedding and the context.
// ControlNet reuses it on its trainable copy.
func (u *UNet) Encoder(g *Graph, in Inputs, hint *G.Node) (skips []*G.Node, h, temb, ctx *G.Node) {
	return u.EncoderCtx(g, in, hint, u.Context(g, in.Tokens))
}

// EncoderCtx is Encoder with the prompt context given (an EncoderCopy
// has no token table of its own: it takes its base's context). hint, when
// not nil, is added to the patch embedding ([B, Rows, Channels[0]]).
func (u *UNet) EncoderCtx(g *Graph, in Inputs, hint, ctx *G.Node) (skips []*G.Node, h, temb, _ *G.Node) {
	temb = u.time.Forward(g, in.Time)
	// the prompt, pooled over its tokens, joins the time embedding, so
	// that every ResBlock is conditioned on it, not only the attention
	// layers
	if u.pool != nil {
		temb = add(temb, u.pool.Forward(g, must(G.Mean(ctx, 1))))
	}
	h = u.in.Forward(g, in.X) // [B, Rows, C0]
	if hint != nil {
		h = add(h, hint)
	}
	for _, lv := range u.down {
		for j, r := range lv.res {
			h = r.Forward(g, h, temb)
			if lv.attn[j] != nil {
				h = lv.attn[j].Forward(g, h, ctx)
			}
		}
		skips = append(skips, h)
		if lv.resize != nil {
			h = lv.resize.Forward(g, h)
		}
	}
	return skips, h, temb, ctx
}

// Mid runs the middle block.
func (u *UNet) Mid(g *Graph, h, temb, ctx *G.Node) *G.Node {
	h = u.mid[0].Forward(g, h, temb)
	h = u.self.Forward(g, h, nil)
	h = u.cross.Forward(g, h, ctx)
	return u.mid[1].Forward(g, h, temb)
}

// Forward adds the UNet to g and returns its prediction [B, Rows, 3·Cols].
func (u *UNet) Forward(g *Graph, in Inputs, res *Residuals) *G.Node {
	skips, h, temb, ctx := u.Encoder(g, in, nil)
	h = u.Mid(g, h, temb, ctx)
	if res != nil && res.Mid != nil {
		h = add(h, res.Mid)
	}
	for k, lv := range u.up {
		i := len(u.down) - 1 - k
		if lv.resize != nil {
			h = lv.resize.Forward(g, h)
		}
		s := skips[i]
		if res != nil && i < len(res.Skips) && res.Skips[i] != nil {
			s = add(s, res.Skips[i])
		}
		h = must(G.Concat(2, h, s))
		for j, r := range lv.res {
			h = r.Forward(g, h, temb)
			if lv.attn[j] != nil {
				h = lv.attn[j].Forward(g, h, ctx)
			}
		}
	}
	return u.out.Forward(g, silu(u.norm.Forward(g, h)))
}

// Linears returns every Linear layer (convolutions included) by name, for
// adapters.
func (u *UNet) Linears() map[string]*Linear {
	m := map[string]*Linear{}
	var addL func(l *Linear)
	addL = func(l *Linear) {
		if l != nil {
			m[l.Name] = l
		}
	}
	addRes := func(r *ResBlock) {
		addL(r.Conv1.Linear)
		addL(r.Conv2.Linear)
		addL(r.Time)
		addL(r.Skip)
	}
	addAttn := func(a *Attention) {
		if a != nil {
			addL(a.Q)
			addL(a.K)
			addL(a.V)
			addL(a.Out)
		}
	}
	addL(u.time.L1)
	addL(u.time.L2)
	if u.pool != nil {
		addL(u.pool)
	}
	addL(u.in)
	addL(u.out)
	for _, lvs := range [][]*level{u.down, u.up} {
		for _, lv := range lvs {
			for j, r := range lv.res {
				addRes(r)
				addAttn(lv.attn[j])
			}
			switch rs := lv.resize.(type) {
			case *Down:
				addL(rs.Linear)
			case *Up:
				addL(rs.Linear)
			}
		}
	}
	addRes(u.mid[0])
	addRes(u.mid[1])
	addAttn(u.self)
	addAttn(u.cross)
	return m
}

// Model is a trained UNet with what sampling needs: its vocabulary and
// noise schedule.
type Model struct {
	UNet  *UNet
	Vocab *Vocab
	Noise sampler.Config
	// Meta holds free-form facts saved with the model (training steps,
	// data, losses...).
	Meta map[string]string
}
