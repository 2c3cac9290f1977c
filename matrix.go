package t2t

import (
	"fmt"
	"time"
)

// Matrix holds nPrint rows: one row per packet, one column per bit of its
// Layout, each value 1, 0 or -1 (vacant: the packet has no such bit).
// Bits is the row-major buffer, Rows*Cols long.
type Matrix struct {
	Layout *Layout // the columns; Cols == Layout.Width()
	Rows   int
	Cols   int
	Bits   []int8
	// Times holds the capture time of each row. It is nil when the times
	// are unknown, otherwise len(Times) == Rows.
	Times []time.Time
}

// DefaultStart is the time t2t gives the first packet when nothing says
// when it was sent: the first row of a CSV that holds only relative times
// (CSVReader.Base), the first packet of a repaired flow without times
// (t2t/repair), generated captures. It is 2024-01-01 00:00:00 UTC.
var DefaultStart = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

// NewMatrix returns a Matrix of rows vacant rows (all -1) over layout.
func NewMatrix(layout *Layout, rows int) *Matrix {
	w := layout.Width()
	m := &Matrix{Layout: layout, Rows: rows, Cols: w, Bits: make([]int8, rows*w)}
	for i := range m.Bits {
		m.Bits[i] = -1
	}
	return m
}

// Row returns row r as a slice of Bits (not a copy).
func (m *Matrix) Row(r int) []int8 { return m.Bits[r*m.Cols : (r+1)*m.Cols] }

// RowVacant reports whether every value of row r is -1: a padding row,
// not a packet.
func (m *Matrix) RowVacant(r int) bool {
	for _, v := range m.Row(r) {
		if v != -1 {
			return false
		}
	}
	return true
}

// Bit returns the value at row r, column c.
func (m *Matrix) Bit(r, c int) int8 { return m.Bits[r*m.Cols+c] }

// SetBit sets the value at row r, column c.
func (m *Matrix) SetBit(r, c int, v int8) { m.Bits[r*m.Cols+c] = v }

// AppendRow appends a copy of row (len Cols) with capture time ts. A zero
// ts is kept as is; Times stays nil while every appended time is zero.
func (m *Matrix) AppendRow(row []int8, ts time.Time) {
	if len(row) != m.Cols {
		panic(fmt.Sprintf("t2t: AppendRow: row of %d values for a matrix of %d columns", len(row), m.Cols))
	}
	m.Bits = append(m.Bits, row...)
	if !ts.IsZero() && m.Times == nil {
		m.Times = make([]time.Time, m.Rows, m.Rows+1)
	}
	if m.Times != nil {
		m.Times = append(m.Times, ts)
	}
	m.Rows++
}

// Resize returns a copy of m with exactly rows rows: extra rows are
// dropped, missing rows are appended vacant (-1), as NetDiffusion pads a
// flow to the image height. Times of padded rows are zero.
func (m *Matrix) Resize(rows int) *Matrix {
	out := NewMatrix(m.Layout, rows)
	out.Cols = m.Cols
	if m.Layout == nil {
		out.Bits = make([]int8, rows*m.Cols)
		for i := range out.Bits {
			out.Bits[i] = -1
		}
	}
	n := min(rows, m.Rows)
	copy(out.Bits, m.Bits[:n*m.Cols])
	if m.Times != nil {
		out.Times = make([]time.Time, rows)
		copy(out.Times, m.Times[:n])
	}
	return out
}

// Validate checks the Matrix's shape and that every value is 1, 0 or -1.
func (m *Matrix) Validate() error {
	if m.Layout != nil && m.Cols != m.Layout.Width() {
		return fmt.Errorf("t2t: matrix has %d columns, its layout %d", m.Cols, m.Layout.Width())
	}
	if len(m.Bits) != m.Rows*m.Cols {
		return fmt.Errorf("t2t: matrix of %dx%d holds %d values", m.Rows, m.Cols, len(m.Bits))
	}
	if m.Times != nil && len(m.Times) != m.Rows {
		return fmt.Errorf("t2t: matrix of %d rows holds %d times", m.Rows, len(m.Times))
	}
	for i, v := range m.Bits {
		if v < -1 || v > 1 {
			return fmt.Errorf("t2t: matrix value %d at row %d, column %d is not 1, 0 or -1", v, i/m.Cols, i%m.Cols)
		}
	}
	return nil
}
