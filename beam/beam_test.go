package t2tbeam

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"maps"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/runners/prism"

	"t2t"
	"t2t/evaluate"
	"t2t/pcapio"
)

func TestMain(m *testing.M) {
	beam.Init()
	os.Exit(m.Run())
}

// runPrism runs the pipeline that build makes on Prism.
func runPrism(t testing.TB, build func(beam.Scope) error) {
	t.Helper()
	p, s := beam.NewPipelineWithRoot()
	if err := build(s); err != nil {
		t.Fatal(err)
	}
	if _, err := prism.Execute(context.Background(), p); err != nil {
		t.Fatal(err)
	}
}

var (
	nprintOnce sync.Once
	nprintBin  string
	nprintErr  error
)

// nprint builds examples/nprint of the root module once.
func nprint(t testing.TB) string {
	t.Helper()
	nprintOnce.Do(func() {
		dir, err := os.MkdirTemp("", "t2tbeam-nprint")
		if err != nil {
			nprintErr = err
			return
		}
		nprintBin = filepath.Join(dir, "nprint")
		cmd := exec.Command("go", "build", "-o", nprintBin, "./examples/nprint")
		cmd.Dir = ".."
		if out, err := cmd.CombinedOutput(); err != nil {
			nprintErr = err
			t.Logf("%s", out)
		}
	})
	if nprintErr != nil {
		t.Fatal(nprintErr)
	}
	return nprintBin
}

// nprintRows runs examples/nprint on each file with args and returns its
// header and all its rows, sorted.
func nprintRows(t *testing.T, files []string, args []string) (string, []string) {
	t.Helper()
	var header string
	var rows []string
	for _, f := range files {
		out, err := exec.Command(nprint(t), append([]string{"-P", f}, args...)...).Output()
		if err != nil {
			t.Fatalf("nprint -P %s %v: %v", f, args, err)
		}
		h, body, _ := strings.Cut(string(out), "\n")
		if header == "" {
			header = h
		} else if h != header && h != "" {
			t.Fatalf("%s: header differs", f)
		}
		rows = append(rows, lines(body)...)
	}
	slices.Sort(rows)
	return header, rows
}

func lines(s string) []string {
	var out []string
	for l := range strings.SplitSeq(s, "\n") {
		if l != "" {
			out = append(out, l)
		}
	}
	return out
}

// shardRows reads the CSV shards of dir: their header (every shard's the
// same) and all their rows, sorted.
func shardRows(t *testing.T, dir string) (string, []string, int) {
	t.Helper()
	shards, _ := filepath.Glob(filepath.Join(dir, "rows-*.csv"))
	var header string
	var rows []string
	for _, p := range shards {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		h, body, _ := strings.Cut(string(b), "\n")
		if header != "" && h != header {
			t.Fatalf("%s: header differs from the other shards'", p)
		}
		header = h
		rows = append(rows, lines(body)...)
	}
	slices.Sort(rows)
	return header, rows, len(shards)
}

func readManifest(t *testing.T, dir string) EncodeManifest {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	var m EncodeManifest
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// TestEncodeMatchesNprint: encode over the committed captures gives
// exactly examples/nprint's rows for the same flags (sorted, byte for
// byte), with each flow's rows together in one shard.
func TestEncodeMatchesNprint(t *testing.T) {
	defer func(n int) { rowsPerPart = n }(rowsPerPart)
	rowsPerPart = 50
	files, _ := filepath.Glob("../testdata/captures/*.pcap")
	if len(files) < 2 {
		t.Fatal("no committed captures")
	}
	for _, c := range []struct {
		args []string
		opt  EncodeOptions
	}{
		{[]string{"-4", "-6", "-t", "-u", "-i", "-p", "8", "-R", "-O", "4"},
			EncodeOptions{Spec: t2t.LayoutSpec{IPv4: true, IPv6: true, TCP: true, UDP: true, ICMP: true, Payload: 8},
				CSV: t2t.CSVOptions{Key: t2t.KeyKind(4), Time: t2t.TimeRelative}, Shards: 3}},
		{[]string{"-e", "-4", "-u", "-A", "-O", "2", "-c", "50", "-x", "ipv4_(src|dst)_.*", "-F", "0"},
			EncodeOptions{Spec: t2t.LayoutSpec{Eth: true, IPv4: true, UDP: true},
				CSV: t2t.CSVOptions{Key: t2t.KeyKind(2), Time: t2t.TimeAbsolute}, Count: 50, Omit: "ipv4_(src|dst)_.*", Fill: 0, FillOK: true, Shards: 1}},
	} {
		t.Run(strings.Join(c.args, ""), func(t *testing.T) {
			out := t.TempDir()
			opt := c.opt
			opt.Inputs, opt.Out = []string{"../testdata/captures/*.pcap"}, out
			opt.Enc.ZeroSnappedPayload = true // examples/nprint's default
			runPrism(t, func(s beam.Scope) error { return Encode(s, opt) })
			wantH, want := nprintRows(t, files, c.args)
			gotH, got, shards := shardRows(t, out)
			if shards != opt.Shards {
				t.Errorf("%d shards, want %d", shards, opt.Shards)
			}
			if gotH != wantH {
				t.Fatalf("header\n%.200s\nwant\n%.200s", gotH, wantH)
			}
			if len(got) != len(want) || len(want) == 0 {
				t.Fatalf("%d rows, nprint %d", len(got), len(want))
			}
			for i := range want {
				if got[i] != want[i] {
					t.Fatalf("row %d:\n%.200s\nnprint:\n%.200s", i, got[i], want[i])
				}
			}
			m := readManifest(t, out)
			if m.Files != len(files) || m.Rows != len(want) || len(m.Bad) != 0 {
				t.Errorf("manifest: %d files, %d rows, %d bad; want %d, %d, 0", m.Files, m.Rows, len(m.Bad), len(files), len(want))
			}
		})
	}
}

// TestEncodeFlowsStayTogether: every flow's rows are in one shard, in
// time order, also when a flow travels in many parts.
func TestEncodeFlowsStayTogether(t *testing.T) {
	defer func(n int) { rowsPerPart = n }(rowsPerPart)
	rowsPerPart = 7 // flows cut into many parts, put back in order
	out := t.TempDir()
	// TCP and UDP captures: the flow key (-O 4) of ICMP says NULL for ports
	opt := EncodeOptions{Inputs: []string{"../testdata/captures/[dhs]*-200.pcap"}, Out: out, Shards: 4,
		Spec: t2t.LayoutSpec{IPv4: true, TCP: true, UDP: true}, CSV: t2t.CSVOptions{Key: t2t.KeyKind(4), Time: t2t.TimeAbsolute}}
	runPrism(t, func(s beam.Scope) error { return Encode(s, opt) })
	shardOfKey := map[string]string{}
	shards, _ := filepath.Glob(filepath.Join(out, "rows-*.csv"))
	if len(shards) < 2 {
		t.Fatalf("%d shards of 4", len(shards))
	}
	for _, p := range shards {
		b, _ := os.ReadFile(p)
		prev := map[string]int64{}
		for i, l := range lines(string(b))[1:] {
			f := strings.SplitN(l, ",", 4)
			sec, _ := strconv.ParseInt(f[1], 10, 64)
			usec, _ := strconv.ParseInt(f[2], 10, 64)
			key, ts := f[0], sec*1e6+usec
			if s, ok := shardOfKey[key]; ok && s != p {
				t.Fatalf("flow %s in %s and %s", key, s, p)
			}
			shardOfKey[key] = p
			if prev[key] > ts {
				t.Fatalf("%s line %d: flow %s goes back in time", p, i+2, key)
			}
			prev[key] = ts
		}
	}
}

// TestEncodeBadInput: a corrupt pcap among good ones is reported in the
// manifest with its name and the offset of the bad record; the good
// files' rows are complete.
func TestEncodeBadInput(t *testing.T) {
	in := t.TempDir()
	good := []string{"dns-200.pcap", "ssh-200.pcap"}
	for _, g := range good {
		b, err := os.ReadFile("../testdata/captures/" + g)
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(in, g), b, 0o644)
	}
	// icmp-200.pcap with its 6th record claiming 1 GB
	b, err := os.ReadFile("../testdata/captures/icmp-200.pcap")
	if err != nil {
		t.Fatal(err)
	}
	off := 24
	for range 5 {
		off += 16 + int(binary.LittleEndian.Uint32(b[off+8:]))
	}
	binary.LittleEndian.PutUint32(b[off+8:], 1<<30)
	bad := filepath.Join(in, "corrupt.pcap")
	os.WriteFile(bad, b, 0o644)
	os.WriteFile(filepath.Join(in, "notes.txt"), []byte("not a capture"), 0o644)

	out := t.TempDir()
	opt := EncodeOptions{Inputs: []string{filepath.Join(in, "*")}, Out: out, Shards: 2,
		Spec: t2t.LayoutSpec{IPv4: true, TCP: true, UDP: true, ICMP: true}, Enc: t2t.EncoderOptions{ZeroSnappedPayload: true}}
	runPrism(t, func(s beam.Scope) error { return Encode(s, opt) })
	m := readManifest(t, out)
	if len(m.Bad) != 1 {
		t.Fatalf("%d bad files, want 1: %+v", len(m.Bad), m.Bad)
	}
	if m.Bad[0].File != bad || m.Bad[0].Offset != int64(off) || !strings.Contains(m.Bad[0].Error, "corrupt.pcap") {
		t.Errorf("bad file %+v, want %s at offset %d", m.Bad[0], bad, off)
	}
	if len(m.Ignored) != 1 || !strings.HasSuffix(m.Ignored[0], "notes.txt") {
		t.Errorf("ignored %v, want notes.txt", m.Ignored)
	}
	var files []string
	for _, g := range good {
		files = append(files, filepath.Join(in, g))
	}
	_, want := nprintRows(t, files, []string{"-4", "-t", "-u", "-i"})
	_, got, _ := shardRows(t, out)
	if !slices.Equal(got, want) {
		t.Fatalf("%d rows, want the good files' %d", len(got), len(want))
	}
}

// TestEncodePNG: one image per flow, the bytes examples/pcap2png writes.
func TestEncodePNG(t *testing.T) {
	out := t.TempDir()
	opt := EncodeOptions{Inputs: []string{"../testdata/captures/dns-200.pcap"}, Out: out, PNG: true, Packets: 32}
	runPrism(t, func(s beam.Scope) error { return Encode(s, opt) })
	got, _ := filepath.Glob(filepath.Join(out, "*.png"))
	want := t.TempDir()
	cmd := exec.Command("go", "run", "./examples/pcap2png", "-in", "testdata/captures/dns-200.pcap", "-out", want, "-packets", "32", "-q")
	cmd.Dir = ".."
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("pcap2png: %v\n%s", err, b)
	}
	ref, _ := filepath.Glob(filepath.Join(want, "*.png"))
	if len(got) != len(ref) || len(ref) == 0 {
		t.Fatalf("%d images, pcap2png %d", len(got), len(ref))
	}
	slices.Sort(got)
	slices.Sort(ref)
	for i := range ref {
		a, _ := os.ReadFile(got[i])
		b, _ := os.ReadFile(ref[i])
		if !bytes.Equal(a, b) {
			t.Fatalf("%s differs from pcap2png's %s", got[i], ref[i])
		}
	}
	if m := readManifest(t, out); m.Rows != len(ref) {
		t.Errorf("manifest: %d images, want %d", m.Rows, len(ref))
	}
}

// readTree returns every file under dir, by relative path.
func readTree(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() {
			b, _ := os.ReadFile(p)
			rel, _ := filepath.Rel(dir, p)
			out[rel] = b
		}
		return err
	})
	return out
}

// TestGenerateSplit: 3 classes x 8 flows give the same pcaps and
// manifest, byte for byte, run as one work element or dealt over 8; the
// manifest counts what the pcaps hold.
func TestGenerateSplit(t *testing.T) {
	base := GenerateOptions{Requests: []Request{{"dns", 8}, {"ssh", 8}, {"icmp", 8}}, Seed: 5, Steps: 4, Guidance: 2,
		MaxPackets: 64, Batch: 8, FlowsPerShard: 5}
	var trees []map[string][]byte
	for _, split := range []int{1, 8} {
		opt := base
		opt.Split, opt.Out = split, t.TempDir()
		if n := len(opt.Works()); n != split {
			t.Fatalf("split %d: %d work elements", split, n)
		}
		runPrism(t, func(s beam.Scope) error { return Generate(s, opt) })
		trees = append(trees, readTree(t, opt.Out))
	}
	a, b := trees[0], trees[1]
	if len(a) != 3*2+2 {
		t.Errorf("%d files, want 6 shards and 2 manifests: %v", len(a), slices.Collect(maps.Keys(a)))
	}
	for k, v := range a {
		if !bytes.Equal(v, b[k]) {
			t.Errorf("%s differs between 1 and 8 work elements", k)
		}
	}
	var m GenerateManifest
	if err := json.Unmarshal(a["manifest.json"], &m); err != nil {
		t.Fatal(err)
	}
	if len(m.Classes) != 3 {
		t.Fatalf("manifest: %d classes", len(m.Classes))
	}
	for _, c := range m.Classes {
		packets := 0
		for _, s := range c.Shards {
			r, err := pcapio.NewReader(bytes.NewReader(a[s.File]))
			if err != nil {
				t.Fatal(err)
			}
			ps, err := r.ReadAll()
			if err != nil {
				t.Fatal(err)
			}
			packets += len(ps)
		}
		if c.Flows != 8 || c.Packets != packets || packets == 0 || c.Seed != 5 || len(c.Shards) != 2 {
			t.Errorf("class %s: manifest %d flows, %d packets, seed %d, %d shards; the pcaps hold %d packets", c.Class, c.Flows, c.Packets, c.Seed, len(c.Shards), packets)
		}
	}
}

// TestEvaluateFields: the per-field distances of the combine are the
// ones computed in memory over the whole data sets (pcapio.LoadDataset,
// evaluate.FieldHistograms), class by class, and a corrupt file is
// counted and named, not merged.
func TestEvaluateFields(t *testing.T) {
	syn := t.TempDir()
	for _, c := range []string{"dns", "ssh"} {
		b, err := os.ReadFile("../testdata/captures/" + c + "-200.pcap")
		if err != nil {
			t.Fatal(err)
		}
		os.MkdirAll(filepath.Join(syn, c), 0o755)
		os.WriteFile(filepath.Join(syn, c, "a.pcap"), b, 0o644)
		os.WriteFile(filepath.Join(syn, c, "b.pcap"), b[:len(b)/2], 0o644) // truncated: named under bad, not counted
	}
	out := filepath.Join(t.TempDir(), "fidelity.json")
	opt := EvaluateOptions{Real: "../testdata/heldout", Synthetic: syn, Out: out, MaxPackets: 32}
	runPrism(t, func(s beam.Scope) error { return Evaluate(s, opt) })
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var got Fidelity
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	real, err := pcapio.LoadDataset(opt.Real, pcapio.FlowOptions{MaxPackets: 32})
	if err != nil {
		t.Fatal(err)
	}
	synFlows := map[string][]*pcapio.Flow{}
	for _, c := range []string{"dns", "ssh"} {
		fl, _, err := pcapio.AssembleFile(filepath.Join(syn, c, "a.pcap"), pcapio.FlowOptions{MaxPackets: 32})
		if err != nil {
			t.Fatal(err)
		}
		synFlows[c] = fl
	}
	if len(got.Classes) != len(real.Classes) {
		t.Fatalf("%d classes, the real set has %d", len(got.Classes), len(real.Classes))
	}
	for _, gc := range got.Classes {
		want := ClassDistances(gc.Class, toHists(evaluate.FieldHistograms(real.Flows[gc.Class])), toHists(evaluate.FieldHistograms(synFlows[gc.Class])))
		if len(gc.Fields) != len(want.Fields) || len(gc.Fields) == 0 {
			t.Fatalf("class %s: %d fields, want %d", gc.Class, len(gc.Fields), len(want.Fields))
		}
		for i, f := range gc.Fields {
			w := want.Fields[i]
			if f.Field != w.Field || f.Real != w.Real || f.Synthetic != w.Synthetic || math.Abs(f.JSD-w.JSD) > 1e-12 || math.Abs(f.TV-w.TV) > 1e-12 {
				t.Errorf("class %s: %+v, in memory %+v", gc.Class, f, w)
			}
		}
		bad := 0
		if gc.Class == "dns" || gc.Class == "ssh" {
			bad = 1
		}
		if len(gc.Bad) != bad || bad == 1 && !strings.Contains(gc.Bad[0], "b.pcap") {
			t.Errorf("class %s: bad %v, want %d naming b.pcap", gc.Class, gc.Bad, bad)
		}
	}
}
