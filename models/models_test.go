package models

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"t2t/controlnet"
	"t2t/pipeline"
	"t2t/sampler"
)

func TestDefault(t *testing.T) {
	m, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	classes := strings.Split(m.Meta["classes"], ",")
	if len(classes) != 14 {
		t.Fatalf("embedded model knows %d classes: %v", len(classes), classes)
	}
	for _, c := range append(classes, "type-0", "type-13") {
		if _, ok := m.Vocab.ID(c); !ok {
			t.Errorf("prompt %q unknown to the embedded model", c)
		}
	}
	if m.UNet.Config.Name != "small" || m.UNet.Params.Count() < 1e6 {
		t.Errorf("embedded model %s with %d weights", m.UNet.Config.Name, m.UNet.Params.Count())
	}
}

// TestEmbeddedTransportAndStructure samples the embedded model (a masked
// model, sampler.Mask) on real prompts: "dns tcp" gives TCP flows and "dns
// udp" UDP flows; started from the templates of real flows, every flow has
// exactly its template's structure (packets, headers); and flows of one
// prompt differ from each other (the old Gaussian model gave 1 to 4
// distinct flows out of 8 for a class: the collapse of issue 11).
func TestEmbeddedTransportAndStructure(t *testing.T) {
	if testing.Short() {
		t.Skip("samples the Small model")
	}
	f, err := Load("")
	if err != nil {
		t.Fatal(err)
	}
	m := f.Model
	if m.Noise.Process != sampler.Mask || f.Templates == nil || len(f.Templates.Classes) != 14 {
		t.Fatalf("embedded model: process %q, templates %v", m.Noise.Process, f.Templates != nil)
	}
	l := m.UNet.Config.Layout.MustLayout()
	s, err := sampler.New("", m.Noise)
	if err != nil {
		t.Fatal(err)
	}
	opt := pipeline.SampleOptions{N: 4, Steps: 12, Guidance: 2, Seed: 2, Scheduler: s}
	for _, w := range []string{"tcp", "udp"} {
		ms, err := pipeline.Sample(context.Background(), m.UNet, m.Vocab, m.Noise, "dns "+w, opt)
		if err != nil {
			t.Fatal(err)
		}
		distinct := map[string]bool{}
		for i, x := range ms {
			if got := controlnet.FromMatrix(x, x.Rows).Transport(l); got != w {
				t.Errorf("dns %s flow %d carries %q", w, i, got)
			}
			distinct[fmt.Sprint(x.Bits)] = true
		}
		if len(distinct) < len(ms) {
			t.Errorf("dns %s: %d distinct flows of %d", w, len(distinct), len(ms))
		}
	}
	ctls, err := f.Templates.Draw("dns", "tcp", 3, rand.New(rand.NewPCG(1, 1)))
	if err != nil {
		t.Fatal(err)
	}
	for i, c := range ctls {
		ctls[i] = pipeline.Window(c, 0, m.UNet.Config.Rows) // the model's first window of the flow
		x, err := pipeline.StructureStart(ctls[i], m.UNet.Config.Rows, m.UNet.Config.Cols)
		if err != nil {
			t.Fatal(err)
		}
		opt.Start = append(opt.Start, x)
	}
	opt.N = 3
	steered, err := pipeline.Sample(context.Background(), m.UNet, m.Vocab, m.Noise, "dns tcp", opt)
	if err != nil {
		t.Fatal(err)
	}
	for i, c := range ctls {
		if b, got, want := c.Match(steered[i]); got != want || b != 1 {
			t.Errorf("flow %d: %.4f of bits match the template, %d packets of %d", i, b, got, want)
		}
	}
}
