package t2t_test

import (
	"bytes"
	"errors"
	"fmt"
	"hash/crc32"
	"image"
	"image/color"
	"image/png"
	"io"
	"math"
	"math/rand"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"t2t"
)

var imgClasses = []string{"dns", "http", "icmp", "ntp", "redis", "sip", "ssh"}

// imgFixture reads the real nPrint CSV <class>-200.f1.nprint (written by
// nprint -4 -6 -t -u -i) as a Matrix over the nPrint layout.
func imgFixture(t testing.TB, class string) *t2t.Matrix {
	t.Helper()
	path := "../shared/fixtures/nprint/captures/" + class + "-200.f1.nprint"
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		t.Skipf("fixture %s absent", path)
	}
	if err != nil {
		t.Fatal(err)
	}
	layout := t2t.NPrintSpec.MustLayout()
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	header := strings.Split(lines[0], ",")
	if !slices.Equal(header[1:], layout.Columns()) {
		t.Fatalf("%s: header does not match the nPrint layout", path)
	}
	m := t2t.NewMatrix(layout, len(lines)-1)
	for r, line := range lines[1:] {
		f := strings.Split(line, ",")
		if len(f) != 1+layout.Width() {
			t.Fatalf("%s:%d: %d fields", path, r+2, len(f))
		}
		for c, s := range f[1:] {
			v, err := strconv.ParseInt(s, 10, 8)
			if err != nil {
				t.Fatalf("%s:%d: %v", path, r+2, err)
			}
			m.SetBit(r, c, int8(v))
		}
	}
	if err := m.Validate(); err != nil {
		t.Fatal(err)
	}
	return m
}

func imgEncode(t testing.TB, m *t2t.Matrix) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := t2t.EncodePNG(&buf, m); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// imgWant is the colour of value v.
func imgWant(v int8) color.RGBA {
	switch v {
	case 1:
		return color.RGBA{255, 0, 0, 255}
	case 0:
		return color.RGBA{0, 255, 0, 255}
	case -1:
		return color.RGBA{0, 0, 255, 255}
	}
	panic(v)
}

func imgRGBA(c color.Color) color.RGBA {
	r, g, b, a := c.RGBA()
	return color.RGBA{uint8(r >> 8), uint8(g >> 8), uint8(b >> 8), uint8(a >> 8)}
}

func TestPalette(t *testing.T) {
	for _, v := range []int8{1, 0, -1} {
		i := t2t.PaletteIndex(v)
		if t2t.PaletteValue(i) != v {
			t.Errorf("PaletteValue(PaletteIndex(%d)) = %d", v, t2t.PaletteValue(i))
		}
		if got := imgRGBA(t2t.Palette[i]); got != imgWant(v) {
			t.Errorf("value %d: colour %v, want %v", v, got, imgWant(v))
		}
		if t2t.Palette.Index(imgWant(v)) != i || t2t.ColorValue(imgWant(v)) != v {
			t.Errorf("value %d: colour does not snap to itself", v)
		}
	}
	if len(t2t.Palette) != 3 {
		t.Fatalf("palette of %d colours", len(t2t.Palette))
	}
	for _, i := range []int{-1, 3} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("PaletteValue(%d) did not panic", i)
				}
			}()
			t2t.PaletteValue(i)
		}()
	}
}

func TestMatrixImage(t *testing.T) {
	m := t2t.NewMatrix(t2t.NetDiffusionSpec.MustLayout(), 3)
	m.SetBit(0, 0, 1)
	m.SetBit(1, 5, 0)
	var img image.PalettedImage = m
	if got, want := img.Bounds(), image.Rect(0, 0, 1088, 3); got != want {
		t.Fatalf("Bounds = %v, want %v", got, want)
	}
	for _, tc := range []struct {
		x, y int
		v    int8
	}{{0, 0, 1}, {1, 0, -1}, {5, 1, 0}, {1087, 2, -1}} {
		if got := imgRGBA(img.At(tc.x, tc.y)); got != imgWant(tc.v) {
			t.Errorf("At(%d,%d) = %v, want %v", tc.x, tc.y, got, imgWant(tc.v))
		}
		if got := img.ColorIndexAt(tc.x, tc.y); int(got) != t2t.PaletteIndex(tc.v) {
			t.Errorf("ColorIndexAt(%d,%d) = %d", tc.x, tc.y, got)
		}
	}
	for _, p := range []image.Point{{-1, 0}, {0, -1}, {1088, 0}, {0, 3}} {
		if got := img.At(p.X, p.Y); got != (color.RGBA{}) {
			t.Errorf("At(%v) = %v, want zero colour", p, got)
		}
		if got := img.ColorIndexAt(p.X, p.Y); got != 0 {
			t.Errorf("ColorIndexAt(%v) = %d, want 0", p, got)
		}
	}
	if img.ColorModel().Convert(color.RGBA{200, 10, 10, 255}) != t2t.Palette[0] {
		t.Error("ColorModel does not snap to the palette")
	}
}

// TestPNGFixtures round-trips real nPrint matrices through PNG.
func TestPNGFixtures(t *testing.T) {
	for _, class := range imgClasses {
		t.Run(class, func(t *testing.T) {
			m := imgFixture(t, class)
			data := imgEncode(t, m)
			// IHDR: width, height, bit depth 2, colour type 3 (paletted).
			if got := string(data[12:16]); got != "IHDR" {
				t.Fatalf("first chunk %q", got)
			}
			w, h := int(be32(data[16:])), int(be32(data[20:]))
			if w != m.Cols || h != m.Rows || data[24] != 2 || data[25] != 3 {
				t.Fatalf("IHDR %dx%d depth %d colour type %d, want %dx%d depth 2 colour type 3",
					w, h, data[24], data[25], m.Cols, m.Rows)
			}
			// An independent decode sees the palette colours.
			img, err := png.Decode(bytes.NewReader(data))
			if err != nil {
				t.Fatal(err)
			}
			if _, ok := img.(*image.Paletted); !ok {
				t.Fatalf("png.Decode gave %T, want *image.Paletted", img)
			}
			for y := 0; y < m.Rows; y++ {
				for x := 0; x < m.Cols; x++ {
					if got, want := imgRGBA(img.At(x, y)), imgWant(m.Bit(y, x)); got != want {
						t.Fatalf("pixel (%d,%d) %v, want %v", x, y, got, want)
					}
				}
			}
			back, err := t2t.DecodePNG(bytes.NewReader(data), m.Layout)
			if err != nil {
				t.Fatal(err)
			}
			if back.Layout != m.Layout || back.Rows != m.Rows || back.Cols != m.Cols || !slices.Equal(back.Bits, m.Bits) {
				t.Fatalf("round trip: %dx%d, want %dx%d; bits equal %v",
					back.Cols, back.Rows, m.Cols, m.Rows, slices.Equal(back.Bits, m.Bits))
			}
			// Every compression level decodes the same.
			for _, level := range []png.CompressionLevel{png.NoCompression, png.BestSpeed, png.BestCompression} {
				var buf bytes.Buffer
				if err := (t2t.PNGOptions{Compression: level}).Encode(&buf, m); err != nil {
					t.Fatal(err)
				}
				back, err := t2t.DecodePNG(&buf, m.Layout)
				if err != nil || !slices.Equal(back.Bits, m.Bits) {
					t.Fatalf("compression %d: round trip fails (%v)", level, err)
				}
			}
		})
	}
}

func be32(b []byte) uint32 {
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
}

// imgCorners are the corners of the RGB cube and their values under
// nearest-colour snapping, ties going to red, then green.
var imgCorners = []struct {
	c color.RGBA
	v int8
}{
	{color.RGBA{0, 0, 0, 255}, 1}, // black: three-way tie
	{color.RGBA{255, 0, 0, 255}, 1},
	{color.RGBA{0, 255, 0, 255}, 0},
	{color.RGBA{0, 0, 255, 255}, -1},
	{color.RGBA{255, 255, 0, 255}, 1}, // yellow: red/green tie
	{color.RGBA{255, 0, 255, 255}, 1}, // magenta: red/blue tie
	{color.RGBA{0, 255, 255, 255}, 0}, // cyan: green/blue tie
	{color.RGBA{255, 255, 255, 255}, 1},
}

// imgAllPaths reads colours laid out as a row through every path of
// MatrixFromImage: *image.NRGBA, *image.RGBA, *image.Paletted, a generic
// image (*image.RGBA64) and a sub-image with a non-zero origin.
func imgAllPaths(t *testing.T, cs []color.NRGBA) map[string][]int8 {
	t.Helper()
	w := len(cs)
	nrgba := image.NewNRGBA(image.Rect(0, 0, w, 1))
	rgba := image.NewRGBA(image.Rect(0, 0, w, 1))
	rgba64 := image.NewRGBA64(image.Rect(0, 0, w, 1))
	sub := image.NewNRGBA(image.Rect(0, 0, w+3, 4))
	for x, c := range cs {
		nrgba.SetNRGBA(x, 0, c)
		rgba.Set(x, 0, c)
		rgba64.Set(x, 0, c)
		sub.SetNRGBA(x+2, 1, c)
	}
	imgs := map[string]image.Image{
		"NRGBA": nrgba, "RGBA": rgba, "RGBA64": rgba64,
		"sub": sub.SubImage(image.Rect(2, 1, w+2, 2)),
	}
	out := map[string][]int8{}
	// Paletted images of up to 256 colours each, one a colour.
	for i := 0; i < w; i += 256 {
		chunk := cs[i:min(i+256, w)]
		p := image.NewPaletted(image.Rect(0, 0, len(chunk), 1), nil)
		for x, c := range chunk {
			p.Palette = append(p.Palette, c)
			p.Pix[x] = uint8(x)
		}
		m, err := t2t.MatrixFromImage(p, nil)
		if err != nil {
			t.Fatalf("Paletted: %v", err)
		}
		out["Paletted"] = append(out["Paletted"], m.Bits...)
	}
	for name, img := range imgs {
		m, err := t2t.MatrixFromImage(img, nil)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if m.Rows != 1 || m.Cols != w || m.Layout != nil {
			t.Fatalf("%s: %dx%d matrix", name, m.Cols, m.Rows)
		}
		out[name] = m.Bits
	}
	return out
}

func TestSnapCorners(t *testing.T) {
	var cs []color.NRGBA
	var want []int8
	for _, tc := range imgCorners {
		if got := t2t.ColorValue(tc.c); got != tc.v {
			t.Errorf("ColorValue(%v) = %d, want %d", tc.c, got, tc.v)
		}
		cs = append(cs, color.NRGBA(tc.c))
		want = append(want, tc.v)
	}
	// Fully transparent: every channel premultiplies to 0, a tie.
	cs = append(cs, color.NRGBA{0, 0, 255, 0})
	want = append(want, 1)
	for name, got := range imgAllPaths(t, cs) {
		if !slices.Equal(got, want) {
			t.Errorf("%s: %v, want %v", name, got, want)
		}
	}
}

// TestSnapNoisy perturbs each palette colour within its Voronoi cell: the
// colour's channel stays in [128,255], the others in [0,127].
func TestSnapNoisy(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	var cs []color.NRGBA
	var want []int8
	for range 3000 {
		v := int8(rng.Intn(3) - 1)
		ch := [3]uint8{uint8(rng.Intn(128)), uint8(rng.Intn(128)), uint8(rng.Intn(128))}
		ch[t2t.PaletteIndex(v)] = 255 - uint8(rng.Intn(128))
		alpha := uint8(255)
		if rng.Intn(4) == 0 {
			alpha = uint8(1 + rng.Intn(255))
		}
		cs = append(cs, color.NRGBA{ch[0], ch[1], ch[2], alpha})
		want = append(want, v)
	}
	for name, got := range imgAllPaths(t, cs) {
		for i := range got {
			if got[i] != want[i] {
				t.Errorf("%s: %v snaps to %d, want %d", name, cs[i], got[i], want[i])
				break
			}
		}
	}
}

// TestSnapMatchesPaletteIndex checks every path against Palette.Index on
// random colours, near-ties and translucent ones.
func TestSnapMatchesPaletteIndex(t *testing.T) {
	rng := rand.New(rand.NewSource(2))
	var cs []color.NRGBA
	for range 5000 {
		c := color.NRGBA{uint8(rng.Intn(256)), uint8(rng.Intn(256)), uint8(rng.Intn(256)), 255}
		switch rng.Intn(4) {
		case 0:
			c.A = uint8(rng.Intn(256))
		case 1: // near-tie
			c.G = c.R + uint8(rng.Intn(3)) - 1
		case 2:
			c.B = c.G
		}
		cs = append(cs, c)
	}
	var want []int8
	for _, c := range cs {
		want = append(want, int8(1-t2t.Palette.Index(c)))
	}
	for name, got := range imgAllPaths(t, cs) {
		for i := range got {
			// RGBA and RGBA64 hold the colour premultiplied, so compare
			// with the colour they hold.
			w := want[i]
			switch name {
			case "RGBA":
				w = int8(1 - t2t.Palette.Index(color.RGBAModel.Convert(cs[i])))
			case "RGBA64":
				w = int8(1 - t2t.Palette.Index(color.RGBA64Model.Convert(cs[i])))
			}
			if got[i] != w {
				t.Errorf("%s: %v snaps to %d, Palette.Index says %d", name, cs[i], got[i], w)
				break
			}
		}
	}
}

func TestMatrixFromImageErrors(t *testing.T) {
	layout := t2t.NetDiffusionSpec.MustLayout()
	_, err := t2t.MatrixFromImage(image.NewNRGBA(image.Rect(0, 0, 1000, 2)), layout)
	if err == nil || !strings.Contains(err.Error(), "1000x2") || !strings.Contains(err.Error(), "1088") {
		t.Errorf("wrong width: %v", err)
	}
	if _, err := t2t.MatrixFromImage(nil, layout); err == nil {
		t.Error("nil image: no error")
	}
	// A colour index outside the palette, and a nil palette colour.
	p := image.NewPaletted(image.Rect(0, 0, 4, 2), color.Palette{color.White, nil})
	p.SetColorIndex(3, 1, 5)
	_, err = t2t.MatrixFromImage(p, nil)
	if err == nil || !strings.Contains(err.Error(), "pixel (3,1)") {
		t.Errorf("index out of palette: %v", err)
	}
	p.SetColorIndex(3, 1, 1)
	if _, err = t2t.MatrixFromImage(p, nil); err == nil || !strings.Contains(err.Error(), "pixel (3,1)") {
		t.Errorf("nil palette colour: %v", err)
	}
	p.SetColorIndex(3, 1, 0)
	m, err := t2t.MatrixFromImage(p, nil)
	if err != nil || m.Layout != nil || m.Cols != 4 || m.Rows != 2 {
		t.Errorf("nil layout: %+v, %v", m, err)
	}
	// An empty image is an empty matrix.
	m, err = t2t.MatrixFromImage(image.NewRGBA(image.Rect(0, 0, 1088, 0)), layout)
	if err != nil || m.Rows != 0 || m.Validate() != nil {
		t.Errorf("empty image: %+v, %v", m, err)
	}
}

// imgPNGHeader is a PNG with a valid IHDR of w x h (2-bit paletted), a
// palette and an empty IDAT: no pixel data.
func imgPNGHeader(w, h uint32) []byte {
	var b bytes.Buffer
	b.WriteString("\x89PNG\r\n\x1a\n")
	chunk := func(typ string, data []byte) {
		var n [4]byte
		put := func(v uint32) { n = [4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)} }
		put(uint32(len(data)))
		b.Write(n[:])
		td := append([]byte(typ), data...)
		b.Write(td)
		put(crc32.ChecksumIEEE(td))
		b.Write(n[:])
	}
	chunk("IHDR", []byte{byte(w >> 24), byte(w >> 16), byte(w >> 8), byte(w),
		byte(h >> 24), byte(h >> 16), byte(h >> 8), byte(h), 2, 3, 0, 0, 0})
	chunk("PLTE", []byte{255, 0, 0, 0, 255, 0, 0, 0, 255})
	chunk("IDAT", nil)
	chunk("IEND", nil)
	return b.Bytes()
}

func TestDecodePNGErrors(t *testing.T) {
	nd := t2t.NetDiffusionSpec.MustLayout()
	m := t2t.NewMatrix(nd, 4)
	m.SetBit(1, 7, 1)
	m.SetBit(2, 9, 0)
	valid := imgEncode(t, m)
	if _, err := t2t.DecodePNG(bytes.NewReader(valid), nd); err != nil {
		t.Fatal(err)
	}
	check := func(name string, data []byte, layout *t2t.Layout, want ...string) error {
		t.Helper()
		got, err := t2t.DecodePNG(bytes.NewReader(data), layout)
		if err == nil {
			t.Errorf("%s: no error (%dx%d)", name, got.Cols, got.Rows)
			return nil
		}
		if !strings.HasPrefix(err.Error(), "t2t: png: ") {
			t.Errorf("%s: error %q lacks the prefix", name, err)
		}
		for _, w := range want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: error %q does not say %q", name, err, w)
			}
		}
		return err
	}
	check("wrong width", valid, t2t.NPrintSpec.MustLayout(), "1088x4", "1408")
	check("too tall", imgPNGHeader(1088, t2t.MaxPNGRows+1), nd, fmt.Sprint(t2t.MaxPNGRows+1), "rows")
	check("too wide", imgPNGHeader(t2t.MaxPNGCols+1, 1), nil, fmt.Sprint(t2t.MaxPNGCols+1), "wide")
	check("no pixel data", imgPNGHeader(1088, 2), nd)
	check("empty", nil, nd)
	check("not PNG", []byte("GIF89a\x01\x00\x01\x00\x00\x00\x00;"), nd, "not a PNG")
	check("text", []byte("src_ip,ipv4_ver_0\n"), nil)
	for _, n := range []int{1, 7, 8, 16, 33, 40, len(valid) / 2, len(valid) - 13, len(valid) - 1} {
		err := check(fmt.Sprintf("truncated at %d", n), valid[:n], nd)
		if err != nil && n < len(valid)-12 && !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Errorf("truncated at %d: %v does not wrap io.ErrUnexpectedEOF", n, err)
		}
	}
	// Flip bits in each byte after the signature: the CRCs catch them.
	for i := 8; i < len(valid); i++ {
		bad := bytes.Clone(valid)
		bad[i] ^= 0x10
		got, err := t2t.DecodePNG(bytes.NewReader(bad), nd)
		if err == nil && (got.Validate() != nil || got.Rows != 4) {
			t.Errorf("flipped byte %d: illegal matrix", i)
		}
	}
}

func TestEncodePNGErrors(t *testing.T) {
	m := t2t.NewMatrix(t2t.NetDiffusionSpec.MustLayout(), 2)
	m.SetBit(1, 3, 2)
	var buf bytes.Buffer
	if err := t2t.EncodePNG(&buf, m); err == nil || !strings.Contains(err.Error(), "row 1, column 3") {
		t.Errorf("illegal value: %v", err)
	}
	if err := t2t.EncodePNG(&buf, t2t.NewMatrix(t2t.NetDiffusionSpec.MustLayout(), 0)); err == nil {
		t.Error("empty matrix: no error")
	}
	if buf.Len() != 0 {
		t.Errorf("%d bytes written on error", buf.Len())
	}
}

func TestPNGFiles(t *testing.T) {
	nd := t2t.NetDiffusionSpec.MustLayout()
	m := t2t.NewMatrix(nd, 3)
	m.SetBit(0, 1, 1)
	m.SetBit(2, 1087, 0)
	dir := t.TempDir()
	path := filepath.Join(dir, "flow.png")
	if err := t2t.WritePNGFile(path, m); err != nil {
		t.Fatal(err)
	}
	back, err := t2t.ReadPNGFile(path, nd)
	if err != nil || !slices.Equal(back.Bits, m.Bits) {
		t.Fatalf("file round trip: %v", err)
	}
	for _, tc := range []struct {
		name string
		err  error
	}{
		{"missing", func() error { _, err := t2t.ReadPNGFile(filepath.Join(dir, "none.png"), nd); return err }()},
		{"wrong layout", func() error { _, err := t2t.ReadPNGFile(path, t2t.NPrintSpec.MustLayout()); return err }()},
		{"corrupt", func() error {
			p := filepath.Join(dir, "bad.png")
			os.WriteFile(p, []byte("\x89PNG\r\n\x1a\nxx"), 0o666)
			_, err := t2t.ReadPNGFile(p, nd)
			return err
		}()},
		{"no dir", t2t.WritePNGFile(filepath.Join(dir, "no", "x.png"), m)},
		{"illegal", func() error {
			bad := t2t.NewMatrix(nd, 1)
			bad.Bits[0] = 9
			return t2t.WritePNGFile(filepath.Join(dir, "illegal.png"), bad)
		}()},
	} {
		if tc.err == nil || !strings.HasPrefix(tc.err.Error(), "t2t: png: ") || !strings.Contains(tc.err.Error(), dir) {
			t.Errorf("%s: error %v does not name the file", tc.name, tc.err)
		}
	}
}

func TestPlanesFixtures(t *testing.T) {
	for _, class := range imgClasses {
		t.Run(class, func(t *testing.T) {
			m := imgFixture(t, class)
			planes := m.Planes()
			n := m.Rows * m.Cols
			if len(planes) != 3*n {
				t.Fatalf("%d planes values, want %d", len(planes), 3*n)
			}
			for i, v := range m.Bits {
				want := imgWant(v)
				for ch, c := range []uint8{want.R, want.G, want.B} {
					w := float32(-1)
					if c == 255 {
						w = 1
					}
					if planes[ch*n+i] != w {
						t.Fatalf("planes[%d][%d][%d] = %v, want %v", ch, i/m.Cols, i%m.Cols, planes[ch*n+i], w)
					}
				}
			}
			back, err := t2t.MatrixFromPlanes(planes, m.Rows, m.Layout)
			if err != nil || back.Layout != m.Layout || !slices.Equal(back.Bits, m.Bits) {
				t.Fatalf("planes round trip: %v", err)
			}
			// Noise below 1 in every channel keeps each pixel in its cell,
			// and a positive scale and a common offset change nothing.
			rng := rand.New(rand.NewSource(3))
			noisy := slices.Clone(planes)
			for i := range noisy {
				noisy[i] += float32(rng.Float64()*1.98 - 0.99)
			}
			for i := range n {
				off := float32(rng.NormFloat64() * 10)
				for ch := range 3 {
					noisy[ch*n+i] = noisy[ch*n+i]*3.5 + off
				}
			}
			back, err = t2t.MatrixFromPlanes(noisy, m.Rows, m.Layout)
			if err != nil || !slices.Equal(back.Bits, m.Bits) {
				t.Fatalf("noisy planes: %v", err)
			}
		})
	}
}

func TestPlanesTies(t *testing.T) {
	inf := float32(math.Inf(1))
	for _, tc := range []struct {
		r, g, b float32
		v       int8
	}{
		{0, 0, 0, 1},
		{-1, 0.5, 0.5, 0},
		{0.5, -1, 0.5, 1},
		{-3, -2, -1, -1},
		{inf, inf, 0, 1},
		{-inf, -inf, -inf, 1},
		{-inf, 0, -inf, 0},
		{-inf, -inf, -1e30, -1},
		{float32(math.Copysign(0, -1)), 0, 0, 1}, // -0 == 0
	} {
		m, err := t2t.MatrixFromPlanes([]float32{tc.r, tc.g, tc.b}, 1, nil)
		if err != nil || m.Cols != 1 || m.Bits[0] != tc.v {
			t.Errorf("(%v,%v,%v): %+v %v, want %d", tc.r, tc.g, tc.b, m, err, tc.v)
		}
	}
}

func TestPlanesErrors(t *testing.T) {
	nd := t2t.NetDiffusionSpec.MustLayout()
	good := t2t.NewMatrix(nd, 2).Planes()
	for _, tc := range []struct {
		name   string
		planes []float32
		rows   int
		layout *t2t.Layout
		want   string
	}{
		{"short", good[:len(good)-1], 2, nd, "6527 values"},
		{"long", append(slices.Clone(good), 0), 2, nd, "6529 values"},
		{"rows", good, 3, nd, "[3,3,1088]"},
		{"negative rows", good, -1, nd, "-1 rows"},
		{"nil layout", make([]float32, 10), 2, nil, "10 values"},
		{"no rows", make([]float32, 3), 0, nil, "3 values"},
	} {
		m, err := t2t.MatrixFromPlanes(tc.planes, tc.rows, tc.layout)
		if err == nil || m != nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want error saying %q", tc.name, err, tc.want)
		}
	}
	m, err := t2t.MatrixFromPlanes(make([]float32, 12), 2, nil)
	if err != nil || m.Cols != 2 || m.Layout != nil {
		t.Errorf("nil layout: %+v %v", m, err)
	}
	m, err = t2t.MatrixFromPlanes(nil, 0, nd)
	if err != nil || m.Rows != 0 || m.Cols != 1088 || m.Validate() != nil {
		t.Errorf("no rows: %+v %v", m, err)
	}
	// NaN in any channel is an error naming the pixel.
	n := 2 * 1088
	for ch := range 3 {
		p := slices.Clone(good)
		p[ch*n+1088+17] = float32(math.NaN())
		m, err := t2t.MatrixFromPlanes(p, 2, nd)
		if err == nil || m != nil || !strings.Contains(err.Error(), "NaN at row 1, column 17") {
			t.Errorf("NaN in channel %d: %v", ch, err)
		}
	}
	// SetPlanes on a matrix of another shape.
	if err := t2t.NewMatrix(nd, 3).SetPlanes(good); err == nil {
		t.Error("SetPlanes: shape mismatch not reported")
	}
}

func TestAppendPlanes(t *testing.T) {
	nd := t2t.NetDiffusionSpec.MustLayout()
	a, b := t2t.NewMatrix(nd, 2), t2t.NewMatrix(nd, 2)
	a.SetBit(0, 0, 1)
	b.SetBit(1, 1, 0)
	batch := make([]float32, 0, 2*3*2*1088)
	batch = a.AppendPlanes(batch)
	batch = b.AppendPlanes(batch)
	if !slices.Equal(batch, append(a.Planes(), b.Planes()...)) {
		t.Fatal("batch is not the planes one after the other")
	}
	if n := testing.AllocsPerRun(10, func() { batch = b.AppendPlanes(a.AppendPlanes(batch[:0])) }); n != 0 {
		t.Errorf("AppendPlanes: %v allocations with room", n)
	}
	if n := testing.AllocsPerRun(10, func() { b.SetPlanes(batch[:3*2*1088]) }); n != 0 {
		t.Errorf("SetPlanes: %v allocations", n)
	}
	if !slices.Equal(b.Bits, a.Bits) {
		t.Error("SetPlanes did not write the bits")
	}
}

func ExampleMatrix_png() {
	m := t2t.NewMatrix(t2t.NetDiffusionSpec.MustLayout(), 2) // all -1
	m.SetBit(0, 0, 1)
	m.SetBit(0, 1, 0)

	var buf bytes.Buffer
	if err := t2t.EncodePNG(&buf, m); err != nil {
		panic(err)
	}
	back, err := t2t.DecodePNG(&buf, m.Layout)
	if err != nil {
		panic(err)
	}
	fmt.Println(back.Bounds(), back.Row(0)[:3], back.At(0, 0), back.At(2, 0))
	fmt.Println(m.Planes()[:3])
	// Output:
	// (0,0)-(1088,2) [1 0 -1] {255 0 0 255} {0 0 255 255}
	// [1 -1 -1]
}

// imgBenchMatrix is 1024 rows over the NetDiffusion layout, filled from a
// real capture when the fixture is there, else random bits.
func imgBenchMatrix(b *testing.B) *t2t.Matrix {
	nd := t2t.NetDiffusionSpec.MustLayout()
	m := t2t.NewMatrix(nd, 1024)
	if _, err := os.Stat("../shared/fixtures/nprint/captures/http-200.f1.nprint"); err == nil {
		src := imgFixture(b, "http")
		col := map[string]int{}
		for i, c := range src.Layout.Columns() {
			col[c] = i
		}
		for c, name := range nd.Columns() {
			sc, ok := col[name]
			if !ok {
				continue
			}
			for r := range m.Rows {
				m.SetBit(r, c, src.Bit(r%src.Rows, sc))
			}
		}
		return m
	}
	rng := rand.New(rand.NewSource(4))
	for i := range m.Bits {
		m.Bits[i] = int8(rng.Intn(3) - 1)
	}
	return m
}

func BenchmarkPNGEncode(b *testing.B) {
	m := imgBenchMatrix(b)
	for _, bc := range []struct {
		name  string
		level png.CompressionLevel
	}{{"default", png.DefaultCompression}, {"bestspeed", png.BestSpeed}, {"nocompression", png.NoCompression}} {
		b.Run(bc.name, func(b *testing.B) {
			o := t2t.PNGOptions{Compression: bc.level}
			var buf bytes.Buffer
			if err := o.Encode(&buf, m); err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(len(m.Bits)))
			for b.Loop() {
				buf.Reset()
				o.Encode(&buf, m)
			}
			b.ReportMetric(float64(buf.Len()), "png-bytes")
		})
	}
}

func BenchmarkPNGDecode(b *testing.B) {
	m := imgBenchMatrix(b)
	data := imgEncode(b, m)
	b.SetBytes(int64(len(m.Bits)))
	for b.Loop() {
		if _, err := t2t.DecodePNG(bytes.NewReader(data), m.Layout); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkPlanes(b *testing.B) {
	m := imgBenchMatrix(b)
	buf := make([]float32, 0, 3*len(m.Bits))
	b.SetBytes(int64(4 * cap(buf)))
	for b.Loop() {
		buf = m.AppendPlanes(buf[:0])
	}
}

func BenchmarkMatrixFromPlanes(b *testing.B) {
	m := imgBenchMatrix(b)
	planes := m.Planes()
	b.Run("SetPlanes", func(b *testing.B) {
		b.SetBytes(int64(4 * len(planes)))
		dst := t2t.NewMatrix(m.Layout, m.Rows)
		for b.Loop() {
			if err := dst.SetPlanes(planes); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("alloc", func(b *testing.B) {
		b.SetBytes(int64(4 * len(planes)))
		for b.Loop() {
			if _, err := t2t.MatrixFromPlanes(planes, m.Rows, m.Layout); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func TestPNGRowScale(t *testing.T) {
	l := t2t.NetDiffusionSpec.MustLayout()
	m := t2t.NewMatrix(l, 3)
	m.SetBit(0, 0, 1)
	m.SetBit(1, 5, 0)
	m.SetBit(2, 7, 1)
	var buf bytes.Buffer
	if err := (t2t.PNGOptions{RowScale: 4}).Encode(&buf, m); err != nil {
		t.Fatal(err)
	}
	got, err := t2t.DecodePNG(&buf, l)
	if err != nil {
		t.Fatal(err)
	}
	if got.Rows != 12 {
		t.Fatalf("row scale 4 of 3 rows: %d pixel rows, want 12", got.Rows)
	}
	for r := 0; r < got.Rows; r++ {
		for c := 0; c < l.Width(); c++ {
			if got.Bit(r, c) != m.Bit(r/4, c) {
				t.Fatalf("pixel (%d,%d) = %d, want row %d's %d", c, r, got.Bit(r, c), r/4, m.Bit(r/4, c))
			}
		}
	}
	for _, bad := range []int{-1, t2t.MaxRowScale + 1} {
		if err := (t2t.PNGOptions{RowScale: bad}).Encode(&buf, m); err == nil || !strings.Contains(err.Error(), "row scale") {
			t.Errorf("row scale %d: %v", bad, err)
		}
	}
}
