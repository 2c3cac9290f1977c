package unet

import (
	"fmt"
	"math"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// Predictor is what a Net runs: the UNet alone, or the UNet steered by a
// ControlNet or carrying adapters. Build adds the prediction for the given
// inputs to g.
type Predictor interface {
	Base() *UNet
	Build(g *Graph, in Inputs) *G.Node
}

// Controlled is a Predictor that also reads a control image per sample,
// ControlCols values for each of the Rows packets (a ControlNet's
// structure map). Compile gives its nets an Inputs.Control node; Net's
// SetControl fills it, the Trainer fills it from Example.Control and Sample
// from SampleOptions.Control.
type Controlled interface {
	Predictor
	ControlCols() int
}

// Build makes UNet a Predictor.
func (u *UNet) Build(g *Graph, in Inputs) *G.Node { return u.Forward(g, in, nil) }

// Base returns u.
func (u *UNet) Base() *UNet { return u }

// Net is a Predictor compiled for one batch size, with its input buffers.
// With a loss it also computes gradients of every parameter it uses.
type Net struct {
	B      int
	Graph  *Graph
	In     Inputs
	Out    *G.Node
	Target *G.Node // nil without a loss
	Loss   *G.Node // mean squared error of Out against Target

	pred     Predictor
	vm       G.VM
	x, t, tk *tensor.Dense
	tgt      *tensor.Dense
	ctl      *tensor.Dense // control image, for a Controlled predictor
}

// Compile builds p for batches of b samples; withLoss adds the training
// loss and its gradients.
func Compile(p Predictor, b int, withLoss bool) (*Net, error) {
	u := p.Base()
	c := u.Config
	g := NewGraph(u.Params)
	n := &Net{B: b, Graph: g, pred: p}
	n.In = u.NewInputs(g, b)
	dt := u.Params.Dtype
	if cp, ok := p.(Controlled); ok {
		n.In.Control = g.Input("control", b, c.Rows, cp.ControlCols())
		n.ctl = tensor.New(tensor.Of(dt), tensor.WithShape(b, c.Rows, cp.ControlCols()))
	}
	var err error
	func() {
		defer func() {
			if r := recover(); r != nil {
				err = fmt.Errorf("unet: building the graph: %v", r)
			}
		}()
		n.Out = p.Build(g, n.In)
		if withLoss {
			n.Target = g.Input("target", b, c.Rows, 3*c.Cols)
			d := must(G.Sub(n.Out, n.Target))
			flat := reshape(must(G.Square(d)), b*c.InputSize())
			n.Loss = must(G.Mean(flat))
		}
	}()
	if err != nil {
		return nil, err
	}
	n.x = tensor.New(tensor.Of(dt), tensor.WithShape(b, c.Rows, 3*c.Cols))
	n.t = tensor.New(tensor.Of(dt), tensor.WithShape(b, c.TimeDim))
	n.tk = tensor.New(tensor.Of(dt), tensor.WithShape(b*c.MaxTokens, c.VocabCap))
	if withLoss {
		n.tgt = tensor.New(tensor.Of(dt), tensor.WithShape(b, c.Rows, 3*c.Cols))
		_, nodes := g.Bound()
		var train []*G.Node
		ps, _ := g.Bound()
		for i, p := range ps {
			if !p.Frozen {
				train = append(train, nodes[i])
			}
		}
		if len(train) == 0 {
			return nil, fmt.Errorf("unet: nothing to train: every parameter is frozen")
		}
		if _, err := G.Grad(n.Loss, train...); err != nil {
			return nil, fmt.Errorf("unet: gradients: %w", err)
		}
		n.vm = G.NewTapeMachine(g.G, G.BindDualValues(train...))
	} else {
		n.vm = G.NewTapeMachine(g.G)
	}
	return n, nil
}

// Close releases the machine.
func (n *Net) Close() { n.vm.Close() }

// SetInputs fills the inputs for a batch: x holds B samples of
// Config.InputSize values, ts one timestep per sample, tokens MaxTokens
// ids per sample.
func (n *Net) SetInputs(x []float32, ts []int, tokens []int) error {
	c := n.pred.Base().Config
	if len(x) != n.B*c.InputSize() || len(ts) != n.B || len(tokens) != n.B*c.MaxTokens {
		return fmt.Errorf("unet: inputs for a batch of %d: %d values, %d timesteps, %d tokens", n.B, len(x), len(ts), len(tokens))
	}
	sin := make([]float64, c.TimeDim)
	switch xd := n.x.Data().(type) {
	case []float32:
		copy(xd, x)
		td := n.t.Data().([]float32)
		for i, t := range ts {
			Sinusoidal(sin, float64(t))
			for j, v := range sin {
				td[i*c.TimeDim+j] = float32(v)
			}
		}
		kd := n.tk.Data().([]float32)
		clear(kd)
		for i, id := range tokens {
			if id < 0 || id >= c.VocabCap {
				return fmt.Errorf("unet: token id %d outside the table of %d", id, c.VocabCap)
			}
			kd[i*c.VocabCap+id] = 1
		}
	case []float64:
		for i, v := range x {
			xd[i] = float64(v)
		}
		td := n.t.Data().([]float64)
		for i, t := range ts {
			Sinusoidal(td[i*c.TimeDim:(i+1)*c.TimeDim], float64(t))
		}
		kd := n.tk.Data().([]float64)
		clear(kd)
		for i, id := range tokens {
			if id < 0 || id >= c.VocabCap {
				return fmt.Errorf("unet: token id %d outside the table of %d", id, c.VocabCap)
			}
			kd[i*c.VocabCap+id] = 1
		}
	}
	for _, p := range []struct {
		n *G.Node
		v *tensor.Dense
	}{{n.In.X, n.x}, {n.In.Time, n.t}, {n.In.Tokens, n.tk}} {
		if err := G.Let(p.n, p.v); err != nil {
			return err
		}
	}
	return nil
}

// ControlSize is the number of control values per sample (0 for a
// predictor without control).
func (n *Net) ControlSize() int {
	if n.ctl == nil {
		return 0
	}
	return n.ctl.Shape()[1] * n.ctl.Shape()[2]
}

// SetControl fills the control image of a Controlled predictor's net: B
// samples of ControlSize values.
func (n *Net) SetControl(ctl []float32) error {
	if n.ctl == nil {
		return fmt.Errorf("unet: this predictor takes no control image")
	}
	if len(ctl) != n.B*n.ControlSize() {
		return fmt.Errorf("unet: control of %d values for a batch of %d x %d", len(ctl), n.B, n.ControlSize())
	}
	switch d := n.ctl.Data().(type) {
	case []float32:
		copy(d, ctl)
	case []float64:
		for i, v := range ctl {
			d[i] = float64(v)
		}
	}
	return G.Let(n.In.Control, n.ctl)
}

// SetTarget fills the training target.
func (n *Net) SetTarget(target []float32) error {
	if n.Target == nil {
		return fmt.Errorf("unet: net compiled without a loss")
	}
	switch d := n.tgt.Data().(type) {
	case []float32:
		if len(target) != len(d) {
			return fmt.Errorf("unet: target of %d values, want %d", len(target), len(d))
		}
		copy(d, target)
	case []float64:
		for i, v := range target {
			d[i] = float64(v)
		}
	}
	return G.Let(n.Target, n.tgt)
}

// Run executes the graph once (forward, and backward with a loss).
func (n *Net) Run() error {
	n.vm.Reset()
	return n.vm.RunAll()
}

// Output copies the prediction into dst (B·InputSize values).
func (n *Net) Output(dst []float32) []float32 {
	switch d := n.Out.Value().Data().(type) {
	case []float32:
		return append(dst[:0], d...)
	case []float64:
		dst = dst[:0]
		for _, v := range d {
			dst = append(dst, float32(v))
		}
	}
	return dst
}

// LossValue is the last loss computed.
func (n *Net) LossValue() float64 {
	switch v := n.Loss.Value().Data().(type) {
	case float32:
		return float64(v)
	case float64:
		return v
	}
	return math.NaN()
}
