package lora

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"gorgonia.org/tensor"

	"t2t/unet"
)

// TestProgramMerged: a device program of a model with merged adapters
// (convolutions included) computes what the graph with the adapters
// attached computes; with the adapters attached, no program is built.
func TestProgramMerged(t *testing.T) {
	c := unet.Tiny()
	u, err := unet.New(c, tensor.Float32)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(4, 5))
	out := u.Params.Get("out.weight").Float32s()
	for i := range out {
		out[i] = float32(rng.NormFloat64() * 0.05)
	}
	cfg := DefaultConfig()
	cfg.Targets = append(cfg.Targets, "re:.*\\.conv[12]")
	s, err := New(u, "x", cfg, 1)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range s.Params() {
		d := p.Float32s()
		for i := range d {
			d[i] = float32(rng.NormFloat64() * 0.1)
		}
	}
	if err := s.Attach(); err != nil {
		t.Fatal(err)
	}
	const b = 2
	x := make([]float32, b*c.InputSize())
	for i := range x {
		x[i] = float32(rng.NormFloat64())
	}
	ts, toks := []int{10, 700}, []int{1, 2, 3, 0, 4, 5, 0, 0}
	n, err := unet.Compile(u, b, false)
	if err != nil {
		t.Fatal(err)
	}
	if err := n.SetInputs(x, ts, toks); err != nil {
		t.Fatal(err)
	}
	if err := n.Run(); err != nil {
		t.Fatal(err)
	}
	want := n.Output(nil)
	n.Close()
	if _, err := u.Program(b); err == nil || !strings.Contains(err.Error(), "unmerged adapters") {
		t.Fatalf("a program with attached adapters: %v", err)
	}
	if err := s.Merge(); err != nil {
		t.Fatal(err)
	}
	p, err := u.Program(b)
	if err != nil {
		t.Fatal(err)
	}
	bufs, err := unet.ProgramInputValues(p, c, x, ts, toks, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Run(bufs); err != nil {
		t.Fatal(err)
	}
	var d, m float64
	for i := range want {
		d = math.Max(d, math.Abs(float64(bufs[p.Out][i]-want[i])))
		m = math.Max(m, math.Abs(float64(want[i])))
	}
	if d > 1e-4*m || math.IsNaN(d) {
		t.Fatalf("merged program and attached graph differ by %.3g (scale %.3g)", d, m)
	}
}
