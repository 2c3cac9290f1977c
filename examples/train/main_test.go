package main

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"t2t/models"
)

// trainTiny trains a Tiny model on two committed classes and returns its
// folder.
func trainTiny(t *testing.T, steps string) string {
	data := t.TempDir()
	for _, c := range []string{"dns", "ssh"} {
		b, err := os.ReadFile("../../testdata/captures/" + c + "-200.pcap")
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(data, c+".pcap"), b, 0o644)
	}
	out := t.TempDir()
	var log strings.Builder
	if err := run(context.Background(), []string{"-data", data, "-config", "tiny", "-steps", steps, "-batch", "2", "-out", out, "-q"}, &log); err != nil {
		t.Fatalf("%v\n%s", err, log.String())
	}
	return out
}

func TestTrainWritesModel(t *testing.T) {
	out := trainTiny(t, "6")
	for _, f := range []string{models.ConfigFile, models.VocabFile, models.NoiseFile, models.WeightsFile, models.ProfileFile, "loss.png", "train.json", "state/state.json"} {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Errorf("missing %s: %v", f, err)
		}
	}
	f, err := models.Load(out)
	if err != nil {
		t.Fatal(err)
	}
	if f.Profile == nil || f.Record == nil || f.Record.Steps != 6 || len(f.Record.Losses) != 6 {
		t.Fatalf("folder without its profile or training record: %+v", f.Record)
	}
	m := f.Model
	for _, p := range []string{"dns", "ssh", "type-0", "type-1"} {
		if _, ok := m.Vocab.ID(p); !ok {
			t.Errorf("prompt %q missing", p)
		}
	}
	if m.Meta["classes"] != "dns,ssh" || m.Meta["steps"] != "6" {
		t.Errorf("meta %v", m.Meta)
	}
	// resume to 8 steps continues from the checkpoint at 6
	var log strings.Builder
	data := filepath.Dir(out) // any: resume re-reads the data
	_ = data
	if err := run(context.Background(), []string{"-data", "../../testdata/captures", "-config", "tiny", "-steps", "8", "-batch", "2", "-out", out, "-resume", "-q"}, &log); err == nil {
		// testdata/captures has other classes than the checkpoint's vocabulary is built from,
		// but the weights' shapes are the same, so resuming works
		if !strings.Contains(log.String(), "resumed at step 6") {
			t.Errorf("log %q does not say it resumed", log.String())
		}
	} else {
		t.Fatal(err)
	}
}

func TestTrainBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{},
		{"-data", "nowhere", "-out", t.TempDir()},
		{"-data", "../../testdata/captures", "-out", t.TempDir(), "-config", "huge"},
	} {
		if err := run(context.Background(), args, io.Discard); err == nil {
			t.Errorf("%v: no error", args)
		}
	}
}
