package pcapio

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func copyFile(t *testing.T, src, dst string) {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(filepath.Dir(dst), 0o755)
	if err := os.WriteFile(dst, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestLoadDataset(t *testing.T) {
	dir := t.TempDir()
	caps := "../testdata/captures/"
	copyFile(t, caps+"dns-200.pcap", filepath.Join(dir, "dns.pcap"))
	copyFile(t, caps+"ssh-200.pcap", filepath.Join(dir, "web", "b.pcap"))
	copyFile(t, caps+"http-200.pcap", filepath.Join(dir, "web", "a.cap"))
	copyFile(t, caps+"ntp-200.pcap", filepath.Join(dir, "ntp.PCAP"))
	os.WriteFile(filepath.Join(dir, "README.txt"), []byte("ignored"), 0o644)
	os.WriteFile(filepath.Join(dir, "web", "notes.md"), []byte("ignored"), 0o644)

	ds, err := LoadDataset(dir, FlowOptions{MaxPackets: 10})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(ds.Classes, []string{"dns", "ntp", "web"}) {
		t.Fatalf("classes %v", ds.Classes)
	}
	// web = a.cap's flows then b.pcap's
	a, _, _ := AssembleFile(caps+"http-200.pcap", FlowOptions{MaxPackets: 10})
	b, _, _ := AssembleFile(caps+"ssh-200.pcap", FlowOptions{MaxPackets: 10})
	web := ds.Flows["web"]
	if len(web) != len(a)+len(b) || web[0].Key != a[0].Key || web[len(a)].Key != b[0].Key {
		t.Fatalf("web: %d flows, want %d+%d in file order", len(web), len(a), len(b))
	}
	for _, c := range ds.Classes {
		if len(ds.Flows[c]) == 0 || ds.Stats[c].Flows != len(ds.Flows[c]) {
			t.Errorf("class %s: %d flows, stats %+v", c, len(ds.Flows[c]), ds.Stats[c])
		}
		for _, f := range ds.Flows[c] {
			if len(f.Packets) > 10 {
				t.Fatalf("class %s: flow of %d packets", c, len(f.Packets))
			}
		}
	}
	// Loading again gives the same order.
	ds2, _ := LoadDataset(dir, FlowOptions{MaxPackets: 10})
	for _, c := range ds.Classes {
		for i := range ds.Flows[c] {
			if ds.Flows[c][i].Key != ds2.Flows[c][i].Key {
				t.Fatal("nondeterministic order")
			}
		}
	}
}

func TestLoadDatasetErrors(t *testing.T) {
	empty := t.TempDir()
	os.WriteFile(filepath.Join(empty, "x.txt"), nil, 0o644)
	if _, err := LoadDataset(empty, FlowOptions{}); err == nil || !strings.Contains(err.Error(), empty+" holds no") {
		t.Errorf("empty folder: %v", err)
	}
	if _, err := LoadDataset(filepath.Join(empty, "missing"), FlowOptions{}); err == nil {
		t.Error("missing folder: no error")
	}
	emptyClass := t.TempDir()
	os.Mkdir(filepath.Join(emptyClass, "dns"), 0o755)
	if _, err := LoadDataset(emptyClass, FlowOptions{}); err == nil || !strings.Contains(err.Error(), "class folder "+filepath.Join(emptyClass, "dns")) {
		t.Errorf("empty class folder: %v", err)
	}
	bad := t.TempDir()
	copyFile(t, "../testdata/captures/dns-200.pcap", filepath.Join(bad, "dns.pcap"))
	b, _ := os.ReadFile("../testdata/captures/sip-200.pcap")
	os.WriteFile(filepath.Join(bad, "sip.pcap"), b[:1000], 0o644)
	_, err := LoadDataset(bad, FlowOptions{})
	if err == nil || !strings.Contains(err.Error(), filepath.Join(bad, "sip.pcap")+": offset ") || !strings.Contains(err.Error(), "unexpected EOF") {
		t.Errorf("truncated file: %v", err)
	}
	unreadable := t.TempDir()
	os.Mkdir(filepath.Join(unreadable, "x.pcap"), 0o755) // a folder named like a file is a class folder
	if _, err := LoadDataset(unreadable, FlowOptions{}); err == nil {
		t.Error("folder x.pcap without captures: no error")
	}
}

// TestLoadDatasetSeed loads the captures-seed42 folder (which also holds
// SUMMARY.tsv and MANIFEST.txt, to be ignored).
func TestLoadDatasetSeed(t *testing.T) {
	seedCaptures(t)
	if testing.Short() {
		t.Skip("short")
	}
	ds, err := LoadDataset(seedDir, FlowOptions{MaxPackets: 32})
	if err != nil {
		t.Fatal(err)
	}
	if len(ds.Classes) != 14 || ds.Classes[0] != "dns" || ds.Classes[13] != "voip_audio" {
		t.Fatalf("classes %v", ds.Classes)
	}
	if n := len(ds.Flows["ntp"]); n != 202 {
		t.Errorf("ntp: %d flows, want 202", n)
	}
}
