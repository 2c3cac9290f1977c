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
	train    []*G.Node     // the nodes of the parameters trained
}

// Compile builds p for batches of b samples; withLoss adds the training
// loss and its gradients.
//
// gorgonia identifies nodes by a 32-bit hash of their op, shape and
// children (names for inputs): its compiler's common-subexpression pass
// merges any two nodes whose hashes agree, and graph construction merges a
// new node into an existing one of the same op and shape whose hash agrees
// without comparing their inputs. A collision among the thousands of nodes
// of a UNet (about one graph in a few hundred) makes a wrong program: a
// Small model with 128 prompt rows failed at batch 16 with "Div failed:
// Shape mismatch" because a SizeOf node shared a register with a weight.
// Compile therefore builds the graph under two salts of its node names and
// keeps it only when neither holds two nodes of one hash and both hold as
// many nodes (a merge at construction loses one); otherwise it tries the
// next pair of salts.
func Compile(p Predictor, b int, withLoss bool) (*Net, error) {
	prev, err := buildNet(p, b, withLoss, 0)
	if err != nil {
		return nil, err
	}
	for salt := 1; salt <= maxSalts; salt++ {
		cur, err := buildNet(p, b, withLoss, salt)
		if err != nil {
			return nil, err
		}
		if prev.clean && cur.clean && prev.count == cur.count {
			return prev.net.machine(withLoss)
		}
		if cur.clean && (!prev.clean || cur.count > prev.count) {
			prev = cur
		}
	}
	return nil, fmt.Errorf("unet: every one of %d builds of the graph (batch %d) holds nodes whose gorgonia hashes collide", maxSalts+1, b)
}

// maxSalts bounds the rebuilds Compile tries after the first.
const maxSalts = 16

// built is one build of a graph, before it is compiled.
type built struct {
	net   *Net
	count int  // nodes in the graph
	clean bool // no two nodes share a hash
}

// HashCollisions lists the pairs of distinct nodes of g whose gorgonia
// hashes agree (gorgonia's compiler would merge each pair into one).
func HashCollisions(g *G.ExprGraph) [][2]*G.Node {
	seen := map[uint32]*G.Node{}
	var out [][2]*G.Node
	for _, n := range g.AllNodes() {
		h := n.Hashcode()
		if o, ok := seen[h]; ok && o != n {
			out = append(out, [2]*G.Node{o, n})
			continue
		}
		seen[h] = n
	}
	return out
}

func buildNet(p Predictor, b int, withLoss bool, salt int) (built, error) {
	u := p.Base()
	c := u.Config
	g := NewGraph(u.Params)
	if salt > 0 {
		g.salt = fmt.Sprintf("~%d", salt)
	}
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
		return built{}, err
	}
	n.x = tensor.New(tensor.Of(dt), tensor.WithShape(b, c.Rows, 3*c.Cols))
	n.t = tensor.New(tensor.Of(dt), tensor.WithShape(b, c.TimeDim))
	n.tk = tensor.New(tensor.Of(dt), tensor.WithShape(b*c.MaxTokens, c.VocabCap))
	if withLoss {
		n.tgt = tensor.New(tensor.Of(dt), tensor.WithShape(b, c.Rows, 3*c.Cols))
		var train []*G.Node
		ps, nodes := g.Bound()
		for i, p := range ps {
			if !p.Frozen {
				train = append(train, nodes[i])
			}
		}
		if len(train) == 0 {
			return built{}, fmt.Errorf("unet: nothing to train: every parameter is frozen")
		}
		if _, err := G.Grad(n.Loss, train...); err != nil {
			return built{}, fmt.Errorf("unet: gradients: %w", err)
		}
		n.train = train
	}
	return built{net: n, count: len(g.G.AllNodes()), clean: len(HashCollisions(g.G)) == 0}, nil
}

// machine makes the tape machine of a built net.
func (n *Net) machine(withLoss bool) (*Net, error) {
	if withLoss {
		n.vm = G.NewTapeMachine(n.Graph.G, G.BindDualValues(n.train...))
	} else {
		n.vm = G.NewTapeMachine(n.Graph.G)
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
