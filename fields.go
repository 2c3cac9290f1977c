package t2t

import "fmt"

// FieldReader reads the header fields of nPrint rows of one Layout. It is
// the one place where a row's bits become field values: the Decoder reads
// rows through it, and so does t2t/repair.
//
// Load unpacks a row into its blocks, every bit of every header block,
// vacant (-1) where the row is vacant and where the layout has no column
// (NetDiffusion's layout has no address fields: they read as vacant). A
// vacant bit reads as 0, and every read says how many of its bits were
// vacant. A FieldReader is not safe for concurrent use.
type FieldReader struct {
	layout *Layout
	blk    [numBlocks][]int8 // full block bits, -1 where the layout has no column
}

// NewFieldReader returns a FieldReader for rows of layout.
func NewFieldReader(layout *Layout) *FieldReader {
	r := &FieldReader{layout: layout}
	for b := Block(0); b < numBlocks; b++ {
		n := blockBytes[b] * 8
		if b == BlockPayload {
			n = layout.payload * 8
		}
		r.blk[b] = make([]int8, n)
	}
	return r
}

// Layout returns the reader's layout.
func (r *FieldReader) Layout() *Layout { return r.layout }

// Load unpacks row, which must hold Layout().Width() values, each 1, 0 or
// -1 (a DecodeError says which is not).
func (r *FieldReader) Load(row []int8) error {
	l := r.layout
	if len(row) != l.width {
		return decodeErr("row of %d values for a layout of %d columns", len(row), l.width)
	}
	for b := range r.blk {
		for i := range r.blk[b] {
			r.blk[b][i] = -1
		}
	}
	for _, s := range l.segs {
		for i, v := range row[s.col : s.col+s.n] {
			if v < -1 || v > 1 {
				return decodeErr("value %d in column %d is not 1, 0 or -1", v, s.col+i)
			}
		}
		copy(r.blk[s.block][s.bit:], row[s.col:s.col+s.n])
	}
	return nil
}

// fieldIndex maps every nPrint field name of the fixed blocks to its field.
var fieldIndex = func() map[string]Field {
	m := map[string]Field{}
	for _, fs := range blockFields {
		for _, f := range fs {
			m[f.Name] = f
		}
	}
	return m
}()

// field returns the named field; "payload_bit" is the layout's payload
// block. It panics on a name nPrint does not have.
func (r *FieldReader) field(name string) Field {
	if name == "payload_bit" {
		return Field{Name: name, Block: BlockPayload, Bits: r.layout.payload * 8}
	}
	f, ok := fieldIndex[name]
	if !ok {
		panic(fmt.Sprintf("t2t: FieldReader: no nPrint field %q", name))
	}
	return f
}

// Field reads the named field of at most 32 bits (e.g. "tcp_seq") of the
// loaded row. A field the layout lacks reads 0 with all its bits vacant.
// It panics on a name nPrint does not have or a wider field.
func (r *FieldReader) Field(name string) (v uint32, vacant int) {
	f := r.field(name)
	if f.Bits > 32 {
		panic(fmt.Sprintf("t2t: FieldReader.Field: %s has %d bits (use FieldBytes)", name, f.Bits))
	}
	return r.Bits(f.Block, f.Off, f.Bits)
}

// FieldBytes appends the first n bytes of the named field (e.g. the
// options "tcp_opt", the payload "payload_bit") to dst. It panics when the
// field is shorter than n bytes.
func (r *FieldReader) FieldBytes(dst []byte, name string, n int) ([]byte, int) {
	f := r.field(name)
	if n*8 > f.Bits {
		panic(fmt.Sprintf("t2t: FieldReader.FieldBytes: %d bytes of %s, which has %d bits", n, name, f.Bits))
	}
	return r.Bytes(dst, f.Block, f.Off/8, n)
}

// Bits reads n <= 32 bits of block b from bit off, most significant first.
func (r *FieldReader) Bits(b Block, off, n int) (v uint32, vacant int) {
	for _, x := range r.blk[b][off : off+n] {
		if x < 0 {
			vacant++
			x = 0
		}
		v = v<<1 | uint32(x)
	}
	return v, vacant
}

// Bytes appends n bytes of block b from byte k to dst.
func (r *FieldReader) Bytes(dst []byte, b Block, k, n int) ([]byte, int) {
	bits := r.blk[b]
	vacant := 0
	for i := k; i < k+n; i++ {
		var v byte
		for j := 0; j < 8; j++ {
			x := bits[i*8+j]
			if x < 0 {
				vacant++
				x = 0
			}
			v = v<<1 | byte(x)
		}
		dst = append(dst, v)
	}
	return dst, vacant
}

// Present reports whether any of the first n bytes of block b has a bit
// that is not vacant.
func (r *FieldReader) Present(b Block, n int) bool {
	for _, v := range r.blk[b][:n*8] {
		if v >= 0 {
			return true
		}
	}
	return false
}

// Held returns how many bits of the named field the loaded row holds (not
// vacant) and the field's width in the layout: 0, 0 when the layout lacks
// the field.
func (r *FieldReader) Held(name string) (held, bits int) {
	if _, _, ok := r.layout.Field(name); !ok {
		return 0, 0
	}
	f := r.field(name)
	for _, x := range r.blk[f.Block][f.Off : f.Off+f.Bits] {
		if x >= 0 {
			held++
		}
	}
	return held, f.Bits
}

// PayloadHeld is the number of leading payload bytes of the loaded row
// that are not wholly vacant: the payload the row holds.
func (r *FieldReader) PayloadHeld() int {
	bits := r.blk[BlockPayload]
	n := 0
	for n < r.layout.payload && *(*[8]int8)(bits[n*8:]) != vacant8 {
		n++
	}
	return n
}
