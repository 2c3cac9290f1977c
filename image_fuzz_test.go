package t2t_test

import (
	"bytes"
	"image/png"
	"slices"
	"testing"

	"t2t"
)

// FuzzImageSnap feeds arbitrary bytes to DecodePNG, with no layout (any
// width) and with the NetDiffusion layout. It must not panic; a Matrix it
// returns must be legal, hold Palette.Index of each pixel as png.Decode
// sees it, and survive EncodePNG and DecodePNG unchanged.
func FuzzImageSnap(f *testing.F) {
	// Seeds beyond testdata/fuzz/FuzzImageSnap: a real matrix and a
	// header of a too-tall image.
	nd := t2t.NetDiffusionSpec.MustLayout()
	m := t2t.NewMatrix(nd, 2)
	m.SetBit(0, 3, 1)
	m.SetBit(1, 4, 0)
	var buf bytes.Buffer
	if err := t2t.EncodePNG(&buf, m); err != nil {
		f.Fatal(err)
	}
	f.Add(buf.Bytes())
	f.Add(imgPNGHeader(3, t2t.MaxPNGRows+1))

	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := png.DecodeConfig(bytes.NewReader(data))
		if err == nil && cfg.Width <= t2t.MaxPNGCols && cfg.Height <= t2t.MaxPNGRows &&
			int64(cfg.Width)*int64(cfg.Height) > 1<<22 {
			return // legal but too big to decode at fuzzing speed
		}
		for _, layout := range []*t2t.Layout{nil, nd} {
			m, err := t2t.DecodePNG(bytes.NewReader(data), layout)
			if err != nil {
				if m != nil {
					t.Fatalf("matrix with error %v", err)
				}
				continue
			}
			if err := m.Validate(); err != nil {
				t.Fatal(err)
			}
			if m.Layout != layout || m.Cols != cfg.Width || m.Rows != cfg.Height {
				t.Fatalf("%dx%d matrix (layout %v) from a %dx%d image", m.Cols, m.Rows, m.Layout, cfg.Width, cfg.Height)
			}
			img, err := png.Decode(bytes.NewReader(data))
			if err != nil {
				t.Fatalf("DecodePNG succeeded where png.Decode fails: %v", err)
			}
			b := img.Bounds()
			for y := range m.Rows {
				for x := range m.Cols {
					c := img.At(b.Min.X+x, b.Min.Y+y)
					if want := t2t.ColorValue(c); m.Bit(y, x) != want {
						t.Fatalf("%T pixel (%d,%d) %v read as %d, Palette.Index says %d", img, x, y, c, m.Bit(y, x), want)
					}
				}
			}
			if m.Rows == 0 || m.Cols == 0 {
				continue
			}
			var out bytes.Buffer
			if err := t2t.EncodePNG(&out, m); err != nil {
				t.Fatal(err)
			}
			back, err := t2t.DecodePNG(&out, layout)
			if err != nil {
				t.Fatal(err)
			}
			if back.Rows != m.Rows || back.Cols != m.Cols || !slices.Equal(back.Bits, m.Bits) {
				t.Fatal("re-encoded matrix differs")
			}
		}
	})
}
