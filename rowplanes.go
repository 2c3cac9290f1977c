package t2t

import (
	"fmt"
	"slices"
)

// AppendRowPlanes appends m to dst as a model's input: rows rows of three
// planes [rows, 3, Cols], each row's red, green and blue planes one after
// another (a packet's pixels kept together, so that a row patch embedding
// sees the whole packet), with the values of Planes. Rows past m.Rows are
// vacant (blue); rows of m past rows are left out. It does not allocate
// when dst has room.
func (m *Matrix) AppendRowPlanes(dst []float32, rows int) []float32 {
	w := m.Cols
	start := len(dst)
	dst = slices.Grow(dst, rows*3*w)[:start+rows*3*w]
	for r := 0; r < rows; r++ {
		o := dst[start+r*3*w : start+(r+1)*3*w]
		if r >= m.Rows {
			fillPixels(o, w, 0, w, &planeValues[PaletteIndex(-1)])
			continue
		}
		for c, v := range m.Bits[r*w : (r+1)*w] {
			fillPixels(o, w, c, c+1, &planeValues[PaletteIndex(v)])
		}
	}
	return dst
}

// fillPixels writes the plane values p of columns [from, to) into a row's
// three planes o ([3, w]).
func fillPixels(o []float32, w, from, to int, p *[3]float32) {
	for c := from; c < to; c++ {
		o[c], o[w+c], o[2*w+c] = p[0], p[1], p[2]
	}
}

// MatrixFromRowPlanes snaps a model's output [rows, 3, cols] (as
// AppendRowPlanes lays it out, values in any range) to a Matrix over
// layout: each pixel becomes the value of its largest plane, ties going to
// red, then green (as MatrixFromPlanes). A length that does not fit, or a
// NaN, is an error naming the pixel.
func MatrixFromRowPlanes(x []float32, rows int, layout *Layout) (*Matrix, error) {
	w := layout.Width()
	if rows < 0 || len(x) != rows*3*w {
		return nil, fmt.Errorf("t2t: row planes: %d values for %d rows of 3x%d", len(x), rows, w)
	}
	m := NewMatrix(layout, rows)
	for r := 0; r < rows; r++ {
		p := x[r*3*w : (r+1)*3*w]
		row := m.Row(r)
		for c := 0; c < w; c++ {
			red, green, blue := p[c], p[w+c], p[2*w+c]
			if red != red || green != green || blue != blue {
				return nil, fmt.Errorf("t2t: row planes: NaN at row %d, column %d", r, c)
			}
			row[c] = 1 - int8(argmax(red, green, blue))
		}
	}
	return m, nil
}
