package main

import (
	"io"
	"path/filepath"
	"testing"

	"t2t/pcapio"
)

// TestSubset keeps at most -flows flows of at most -packets packets per
// class, spread over the capture.
func TestSubset(t *testing.T) {
	out := t.TempDir()
	if err := run([]string{"-data", "../../testdata/captures", "-flows", "3", "-packets", "5", "-out", out}, io.Discard, io.Discard); err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(out, "*.pcap"))
	if len(files) != 7 {
		t.Fatalf("%d class files, want 7", len(files))
	}
	for _, f := range files {
		flows, _, err := pcapio.AssembleFile(f, pcapio.FlowOptions{IdleTimeout: -1})
		if err != nil {
			t.Fatal(err)
		}
		if len(flows) == 0 || len(flows) > 3 {
			t.Errorf("%s: %d flows, want 1 to 3", f, len(flows))
		}
		for _, fl := range flows {
			if len(fl.Packets) > 5 || len(fl.Packets) < 2 {
				t.Errorf("%s: flow of %d packets", f, len(fl.Packets))
			}
		}
	}
	if err := run([]string{"-data", "../../testdata/captures"}, io.Discard, io.Discard); err == nil {
		t.Error("no -out: no error")
	}
}
