package evaluate

import (
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"io"
	"slices"
	"t2t"

	"t2t/pcapio"
)

// ChartFields are the fields WriteFieldsPNG draws, one panel each, top to
// bottom.
var ChartFields = []string{"ip_len", "tcp_flags", "tcp_wsize", "udp_len", "flow_iat", "flow_packets"}

// chartBins is the most bars a panel has per side: fields with more
// distinct values are binned in equal widths.
const chartBins = 48

// FieldChart draws one panel per field, top to bottom: the distribution
// of the field's values in real (blue, barColors[0]) and synthetic
// (orange, barColors[1]) side by side, as shares of each side's count,
// scaled so the tallest bar of the panel fills it. A field with at most
// chartBins distinct values (on both sides together) gets one bin per
// value, in value order; one with more gets chartBins equal-width bins
// from its smallest value to its largest. A field with no values on
// either side is an empty panel. As in BarChart there is no text.
func FieldChart(real, synth map[string]Histogram, fields []string) *image.RGBA {
	const barW, panelH, pad = 3, 90, 10
	w := 2*pad + chartBins*(2*barW+2)
	img := image.NewRGBA(image.Rect(0, 0, w, pad+len(fields)*(panelH+pad)))
	draw.Draw(img, img.Bounds(), image.White, image.Point{}, draw.Src)
	grid := color.RGBA{0xdd, 0xdd, 0xdd, 0xff}
	axis := color.RGBA{0x88, 0x88, 0x88, 0xff}
	for i, name := range fields {
		top := pad + i*(panelH+pad)
		base := top + panelH
		for q := 1; q <= 4; q++ {
			y := base - q*panelH/4
			for x := pad; x < w-pad; x++ {
				img.Set(x, y, grid)
			}
		}
		for x := pad; x < w-pad; x++ {
			img.Set(x, base, axis)
		}
		bins := binShares(real[name], synth[name])
		peak := 0.0
		for _, b := range bins {
			peak = max(peak, b[0], b[1])
		}
		if peak == 0 {
			continue
		}
		for j, b := range bins {
			for side, v := range b {
				x0 := pad + j*(2*barW+2) + side*barW
				h := int(v/peak*panelH + 0.5)
				draw.Draw(img, image.Rect(x0, base-h, x0+barW, base), &image.Uniform{barColors[side]}, image.Point{}, draw.Src)
			}
		}
	}
	return img
}

// binShares returns, per bin, the share of p's and q's counts in it (see
// FieldChart for the bins).
func binShares(p, q Histogram) [][2]float64 {
	var keys []int64
	for k := range p {
		keys = append(keys, k)
	}
	for k := range q {
		if _, ok := p[k]; !ok {
			keys = append(keys, k)
		}
	}
	if len(keys) == 0 {
		return nil
	}
	slices.Sort(keys)
	bin := func(k int64) int { return slices.Index(keys, k) }
	n := len(keys)
	if n > chartBins {
		lo, span := keys[0], keys[n-1]-keys[0]+1
		bin = func(k int64) int { return int((k - lo) * chartBins / span) }
		n = chartBins
	}
	out := make([][2]float64, n)
	for side, h := range []Histogram{p, q} {
		t := h.Total()
		for k, v := range h {
			out[bin(k)][side] += v / t
		}
	}
	return out
}

// WriteFieldsPNG draws FieldChart of the ChartFields of real and
// synthetic flows (typically one class's) as a PNG.
func WriteFieldsPNG(w io.Writer, real, synth []*pcapio.Flow) error {
	return png.Encode(w, FieldChart(FieldHistograms(real), FieldHistograms(synth), ChartFields))
}

// SideBySide draws a real and a synthetic flow of a class side by side,
// real on the left, as flow images over NetDiffusion's 1088 columns (red
// 1, green 0, blue vacant, one row per packet, first on top): the first
// rows packets of each, every row scale pixels tall, with a white gap of
// 16 pixels between them. People judge a generator by looking at it.
func SideBySide(real, synth *pcapio.Flow, rows, scale int) (*image.RGBA, error) {
	if rows < 1 || scale < 1 || rows*scale > 1<<16 {
		return nil, fmt.Errorf("evaluate: side by side: %d rows at scale %d: want rows and scale of at least 1 and at most 65536 pixel rows", rows, scale)
	}
	l := t2t.NetDiffusionSpec.MustLayout()
	const gap = 16
	img := image.NewRGBA(image.Rect(0, 0, 2*l.Width()+gap, rows*scale))
	draw.Draw(img, img.Bounds(), image.White, image.Point{}, draw.Src)
	for side, f := range []*pcapio.Flow{real, synth} {
		m, err := f.Matrix(l, rows)
		if err != nil {
			return nil, err
		}
		m = m.Resize(rows)
		x0 := side * (l.Width() + gap)
		for y := 0; y < rows*scale; y++ {
			for x := 0; x < l.Width(); x++ {
				img.Set(x0+x, y, m.At(x, y/scale))
			}
		}
	}
	return img, nil
}

// Typical returns the flow of flows whose packet count is the median of
// theirs (the first such in order), a fair pick for SideBySide; nil for
// no flows.
func Typical(flows []*pcapio.Flow) *pcapio.Flow {
	if len(flows) == 0 {
		return nil
	}
	n := make([]int, len(flows))
	for i, f := range flows {
		n[i] = len(f.Packets)
	}
	s := slices.Clone(n)
	slices.Sort(s)
	med := s[(len(s)-1)/2]
	return flows[slices.Index(n, med)]
}

// WriteSideBySidePNG writes SideBySide of the Typical flow of each side
// as a PNG.
func WriteSideBySidePNG(w io.Writer, real, synth []*pcapio.Flow, rows, scale int) error {
	r, s := Typical(real), Typical(synth)
	if r == nil || s == nil {
		return fmt.Errorf("evaluate: side by side: %d real and %d synthetic flows: want some of each", len(real), len(synth))
	}
	img, err := SideBySide(r, s, rows, scale)
	if err != nil {
		return err
	}
	return png.Encode(w, img)
}
