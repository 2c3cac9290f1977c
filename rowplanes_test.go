package t2t

import (
	"math"
	"math/rand/v2"
	"testing"
)

func TestRowPlanes(t *testing.T) {
	l := NetDiffusionSpec.MustLayout()
	m := NewMatrix(l, 3)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range m.Bits {
		m.Bits[i] = int8(rng.IntN(3)) - 1
	}
	x := m.AppendRowPlanes(nil, 5)
	if len(x) != 5*3*l.Width() {
		t.Fatalf("%d values for 5 rows of 3x%d", len(x), l.Width())
	}
	// a row's three planes together: row 0's green plane starts at Cols
	if v := m.Row(0)[0]; (x[l.Width()] == 1) != (v == 0) {
		t.Fatalf("row 0, column 0 is %d, its green plane %g", v, x[l.Width()])
	}
	back, err := MatrixFromRowPlanes(x, 5, l)
	if err != nil {
		t.Fatal(err)
	}
	want := m.Resize(5)
	for i := range want.Bits {
		if back.Bits[i] != want.Bits[i] {
			t.Fatalf("value %d: %d, want %d", i, back.Bits[i], want.Bits[i])
		}
	}
	x[7] = float32(math.NaN())
	if _, err := MatrixFromRowPlanes(x, 5, l); err == nil {
		t.Error("NaN: no error")
	}
}

// TestRowPlanesMatchPlanes: the model's row-major planes hold the values of
// Planes, row by row.
func TestRowPlanesMatchPlanes(t *testing.T) {
	l := NetDiffusionSpec.MustLayout()
	m := NewMatrix(l, 4)
	for i := range m.Bits {
		m.Bits[i] = int8(i%3) - 1
	}
	p, x := m.Planes(), m.AppendRowPlanes(nil, 4)
	n, w := m.Rows*m.Cols, m.Cols
	for r := 0; r < m.Rows; r++ {
		for ch := 0; ch < 3; ch++ {
			for c := 0; c < w; c++ {
				if got, want := x[(r*3+ch)*w+c], p[ch*n+r*w+c]; got != want {
					t.Fatalf("row %d plane %d column %d: %g, want %g", r, ch, c, got, want)
				}
			}
		}
	}
}
