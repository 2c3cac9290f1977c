package evaluate

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"image/png"
	"math"
	"os"
	"strings"
	"testing"
	"time"

	"t2t"
	"t2t/pcapio"
)

func TestDistancesClosedForm(t *testing.T) {
	p := Histogram{1: 1, 2: 1}
	q := Histogram{2: 1, 3: 1}
	// M = (1/4, 1/2, 1/4); KL(P||M) = 1/2*log2(2) + 1/2*log2(1) = 1/2.
	if d := JSD(p, q); math.Abs(d-0.5) > 1e-12 {
		t.Errorf("JSD = %v, want 0.5", d)
	}
	if d := TV(p, q); math.Abs(d-0.5) > 1e-12 {
		t.Errorf("TV = %v, want 0.5", d)
	}
	disjoint := Histogram{7: 3}
	if d := JSD(p, disjoint); d != 1 {
		t.Errorf("JSD of disjoint supports = %v, want 1", d)
	}
	if d := TV(p, disjoint); d != 1 {
		t.Errorf("TV of disjoint supports = %v, want 1", d)
	}
	// Scale does not matter: counts are normalised.
	if d := JSD(p, Histogram{1: 5, 2: 5}); d != 0 {
		t.Errorf("JSD of proportional histograms = %v", d)
	}
	// Bernoulli(1/2) vs Bernoulli(1/4): closed form.
	a, b := Histogram{0: 2, 1: 2}, Histogram{0: 3, 1: 1}
	m0, m1 := 5.0/8, 3.0/8
	want := 0.5*(0.5*math.Log2(0.5/m0)+0.5*math.Log2(0.5/m1)) + 0.5*(0.75*math.Log2(0.75/m0)+0.25*math.Log2(0.25/m1))
	if d := JSD(a, b); math.Abs(d-want) > 1e-12 {
		t.Errorf("JSD = %v, want %v", d, want)
	}
	if d, e := JSD(a, b), JSD(b, a); d != e {
		t.Errorf("JSD not symmetric: %v %v", d, e)
	}
	if d, e := TV(a, b), TV(b, a); d != e || math.Abs(d-0.25) > 1e-12 {
		t.Errorf("TV %v %v, want 0.25 both ways", d, e)
	}
	if JSD(Histogram{}, Histogram{}) != 0 || JSD(Histogram{}, a) != 1 {
		t.Error("empty histograms")
	}
}

func TestBalance(t *testing.T) {
	f := &pcapio.Flow{}
	b := ClassBalance(map[string][]*pcapio.Flow{"a": {f, f}, "b": {f, f}}, nil)
	if b.Normalized != 1 || b.Entropy != 1 {
		t.Errorf("balanced: %+v", b)
	}
	b = ClassBalance(map[string][]*pcapio.Flow{"a": {f, f}}, []string{"a", "b"})
	if b.Normalized != 0 || b.Counts["b"] != 0 {
		t.Errorf("one class of two: %+v", b)
	}
	b = ClassBalance(map[string][]*pcapio.Flow{"a": {f, f, f}, "b": {f}}, nil)
	want := -(0.75*math.Log2(0.75) + 0.25*math.Log2(0.25))
	if math.Abs(b.Normalized-want) > 1e-12 {
		t.Errorf("3:1: %v, want %v", b.Normalized, want)
	}
}

func TestGroups(t *testing.T) {
	g, err := ReadGroups(strings.NewReader("# c\nhttp\tweb\n\nssh  interactive\n"))
	if err != nil || g["http"] != "web" || g["ssh"] != "interactive" || len(g) != 2 {
		t.Fatalf("%v %v", g, err)
	}
	if _, err := ReadGroups(strings.NewReader("http web extra\n")); err == nil {
		t.Error("no error on three fields")
	}
	if _, err := os.Stat(groupsFile); err == nil {
		g, err := ReadGroupsFile(groupsFile)
		if err != nil || len(g) != 14 || g["dns"] != "iot-messaging" {
			t.Errorf("groups.tsv: %v %v", g, err)
		}
	}
}

func TestFeatures(t *testing.T) {
	fz, err := NewFeaturizer(FeatureOptions{Packets: 3})
	if err != nil {
		t.Fatal(err)
	}
	l := fz.Layout()
	for _, f := range append(append([]string(nil), IdentityFields...), ChecksumFields...) {
		if _, _, ok := l.Field(f); ok {
			t.Errorf("field %s kept", f)
		}
	}
	for _, f := range []string{"ipv4_ttl", "tcp_wsize", "udp_len", "ipv4_id"} {
		if _, _, ok := l.Field(f); !ok {
			t.Errorf("field %s dropped", f)
		}
	}
	// 1088 NetDiffusion columns less 4 ports (64) and 4 checksums (64).
	if l.Width() != 1088-128 || fz.Width() != 3*(1088-128) {
		t.Errorf("width %d per packet, %d per flow", l.Width(), fz.Width())
	}
	ds := small(t)
	f := ds.Flows["ntp"][0] // two packets
	row := fz.Append(nil, f)
	if len(row) != fz.Width() {
		t.Fatalf("row of %d", len(row))
	}
	for _, v := range row[len(f.Packets)*l.Width():] {
		if v != -1 {
			t.Fatal("padding rows not -1")
		}
	}
	// A flow that differs only in addresses and ports has the same row.
	g := cloneFlow(f)
	for _, p := range g.Packets {
		info, _ := t2t.ParseInfo(p.Link, p.Data)
		ip := p.Data[info.NetOff:]
		ip[15] ^= 0x55
		binary.BigEndian.PutUint16(p.Data[info.TransOff:], 4242)
		t2t.FixChecksums(ip)
	}
	if !bytes.Equal(int8Bytes(row), int8Bytes(fz.Append(nil, g))) {
		t.Error("features depend on addresses or ports")
	}
}

func int8Bytes(v []int8) []byte {
	b := make([]byte, len(v))
	for i, x := range v {
		b[i] = byte(x)
	}
	return b
}

// cloneFlow copies a flow deeply enough to edit its packet bytes.
func cloneFlow(f *pcapio.Flow) *pcapio.Flow {
	g := *f
	g.Packets = make([]pcapio.Packet, len(f.Packets))
	for i, p := range f.Packets {
		p.Data = append([]byte(nil), p.Data...)
		g.Packets[i] = p
	}
	return &g
}

func cloneFlows(fs []*pcapio.Flow) []*pcapio.Flow {
	out := make([]*pcapio.Flow, len(fs))
	for i, f := range fs {
		out[i] = cloneFlow(f)
	}
	return out
}

func TestFidelitySelf(t *testing.T) {
	ds := small(t)
	fd := CompareFidelity(ds.Flows, ds.Flows)
	if fd.MeanJSD != 0 || fd.MeanTV != 0 || fd.All.MeanJSD != 0 {
		t.Fatalf("self distance %v %v", fd.MeanJSD, fd.MeanTV)
	}
	for _, c := range fd.Classes {
		for _, d := range c.Fields {
			if d.JSD != 0 || d.TV != 0 {
				t.Errorf("%s %s: %v %v", c.Class, d.Field, d.JSD, d.TV)
			}
		}
	}
	// Shifting the TTL of every DNS packet by one moves ip_ttl only.
	syn := map[string][]*pcapio.Flow{}
	for c, fs := range ds.Flows {
		syn[c] = fs
	}
	syn["dns"] = cloneFlows(ds.Flows["dns"])
	for _, f := range syn["dns"] {
		for _, p := range f.Packets {
			info, _ := t2t.ParseInfo(p.Link, p.Data)
			p.Data[info.NetOff+8]--
		}
	}
	fd = CompareFidelity(ds.Flows, syn)
	for _, c := range fd.Classes {
		for _, d := range c.Fields {
			moved := c.Class == "dns" && d.Field == "ip_ttl"
			if moved && (d.JSD != 1 || d.TV != 1) {
				t.Errorf("dns ip_ttl: JSD %v TV %v, want 1 (disjoint values)", d.JSD, d.TV)
			}
			if !moved && (d.JSD != 0 || d.TV != 0) {
				t.Errorf("%s %s moved: %v", c.Class, d.Field, d.JSD)
			}
		}
	}
	if fd.ProtoMixReal["udp"] == 0 || fd.ProtoMixReal["tcp"] == 0 {
		t.Errorf("proto mix %v", fd.ProtoMixReal)
	}
}

// Measured: real/real micro 0.978 (46 test flows, seed 1, 50 trees); the
// bar leaves room for other seeds.
func TestRecognitionCommitted(t *testing.T) {
	ds := small(t)
	l, err := FromDataset(ds, nil)
	if err != nil {
		t.Fatal(err)
	}
	cfg := RecognitionConfig{Forest: ForestConfig{Trees: 50}, Seed: 1,
		Groups: map[string]string{"dns": "iot", "ntp": "iot", "http": "web"}}
	rec, err := Recognize(l, l, cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range rec.Scenarios {
		t.Logf("%-15s train %3d test %3d micro %.3f macro %.3f train acc %.3f", s.Name, s.TrainFlows, s.TestFlows, s.Micro, s.Macro, s.TrainAccuracy)
	}
	rr, rs := rec.Scenarios[0], rec.Scenarios[1]
	if rr.Micro < 0.9 || rr.Macro < rr.Micro {
		t.Errorf("real/real micro %.3f macro %.3f, want micro >= 0.9 and macro >= micro", rr.Micro, rr.Macro)
	}
	// The set against itself: real/synthetic tests the forest on its own
	// training flows.
	if rs.Micro != rs.TrainAccuracy {
		t.Errorf("real/synthetic on the real set: %v, training accuracy %v", rs.Micro, rs.TrainAccuracy)
	}
	// Same seed, same table.
	rec2, _ := Recognize(l, l, cfg)
	a, _ := json.Marshal(rec)
	b, _ := json.Marshal(rec2)
	if !bytes.Equal(a, b) {
		t.Error("same seed, different results")
	}
}

func TestEvaluateSelfReport(t *testing.T) {
	ds := small(t)
	rep, err := Evaluate(ds, ds, Config{Recognition: RecognitionConfig{Forest: ForestConfig{Trees: 20}, Seed: 3},
		Measures: MeasureConfig{Folds: 3, Forest: ForestConfig{Trees: 20}, Seed: 3}, Train: ds})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Fidelity.MeanJSD != 0 || rep.Fidelity.MeanTV != 0 {
		t.Errorf("self fidelity %v %v", rep.Fidelity.MeanJSD, rep.Fidelity.MeanTV)
	}
	if e := rep.RealCompliance["all"].Errors(); e != 0 {
		t.Errorf("real compliance errors %d", e)
	}
	if rep.SyntheticBalance.Normalized != rep.RealBalance.Normalized {
		t.Error("balance differs")
	}
	if rep.Detectability == nil || rep.Detectability.Folds != 3 || rep.Diversity.All.Real != rep.Diversity.All.Synthetic {
		t.Errorf("measures: %+v %+v", rep.Detectability, rep.Diversity)
	}
	// Its own training set: every synthetic flow is a copy, and no real
	// flow is held out.
	if m := rep.Memorisation; m == nil || m.All.SyntheticCopies != 1 || m.All.HeldOut != 0 || m.TrainInReal != rep.RealFlows {
		t.Errorf("memorisation: %+v", m)
	}
	var js, md, pg bytes.Buffer
	if err := rep.WriteJSON(&js); err != nil {
		t.Fatal(err)
	}
	var back Report
	if err := json.Unmarshal(js.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	if back.Recognition.Scenarios[0].Micro != rep.Recognition.Scenarios[0].Micro {
		t.Error("JSON round trip")
	}
	if err := rep.WriteMarkdown(&md); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"real/real", "synthetic/real", "ip_ttl", "normalised entropy", "## Detectability", "## Diversity", "## Memorisation"} {
		if !strings.Contains(md.String(), s) {
			t.Errorf("report lacks %q", s)
		}
	}
	if err := rep.WritePNG(&pg); err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(&pg)
	if err != nil || img.Bounds().Dx() < 50 {
		t.Fatalf("png: %v", err)
	}
}

// faulty returns the committed flows of class with one packet edited by
// edit (checksums fixed afterwards when fix).
func faulty(t *testing.T, class string, flow, pkt int, fix bool, edit func(ip, tr []byte)) []*pcapio.Flow {
	fs := cloneFlows(small(t).Flows[class])
	p := fs[flow].Packets[pkt]
	info, _ := t2t.ParseInfo(p.Link, p.Data)
	edit(p.Data[info.NetOff:], p.Data[info.TransOff:])
	if fix {
		t2t.FixChecksums(p.Data[info.NetOff:])
	}
	return fs
}

func TestComplianceDetectsFaults(t *testing.T) {
	ds := small(t)
	for _, c := range ds.Classes {
		if r := CheckFlows(ds.Flows[c]); r.Errors() != 0 {
			t.Fatalf("%s clean flows: %d errors %v", c, r.Errors(), r.Problems)
		}
	}
	// a whole TCP packet in the middle of an ssh flow
	ssh := ds.Flows["ssh"]
	fi, pi := -1, -1
	for i, f := range ssh {
		for j, p := range f.Packets {
			if j > 5 && p.OrigLen == len(p.Data) && fi < 0 {
				fi, pi = i, j
			}
		}
	}
	if fi < 0 {
		t.Fatal("no whole ssh packet")
	}
	cases := []struct {
		name  string
		flows []*pcapio.Flow
		count func(c *Compliance) int
	}{
		{"SYN+FIN", faulty(t, "ssh", fi, pi, true, func(ip, tr []byte) { tr[13] |= synF | finF }),
			func(c *Compliance) int { return c.TCP.IllegalFlags }},
		{"SYN+RST", faulty(t, "ssh", fi, pi, true, func(ip, tr []byte) { tr[13] = synF | rstF }),
			func(c *Compliance) int { return c.TCP.IllegalFlags }},
		{"TCP checksum", faulty(t, "ssh", fi, pi, false, func(ip, tr []byte) { tr[16] ^= 1 }),
			func(c *Compliance) int { return c.BadChecksums }},
		{"IPv4 checksum", faulty(t, "ntp", 0, 0, false, func(ip, tr []byte) { ip[10] ^= 0x80 }),
			func(c *Compliance) int { return c.BadChecksums }},
		{"seq jump", faulty(t, "ssh", fi, pi, true, func(ip, tr []byte) {
			binary.BigEndian.PutUint32(tr[4:], binary.BigEndian.Uint32(tr[4:])+100000)
		}), func(c *Compliance) int { return c.TCP.SeqGap }},
		{"ack ahead", faulty(t, "ssh", fi, pi, true, func(ip, tr []byte) {
			binary.BigEndian.PutUint32(tr[8:], binary.BigEndian.Uint32(tr[8:])+100000)
		}), func(c *Compliance) int { return c.TCP.AckAhead }},
		{"no handshake", faulty(t, "ssh", 0, 0, true, func(ip, tr []byte) { tr[13] = ackF }),
			func(c *Compliance) int { return c.TCP.NoHandshake }},
		{"UDP length", faulty(t, "ntp", 0, 0, true, func(ip, tr []byte) { tr[5]-- }),
			func(c *Compliance) int { return c.UDPLength }},
		{"ICMP type", faulty(t, "icmp", 0, 0, true, func(ip, tr []byte) { tr[0] = 99 }),
			func(c *Compliance) int { return c.ICMPInvalid }},
		{"IHL", faulty(t, "ntp", 0, 0, false, func(ip, tr []byte) { ip[0] = 0x43 }),
			func(c *Compliance) int { return c.DecodeErrors }},
	}
	for _, tc := range cases {
		r := CheckFlows(tc.flows)
		if tc.count(r) == 0 {
			t.Errorf("%s not detected: %+v %v", tc.name, r, r.Problems)
		} else {
			t.Logf("%s: %d errors, e.g. %s", tc.name, r.Errors(), r.Problems[0])
		}
	}
	// Data after a RST, 2 s later, from the side that sent it.
	fs := cloneFlows(ssh[:1])
	f := fs[0]
	k := len(f.Packets) - 1
	info, _ := t2t.ParseInfo(f.Packets[k-1].Link, f.Packets[k-1].Data)
	f.Packets[k-1].Data[info.TransOff+13] = rstF | ackF
	f.Packets[k].Time = f.Packets[k-1].Time.Add(2 * time.Second)
	if r := CheckFlows(fs); r.TCP.AfterRST == 0 {
		t.Errorf("packet after RST not detected: %+v", r.TCP)
	}
}

func TestRealRealSeed42(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	if _, err := os.Stat(seed42Dir); err != nil {
		t.Skip("no ", seed42Dir)
	}
	groups, err := ReadGroupsFile(groupsFile)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	ds, err := pcapio.LoadDataset(seed42Dir, pcapio.FlowOptions{MaxPackets: 10})
	if err != nil {
		t.Fatal(err)
	}
	l, err := FromDataset(ds, nil)
	if err != nil {
		t.Fatal(err)
	}
	load := time.Since(start)
	for _, k := range []int{5, 10} {
		start = time.Now()
		rec, err := Recognize(l, nil, RecognitionConfig{Features: FeatureOptions{Packets: k}, Groups: groups, Seed: 42})
		if err != nil {
			t.Fatal(err)
		}
		s := rec.Scenarios[0]
		t.Logf("14 classes, K=%d, %d features, %d train / %d test flows: real/real micro %.3f macro %.3f (load %v, run %v)",
			k, rec.Features, s.TrainFlows, s.TestFlows, s.Micro, s.Macro, load.Round(time.Millisecond), time.Since(start).Round(time.Millisecond))
		t.Logf("per class: %v", s.PerClass)
		if s.Micro < 0.8 || s.Macro < s.Micro {
			t.Errorf("real/real micro %.3f macro %.3f", s.Micro, s.Macro)
		}
	}
}
