// Package testmodel trains, for tests of the commands, a Tiny model on two
// committed classes (dns and ssh) for a few steps and saves it with its
// repair profile; it knows the transport words ("dns udp"). The model is barely trained: tests that use it check
// plumbing and validity, not fidelity.
package testmodel

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gorgonia.org/tensor"

	"t2t/models"
	"t2t/repair"
	"t2t/sampler"
	"t2t/train"
	"t2t/unet"
)

// Tiny returns the folder of a freshly trained Tiny model. root is the
// path of the repository root from the test's directory.
func Tiny(t testing.TB, root string) string {
	t.Helper()
	return TinySteps(t, root, 10)
}

// TinySteps is Tiny trained for the given number of steps (batch 2).
func TinySteps(t testing.TB, root string, steps int) string {
	t.Helper()
	dir := t.TempDir()
	if err := Build(root, dir, steps); err != nil {
		t.Fatal(err)
	}
	return dir
}

// Build trains the Tiny model for steps steps (batch 2) on the dns and ssh
// captures of root/testdata/captures and saves it with its repair profile
// in the folder dir.
func Build(root, dir string, steps int) error {
	return BuildProcess(root, dir, steps, sampler.Gaussian)
}

// BuildProcess is Build with the diffusion process chosen (sampler.Gaussian
// or sampler.Mask).
func BuildProcess(root, dir string, steps int, process string) error {
	data, err := os.MkdirTemp("", "t2t-testmodel")
	if err != nil {
		return err
	}
	defer os.RemoveAll(data)
	for _, c := range []string{"dns", "ssh"} {
		b, err := os.ReadFile(filepath.Join(root, "testdata/captures", c+"-200.pcap"))
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(data, c+".pcap"), b, 0o644); err != nil {
			return err
		}
	}
	cfg := unet.Tiny()
	ds, err := train.LoadFlows(data, cfg.Rows, 0, 0)
	if err != nil {
		return err
	}
	vocab := unet.NewVocab()
	d, err := train.Prepare(ds, cfg, vocab, train.PrepareOptions{MinPackets: 2, NewClasses: true, Transport: true})
	if err != nil {
		return err
	}
	u, err := unet.New(cfg, tensor.Float32)
	if err != nil {
		return err
	}
	tc := train.DefaultConfig()
	tc.Steps, tc.Batch, tc.CheckpointEvery = steps, 2, 0
	if process == sampler.Mask {
		tc.Noise.Process, tc.Noise.MaskCols, tc.Noise.MaskTemperature = sampler.Mask, cfg.Cols, 0.5
	}
	tr, err := train.NewTrainer(u, tc, d.Examples)
	if err != nil {
		return err
	}
	defer tr.Close()
	if err := tr.Run(context.Background(), nil); err != nil {
		return err
	}
	m := &unet.Model{UNet: u, Vocab: vocab, Noise: tc.Noise, Meta: map[string]string{"classes": strings.Join(ds.Classes, ",")}}
	return models.Save(dir, &models.Folder{Model: m, Profile: repair.BuildProfile(ds.Flows)}, tr.EMA())
}
