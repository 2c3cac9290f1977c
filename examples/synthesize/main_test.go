package main

import (
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"t2t/internal/testmodel"
	"t2t/pcapio"
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
