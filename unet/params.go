package unet

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sort"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// Param is one named weight of a model. Its Value is shared by every graph
// the model builds, so an optimiser step on Value is seen by all of them.
// Name is the hierarchical checkpoint key, e.g. "down.0.res.1.conv1.weight".
type Param struct {
	Name  string
	Value *tensor.Dense
	// Frozen parameters are not trained (LoRA and ControlNet freeze the
	// base model).
	Frozen bool
}

// Shape returns the parameter's shape.
func (p *Param) Shape() []int { return p.Value.Shape().Clone() }

// Float32s returns the parameter's data (aliasing Value) when its dtype is
// float32.
func (p *Param) Float32s() []float32 {
	d, _ := p.Value.Data().([]float32)
	return d
}

// Float64s returns the parameter's data when its dtype is float64.
func (p *Param) Float64s() []float64 {
	d, _ := p.Value.Data().([]float64)
	return d
}

// Params is a registry of named parameters in creation order.
type Params struct {
	Dtype tensor.Dtype
	// Prefix is put before every name New registers ("control." for a
	// ControlNet's copy of the encoder).
	Prefix string
	list   []*Param
	byKey  map[string]*Param
	// shapesOnly: New records names and shapes (shapes) and allocates
	// nothing; the Params' values stay nil (see Shapes).
	shapesOnly bool
	shapes     []Tensor
}

// NewParams returns an empty registry of parameters of dtype dt (Float32
// for models, Float64 for gradient checks).
func NewParams(dt tensor.Dtype) *Params {
	return &Params{Dtype: dt, byKey: map[string]*Param{}}
}

// Init kinds: how New fills a parameter from the model's seeded source.
type Init int

const (
	InitZeros   Init = iota // all 0 (biases, zero convolutions, LoRA up)
	InitOnes                // all 1 (norm scales)
	InitUniform             // U(-b, b) with b = 1/sqrt(fanIn), as PyTorch's Linear
	InitNormal              // N(0, std) with std = scale (embeddings)
)

// New registers a parameter. Names must be unique; initialisation draws
// from rng, so the same seed gives the same weights. fanIn sets the uniform
// bound; scale the normal std or a multiplier on the uniform bound.
func (ps *Params) New(name string, shape []int, init Init, fanIn int, scale float64, rng *rand.Rand) *Param {
	name = ps.Prefix + name
	if _, ok := ps.byKey[name]; ok {
		panic(fmt.Sprintf("unet: parameter %q registered twice", name))
	}
	if ps.shapesOnly {
		p := &Param{Name: name}
		ps.list = append(ps.list, p)
		ps.byKey[name] = p
		ps.shapes = append(ps.shapes, Tensor{Name: name, Shape: append([]int(nil), shape...)})
		return p
	}
	n := 1
	for _, d := range shape {
		n *= d
	}
	vals := make([]float64, n)
	switch init {
	case InitOnes:
		for i := range vals {
			vals[i] = 1
		}
	case InitUniform:
		b := scale / math.Sqrt(float64(fanIn))
		for i := range vals {
			vals[i] = (rng.Float64()*2 - 1) * b
		}
	case InitNormal:
		for i := range vals {
			vals[i] = rng.NormFloat64() * scale
		}
	}
	var v *tensor.Dense
	switch ps.Dtype {
	case tensor.Float64:
		v = tensor.New(tensor.WithShape(shape...), tensor.WithBacking(vals))
	default:
		f := make([]float32, n)
		for i, x := range vals {
			f[i] = float32(x)
		}
		v = tensor.New(tensor.WithShape(shape...), tensor.WithBacking(f))
	}
	p := &Param{Name: name, Value: v}
	ps.list = append(ps.list, p)
	ps.byKey[name] = p
	return p
}

// Get returns the named parameter, or nil.
func (ps *Params) Get(name string) *Param { return ps.byKey[name] }

// List returns the parameters in creation order.
func (ps *Params) List() []*Param { return ps.list }

// Sorted returns the parameters ordered by name.
func (ps *Params) Sorted() []*Param {
	out := append([]*Param(nil), ps.list...)
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Count is the number of scalar weights.
func (ps *Params) Count() int {
	n := 0
	for _, p := range ps.list {
		n += p.Value.Shape().TotalSize()
	}
	return n
}

// Graph binds parameters into one gorgonia graph: each parameter becomes
// one node, named after it, whose value is the parameter's tensor.
type Graph struct {
	G      *G.ExprGraph
	Params *Params
	nodes  map[string]*G.Node
	order  []*Param
	// salt is appended to the name of every input and parameter node (not
	// to the parameters themselves): a graph whose node hashes collide is
	// built again with another salt (see Compile).
	salt string
}

// NewGraph returns a graph over ps.
func NewGraph(ps *Params) *Graph {
	return &Graph{G: G.NewGraph(), Params: ps, nodes: map[string]*G.Node{}}
}

// Node returns the node of parameter p, creating it on first use.
func (g *Graph) Node(p *Param) *G.Node {
	if n, ok := g.nodes[p.Name]; ok {
		return n
	}
	s := p.Value.Shape()
	var n *G.Node
	if len(s) == 1 {
		n = G.NewVector(g.G, p.Value.Dtype(), G.WithShape(s...), G.WithName(p.Name+g.salt), G.WithValue(p.Value))
	} else if len(s) == 2 {
		n = G.NewMatrix(g.G, p.Value.Dtype(), G.WithShape(s...), G.WithName(p.Name+g.salt), G.WithValue(p.Value))
	} else {
		n = G.NewTensor(g.G, p.Value.Dtype(), len(s), G.WithShape(s...), G.WithName(p.Name+g.salt), G.WithValue(p.Value))
	}
	g.nodes[p.Name] = n
	g.order = append(g.order, p)
	return n
}

// Bound returns the parameters used by the graph, in first-use order, with
// their nodes.
func (g *Graph) Bound() ([]*Param, []*G.Node) {
	ns := make([]*G.Node, len(g.order))
	for i, p := range g.order {
		ns[i] = g.nodes[p.Name]
	}
	return append([]*Param(nil), g.order...), ns
}

// Input makes a named input node of the given shape.
func (g *Graph) Input(name string, shape ...int) *G.Node {
	name += g.salt
	switch len(shape) {
	case 1:
		return G.NewVector(g.G, g.Params.Dtype, G.WithShape(shape...), G.WithName(name))
	case 2:
		return G.NewMatrix(g.G, g.Params.Dtype, G.WithShape(shape...), G.WithName(name))
	}
	return G.NewTensor(g.G, g.Params.Dtype, len(shape), G.WithShape(shape...), G.WithName(name))
}

// Const makes a constant node holding value (float64s converted to the
// graph's dtype).
func (g *Graph) Const(name string, shape []int, vals []float64) *G.Node {
	var v *tensor.Dense
	if g.Params.Dtype == tensor.Float64 {
		v = tensor.New(tensor.WithShape(shape...), tensor.WithBacking(append([]float64(nil), vals...)))
	} else {
		f := make([]float32, len(vals))
		for i, x := range vals {
			f[i] = float32(x)
		}
		v = tensor.New(tensor.WithShape(shape...), tensor.WithBacking(f))
	}
	return G.NewTensor(g.G, g.Params.Dtype, len(shape), G.WithShape(shape...), G.WithName(name+g.salt), G.WithValue(v))
}

// Scalar is a constant scalar of the graph's dtype.
func (g *Graph) Scalar(x float64) *G.Node {
	if g.Params.Dtype == tensor.Float64 {
		return G.NewConstant(x)
	}
	return G.NewConstant(float32(x))
}
