package plot

import (
	"image/png"
	"math"
	"os"
	"path/filepath"
	"testing"
)

func TestLines(t *testing.T) {
	p := filepath.Join(t.TempDir(), "l.png")
	s := []float64{1, math.Inf(1), 0.5, math.NaN(), 0.1, 0.07, 0.05}
	if err := Lines(p, 200, 100, true, s, Smooth(s, 2)); err != nil {
		t.Fatal(err)
	}
	f, _ := os.Open(p)
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	// the curve starts top left and ends bottom right: the first column's
	// coloured pixel is above the last column's
	col := func(x int) int {
		for y := 0; y < 100; y++ {
			if r, g, b, _ := img.At(x, y).RGBA(); !(r == g && g == b) {
				return y
			}
		}
		return -1
	}
	if a, z := col(131), col(189); a < 0 || z < 0 || a >= z {
		t.Fatalf("first point at y=%d, last at y=%d", a, z)
	}
	if err := Lines(p, 200, 100, false, []float64{1, 1}); err == nil {
		t.Error("flat series: no error")
	}
	if got := Smooth([]float64{1, 3, 5}, 2); got[0] != 1 || got[1] != 2 || got[2] != 4 {
		t.Errorf("Smooth: %v", got)
	}
}
