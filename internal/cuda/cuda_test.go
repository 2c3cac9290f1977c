//go:build cuda || t2tcuda

package cuda

import (
	"math"
	"math/rand/v2"
	"testing"
)

// These tests run on a GPU machine only: gorgonia.org/cu exits the
// process at start when no driver answers (see the device script,
// internal/cuda/device-check.sh).

func TestOpsMatchCPU(t *testing.T) {
	d, err := Open(0)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	t.Logf("device: %s", d.Name())
	for _, bl := range [][2]int{{1, 2}, {3, 8}, {67, 32}} {
		rng := rand.New(rand.NewPCG(uint64(bl[0]), uint64(bl[1])))
		p := chain(rng, bl[0], bl[1])
		in := inputs(rng, p, 11)
		ref := append([][]float32(nil), in...)
		if err := p.Run(ref); err != nil {
			t.Fatal(err)
		}
		lp, err := d.Load(p)
		if err != nil {
			t.Fatal(err)
		}
		got, err := lp.Run(in, nil)
		if err != nil {
			t.Fatal(err)
		}
		want := ref[p.Out]
		var diff, scale float64
		for i := range want {
			diff = math.Max(diff, math.Abs(float64(got[i]-want[i])))
			scale = math.Max(scale, math.Abs(float64(want[i])))
		}
		t.Logf("batch %d x %d: largest difference %.3g, output scale %.3g", bl[0], bl[1], diff, scale)
		if !(diff <= 1e-4*scale) {
			t.Errorf("batch %d x %d: device and CPU differ by %.3g (scale %.3g)", bl[0], bl[1], diff, scale)
		}
		prof, err := lp.Profile(in)
		if err != nil {
			t.Fatal(err)
		}
		if len(prof) != 11 {
			t.Errorf("profile of %d kinds, want 11", len(prof))
		}
		lp.Close()
	}
}

func TestBadInput(t *testing.T) {
	d, err := Open(0)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	rng := rand.New(rand.NewPCG(1, 2))
	p := chain(rng, 2, 4)
	lp, err := d.Load(p)
	if err != nil {
		t.Fatal(err)
	}
	defer lp.Close()
	in := inputs(rng, p, 11)
	in[p.Tokens][0] = 11
	if _, err := lp.Run(in, nil); err == nil {
		t.Fatal("a token id past the table ran")
	}
	in = inputs(rng, p, 11)
	in[p.X] = in[p.X][1:]
	if _, err := lp.Run(in, nil); err == nil {
		t.Fatal("a short input ran")
	}
	if _, err := Open(99); err == nil {
		t.Fatal("device 99 opened")
	}
}
