package dataset

import (
	"bytes"
	"fmt"
	"io/fs"
	"maps"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"t2t"
	"t2t/pcapio"
)

// fixture is a captures folder of copies of testdata/captures plus a
// broken capture, and labels of some of their flows.
type fixture struct {
	dir    string // captures folder
	labels string // the label file
	rows   []FlowLabel
	flows  map[string][]*pcapio.Flow // capture -> its flows
	// want maps a capture and flow key (matchKey) to the class its flow
	// must land in; flows not in it must be absent from the output.
	want map[string]map[pcapio.FlowKey]string
}

var noTimeout = pcapio.FlowOptions{IdleTimeout: -1}

// newFixture labels flows of the committed captures:
//
//	Alpha:  dns 0-19, ntp 0-29, sip 0-9, redis (all 3), and one flow
//	        dns does not hold (not found)
//	Beta.X: dns 20-39, sip 10-24, ssh (all 6), http (both), and an
//	        ICMPv6 flow (not encodable)
//	Gamma:  icmp (one label: every echo between its two hosts), ntp 30-59,
//	        one flow of a missing capture and one of a broken one (unread)
//	Unknown: dns 40-49
//	tiny:   ntp 60
//
// Every other row is written responder first, to match either way. The
// other flows (dns 50-64, ntp 61-100, sip 25-34) are unlabelled.
func newFixture(t *testing.T) *fixture {
	t.Helper()
	fx := &fixture{dir: t.TempDir(), flows: map[string][]*pcapio.Flow{}, want: map[string]map[pcapio.FlowKey]string{}}
	paths, err := filepath.Glob("../testdata/captures/*.pcap")
	if err != nil || len(paths) != 7 {
		t.Fatalf("testdata/captures: %d captures, %v", len(paths), err)
	}
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		name := filepath.Base(p)
		if err := os.WriteFile(filepath.Join(fx.dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
		if fx.flows[name], _, err = pcapio.AssembleFile(p, noTimeout); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(fx.dir, "broken.pcap"), []byte("\xd4\xc3\xb2\xa1 not a capture at all"), 0o644); err != nil {
		t.Fatal(err)
	}
	n := 0
	add := func(capture, app string, f *pcapio.Flow) {
		n++
		src, dst := f.Key.A, f.Key.B
		if n%2 == 0 {
			src, dst = dst, src
		}
		if f.Key.Proto == t2t.ProtoICMP {
			src, dst = netip0(src), netip0(dst)
		}
		fx.rows = append(fx.rows, FlowLabel{Pcap: capture, FlowNo: n, Proto: f.Key.Proto, Src: src, Dst: dst, NDPIProto: app + ".proto", App: app, Category: "Cat"})
		if app == "Unknown" || app == "tiny" {
			return
		}
		if fx.want[capture] == nil {
			fx.want[capture] = map[pcapio.FlowKey]string{}
		}
		cls := ClassNames([]string{app})[app]
		for _, g := range fx.flows[capture] { // ICMP: every flow between the hosts
			if matchKey(g.Key.Proto, g.Key.A, g.Key.B) == matchKey(f.Key.Proto, src, dst) {
				fx.want[capture][g.Key] = cls
			}
		}
	}
	span := func(capture, app string, from, to int) {
		for i := from; i <= to && i < len(fx.flows[capture]); i++ {
			add(capture, app, fx.flows[capture][i])
		}
	}
	span("dns-200.pcap", "Alpha", 0, 19)
	span("ntp-200.pcap", "Alpha", 0, 29)
	span("sip-200.pcap", "Alpha", 0, 9)
	span("redis-200.pcap", "Alpha", 0, 99)
	span("dns-200.pcap", "Beta.X", 20, 39)
	span("sip-200.pcap", "Beta.X", 10, 24)
	span("ssh-200.pcap", "Beta.X", 0, 99)
	span("http-200.pcap", "Beta.X", 0, 99)
	span("icmp-200.pcap", "Gamma", 0, 0)
	span("ntp-200.pcap", "Gamma", 30, 59)
	span("dns-200.pcap", "Unknown", 40, 49)
	span("ntp-200.pcap", "tiny", 60, 60)
	fx.rows = append(fx.rows,
		FlowLabel{Pcap: "dns-200.pcap", Proto: t2t.ProtoUDP, Src: ap("10.9.9.9:1"), Dst: ap("10.9.9.8:53"), App: "Alpha", NDPIProto: "Alpha.proto", Category: "Cat"},
		FlowLabel{Pcap: "ssh-200.pcap", L4: "ICMPV6", Proto: 58, Src: ap("[fe80::1]:0"), Dst: ap("[ff02::2]:0"), App: "Beta.X", NDPIProto: "Beta.X.proto", Category: "Cat"},
		FlowLabel{Pcap: "missing.pcap", Proto: t2t.ProtoTCP, Src: ap("10.0.0.1:1"), Dst: ap("10.0.0.2:2"), App: "Gamma", NDPIProto: "Gamma.proto", Category: "Cat"},
		FlowLabel{Pcap: "broken.pcap", Proto: t2t.ProtoTCP, Src: ap("10.0.0.1:1"), Dst: ap("10.0.0.2:2"), App: "Gamma", NDPIProto: "Gamma.proto", Category: "Cat"},
	)
	var b bytes.Buffer
	if err := WriteFlowLabels(&b, fx.rows); err != nil {
		t.Fatal(err)
	}
	fx.labels = filepath.Join(t.TempDir(), "labels.tsv")
	if err := os.WriteFile(fx.labels, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return fx
}

func ap(s string) netip.AddrPort { return netip.MustParseAddrPort(s) }

func netip0(a netip.AddrPort) netip.AddrPort { return netip.AddrPortFrom(a.Addr(), 0) }

func (fx *fixture) opts(out string) LayoutOptions {
	return LayoutOptions{Labels: fx.labels, Captures: fx.dir, Out: out, Drop: []string{"unknown"}, MinFlows: 5, Seed: 1}
}

// TestLayout: every labelled flow found lands in exactly one split under
// its class, with all its packets; capture files never straddle splits;
// unlabelled, dropped and left-out flows are absent; train and test read
// as data sets with pcapio.LoadDataset; the Summary counts all of it.
func TestLayout(t *testing.T) {
	fx := newFixture(t)
	out := filepath.Join(t.TempDir(), "out")
	sum, err := Layout(fx.opts(out))
	if err != nil {
		t.Fatal(err)
	}
	var tab bytes.Buffer
	sum.WriteTable(&tab)
	t.Logf("\n%s", tab.String())

	seen := map[string]map[pcapio.FlowKey]string{} // capture -> key -> split/class
	splitOf := map[string]string{}                 // class/capture -> split
	for _, split := range []string{"train", "test"} {
		ds, err := pcapio.LoadDataset(filepath.Join(out, split), noTimeout)
		if err != nil {
			t.Fatalf("%s: %v", split, err)
		}
		if want := []string{"alpha", "beta_x", "gamma"}; !slices.Equal(ds.Classes, want) {
			t.Fatalf("%s classes %v, want %v", split, ds.Classes, want)
		}
		for _, class := range ds.Classes {
			for _, path := range ds.Files[class] {
				capture := strings.TrimSuffix(filepath.Base(path), ".pcap") + ".pcap"
				if prev, ok := splitOf[class+"/"+capture]; ok {
					t.Errorf("%s of %s in %s and %s", capture, class, prev, split)
				}
				splitOf[class+"/"+capture] = split
				flows, _, err := pcapio.AssembleFile(path, noTimeout)
				if err != nil {
					t.Fatal(err)
				}
				for _, f := range flows {
					if seen[capture] == nil {
						seen[capture] = map[pcapio.FlowKey]string{}
					}
					if prev, ok := seen[capture][f.Key]; ok {
						t.Errorf("%s %v twice: %s and %s/%s", capture, f.Key, prev, split, class)
					}
					seen[capture][f.Key] = split + "/" + class
					want, ok := fx.want[capture][f.Key]
					if !ok {
						t.Errorf("%s/%s/%s holds %v, a flow not labelled for any class kept", split, class, filepath.Base(path), f.Key)
						continue
					}
					if want != class {
						t.Errorf("%s %v under %s, want %s", capture, f.Key, class, want)
					}
					orig := findFlow(fx.flows[capture], f.Key)
					if len(f.Packets) != len(orig.Packets) || !bytes.Equal(f.Packets[0].Data, orig.Packets[0].Data) || !f.Packets[0].Time.Equal(orig.Packets[0].Time) {
						t.Errorf("%s %v: %d packets, want the capture's %d", capture, f.Key, len(f.Packets), len(orig.Packets))
					}
				}
			}
		}
	}
	for capture, keys := range fx.want {
		for k, class := range keys {
			if _, ok := seen[capture][k]; !ok {
				t.Errorf("%s %v of %s in neither split", capture, k, class)
			}
		}
	}

	// The Summary.
	byClass := map[string]ClassSummary{}
	for _, c := range sum.Classes {
		byClass[c.Class] = c
		if c.TrainFlows == 0 || c.TestFlows == 0 || len(c.TrainCaptures) == 0 || len(c.TestCaptures) == 0 {
			t.Errorf("%s: a split is empty: %+v", c.Class, c)
		}
		if c.Labelled != c.Found+c.NotFound+c.Unencodable+c.Unread || c.Found != c.TrainFlows+c.TestFlows+c.Capped {
			t.Errorf("%s: counts do not add up: %+v", c.Class, c)
		}
		for _, n := range c.TrainCaptures {
			if splitOf[c.Class+"/"+n] != "train" {
				t.Errorf("%s: summary puts %s in train, the files do not", c.Class, n)
			}
		}
		for _, n := range c.TestCaptures {
			if splitOf[c.Class+"/"+n] != "test" {
				t.Errorf("%s: summary puts %s in test, the files do not", c.Class, n)
			}
		}
	}
	check := func(class string, labelled, found, notFound, unenc, unread int) {
		t.Helper()
		c := byClass[class]
		if c.Labelled != labelled || c.Found != found || c.NotFound != notFound || c.Unencodable != unenc || c.Unread != unread {
			t.Errorf("%s: labelled %d found %d notfound %d unencodable %d unread %d; want %d %d %d %d %d",
				class, c.Labelled, c.Found, c.NotFound, c.Unencodable, c.Unread, labelled, found, notFound, unenc, unread)
		}
	}
	check("alpha", 64, 63, 1, 0, 0)
	check("beta_x", 44, 43, 0, 1, 0)
	check("gamma", 33, 31, 0, 0, 2)
	if byClass["beta_x"].Label != "Beta.X" {
		t.Errorf("beta_x's label %q, want Beta.X", byClass["beta_x"].Label)
	}
	if sum.Dropped != 10 || len(sum.LeftOut) != 1 || sum.LeftOut[0].Class != "tiny" || sum.Captures != 7 {
		t.Errorf("dropped %d, left out %+v, %d captures read", sum.Dropped, sum.LeftOut, sum.Captures)
	}
	var failed []string
	for _, f := range sum.Failed {
		failed = append(failed, f.Name)
	}
	if !slices.Equal(failed, []string{"broken.pcap", "missing.pcap"}) {
		t.Errorf("failed captures %v, want broken.pcap and missing.pcap", sum.Failed)
	}
	if all, findable := sum.FoundShare(); all != 137.0/141 || findable != 137.0/138 {
		t.Errorf("found share %g, of the findable %g", all, findable)
	}
	ents, _ := os.ReadDir(filepath.Dir(out))
	if len(ents) != 1 {
		t.Errorf("beside out: %v, want out alone (no temporary folder left)", ents)
	}
}

func findFlow(flows []*pcapio.Flow, k pcapio.FlowKey) *pcapio.Flow {
	for _, f := range flows {
		if f.Key == k {
			return f
		}
	}
	return nil
}

// tree reads every file under dir: relative path -> contents.
func tree(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	m := map[string][]byte{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		rel, _ := filepath.Rel(dir, p)
		m[rel] = b
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestLayoutSeed: the same seed gives the same files, byte for byte;
// other seeds split the captures otherwise.
func TestLayoutSeed(t *testing.T) {
	fx := newFixture(t)
	base := t.TempDir()
	var first map[string][]byte
	splits := map[string]bool{}
	for i, seed := range []uint64{7, 7, 1, 2, 3, 4, 5, 6} {
		o := fx.opts(filepath.Join(base, fmt.Sprint(i)))
		o.Seed = seed
		if _, err := Layout(o); err != nil {
			t.Fatal(err)
		}
		files := tree(t, o.Out)
		if i == 0 {
			first = files
		}
		if i == 1 && !maps.EqualFunc(first, files, bytes.Equal) {
			t.Fatalf("seed 7 twice: different files\n%v\n%v", slices.Sorted(maps.Keys(first)), slices.Sorted(maps.Keys(files)))
		}
		splits[strings.Join(slices.Sorted(maps.Keys(files)), " ")] = true
	}
	if len(splits) < 2 {
		t.Errorf("seven seeds gave one split")
	}
}

// TestLayoutOptions: -classes, -max-flows, -packets, the label column and
// MinFlows.
func TestLayoutOptions(t *testing.T) {
	fx := newFixture(t)
	base := t.TempDir()
	run := func(name string, edit func(*LayoutOptions)) Summary {
		t.Helper()
		o := fx.opts(filepath.Join(base, name))
		edit(&o)
		s, err := Layout(o)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		return s
	}
	names := func(cs []ClassSummary) (n []string) {
		for _, c := range cs {
			n = append(n, c.Class)
		}
		return n
	}
	if s := run("top1", func(o *LayoutOptions) { o.Classes = 1 }); !slices.Equal(names(s.Classes), []string{"alpha"}) {
		t.Errorf("Classes 1: %v", names(s.Classes))
	}
	if s := run("nodrop", func(o *LayoutOptions) { o.Drop = nil }); !slices.Contains(names(s.Classes), "unknown") && !slices.ContainsFunc(s.LeftOut, func(c ClassSummary) bool { return c.Class == "unknown" }) {
		t.Errorf("no Drop: unknown neither written nor left out: %v", names(s.Classes))
	}
	s := run("cap", func(o *LayoutOptions) { o.MaxFlows = 10 })
	for _, c := range s.Classes {
		if c.TrainFlows+c.TestFlows != 10 || c.TrainFlows == 0 || c.TestFlows == 0 || c.Capped != c.Found-10 {
			t.Errorf("MaxFlows 10: %s train %d test %d capped %d of %d", c.Class, c.TrainFlows, c.TestFlows, c.Capped, c.Found)
		}
	}
	run("packets", func(o *LayoutOptions) { o.MaxPackets = 3 })
	err := filepath.WalkDir(filepath.Join(base, "packets"), func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		flows, _, err := pcapio.AssembleFile(p, noTimeout)
		for _, f := range flows {
			if len(f.Packets) > 3 {
				t.Errorf("MaxPackets 3: %s %v has %d packets", p, f.Key, len(f.Packets))
			}
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if s := run("ndpi_proto", func(o *LayoutOptions) { o.Label = "ndpi_proto" }); !slices.Equal(names(s.Classes), []string{"alpha_proto", "beta_x_proto", "gamma_proto"}) {
		t.Errorf("ndpi_proto classes %v", names(s.Classes))
	}
	if s := run("category", func(o *LayoutOptions) { o.Label = "category"; o.Drop = nil }); !slices.Equal(names(s.Classes), []string{"cat"}) {
		t.Errorf("category classes %v", names(s.Classes))
	}
	if s := run("min", func(o *LayoutOptions) { o.MinFlows = 40 }); !slices.Equal(names(s.Classes), []string{"alpha", "beta_x"}) {
		t.Errorf("MinFlows 40: %v", names(s.Classes))
	}
}

// TestLayoutRefuses: out non-empty, a file, inside the captures; bad
// options; and a failure writes nothing.
func TestLayoutRefuses(t *testing.T) {
	fx := newFixture(t)
	base := t.TempDir()
	full := filepath.Join(base, "full")
	os.MkdirAll(full, 0o755)
	os.WriteFile(filepath.Join(full, "x"), nil, 0o644)
	file := filepath.Join(base, "file")
	os.WriteFile(file, nil, 0o644)
	link := filepath.Join(base, "link")
	os.Symlink(t.TempDir(), link)
	for _, c := range []struct {
		name string
		edit func(*LayoutOptions)
		want string
	}{
		{"out not empty", func(o *LayoutOptions) { o.Out = full }, "not empty"},
		{"out a file", func(o *LayoutOptions) { o.Out = file }, "is a file"},
		{"out a link", func(o *LayoutOptions) { o.Out = link }, "symbolic link"},
		{"out inside captures", func(o *LayoutOptions) { o.Out = filepath.Join(fx.dir, "sub", "..", "out") }, "inside the captures"},
		{"out is captures", func(o *LayoutOptions) { o.Out = fx.dir }, "not empty"},
		{"out's folder missing", func(o *LayoutOptions) { o.Out = filepath.Join(base, "no", "out") }, "does not exist"},
		{"label column", func(o *LayoutOptions) { o.Label = "pcap" }, "label column"},
		{"share", func(o *LayoutOptions) { o.TrainShare = 1 }, "train share"},
		{"max flows", func(o *LayoutOptions) { o.MaxFlows = 1 }, "MaxFlows 1"},
		{"no class", func(o *LayoutOptions) { o.MinFlows = 1000 }, "no class has"},
		{"strict", func(o *LayoutOptions) {
			o.Strict = true
			o.Labels = writeLabels(t, hdr+"a.pcap\t1\tTCP\t10.0.0.1:1\t10.0.0.2:x\tHTTP\tHTTP\tWeb\t1\t2\t3\t4\n")
		}, "line 2, column dst"},
	} {
		o := fx.opts(filepath.Join(base, "out"))
		c.edit(&o)
		_, err := Layout(o)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want an error saying %q", c.name, err, c.want)
		}
	}
	ents, _ := os.ReadDir(base)
	var left []string
	for _, e := range ents {
		left = append(left, e.Name())
	}
	if !slices.Equal(left, []string{"file", "full", "link"}) {
		t.Errorf("left in %s: %v (want no out, no temporary folder)", base, left)
	}
	// An empty out is taken.
	empty := filepath.Join(base, "empty")
	os.Mkdir(empty, 0o755)
	if _, err := Layout(fx.opts(empty)); err != nil {
		t.Errorf("empty out: %v", err)
	}
	if st, err := os.Stat(empty); err != nil || st.Mode().Perm() != 0o755 {
		t.Errorf("out: %v, %v", st.Mode(), err)
	}
}

func writeLabels(t *testing.T, s string) string {
	p := filepath.Join(t.TempDir(), "l.tsv")
	if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestClassNames: safe folder names, one to one.
func TestClassNames(t *testing.T) {
	labels := []string{"HTTP.1kxun", "DoH_DoT", "Google", "google", "A.B", "a_b", "Ünïcode", "", "x-y"}
	m := ClassNames(labels)
	safe := regexp.MustCompile(`^[a-z0-9_-]+$`)
	used := map[string]string{}
	for _, l := range labels {
		n := m[l]
		if !safe.MatchString(n) {
			t.Errorf("%q -> %q, not a safe name", l, n)
		}
		if prev, ok := used[n]; ok {
			t.Errorf("%q and %q both -> %q", prev, l, n)
		}
		used[n] = l
	}
	for l, want := range map[string]string{"HTTP.1kxun": "http_1kxun", "DoH_DoT": "doh_dot", "x-y": "x-y", "": "_"} {
		if m[l] != want {
			t.Errorf("%q -> %q, want %q", l, m[l], want)
		}
	}
	rev := slices.Clone(labels)
	slices.Reverse(rev)
	if !strings.HasPrefix(m["Google"], "google-") || !maps.Equal(m, ClassNames(rev)) {
		t.Errorf("collisions: %v", m)
	}
}

func TestFileStems(t *testing.T) {
	got := fileStems([]string{"a.pcap", "a.pcapng", "b.pcapng", "d/e.cap", ".h.pcap", "a_pcapng.pcap"})
	for n, s := range got {
		if strings.ContainsAny(s, "/.") && !strings.HasPrefix(s, "_") {
			t.Errorf("%s -> %s", n, s)
		}
	}
	if got["b.pcapng"] != "b" || got["d/e.cap"] != "d_e" || got[".h.pcap"] != "_h" || got["a.pcap"] != "a_pcap" {
		t.Errorf("stems %v", got)
	}
	if got["a.pcapng"] == got["a_pcapng.pcap"] {
		t.Errorf("stems collide: %v", got)
	}
}
