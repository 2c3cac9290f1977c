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
	*trainDir = "../../testdata/captures"
	*folds = 3
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
	for _, s := range []string{"## Detectability", "## Diversity", "## Memorisation"} {
		if !strings.Contains(string(md), s) {
			t.Errorf("report lacks %q", s)
		}
	}
	var rep struct {
		Fidelity struct {
			MeanJSD float64 `json:"mean_jsd"`
		} `json:"fidelity"`
		Detectability struct {
			Folds   int `json:"folds"`
			Classes []struct {
				Folds int `json:"folds"`
			} `json:"classes"`
		} `json:"detectability"`
		Diversity struct {
			All struct {
				Real      float64 `json:"real_share"`
				Synthetic float64 `json:"synthetic_share"`
			} `json:"all"`
		} `json:"diversity"`
		Memorisation struct {
			All struct {
				Copies float64 `json:"synthetic_copies"`
			} `json:"all"`
		} `json:"memorisation"`
	}
	b, _ := os.ReadFile(*jsonOut)
	if err := json.Unmarshal(b, &rep); err != nil || rep.Fidelity.MeanJSD != 0 {
		t.Fatalf("json: %v, self JSD %v", err, rep.Fidelity.MeanJSD)
	}
	// The set against itself, and as its own training set.
	if rep.Detectability.Folds != 3 || len(rep.Detectability.Classes) == 0 || rep.Detectability.Classes[0].Folds != 3 {
		t.Errorf("detectability: %+v", rep.Detectability)
	}
	if d := rep.Diversity.All; d.Real != d.Synthetic || d.Real == 0 {
		t.Errorf("diversity against itself: %+v", d)
	}
	if rep.Memorisation.All.Copies != 1 {
		t.Errorf("the training set as synthetic: %v copies", rep.Memorisation.All.Copies)
	}
	for _, f := range []string{"r.png", "r-fidelity.png", "r-dns-200.png", "r-ssh-200.png"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Error(err)
		}
	}
}

// TestPacketsBound: -packets 100000 is refused before any flow is read
// (issue 17, item 3).
func TestPacketsBound(t *testing.T) {
	*realDir = "../../testdata/captures"
	defer func(k int) { *packets = k }(*packets)
	*packets = 100000
	if err := run(); err == nil || !strings.Contains(err.Error(), "-packets") {
		t.Fatalf("-packets 100000: %v", err)
	}
}
