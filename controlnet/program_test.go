package controlnet

import (
	"math"
	"math/rand/v2"
	"testing"

	"gorgonia.org/tensor"

	"t2t/unet"
)

func TestProgramMatchesGraph(t *testing.T) {
	c := micro()
	base, err := unet.New(c, tensor.Float32)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(8, 9))
	wakeOut(base, rng)
	n, err := New(base, 2)
	if err != nil {
		t.Fatal(err)
	}
	n.Scale = 0.7
	// wake the zero layers, so that the branch changes the output
	for _, p := range n.Params() {
		d := p.Float32s()
		for i := range d {
			d[i] += float32(rng.NormFloat64() * 0.05)
		}
	}
	const b = 2
	x, ts, toks, ctl := randomBatch(c, rng, b)
	want := predict(t, n, x, ts, toks, ctl)
	plain := predict(t, base, x, ts, toks, nil)
	p, err := n.Program(b)
	if err != nil {
		t.Fatal(err)
	}
	bufs, err := unet.ProgramInputValues(p, c, x, ts, toks, ctl)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Run(bufs); err != nil {
		t.Fatal(err)
	}
	got := bufs[p.Out]
	var d, m, steer float64
	for i := range want {
		d = math.Max(d, math.Abs(float64(got[i]-want[i])))
		m = math.Max(m, math.Abs(float64(want[i])))
		steer = math.Max(steer, math.Abs(float64(want[i]-plain[i])))
	}
	if steer < 1e-3*m {
		t.Fatalf("the ControlNet changes the output by only %.3g of %.3g: the test would not see a missing branch", steer, m)
	}
	if d > 1e-4*m || math.IsNaN(d) {
		t.Fatalf("program and graph differ by %.3g (output scale %.3g)", d, m)
	}
	if _, err := unet.ProgramInputValues(p, c, x, ts, toks, nil); err == nil {
		t.Fatal("a ControlNet program took no control image")
	}
}
