// Package plot draws small line charts as PNG with the standard library
// (loss curves), so that reports need no plotting dependency.
package plot

import (
	"fmt"
	"image"
	"image/color"
	"image/png"
	"math"
	"os"
)

// Lines draws each series (y values at x = 0, 1, ...) into a w x h PNG at
// path, on log-scaled y when logY, with light grid lines at each power of
// ten (log) or each tenth of the range.
func Lines(path string, w, h int, logY bool, series ...[]float64) error {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for i := range img.Pix {
		img.Pix[i] = 255
	}
	tr := func(v float64) float64 {
		if logY {
			return math.Log10(math.Max(v, 1e-12))
		}
		return v
	}
	lo, hi, n := math.Inf(1), math.Inf(-1), 0
	for _, s := range series {
		n = max(n, len(s))
		for _, v := range s {
			if !math.IsNaN(v) && !math.IsInf(v, 0) {
				lo, hi = math.Min(lo, tr(v)), math.Max(hi, tr(v))
			}
		}
	}
	if n < 2 || lo == hi {
		return fmt.Errorf("plot: nothing to draw in %s", path)
	}
	const m = 10
	px := func(i int) int { return m + i*(w-2*m)/(n-1) }
	py := func(v float64) int { return h - m - int((tr(v)-lo)/(hi-lo)*float64(h-2*m)) }
	grid := color.RGBA{220, 220, 220, 255}
	if logY {
		for e := math.Ceil(lo); e <= hi; e++ {
			y := py(math.Pow(10, e))
			for x := m; x < w-m; x++ {
				img.Set(x, y, grid)
			}
		}
	}
	colors := []color.RGBA{{31, 119, 180, 255}, {214, 39, 40, 255}, {44, 160, 44, 255}}
	for k, s := range series {
		c := colors[k%len(colors)]
		for i := 1; i < len(s); i++ {
			if !finite(tr(s[i-1])) || !finite(tr(s[i])) {
				continue
			}
			line(img, px(i-1), py(s[i-1]), px(i), py(s[i]), c)
		}
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := png.Encode(f, img); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

// line draws a segment (Bresenham) clamped to the image.
func line(img *image.RGBA, x0, y0, x1, y1 int, c color.RGBA) {
	b := img.Bounds()
	cl := func(v, lo, hi int) int { return max(lo, min(v, hi-1)) }
	x0, x1 = cl(x0, b.Min.X, b.Max.X), cl(x1, b.Min.X, b.Max.X)
	y0, y1 = cl(y0, b.Min.Y, b.Max.Y), cl(y1, b.Min.Y, b.Max.Y)
	dx, dy := abs(x1-x0), -abs(y1-y0)
	sx, sy := 1, 1
	if x0 > x1 {
		sx = -1
	}
	if y0 > y1 {
		sy = -1
	}
	e := dx + dy
	for {
		img.SetRGBA(x0, y0, c)
		if x0 == x1 && y0 == y1 {
			return
		}
		e2 := 2 * e
		if e2 >= dy {
			e += dy
			x0 += sx
		}
		if e2 <= dx {
			e += dx
			y0 += sy
		}
	}
}

func abs(a int) int {
	if a < 0 {
		return -a
	}
	return a
}

// Smooth is the moving average of s over a window of k values.
func Smooth(s []float64, k int) []float64 {
	out := make([]float64, len(s))
	sum := 0.0
	for i, v := range s {
		sum += v
		if i >= k {
			sum -= s[i-k]
		}
		out[i] = sum / float64(min(i+1, k))
	}
	return out
}
