package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRunCommitted(t *testing.T) {
	dir := t.TempDir()
	*realDir = "../../testdata/captures"
	*synthDir = "../../testdata/captures"
	*trees = 20
	*jsonOut = filepath.Join(dir, "r.json")
	*reportOut = filepath.Join(dir, "r.md")
	*pngOut = filepath.Join(dir, "r.png")
	if err := run(); err != nil {
		t.Fatal(err)
	}
	md, err := os.ReadFile(*reportOut)
	if err != nil || !strings.Contains(string(md), "| synthetic/real |") {
		t.Fatalf("report: %v\n%s", err, md)
	}
	var rep struct {
		Fidelity struct {
			MeanJSD float64 `json:"mean_jsd"`
		} `json:"fidelity"`
	}
	b, _ := os.ReadFile(*jsonOut)
	if err := json.Unmarshal(b, &rep); err != nil || rep.Fidelity.MeanJSD != 0 {
		t.Fatalf("json: %v, self JSD %v", err, rep.Fidelity.MeanJSD)
	}
	for _, f := range []string{"r.png", "r-fidelity.png"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Error(err)
		}
	}
}
