package controlnet

import (
	"bytes"

	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"os"

	"t2t"
	"t2t/unet"
)

// Control is a flow's structure map, the control image of a ControlNet:
// for each of Rows packet rows and each of Cols bit columns, whether the
// bit is present (the packet has that header field or option) or vacant.
// A row with no present bit is no packet, so the map also fixes how many
// packets the flow has.
type Control struct {
	Rows, Cols int
	Present    []bool // Rows·Cols, row-major
	// Known, when not nil, holds Rows·Cols bits the flow must carry
	// besides its structure: 0 or 1 where the bit is fixed, -1 where it
	// is not. Templates fix the server's port in the port field of each
	// packet's direction, so that a masked model draws a flow whose
	// packets go the ways a real flow's do (pipeline.StructureStart). A
	// ControlNet sees only Present.
	Known []int8
}

// FromMatrix is the structure map of m over rows rows: a bit is present
// where m's is 0 or 1, vacant where it is -1; rows past m.Rows are vacant,
// rows of m past rows are left out.
func FromMatrix(m *t2t.Matrix, rows int) *Control {
	c := &Control{Rows: rows, Cols: m.Cols, Present: make([]bool, rows*m.Cols)}
	for r := 0; r < min(rows, m.Rows); r++ {
		for j, v := range m.Row(r) {
			c.Present[r*m.Cols+j] = v != -1
		}
	}
	return c
}

// Packets is the number of rows with at least one present bit.
func (c *Control) Packets() int {
	n := 0
	for r := 0; r < c.Rows; r++ {
		for _, p := range c.Present[r*c.Cols : (r+1)*c.Cols] {
			if p {
				n++
				break
			}
		}
	}
	return n
}

// Transport is the transport header most packet rows of the map have:
// "tcp", "udp", "icmp" (unet.TransportWords), or "" if none has one.
func (c *Control) Transport(l *t2t.Layout) string {
	var n [3]int
	for k, f := range []string{"tcp_sprt", "udp_sport", "icmp_type"} {
		col, _, ok := l.Field(f)
		if !ok || col >= c.Cols {
			continue
		}
		for r := 0; r < c.Rows; r++ {
			if c.Present[r*c.Cols+col] {
				n[k]++
			}
		}
	}
	best := -1
	for k := range n {
		if n[k] > 0 && (best < 0 || n[k] > n[best]) {
			best = k
		}
	}
	if best < 0 {
		return ""
	}
	return unet.TransportWords[best]
}

// Values is the control as the ControlNet reads it: +1 present, -1 vacant.
func (c *Control) Values() []float32 {
	v := make([]float32, len(c.Present))
	for i, p := range c.Present {
		v[i] = -1
		if p {
			v[i] = 1
		}
	}
	return v
}

// Match compares a generated flow with the control: the share of the
// Rows·Cols bits whose presence (m's bit is 0 or 1) agrees with the map
// (rows past m.Rows count as vacant), and m's packet count (non-vacant
// rows) against the map's.
func (c *Control) Match(m *t2t.Matrix) (bits float64, packets, want int) {
	if m.Cols != c.Cols {
		return 0, 0, c.Packets()
	}
	same := 0
	for r := 0; r < c.Rows; r++ {
		var row []int8
		if r < m.Rows {
			row = m.Row(r)
			if !m.RowVacant(r) {
				packets++
			}
		}
		for j := 0; j < c.Cols; j++ {
			present := row != nil && row[j] != -1
			if present == c.Present[r*c.Cols+j] {
				same++
			}
		}
	}
	return float64(same) / float64(c.Rows*c.Cols), packets, c.Packets()
}

// Image draws the map: white where present, black where vacant, one pixel
// per bit, one row per packet.
func (c *Control) Image() *image.Gray {
	img := image.NewGray(image.Rect(0, 0, c.Cols, c.Rows))
	for i, p := range c.Present {
		if p {
			img.Pix[i] = 0xff
		}
	}
	return img
}

// WritePNG encodes the map as a black-and-white PNG.
func (c *Control) WritePNG(w io.Writer) error { return png.Encode(w, c.Image()) }

// WritePNGFile writes the map to path as a PNG.
func (c *Control) WritePNGFile(path string) error {
	var b bytes.Buffer
	if err := c.WritePNG(&b); err != nil {
		return err
	}
	return os.WriteFile(path, b.Bytes(), 0o644)
}

// MaxPNGPixels bounds the size DecodePNG accepts.
const MaxPNGPixels = 1 << 24

// DecodePNG reads a control image drawn by hand or written by WritePNG or
// t2t.EncodePNG: cols pixels wide (the layout's width), at most rows high
// (missing rows are vacant). A pixel is vacant when it is dark (no
// channel above half) or blue (blue above red and green, the t2t palette's
// colour for -1), present otherwise (white, or a flow image's red and
// green). Transparent pixels are vacant.
func DecodePNG(r io.Reader, cols, rows int) (*Control, error) {
	data, err := io.ReadAll(io.LimitReader(r, 64<<20))
	if err != nil {
		return nil, fmt.Errorf("controlnet: reading the PNG: %w", err)
	}
	cfg, err := png.DecodeConfig(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("controlnet: control PNG: %w", err)
	}
	switch {
	case cfg.Width != cols:
		return nil, fmt.Errorf("controlnet: control PNG is %d pixels wide, the model's rows have %d bits", cfg.Width, cols)
	case cfg.Height > rows:
		return nil, fmt.Errorf("controlnet: control PNG has %d rows, the model takes %d packets", cfg.Height, rows)
	case cfg.Height < 1 || cfg.Width*cfg.Height > MaxPNGPixels:
		return nil, fmt.Errorf("controlnet: control PNG of %dx%d pixels", cfg.Width, cfg.Height)
	}
	img, err := png.Decode(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("controlnet: control PNG: %w", err)
	}
	c := &Control{Rows: rows, Cols: cols, Present: make([]bool, rows*cols)}
	b := img.Bounds()
	for y := 0; y < cfg.Height; y++ {
		for x := 0; x < cols; x++ {
			c.Present[y*cols+x] = present(img.At(b.Min.X+x, b.Min.Y+y))
		}
	}
	return c, nil
}

func present(px color.Color) bool {
	r, g, b, a := px.RGBA()
	if a < 0x8000 {
		return false
	}
	if max(r, g, b) < 0x8000 {
		return false
	}
	return !(b > r && b > g)
}

// ReadPNGFile reads a control PNG from path (see DecodePNG).
func ReadPNGFile(path string, cols, rows int) (*Control, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	c, err := DecodePNG(f, cols, rows)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}
