package main

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gorgonia.org/tensor"

	"t2t/evaluate"
	"t2t/pcapio"
	"t2t/unet"
)

// tinyModel trains a Tiny model for a few steps on two committed classes
// and saves it (with no repair profile: repair uses its defaults).
func tinyModel(t *testing.T) string {
	data := t.TempDir()
	for _, c := range []string{"dns", "ssh"} {
		b, err := os.ReadFile("../../testdata/captures/" + c + "-200.pcap")
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(data, c+".pcap"), b, 0o644)
	}
	ds, err := pcapio.LoadDataset(data, pcapio.FlowOptions{MaxPackets: 8})
	if err != nil {
		t.Fatal(err)
	}
	cfg := unet.Tiny()
	vocab := unet.NewVocab()
	prompts, err := unet.ClassPrompts(ds.Classes, vocab, cfg.MaxTokens)
	if err != nil {
		t.Fatal(err)
	}
	ex, _, err := unet.DatasetExamples(ds, cfg, prompts, 2)
	if err != nil {
		t.Fatal(err)
	}
	u, _ := unet.New(cfg, tensor.Float32)
	tc := unet.DefaultTrainConfig()
	tc.Steps, tc.Batch, tc.CheckpointEvery = 10, 2, 0
	tr, err := unet.NewTrainer(u, tc, ex)
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	if err := tr.Run(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	m := &unet.Model{UNet: u, Vocab: vocab, Noise: tc.Noise, Meta: map[string]string{"classes": strings.Join(ds.Classes, ",")}}
	if err := unet.SaveModel(dir, m, tr.EMA()); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestGenerate runs the command on a barely trained model: whatever the
// model samples, the pcap it writes is valid (repair), the same seed gives
// the same bytes, and PNGs are written per flow.
func TestGenerate(t *testing.T) {
	model := tinyModel(t)
	dir := t.TempDir()
	var pcaps [][]byte
	for k, prompt := range []string{"ssh", "type-0", "ssh"} {
		out := filepath.Join(dir, "g.pcap")
		png := filepath.Join(dir, "png")
		var stdout strings.Builder
		err := run(context.Background(), []string{"-model", model, "-prompt", prompt, "-n", "3", "-steps", "4", "-seed", "7", "-out", out, "-png", png, "-q"}, &stdout, io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		c, err := evaluate.CheckFile(out)
		if err != nil {
			t.Fatal(err)
		}
		if c.Errors() != 0 || c.Packets == 0 {
			t.Fatalf("%s: %d compliance errors in %d packets: %s", prompt, c.Errors(), c.Packets, strings.Join(c.Problems, "; "))
		}
		files, _ := filepath.Glob(filepath.Join(png, "*.png"))
		if len(files) != 3 {
			t.Errorf("%d PNGs, want 3", len(files))
		}
		b, _ := os.ReadFile(out)
		if k != 1 {
			pcaps = append(pcaps, b)
		}
		if k == 1 && !strings.Contains(stdout.String(), "class dns") {
			t.Errorf("type-0 should map to class dns: %s", stdout.String())
		}
	}
	if !bytes.Equal(pcaps[0], pcaps[1]) {
		t.Error("same seed, different pcap")
	}
}

func TestGenerateErrors(t *testing.T) {
	model := tinyModel(t)
	for _, args := range [][]string{
		{"-model", model}, // no prompt
		{"-model", model, "-prompt", "nosuchclass"}, // unknown prompt
		{"-model", model, "-prompt", "ssh", "-payload", "x"},
		{"-model", t.TempDir(), "-prompt", "ssh"}, // no model there
	} {
		if err := run(context.Background(), args, io.Discard, io.Discard); err == nil {
			t.Errorf("%v: no error", args)
		}
	}
}
