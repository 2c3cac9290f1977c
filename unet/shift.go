package unet

import (
	"fmt"
	"hash"
	"hash/fnv"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// shiftRows moves a [B, L, C] sequence by one position along L: by +1 the
// output at l is the input at l-1 (zero at l = 0), by -1 the input at l+1
// (zero at l = L-1). Conv1D adds the shifted products of its outer taps
// instead of concatenating shifted copies of its input (im2col): one
// contiguous copy per sample instead of gorgonia's element-wise concat.
// Its gradient is the opposite shift.
type shiftRows struct {
	shape tensor.Shape // [B, L, C]
	by    int          // +1 or -1
}

func (op shiftRows) Arity() int { return 1 }

func (op shiftRows) Type() hm.Type {
	a := hm.TypeVariable('a')
	t := G.TensorType{Dims: 3, Of: a}
	return hm.NewFnType(t, t)
}

func (op shiftRows) InferShape(...G.DimSizer) (tensor.Shape, error) { return op.shape.Clone(), nil }

func (op shiftRows) Do(vals ...G.Value) (G.Value, error) {
	t, ok := vals[0].(*tensor.Dense)
	if !ok || !t.Shape().Eq(op.shape) {
		return nil, fmt.Errorf("unet: shift of %v, want a %v tensor", vals[0].Shape(), op.shape)
	}
	if t.IsView() {
		t = t.Materialize().(*tensor.Dense)
	}
	out := tensor.New(tensor.Of(t.Dtype()), tensor.WithShape(op.shape.Clone()...))
	b, l, c := op.shape[0], op.shape[1], op.shape[2]
	switch src := t.Data().(type) {
	case []float32:
		shift(out.Data().([]float32), src, b, l, c, op.by)
	case []float64:
		shift(out.Data().([]float64), src, b, l, c, op.by)
	default:
		return nil, fmt.Errorf("unet: shift of %v", t.Dtype())
	}
	return out, nil
}

// shift writes src shifted by by positions along L into dst (zeroed).
func shift[T float32 | float64](dst, src []T, b, l, c, by int) {
	n := (l - 1) * c // values each sample keeps
	if n <= 0 {
		return
	}
	for i := 0; i < b; i++ {
		o := i * l * c
		if by > 0 {
			copy(dst[o+c:o+c+n], src[o:o+n])
		} else {
			copy(dst[o:o+n], src[o+c:o+c+n])
		}
	}
}

func (op shiftRows) ReturnsPtr() bool     { return false }
func (op shiftRows) CallsExtern() bool    { return false }
func (op shiftRows) OverwritesInput() int { return -1 }
func (op shiftRows) WriteHash(h hash.Hash) {
	fmt.Fprintf(h, "shiftRows%v by %d", op.shape, op.by)
}
func (op shiftRows) Hashcode() uint32 {
	h := fnv.New32a()
	op.WriteHash(h)
	return h.Sum32()
}
func (op shiftRows) String() string { return fmt.Sprintf("ShiftRows(%+d)", op.by) }

func (op shiftRows) DiffWRT(int) []bool { return []bool{true} }

func (op shiftRows) SymDiff(inputs G.Nodes, output, grad *G.Node) (G.Nodes, error) {
	d, err := G.ApplyOp(shiftRows{shape: op.shape, by: -op.by}, grad)
	if err != nil {
		return nil, err
	}
	return G.Nodes{d}, nil
}

// shiftSeq returns x [B, L, C] shifted by by positions along L (see
// shiftRows).
func shiftSeq(x *G.Node, by int) *G.Node {
	return must(G.ApplyOp(shiftRows{shape: x.Shape().Clone(), by: by}, x))
}
