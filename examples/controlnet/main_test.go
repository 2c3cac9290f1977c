package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"t2t/internal/testmodel"
)

// TestControlNetCommand trains a ControlNet for a small model on real
// flows, resumes from its checkpoint, and evaluates it on held-out flows:
// every figure is a share in [0, 1], each class has its flows, and the
// training flows are left out of the controls.
func TestControlNetCommand(t *testing.T) {
	model := testmodel.Tiny(t, "../..")
	data, dir := t.TempDir(), t.TempDir()
	for _, c := range []string{"dns", "ssh"} {
		b, err := os.ReadFile(filepath.Join("../../testdata/captures", c+"-200.pcap"))
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(data, c+".pcap"), b, 0o644)
	}
	out := filepath.Join(dir, "cn.safetensors")
	args := []string{"-model", model, "-data", data, "-max-flows", "3", "-out", out, "-steps", "6", "-batch", "2"}
	var log bytes.Buffer
	if err := run(context.Background(), args, io.Discard, &log); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(log.String(), "6 flows of 2 classes") {
		t.Fatalf("log: %s", log.String())
	}
	first, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	log.Reset()
	if err := run(context.Background(), append(args, "-resume"), io.Discard, &log); err != nil {
		t.Fatal(err)
	}
	if again, _ := os.ReadFile(out); !strings.Contains(log.String(), "resumed at step 6") || !bytes.Equal(first, again) {
		t.Fatalf("resume: %s", log.String())
	}

	js := filepath.Join(dir, "eval.json")
	var table strings.Builder
	if err := run(context.Background(), []string{"-model", model, "-eval", data, "-data", data, "-max-flows", "3", "-controlnet", out, "-n", "2", "-sample-steps", "2",
		"-cross", "-json", js}, &table, io.Discard); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(js)
	var rep Report
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatal(err)
	}
	if len(rep.Rows) != 2 || len(rep.Cross) != 2 || rep.Overall.Flows != 4 {
		t.Fatalf("rows %d, cross %d, flows %d: %s", len(rep.Rows), len(rep.Cross), rep.Overall.Flows, b)
	}
	for _, r := range append(rep.Rows, rep.Cross...) {
		for _, v := range []float64{r.Bits, r.BaseBits, r.BitsMin, r.Packets, r.BasePackets, r.Transport, r.PromptPort, r.ControlPort} {
			if v < 0 || v > 1 {
				t.Fatalf("share out of range: %+v", r)
			}
		}
		if r.BitsMin > r.Bits {
			t.Fatalf("minimum above the mean: %+v", r)
		}
	}
	if !strings.Contains(table.String(), "| dns |") {
		t.Fatalf("table: %s", table.String())
	}
	for _, bad := range [][]string{
		{"-model", model, "-data", data}, // no -out
		{"-model", model, "-eval", data}, // no -controlnet
		{"-model", model, "-eval", data, "-controlnet", filepath.Join(model, "model.safetensors")},
	} {
		if err := run(context.Background(), bad, io.Discard, io.Discard); err == nil {
			t.Errorf("%v: no error", bad)
		}
	}
}
