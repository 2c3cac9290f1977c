package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"t2t/internal/safetensors"
	"t2t/internal/testmodel"
	"t2t/lora"
	"t2t/models"
	"t2t/pcapio"
	"t2t/pipeline"
)

// TestSynthesize makes a synthetic data set with a Tiny model: one pcap per
// class with the flows asked for, and raw.json comparing the transport mix
// with the real captures.
func TestSynthesize(t *testing.T) {
	model := testmodel.Tiny(t, "../..")
	realDir := t.TempDir()
	for _, c := range []string{"dns", "ssh"} {
		b, _ := os.ReadFile("../../testdata/captures/" + c + "-200.pcap")
		os.WriteFile(filepath.Join(realDir, c+".pcap"), b, 0o644)
	}
	out := t.TempDir()
	var stdout strings.Builder
	if err := run(context.Background(), []string{"-model", model, "-real", realDir, "-n", "3", "-steps", "4", "-out", out}, &stdout, io.Discard); err != nil {
		t.Fatal(err)
	}
	ds, err := pcapio.LoadDataset(out, pcapio.FlowOptions{IdleTimeout: -1, NewFlowOnSYN: true})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(ds.Classes, ",") != "dns,ssh" {
		t.Fatalf("classes %v", ds.Classes)
	}
	var stats []ClassStats
	b, err := os.ReadFile(filepath.Join(out, "raw.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &stats); err != nil {
		t.Fatal(err)
	}
	// the committed dns capture mixes UDP and TCP flows; ssh is all TCP
	d := stats[0].Real
	if len(stats) != 2 || d[0] <= 0 || d[1] <= 0 || d[2] != 0 || stats[1].Real != [3]float64{1, 0, 0} || stats[0].Flows != 3 {
		t.Fatalf("stats %+v", stats)
	}
	if got := share([3]int{1, 3, 0}); got != [3]float64{0.25, 0.75, 0} {
		t.Errorf("share: %v", got)
	}
}

// TestSynthesizeAdapters: an adapter's class is generated with it, and the
// base classes without it: their pcaps are the same bytes as without
// -lora, although the adapter (its up weights made non-zero) changes the
// model's output when attached.
func TestSynthesizeAdapters(t *testing.T) {
	model := testmodel.Tiny(t, "../..")
	f, err := models.Load(model)
	if err != nil {
		t.Fatal(err)
	}
	m := f.Model
	cfg := lora.DefaultConfig()
	cfg.Tokens = []string{"novel"}
	s, err := lora.New(m.UNet, "novel", cfg, 1)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.AddTokens(m.Vocab); err != nil {
		t.Fatal(err)
	}
	for _, a := range s.Adapters {
		for i := range a.Up.Float32s() {
			a.Up.Float32s()[i] = 0.5
		}
	}
	s.Extra = map[string]string{pipeline.ExtraClasses: "novel"}
	path := filepath.Join(t.TempDir(), "novel.safetensors")
	if err := s.Save(path); err != nil {
		t.Fatal(err)
	}
	plain, with := t.TempDir(), t.TempDir()
	args := []string{"-model", model, "-n", "2", "-steps", "4", "-seed", "7"}
	if err := run(context.Background(), append(args, "-out", plain), io.Discard, io.Discard); err != nil {
		t.Fatal(err)
	}
	if err := run(context.Background(), append(args, "-out", with, "-lora", path), io.Discard, io.Discard); err != nil {
		t.Fatal(err)
	}
	for _, c := range []string{"dns", "ssh"} {
		a, _ := os.ReadFile(filepath.Join(plain, c+".pcap"))
		b, _ := os.ReadFile(filepath.Join(with, c+".pcap"))
		if len(a) == 0 || !bytes.Equal(a, b) {
			t.Fatalf("%s differs with the adapter loaded", c)
		}
	}
	if _, err := os.Stat(filepath.Join(with, "novel.pcap")); err != nil {
		t.Fatal("no pcap for the adapter's class")
	}
	// the adapter does change the model: "dns" with it attached differs
	s.Attach()
	got, err := pipeline.Generate(context.Background(), m, "dns", pipeline.Options{SampleOptions: pipeline.SampleOptions{N: 2, Steps: 3, Seed: 1, Batch: 10}, Transport: "none"})
	if err != nil {
		t.Fatal(err)
	}
	s.Detach()
	want, err := pipeline.Generate(context.Background(), m, "dns", pipeline.Options{SampleOptions: pipeline.SampleOptions{N: 2, Steps: 3, Seed: 1, Batch: 10}, Transport: "none"})
	if err != nil {
		t.Fatal(err)
	}
	same := true
	for i := range got.Matrices {
		same = same && slices.Equal(got.Matrices[i].Bits, want.Matrices[i].Bits)
	}
	if same {
		t.Fatal("the adapter does not change dns samples: the test is vacuous")
	}
}

// TestSynthesizeHostileClass: an adapter (or a model) whose class is
// "../../pwned" is refused; nothing is written outside -out (issue 17,
// item 1).
func TestSynthesizeHostileClass(t *testing.T) {
	model := testmodel.Tiny(t, "../..")
	f, err := models.Load(model)
	if err != nil {
		t.Fatal(err)
	}
	cfg := lora.DefaultConfig()
	cfg.Tokens = []string{"pwned"}
	s, err := lora.New(f.Model.UNet, "evil", cfg, 1)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.AddTokens(f.Model.Vocab); err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	adapter := filepath.Join(root, "evil.safetensors")
	if err := s.Save(adapter); err != nil {
		t.Fatal(err)
	}
	// the file as a hostile user edits it: token and class "../../pwned"
	ts, meta, err := safetensors.Load(adapter)
	if err != nil {
		t.Fatal(err)
	}
	meta["lora.config"] = strings.Replace(meta["lora.config"], `"pwned"`, `"../../pwned"`, 1)
	meta["extra."+pipeline.ExtraClasses] = "../../pwned"
	if err := safetensors.Save(adapter, ts, meta); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(root, "a", "b", "out")
	err = run(context.Background(), []string{"-model", model, "-lora", adapter, "-n", "1", "-steps", "1", "-controlnet", "none", "-out", out}, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "pwned") {
		t.Errorf("adapter class ../../pwned: %v", err)
	}
	if _, err := os.Stat(filepath.Join(root, "a", "pwned.pcap")); err == nil {
		t.Fatal("wrote outside -out")
	}
	err = run(context.Background(), []string{"-model", model, "-classes", "../x", "-n", "1", "-steps", "1", "-out", out}, io.Discard, io.Discard)
	if err == nil {
		t.Error("-classes ../x: no error")
	}
}
