package main

import (
	"context"
	"fmt"
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
	for _, f := range []string{models.ConfigFile, models.VocabFile, models.NoiseFile, models.WeightsFile, models.ProfileFile, "loss.png", "train.json", "state/checkpoint.safetensors"} {
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
	if err := run(context.Background(), []string{"-data", "../../testdata/captures", "-config", "tiny", "-steps", "8", "-batch", "2", "-out", out, "-resume"}, &log); err == nil {
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

// dataOf makes a data set of the committed dns capture under each class
// name and returns its folder.
func dataOf(t *testing.T, classes ...string) string {
	t.Helper()
	b, err := os.ReadFile("../../testdata/captures/dns-200.pcap")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for _, c := range classes {
		if err := os.WriteFile(filepath.Join(dir, c+".pcap"), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// TestTrainResumeKeepsModel: -resume without the -packets of the run it
// continues builds the checkpoint's model, not the preset's (issue 17,
// item 4).
func TestTrainResumeKeepsModel(t *testing.T) {
	data, out := dataOf(t, "dns", "web"), t.TempDir()
	args := []string{"-data", data, "-config", "tiny", "-batch", "2", "-max-flows", "3", "-out", out, "-q"}
	if err := run(context.Background(), append(args, "-packets", "16", "-steps", "2"), io.Discard); err != nil {
		t.Fatal(err)
	}
	var log strings.Builder
	if err := run(context.Background(), append(args[:len(args)-1:len(args)-1], "-steps", "3", "-resume"), &log); err != nil { // not -q: the log says it resumed
		t.Fatal(err)
	}
	if !strings.Contains(log.String(), "resumed at step 2") {
		t.Errorf("log %q does not say it resumed", log.String())
	}
	f, err := models.Load(out)
	if err != nil {
		t.Fatal(err)
	}
	if r := f.Model.UNet.Config.Rows; r != 16 {
		t.Errorf("resumed model has %d rows, the checkpoint 16", r)
	}
	if err := run(context.Background(), append(args, "-steps", "4", "-resume", "-packets", "8"), io.Discard); err == nil {
		t.Error("-resume -packets 8 on a checkpoint of 16: no error")
	}
}

// TestTrainManyClasses: a data set of 31 classes (IoT SENTINEL's device
// types) trains: the token table grows with the data, or -vocab-cap sizes
// it (issue 17, item 10).
func TestTrainManyClasses(t *testing.T) {
	var classes []string
	for i := 0; i < 31; i++ {
		classes = append(classes, fmt.Sprintf("device%02d", i))
	}
	data := dataOf(t, classes...)
	for _, tc := range []struct {
		flag string
		want int
	}{{"0", 128}, {"300", 300}} {
		out := t.TempDir()
		if err := run(context.Background(), []string{"-data", data, "-config", "tiny", "-steps", "1", "-batch", "2", "-max-flows", "2", "-vocab-cap", tc.flag, "-out", out, "-q"}, io.Discard); err != nil {
			t.Fatalf("-vocab-cap %s: %v", tc.flag, err)
		}
		f, err := models.Load(out)
		if err != nil {
			t.Fatal(err)
		}
		if got := f.Model.UNet.Config.VocabCap; got != tc.want {
			t.Errorf("-vocab-cap %s: table of %d, want %d", tc.flag, got, tc.want)
		}
		if _, ok := f.Model.Vocab.ID("device30"); !ok {
			t.Error("class device30 unknown to the model")
		}
	}
	if err := run(context.Background(), []string{"-data", data, "-config", "tiny", "-steps", "1", "-vocab-cap", "40", "-out", t.TempDir(), "-q"}, io.Discard); err == nil {
		t.Error("-vocab-cap 40 for 67 tokens: no error")
	}
}

// TestTrainClassCollisions: classes that would share a prompt token are
// refused with an error naming them (issue 17, item 6): DNS and dns, a
// class named like an alias, a class named like a transport word whose
// flows are of another transport (the dns capture holds UDP flows).
func TestTrainClassCollisions(t *testing.T) {
	for _, classes := range [][]string{{"DNS", "dns"}, {"web", "type-0"}, {"tcp", "web"}} {
		err := run(context.Background(), []string{"-data", dataOf(t, classes...), "-config", "tiny", "-steps", "1", "-max-flows", "2", "-out", t.TempDir(), "-q"}, io.Discard)
		if err == nil {
			t.Errorf("classes %v: no error", classes)
		} else {
			t.Logf("%v: %v", classes, err)
		}
	}
}
