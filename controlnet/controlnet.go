package controlnet

import (
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"strconv"
	"t2t"

	G "gorgonia.org/gorgonia"

	"t2t/internal/safetensors"
	"t2t/train"
	"t2t/unet"
)

// Prefix starts the name of every ControlNet parameter.
const Prefix = "control."

// ControlNet steers a frozen UNet with a control image. It holds a
// trainable copy of the UNet's encoder and middle block (initialised from
// the base weights, named "control.<base name>"), a hint encoder that
// turns each control row into a feature added to the copy's patch
// embedding ("control.hint.0", "control.hint.1"), and zero-initialised
// output layers ("control.zero.<level>", "control.zero.mid") whose outputs,
// times Scale, are added to the UNet's skips and middle block
// (unet.Residuals). The zero layers make an untrained ControlNet add
// exactly nothing.
//
// ControlNet implements unet.Controlled: compile it, train it with
// unet.Trainer (examples carry Control) or sample with it
// (SampleOptions.Control), like a UNet.
type ControlNet struct {
	UNet  *unet.UNet // the base, frozen while training the ControlNet
	Copy  *unet.UNet // the trainable encoder copy
	Extra *unet.Params
	// Scale multiplies the residuals (the conditioning scale, 1 when
	// made). It is read when a graph is built: compile again after
	// changing it.
	Scale float64
	// Templates, when set, are the structure maps of the training flows,
	// saved with the weights: generation draws controls from them when
	// none is given (see t2t/pipeline).
	Templates *Templates

	hint    [2]*unet.Linear
	zero    []*unet.Linear
	zeroMid *unet.Linear
}

// New makes a ControlNet for base; seed draws the hint encoder (the copy
// is base's, the output layers zero).
func New(base *unet.UNet, seed uint64) (*ControlNet, error) {
	cp, err := unet.EncoderCopy(base, Prefix)
	if err != nil {
		return nil, err
	}
	c := base.Config
	ps := unet.NewParams(base.Params.Dtype)
	ps.Prefix = Prefix
	rng := rand.New(rand.NewPCG(seed, 0x636f6e74726f6c))
	n := &ControlNet{UNet: base, Copy: cp, Extra: ps, Scale: 1}
	n.hint[0] = unet.NewLinear(ps, "hint.0", c.Cols, c.Channels[0], true, false, rng)
	n.hint[1] = unet.NewLinear(ps, "hint.1", c.Channels[0], c.Channels[0], true, false, rng)
	for i, ch := range c.Channels {
		n.zero = append(n.zero, unet.NewLinear(ps, "zero."+strconv.Itoa(i), ch, ch, true, true, rng))
	}
	last := c.Channels[len(c.Channels)-1]
	n.zeroMid = unet.NewLinear(ps, "zero.mid", last, last, true, true, rng)
	return n, nil
}

// Base is the UNet the ControlNet steers.
func (n *ControlNet) Base() *unet.UNet { return n.UNet }

// ControlCols is the width of a control row: the layout's bits.
func (n *ControlNet) ControlCols() int { return n.UNet.Config.Cols }

// Params lists the ControlNet's own parameters: the encoder copy's, then
// the hint encoder's and the zero layers'.
func (n *ControlNet) Params() []*unet.Param {
	return append(append([]*unet.Param(nil), n.Copy.Params.List()...), n.Extra.List()...)
}

// Count is the number of the ControlNet's own weights.
func (n *ControlNet) Count() int { return n.Copy.Params.Count() + n.Extra.Count() }

// Freeze marks the base's parameters frozen and the ControlNet's
// trainable, as training a ControlNet wants.
func (n *ControlNet) Freeze() {
	for _, p := range n.UNet.Params.List() {
		p.Frozen = true
	}
	for _, p := range n.Params() {
		p.Frozen = false
	}
}

// Residuals adds the ControlNet's branch to g and returns what it feeds
// the base: the zero layers' outputs times Scale.
func (n *ControlNet) Residuals(g *unet.Graph, in unet.Inputs) *unet.Residuals {
	if in.Control == nil {
		panic("controlnet: inputs without a control image (compile the ControlNet, not its base)")
	}
	ctx := n.UNet.Context(g, in.Tokens)
	h0 := n.hint[0].Forward(g, in.Control)
	hint := n.hint[1].Forward(g, must(G.HadamardProd(h0, must(G.Sigmoid(h0)))))
	skips, h, temb, _ := n.Copy.EncoderCtx(g, in, hint, ctx)
	h = n.Copy.Mid(g, h, temb, ctx)
	scale := func(x *G.Node) *G.Node {
		if n.Scale == 1 {
			return x
		}
		return must(G.Mul(x, g.Scalar(n.Scale)))
	}
	r := &unet.Residuals{Mid: scale(n.zeroMid.Forward(g, h))}
	for i, s := range skips {
		r.Skips = append(r.Skips, scale(n.zero[i].Forward(g, s)))
	}
	return r
}

// Build adds the steered UNet's prediction to g.
func (n *ControlNet) Build(g *unet.Graph, in unet.Inputs) *G.Node {
	return n.UNet.Forward(g, in, n.Residuals(g, in))
}

func must(n *G.Node, err error) *G.Node {
	if err != nil {
		panic(err)
	}
	return n
}

// Metadata keys of a ControlNet file.
const (
	metaFingerprint = "controlnet.base_fingerprint"
	metaScale       = "controlnet.scale"
	metaInfo        = "controlnet.info"
	metaTemplates   = "controlnet.templates"
	formatName      = "t2t-controlnet/1"
)

// Save writes the ControlNet's own weights (not the base's) to path as
// safetensors, with the base's fingerprint, the scale and info (free-form
// JSON-able notes, such as how it was trained) in the metadata.
func (n *ControlNet) Save(path string, info map[string]string) error {
	return n.SaveAs(path, info, "F32")
}

// SaveAs is Save with the stored dtype chosen: "F32" or "F16" (half the
// size; the weights rounded to half precision).
func (n *ControlNet) SaveAs(path string, info map[string]string, dtype string) error {
	ts := unet.ParamTensors(n.Params())
	meta := map[string]string{unet.FormatKey: formatName, metaFingerprint: unet.Fingerprint(n.UNet),
		metaScale: strconv.FormatFloat(n.Scale, 'g', -1, 64), unet.ConvTapsKey: unet.ConvTapsExact}
	if len(info) > 0 {
		b, err := json.Marshal(info)
		if err != nil {
			return err
		}
		meta[metaInfo] = string(b)
	}
	if n.Templates != nil {
		b, err := json.Marshal(n.Templates)
		if err != nil {
			return err
		}
		meta[metaTemplates] = string(b)
	}
	return safetensors.SaveAs(path, ts, meta, dtype)
}

// MaxScale bounds the conditioning scale: the residuals of a trained
// ControlNet are added at scale 1; far above it, or below 0, they push the
// base out of anything it learned.
const MaxScale = 10

// CheckScale says what is wrong with a conditioning scale: it must be a
// number in (0, MaxScale].
func CheckScale(s float64) error {
	if !(s > 0 && s <= MaxScale) {
		return fmt.Errorf("controlnet: conditioning scale %g, want more than 0 and at most %d", s, MaxScale)
	}
	return nil
}

// Load reads a ControlNet file written by Save for base. It refuses a file
// made for another base (ErrWrongBase, naming both fingerprints), a file
// that is not a ControlNet, a truncated one, and tensors missing, extra
// or of the wrong shape. It returns the notes Save was given.
func Load(path string, base *unet.UNet) (*ControlNet, map[string]string, error) {
	ts, meta, err := safetensors.Load(path)
	if err != nil {
		return nil, nil, fmt.Errorf("controlnet: loading %s: %w", path, err)
	}
	return fromTensors(ts, meta, path, base)
}

// Read is Load from a reader; name identifies it in errors.
func Read(r io.Reader, name string, base *unet.UNet) (*ControlNet, map[string]string, error) {
	ts, meta, err := safetensors.Read(r, name)
	if err != nil {
		return nil, nil, fmt.Errorf("controlnet: loading %s: %w", name, err)
	}
	return fromTensors(ts, meta, name, base)
}

func fromTensors(ts []unet.Tensor, meta map[string]string, path string, base *unet.UNet) (*ControlNet, map[string]string, error) {
	if err := unet.CheckFile(meta, formatName, "a ControlNet", metaFingerprint, base, path); err != nil {
		return nil, nil, fmt.Errorf("controlnet: loading: %w", err)
	}
	n, err := New(base, 0)
	if err != nil {
		return nil, nil, err
	}
	if v, ok := meta[metaScale]; ok {
		s, err := strconv.ParseFloat(v, 64)
		if err == nil {
			err = CheckScale(s)
		}
		if err != nil {
			return nil, nil, fmt.Errorf("controlnet: loading %s: scale %q: %v", path, v, err)
		}
		n.Scale = s
	}
	if err := unet.CheckTensors(ts, unet.ParamShapes(n.Params())); err != nil {
		return nil, nil, fmt.Errorf("controlnet: loading %s: %w", path, err)
	}
	unet.CopyTensors(n.Params(), ts)
	if meta[unet.ConvTapsKey] != unet.ConvTapsExact {
		n.Copy.KeepLegacyTaps() // trained before the convolution fix: keep what it learned
	}
	if s := meta[metaTemplates]; s != "" {
		var t Templates
		if err := json.Unmarshal([]byte(s), &t); err != nil {
			return nil, nil, fmt.Errorf("controlnet: loading %s: templates: %v", path, err)
		}
		if err := t.Validate(); err != nil {
			return nil, nil, fmt.Errorf("controlnet: loading %s: %w", path, err)
		}
		if c := base.Config; t.Rows != c.Rows || t.Cols != c.Cols {
			return nil, nil, fmt.Errorf("controlnet: loading %s: templates of %dx%d for a model of %dx%d", path, t.Rows, t.Cols, c.Rows, c.Cols)
		}
		n.Templates = &t
	}
	var info map[string]string
	if s := meta[metaInfo]; s != "" {
		if err := json.Unmarshal([]byte(s), &info); err != nil {
			return nil, nil, fmt.Errorf("controlnet: loading %s: info: %v", path, err)
		}
	}
	return n, info, nil
}

// Examples gives each training example its own structure map as control
// (the map of its flow image: present where the image's bit is 0 or 1).
// A ControlNet trained on them learns to follow a flow's structure.
func Examples(ex []train.Example, c unet.Config) error {
	l, err := c.Layout.Layout()
	if err != nil {
		return err
	}
	for i := range ex {
		m := ex[i].Matrix
		if m == nil {
			var err error
			if m, err = t2t.MatrixFromRowPlanes(ex[i].X, c.Rows, l); err != nil {
				return fmt.Errorf("controlnet: example %d: %w", i, err)
			}
		}
		ex[i].Control = FromMatrix(m, c.Rows).Values()
	}
	return nil
}
