package t2t

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"os"
	"slices"
)

// The colours of the three nPrint values, as NetDiffusion draws them.
var (
	ColorOne    = color.RGBA{R: 255, A: 255} // value 1: red
	ColorZero   = color.RGBA{G: 255, A: 255} // value 0: green
	ColorVacant = color.RGBA{B: 255, A: 255} // value -1: blue
)

// Palette is the colour model of a Matrix seen as an image. Palette index i
// stands for the value 1-i: index 0 is red (1), 1 is green (0), 2 is blue
// (-1). Palette.Index snaps any colour to the nearest of the three, which
// for these colours is the channel with the largest (alpha-premultiplied)
// value, ties going to the lowest index: red, then green, then blue. So a
// grey or fully transparent pixel reads as 1.
//
// Palette must not be modified.
var Palette = color.Palette{ColorOne, ColorZero, ColorVacant}

// PaletteIndex returns the Palette index of value v: 0 for 1, 1 for 0 and
// 2 for -1. A value other than 1, 0 or -1 is taken by its sign (Validate
// rejects such values).
func PaletteIndex(v int8) int {
	switch {
	case v > 0:
		return 0
	case v == 0:
		return 1
	}
	return 2
}

// PaletteValue returns the value of Palette index i (0, 1 or 2): 1 - i.
// It panics if i is out of range.
func PaletteValue(i int) int8 {
	if i < 0 || i >= len(Palette) {
		panic(fmt.Sprintf("t2t: palette index %d out of range [0,%d)", i, len(Palette)))
	}
	return int8(1 - i)
}

// ColorValue snaps c to the nearest Palette colour and returns its value.
func ColorValue(c color.Color) int8 { return int8(1 - Palette.Index(c)) }

// ColorModel returns Palette: a Matrix is an image.PalettedImage, so
// png.Encode writes it as a paletted PNG (colour type 3, 2 bits a pixel).
func (m *Matrix) ColorModel() color.Model { return Palette }

// Bounds is (0,0)-(Cols,Rows): x is the column (bit), y the row (packet),
// the first packet on top.
func (m *Matrix) Bounds() image.Rectangle { return image.Rect(0, 0, m.Cols, m.Rows) }

// At returns the Palette colour of the value at column x, row y, or the
// zero color.RGBA (transparent black) outside the bounds, as image.RGBA
// does.
func (m *Matrix) At(x, y int) color.Color {
	if uint(x) >= uint(m.Cols) || uint(y) >= uint(m.Rows) {
		return color.RGBA{}
	}
	return Palette[PaletteIndex(m.Bits[y*m.Cols+x])]
}

// ColorIndexAt returns the Palette index of the value at column x, row y,
// or 0 outside the bounds, as image.Paletted does.
func (m *Matrix) ColorIndexAt(x, y int) uint8 {
	if uint(x) >= uint(m.Cols) || uint(y) >= uint(m.Rows) {
		return 0
	}
	return uint8(PaletteIndex(m.Bits[y*m.Cols+x]))
}

var _ image.PalettedImage = (*Matrix)(nil)

// argmax returns the index of the largest of r, g, b, the lowest on ties:
// Palette.Index for an opaque or premultiplied colour.
func argmax[T uint8 | float32](r, g, b T) uint8 {
	i, best := uint8(0), r
	if g > best {
		i, best = 1, g
	}
	if b > best {
		i = 2
	}
	return i
}

// MatrixFromImage reads img as a Matrix over layout, one row per pixel row
// (top first), each pixel snapped to the nearest Palette colour (see
// Palette). The image must be layout.Width() pixels wide. With a nil layout
// any width is accepted and the Matrix has a nil Layout and Cols equal to
// the width. The Matrix has no Times.
//
// *image.Paletted, *image.NRGBA and *image.RGBA are read directly; other
// images through At and Palette.Index, with the same result.
func MatrixFromImage(img image.Image, layout *Layout) (*Matrix, error) {
	if img == nil {
		return nil, errors.New("t2t: image: nil image")
	}
	r := img.Bounds()
	w, h := r.Dx(), r.Dy()
	if layout != nil && w != layout.Width() {
		return nil, fmt.Errorf("t2t: image: %dx%d image for layout %v: want %d pixels wide", w, h, layout, layout.Width())
	}
	m := &Matrix{Layout: layout, Rows: h, Cols: w, Bits: make([]int8, w*h)}
	switch p := img.(type) {
	case *image.Paletted:
		// value of each palette index, or invalid for an index outside
		// the palette or of a nil colour.
		const invalid = 2
		var lut [256]int8
		for i := range lut {
			lut[i] = invalid
			if i < len(p.Palette) && p.Palette[i] != nil {
				lut[i] = ColorValue(p.Palette[i])
			}
		}
		for y := 0; y < h; y++ {
			row, dst := p.Pix[y*p.Stride:y*p.Stride+w], m.Row(y)
			for x, ci := range row {
				v := lut[ci]
				if v == invalid {
					return nil, fmt.Errorf("t2t: image: pixel (%d,%d) has colour index %d of a %d-colour palette", r.Min.X+x, r.Min.Y+y, ci, len(p.Palette))
				}
				dst[x] = v
			}
		}
	case *image.NRGBA:
		for y := 0; y < h; y++ {
			pix, dst := p.Pix[y*p.Stride:y*p.Stride+4*w], m.Row(y)
			for x := range dst {
				s := pix[4*x : 4*x+4 : 4*x+4]
				if s[3] == 0 {
					dst[x] = 1 // all channels premultiply to 0: a tie
					continue
				}
				dst[x] = 1 - int8(argmax(s[0], s[1], s[2]))
			}
		}
	case *image.RGBA:
		for y := 0; y < h; y++ {
			pix, dst := p.Pix[y*p.Stride:y*p.Stride+4*w], m.Row(y)
			for x := range dst {
				s := pix[4*x : 4*x+3 : 4*x+3]
				dst[x] = 1 - int8(argmax(s[0], s[1], s[2]))
			}
		}
	default:
		for y := 0; y < h; y++ {
			dst := m.Row(y)
			for x := range dst {
				dst[x] = ColorValue(img.At(r.Min.X+x, r.Min.Y+y))
			}
		}
	}
	return m, nil
}

// MaxPNGRows and MaxPNGCols bound the size of a PNG that DecodePNG
// accepts; they are checked on the header, before any pixel is decoded.
// MaxPNGCols only matters without a layout.
const (
	MaxPNGRows = 1 << 20
	MaxPNGCols = 1 << 16
)

// DecodePNG reads a PNG image from r as a Matrix over layout, snapping
// each pixel to the nearest Palette colour (see MatrixFromImage; a nil
// layout accepts any width). The header is checked first: an image of the
// wrong width or of more than MaxPNGRows rows is rejected before its pixels
// are decoded. Errors start with "t2t: png:"; truncated input gives an
// error wrapping io.ErrUnexpectedEOF.
func DecodePNG(r io.Reader, layout *Layout) (*Matrix, error) {
	m, err := decodePNG(r, layout)
	if err != nil {
		return nil, fmt.Errorf("t2t: png: %w", err)
	}
	return m, nil
}

func decodePNG(r io.Reader, layout *Layout) (*Matrix, error) {
	// Keep what DecodeConfig reads, to decode it again with the rest.
	var head bytes.Buffer
	cfg, err := png.DecodeConfig(io.TeeReader(r, &head))
	if err != nil {
		return nil, err
	}
	switch {
	case layout != nil && cfg.Width != layout.Width():
		return nil, fmt.Errorf("%dx%d image for layout %v: want %d pixels wide", cfg.Width, cfg.Height, layout, layout.Width())
	case cfg.Width > MaxPNGCols:
		return nil, fmt.Errorf("%dx%d image: more than %d pixels wide", cfg.Width, cfg.Height, MaxPNGCols)
	case cfg.Height > MaxPNGRows:
		return nil, fmt.Errorf("%dx%d image: more than %d rows", cfg.Width, cfg.Height, MaxPNGRows)
	}
	img, err := png.Decode(io.MultiReader(&head, r))
	if err != nil {
		return nil, err
	}
	return MatrixFromImage(img, layout)
}

// PNGOptions says how EncodePNG and WritePNGFile compress. The zero value
// is png.DefaultCompression.
type PNGOptions struct {
	Compression png.CompressionLevel
	// RowScale, when above 1, draws every row (packet) RowScale pixels
	// tall, so that a flow of 32 packets is visible beside its 1088
	// columns. Such an image is for viewing: DecodePNG reads each of its
	// pixel rows as a packet.
	RowScale int
}

// MaxRowScale bounds PNGOptions.RowScale.
const MaxRowScale = 64

// rowScaled is a Matrix drawn with every row s pixels tall.
type rowScaled struct {
	m *Matrix
	s int
}

func (r rowScaled) ColorModel() color.Model { return Palette }
func (r rowScaled) Bounds() image.Rectangle { return image.Rect(0, 0, r.m.Cols, r.m.Rows*r.s) }
func (r rowScaled) At(x, y int) color.Color { return r.m.At(x, y/r.s) }
func (r rowScaled) ColorIndexAt(x, y int) uint8 {
	return r.m.ColorIndexAt(x, y/r.s)
}

// EncodePNG writes m to w as a paletted PNG (see Matrix.ColorModel) with
// the default compression. It checks m first (Validate); a Matrix of no
// rows or no columns cannot be written. The Times are not written.
func EncodePNG(w io.Writer, m *Matrix) error { return PNGOptions{}.Encode(w, m) }

// Encode is EncodePNG with the options o.
func (o PNGOptions) Encode(w io.Writer, m *Matrix) error {
	if err := o.encode(w, m); err != nil {
		return fmt.Errorf("t2t: png: %w", err)
	}
	return nil
}

func (o PNGOptions) encode(w io.Writer, m *Matrix) error {
	if err := m.Validate(); err != nil {
		return err
	}
	if m.Rows == 0 || m.Cols == 0 {
		return fmt.Errorf("cannot write a %dx%d image", m.Cols, m.Rows)
	}
	e := png.Encoder{CompressionLevel: o.Compression}
	switch {
	case o.RowScale < 0 || o.RowScale > MaxRowScale:
		return fmt.Errorf("row scale %d: want 0 to %d", o.RowScale, MaxRowScale)
	case o.RowScale > 1:
		if m.Rows*o.RowScale > MaxPNGRows {
			return fmt.Errorf("%d rows at row scale %d: more than %d pixel rows", m.Rows, o.RowScale, MaxPNGRows)
		}
		return e.Encode(w, rowScaled{m, o.RowScale})
	}
	return e.Encode(w, m)
}

// ReadPNGFile reads the PNG file at path as a Matrix over layout (see
// DecodePNG). Errors name the file.
func ReadPNGFile(path string, layout *Layout) (*Matrix, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("t2t: png: %w", err) // names the file
	}
	defer f.Close()
	m, err := decodePNG(f, layout)
	if err != nil {
		return nil, fmt.Errorf("t2t: png: %s: %w", path, err)
	}
	return m, nil
}

// WritePNGFile writes m to the file at path as a paletted PNG (see
// EncodePNG), replacing the file. Errors name the file.
func WritePNGFile(path string, m *Matrix) error { return PNGOptions{}.WriteFile(path, m) }

// WriteFile is WritePNGFile with the options o.
func (o PNGOptions) WriteFile(path string, m *Matrix) error {
	var buf bytes.Buffer
	if err := o.encode(&buf, m); err != nil {
		return fmt.Errorf("t2t: png: %s: %w", path, err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o666); err != nil {
		return fmt.Errorf("t2t: png: %w", err) // names the file
	}
	return nil
}

// planeValues[PaletteIndex(v)] is the (red, green, blue) of value v in the
// planes: +1 where the Palette colour has the channel at 255, -1 elsewhere.
var planeValues = [3][3]float32{{1, -1, -1}, {-1, 1, -1}, {-1, -1, 1}}

// Planes returns m as the model sees it: three planes [3, Rows, Cols],
// channel-major (red, green, blue), each value +1 where the pixel's
// Palette colour has that channel at 255 and -1 elsewhere. A 1 is
// (+1,-1,-1), a 0 (-1,+1,-1), a -1 (-1,-1,+1).
func (m *Matrix) Planes() []float32 { return m.AppendPlanes(nil) }

// AppendPlanes appends Planes to dst and returns the extended slice; it
// does not allocate when dst has room, so a batch [B,3,Rows,Cols] is built
// by appending each sample in turn.
func (m *Matrix) AppendPlanes(dst []float32) []float32 {
	n := m.Rows * m.Cols
	bits := m.Bits[:n]
	start := len(dst)
	dst = slices.Grow(dst, 3*n)[:start+3*n]
	red := dst[start : start+n]
	green := dst[start+n : start+2*n]
	blue := dst[start+2*n : start+3*n]
	for i, v := range bits {
		c := &planeValues[PaletteIndex(v)]
		red[i], green[i], blue[i] = c[0], c[1], c[2]
	}
	return dst
}

// MatrixFromPlanes snaps planes [3, rows, cols] (as Planes makes them,
// values in any range) to a Matrix over layout: each pixel becomes the
// value of its largest channel, ties going to red, then green, then blue
// (as Palette.Index breaks them). cols is layout.Width(); with a nil layout
// it is len(planes)/(3*rows) and the Matrix has a nil Layout. A length that
// does not fit, or a NaN, is an error (see SetPlanes).
func MatrixFromPlanes(planes []float32, rows int, layout *Layout) (*Matrix, error) {
	if rows < 0 {
		return nil, fmt.Errorf("t2t: planes: %d rows", rows)
	}
	var cols int
	switch {
	case layout != nil:
		cols = layout.Width()
	case rows > 0:
		cols = len(planes) / (3 * rows)
	}
	if len(planes) != 3*rows*cols {
		if layout == nil {
			return nil, fmt.Errorf("t2t: planes: %d values do not make [3,%d,cols]", len(planes), rows)
		}
		return nil, fmt.Errorf("t2t: planes: %d values for layout %v, want [3,%d,%d] = %d", len(planes), layout, rows, cols, 3*rows*cols)
	}
	m := &Matrix{Layout: layout, Rows: rows, Cols: cols, Bits: make([]int8, rows*cols)}
	if err := m.SetPlanes(planes); err != nil {
		return nil, err
	}
	return m, nil
}

// SetPlanes snaps planes [3, Rows, Cols] into m.Bits in place (see
// MatrixFromPlanes), without allocating. A length other than 3*Rows*Cols
// is an error. So is a NaN in a pixel, an error naming the first such
// pixel; m is then left partly written. Infinities are ordinary values.
func (m *Matrix) SetPlanes(planes []float32) error {
	n := m.Rows * m.Cols
	if len(planes) != 3*n || len(m.Bits) != n {
		return fmt.Errorf("t2t: planes: %d values for a %dx%d matrix of %d values, want [3,%d,%d] = %d",
			len(planes), m.Rows, m.Cols, len(m.Bits), m.Rows, m.Cols, 3*n)
	}
	red, green, blue := planes[:n], planes[n:2*n], planes[2*n:3*n]
	bits := m.Bits[:n]
	for i := range bits {
		r, g, b := red[i], green[i], blue[i]
		if r != r || g != g || b != b { // NaN
			return fmt.Errorf("t2t: planes: NaN at row %d, column %d: (%v, %v, %v)", i/m.Cols, i%m.Cols, r, g, b)
		}
		bits[i] = 1 - int8(argmax(r, g, b))
	}
	return nil
}
