package main

import (
	"encoding/json"
	"image/png"
	"io"
	"os"
	"path/filepath"
	"strings"
	"t2t"
	"t2t/evaluate"
	"t2t/pcapio"
	"testing"
)

func TestRunCommitted(t *testing.T) {
	dir := t.TempDir()
	c := "../../testdata/captures"
	jsonOut, reportOut, pngDir := filepath.Join(dir, "r.json"), filepath.Join(dir, "r.md"), filepath.Join(dir, "png")
	args := []string{"-real", c, "-synthetic", c, "-train", c, "-detect-folds", "3", "-trees", "20", "-json", jsonOut, "-out", reportOut, "-png", pngDir}
	if err := run(args, io.Discard, io.Discard); err != nil {
		t.Fatal(err)
	}
	md, err := os.ReadFile(reportOut)
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
	b, _ := os.ReadFile(jsonOut)
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
	for _, f := range []string{"accuracy.png", "fidelity.png", "fields-dns-200.png", "fields-ssh-200.png", "flows-dns-200.png"} {
		if _, err := os.Stat(filepath.Join(pngDir, f)); err != nil {
			t.Error(err)
		}
	}
	checkSideBySide(t, filepath.Join(pngDir, "flows-ssh-200.png"), filepath.Join(c, "ssh-200.pcap"))
}

// checkSideBySide: the set against itself draws the same typical flow on
// both sides, and the left side is the flow's image, each row 4 pixels
// tall.
func checkSideBySide(t *testing.T, path, pcap string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	l := t2t.NetDiffusionSpec.MustLayout()
	if b := img.Bounds(); b.Dx() != 2*l.Width()+16 || b.Dy() != 32*4 {
		t.Fatalf("side by side is %v, want %dx%d", b, 2*l.Width()+16, 32*4)
	}
	flows, _, err := pcapio.AssembleFile(pcap, pcapio.FlowOptions{})
	if err != nil {
		t.Fatal(err)
	}
	m, err := evaluate.Typical(flows).Matrix(l, 32)
	if err != nil {
		t.Fatal(err)
	}
	m = m.Resize(32)
	off := l.Width() + 16
	for y := 0; y < 32*4; y++ {
		for x := 0; x < l.Width(); x++ {
			want := m.At(x, y/4)
			if img.At(x, y) != want || img.At(off+x, y) != want {
				t.Fatalf("pixel (%d,%d): left %v, right %v, flow image %v", x, y, img.At(x, y), img.At(off+x, y), want)
			}
		}
	}
}

// TestPacketsBound: -packets 100000 is refused before any flow is read
// (issue 17, item 3).
func TestPacketsBound(t *testing.T) {
	err := run([]string{"-real", "../../testdata/captures", "-packets", "100000"}, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "-packets") {
		t.Fatalf("-packets 100000: %v", err)
	}
}

// TestPathsFirst: bad output paths and inputs are refused before any flow
// is read, naming the flag.
func TestPathsFirst(t *testing.T) {
	c := "../../testdata/captures"
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{}, "-real is required"},
		{[]string{"-real", "main.go"}, "-real main.go: is a file"},
		{[]string{"-real", c, "-synthetic", "nosuch"}, "-synthetic nosuch"},
		{[]string{"-real", c, "-out", filepath.Join(t.TempDir(), "no", "r.md")}, "-out"},
		{[]string{"-real", c, "-png", "main.go"}, "-png main.go: is a file"},
		{[]string{"-real", c, "-trees", "0"}, "-trees 0"},
	} {
		err := run(tc.args, io.Discard, io.Discard)
		if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("%v: %v, want an error starting %q", tc.args, err, tc.want)
		}
	}
}
