package evaluate

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"t2t/pcapio"
)

var update = flag.Bool("update", false, "rewrite testdata/judge.golden.json")

const judgeGolden = "testdata/judge.golden.json"

// TestJudgeGolden compares the compliance report and the field histograms
// of each committed capture with testdata/judge.golden.json. The committed
// golden file was written by evaluate as of commit 90c2698, which read
// headers with t2t's own parser (t2t.NetworkLayer, t2t.ParseInfo,
// t2t.ChecksumsValid): the gopacket judge agrees with it exactly.
func TestJudgeGolden(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join(capturesDir, "*.pcap"))
	if len(files) == 0 {
		t.Fatal("no committed captures")
	}
	type judged struct {
		File       string               `json:"file"`
		Compliance *Compliance          `json:"compliance"`
		Fields     map[string]Histogram `json:"fields"`
	}
	var got []judged
	for _, f := range files {
		c, err := CheckFile(f)
		if err != nil {
			t.Fatal(err)
		}
		flows, _, err := pcapio.AssembleFile(f, pcapio.FlowOptions{})
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, judged{filepath.Base(f), c, FieldHistograms(flows)})
	}
	b, err := json.MarshalIndent(got, "", "\t")
	if err != nil {
		t.Fatal(err)
	}
	b = append(b, '\n')
	if *update {
		if err := os.WriteFile(judgeGolden, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(judgeGolden)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b, want) {
		n := 0
		for n < len(b) && n < len(want) && b[n] == want[n] {
			n++
		}
		t.Errorf("differs from %s at byte %d: got %q, want %q", judgeGolden, n,
			b[max(0, n-80):min(len(b), n+80)], want[max(0, n-80):min(len(want), n+80)])
	}
}
