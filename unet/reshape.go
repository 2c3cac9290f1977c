package unet

import (
	"fmt"
	"hash"
	"hash/fnv"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// copyReshape is a reshape that copies its input. gorgonia's own Reshape
// returns a tensor sharing the input's memory, and its register allocator
// does not know that: an in-place operation on the reshaped node then
// overwrites the input, which other nodes (a skip connection, the
// backward pass) still read. Every reshape in this package copies.
type copyReshape struct {
	from, to tensor.Shape
}

func (op copyReshape) Arity() int { return 1 }

func (op copyReshape) Type() hm.Type {
	a := hm.TypeVariable('a')
	return hm.NewFnType(G.TensorType{Dims: op.from.Dims(), Of: a}, G.TensorType{Dims: op.to.Dims(), Of: a})
}

func (op copyReshape) InferShape(...G.DimSizer) (tensor.Shape, error) { return op.to.Clone(), nil }

func (op copyReshape) Do(vals ...G.Value) (G.Value, error) {
	t, ok := vals[0].(*tensor.Dense)
	if !ok {
		return nil, fmt.Errorf("unet: reshape of %T", vals[0])
	}
	if t.Shape().TotalSize() != op.to.TotalSize() {
		return nil, fmt.Errorf("unet: reshape %v to %v", t.Shape(), op.to)
	}
	var c *tensor.Dense
	if t.IsView() {
		c = t.Materialize().(*tensor.Dense)
		if c == t {
			c = t.Clone().(*tensor.Dense)
		}
	} else {
		c = t.Clone().(*tensor.Dense)
	}
	if err := c.Reshape(op.to...); err != nil {
		return nil, err
	}
	return c, nil
}

func (op copyReshape) ReturnsPtr() bool     { return false }
func (op copyReshape) CallsExtern() bool    { return false }
func (op copyReshape) OverwritesInput() int { return -1 }
func (op copyReshape) WriteHash(h hash.Hash) {
	fmt.Fprintf(h, "copyReshape%v->%v", op.from, op.to)
}
func (op copyReshape) Hashcode() uint32 {
	h := fnv.New32a()
	op.WriteHash(h)
	return h.Sum32()
}
func (op copyReshape) String() string { return fmt.Sprintf("CopyReshape%v", op.to) }

func (op copyReshape) DiffWRT(int) []bool { return []bool{true} }

func (op copyReshape) SymDiff(inputs G.Nodes, output, grad *G.Node) (G.Nodes, error) {
	d, err := G.ApplyOp(copyReshape{from: op.to, to: op.from}, grad)
	if err != nil {
		return nil, err
	}
	return G.Nodes{d}, nil
}

// reshape returns x with shape s, copied (see copyReshape). It panics on a
// size mismatch (a bug in the caller, not bad data).
func reshape(x *G.Node, s ...int) *G.Node {
	to := tensor.Shape(s)
	if x.Shape().TotalSize() != to.TotalSize() {
		panic(fmt.Sprintf("unet: reshape %v to %v", x.Shape(), to))
	}
	return must(G.ApplyOp(copyReshape{from: x.Shape().Clone(), to: to.Clone()}, x))
}
