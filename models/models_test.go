package models

import (
	"context"
	"math/rand/v2"
	"strings"
	"testing"

	"t2t/controlnet"
	"t2t/pipeline"
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

// TestEmbeddedTransportAndControl samples the embedded model on real
// prompts: "dns tcp" gives TCP flows and "dns udp" UDP flows, and its
// ControlNet, steered by the templates of real dns TCP flows (10 packets:
// handshake, query, answer, teardown), gives flows whose present/vacant
// bits match the template almost everywhere and whose packet count is the
// template's; without the ControlNet the model alone does worse.
func TestEmbeddedTransportAndControl(t *testing.T) {
	if testing.Short() {
		t.Skip("samples the Small model")
	}
	f, err := Load("")
	if err != nil {
		t.Fatal(err)
	}
	m, cn := f.Model, f.ControlNet
	if err != nil || cn == nil || cn.Templates == nil {
		t.Fatalf("embedded ControlNet: %v", err)
	}
	if len(cn.Templates.Classes) != 14 {
		t.Fatalf("templates for %d classes", len(cn.Templates.Classes))
	}
	l := m.UNet.Config.Layout.MustLayout()
	ctls, err := cn.Templates.Draw("dns", "tcp", 3, rand.New(rand.NewPCG(1, 1)))
	if err != nil {
		t.Fatal(err)
	}
	var vals [][]float32
	for _, c := range ctls {
		vals = append(vals, c.Values())
	}
	opt := pipeline.SampleOptions{N: 3, Steps: 12, Guidance: 2, Seed: 2}
	for _, w := range []string{"tcp", "udp"} {
		ms, err := pipeline.Sample(context.Background(), m.UNet, m.Vocab, m.Noise, "dns "+w, opt)
		if err != nil {
			t.Fatal(err)
		}
		for i, x := range ms {
			if got := controlnet.FromMatrix(x, x.Rows).Transport(l); got != w {
				t.Errorf("dns %s flow %d carries %q", w, i, got)
			}
		}
	}
	base, err := pipeline.Sample(context.Background(), m.UNet, m.Vocab, m.Noise, "dns tcp", opt)
	if err != nil {
		t.Fatal(err)
	}
	opt.Control = vals
	steered, err := pipeline.Sample(context.Background(), cn, m.Vocab, m.Noise, "dns tcp", opt)
	if err != nil {
		t.Fatal(err)
	}
	var with, without float64
	for i, c := range ctls {
		b, got, want := c.Match(steered[i])
		with += b / 3
		if got != want || b < 0.99 {
			t.Errorf("flow %d: %.4f of bits match the template, %d packets of %d", i, b, got, want)
		}
		b, _, _ = c.Match(base[i])
		without += b / 3
	}
	t.Logf("bits matching the template: %.4f with the ControlNet, %.4f without", with, without)
	if !(with > without) {
		t.Errorf("the ControlNet does not follow the template better than the model alone: %.4f vs %.4f", with, without)
	}
}
