package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"gorgonia.org/tensor"

	"t2t/evaluate"
	"t2t/internal/testmodel"
	"t2t/lora"
	"t2t/models"
	"t2t/pipeline"
	"t2t/unet"
)

func copyCapture(t *testing.T, dir, class string) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("../../testdata/captures", class+"-200.pcap"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, class+".pcap"), b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestFinetuneNewClass adds a class (http) to a model trained on dns and
// ssh: the adapter file is a small fraction of the base, carries the new
// prompt and its repair profile, generates valid flows for the new prompt,
// refuses another base, resumes from its checkpoint, and the base classes'
// samples are bit for bit the base model's once it is detached.
func TestFinetuneNewClass(t *testing.T) {
	base := testmodel.Tiny(t, "../..")
	data, dir := t.TempDir(), t.TempDir()
	copyCapture(t, data, "http")
	out := filepath.Join(dir, "web.safetensors")
	args := []string{"-model", base, "-data", data, "-out", out, "-steps", "8", "-batch", "2", "-rank", "2", "-alpha", "2"}
	var log bytes.Buffer
	if err := run(context.Background(), args, &log); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(log.String(), "new: http") {
		t.Fatalf("log does not name the new class: %s", log.String())
	}
	st, err := os.Stat(out)
	if err != nil {
		t.Fatal(err)
	}
	bst, err := os.Stat(filepath.Join(base, models.WeightsFile))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("adapter %d bytes, base %d bytes", st.Size(), bst.Size())
	if st.Size()*5 > bst.Size() {
		t.Errorf("adapter of %d bytes against a base of %d", st.Size(), bst.Size())
	}

	// resume: the checkpoint holds the finished run; nothing more to do,
	// the same file again
	first, _ := os.ReadFile(out)
	log.Reset()
	if err := run(context.Background(), append(args, "-resume"), &log); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(log.String(), "resumed at step 8") {
		t.Fatalf("no resume: %s", log.String())
	}
	if again, _ := os.ReadFile(out); !bytes.Equal(first, again) {
		t.Fatal("resumed run wrote another adapter")
	}

	// the new prompt generates valid flows, repaired with the new class's profile
	f, err := models.Load(base)
	if err != nil {
		t.Fatal(err)
	}
	m, prof := f.Model, f.Profile
	gen := func(prompt string) *pipeline.Output {
		o, err := pipeline.Generate(context.Background(), m, prompt, pipeline.Options{Profile: prof,
			SampleOptions: pipeline.SampleOptions{N: 3, Steps: 4, Seed: 5}})
		if err != nil {
			t.Fatal(err)
		}
		return o
	}
	before := gen("dns")
	if _, err := m.Vocab.Tokenize("http", 4, false); err == nil {
		t.Fatal("base model knows http already: test is vacuous")
	}
	s, withAdapter, err := pipeline.AttachAdapter(m, prof, out+":0.8")
	if err != nil {
		t.Fatal(err)
	}
	if withAdapter.Class("http") == nil || prof.Class("http") != nil {
		t.Fatal("adapter's profile not merged into a copy")
	}
	if got := s.Adapters[0].Weight; got != 0.8 {
		t.Fatalf("weight %g, want 0.8", got)
	}
	prof = withAdapter
	o := gen("http")
	path := filepath.Join(dir, "http.pcap")
	if err := pipeline.WritePcap(path, o.Packets); err != nil {
		t.Fatal(err)
	}
	c, err := evaluate.CheckFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if c.Errors() != 0 || c.Packets == 0 {
		t.Fatalf("%d compliance errors in %d packets: %v", c.Errors(), c.Packets, c.Problems)
	}
	for _, r := range o.Results {
		if r.Server.Port() != 80 {
			t.Fatalf("http flow served on port %d: not the new class's profile", r.Server.Port())
		}
	}
	s.Detach()
	after := gen("dns")
	for i := range before.Matrices {
		if !slices.Equal(before.Matrices[i].Bits, after.Matrices[i].Bits) {
			t.Fatalf("dns flow %d differs after attaching and detaching the adapter", i)
		}
	}

	// another base
	other, err := unet.New(func() unet.Config { c := unet.Tiny(); c.Seed = 99; return c }(), tensor.Float32)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := lora.Load(out, other); !errors.Is(err, unet.ErrWrongBase) {
		t.Fatalf("another base: %v", err)
	}
	// truncated, and a bad weight
	b, _ := os.ReadFile(out)
	bad := filepath.Join(dir, "cut.safetensors")
	os.WriteFile(bad, b[:len(b)/2], 0o644)
	for _, spec := range []string{bad, out + ":x:", filepath.Join(dir, "none.safetensors")} {
		if _, _, err := pipeline.AttachAdapter(m, prof, spec); err == nil {
			t.Errorf("adapter %s: no error", spec)
		}
	}
}

func TestFinetuneErrors(t *testing.T) {
	for _, args := range [][]string{
		{"-out", "x.safetensors"},
		{"-data", "../../testdata/captures"},
		{"-data", "/nonexistent", "-out", filepath.Join(t.TempDir(), "x.safetensors")},
	} {
		if err := run(context.Background(), args, &bytes.Buffer{}); err == nil {
			t.Errorf("%v: no error", args)
		}
	}
}
