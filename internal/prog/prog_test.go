package prog

import (
	"strings"
	"testing"
)

func TestCheck(t *testing.T) {
	b := NewBuilder(2)
	x := b.Buffer(2 * 3 * 4)
	b.Inputs(x, None, None, None)
	w := b.Param("w", []int{4, 5}, make([]float32, 20))
	if b.Param("w", []int{4, 5}, nil) != w {
		t.Fatal("a second Param of the same name made a new weight")
	}
	y := b.Emit(Op{Kind: Linear, A: x, B: None, C: None, W: w, Bias: None, N: 6, In: 4, Out: 5}, 30)
	z := b.Emit(Op{Kind: SiLU, A: y, B: None, C: None, W: None, Bias: None, N: 6, In: 5}, 30)
	p, err := b.Program(z)
	if err != nil {
		t.Fatal(err)
	}
	if last := p.LastUse(); last[x] != 0 || last[y] != 1 || last[z] != 2 {
		t.Fatalf("last uses %v", last)
	}
	// a weight of the wrong size is refused, naming the operation
	p.Ops[0].Out = 6
	if err := p.Check(); err == nil || !strings.Contains(err.Error(), "op 0 (linear)") {
		t.Fatalf("a wrong-sized weight passed: %v", err)
	}
	p.Ops[0].Out = 5
	p.Ops[1].A = 7
	if err := p.Check(); err == nil || !strings.Contains(err.Error(), "op 1 (silu)") {
		t.Fatalf("a missing buffer passed: %v", err)
	}
	p.Ops[1].A = y
	p.Ops[1].Kind = 99
	if err := p.Check(); err == nil || !strings.Contains(err.Error(), "unknown kind") {
		t.Fatalf("an unknown kind passed: %v", err)
	}
}

func TestRunLinear(t *testing.T) {
	b := NewBuilder(1)
	x := b.Buffer(2 * 2)
	b.Inputs(x, None, None, None)
	w := b.Param("w", []int{2, 3}, []float32{1, 2, 3, 4, 5, 6})
	bias := b.Param("b", []int{3}, []float32{0.5, 0, -1})
	y := b.Emit(Op{Kind: Linear, A: x, B: None, C: None, W: w, Bias: bias, N: 2, In: 2, Out: 3}, 6)
	p, err := b.Program(y)
	if err != nil {
		t.Fatal(err)
	}
	bufs := make([][]float32, len(p.Sizes))
	bufs[x] = []float32{1, 0, 2, -1}
	if err := p.Run(bufs); err != nil {
		t.Fatal(err)
	}
	want := []float32{1.5, 2, 2, -1.5, -1, -1}
	for i, v := range want {
		if bufs[y][i] != v {
			t.Fatalf("output %v, want %v", bufs[y], want)
		}
	}
}
