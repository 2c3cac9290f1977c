package trace

import (
	"bytes"
	"net/netip"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"t2t"
	"t2t/evaluate"
	"t2t/models"
	"t2t/pcapio"
	"t2t/pipeline"
	"t2t/repair"
)

// realMatrices returns, per class, the first n flows of testdata/train as
// matrices of the embedded model's layout (rows and times as captured):
// flows as a model would give them, without sampling.
func realMatrices(t testing.TB, n int, classes ...string) (map[string][]*t2t.Matrix, *repair.Profile) {
	t.Helper()
	f, err := models.Load("")
	if err != nil {
		t.Fatal(err)
	}
	c := f.Model.UNet.Config
	l := c.Layout.MustLayout()
	out := map[string][]*t2t.Matrix{}
	for _, class := range classes {
		flows, _, err := pcapio.AssembleFile(filepath.Join("../testdata/train", class+".pcap"), pcapio.FlowOptions{MaxPackets: c.Rows})
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; len(out[class]) < n; i++ {
			m, err := flows[i%len(flows)].Matrix(l, c.Rows)
			if err != nil {
				t.Fatal(err)
			}
			out[class] = append(out[class], m)
		}
	}
	return out, f.Profile
}

// TestPlace places real flows of five classes on a plan of 400 flows over
// 20 s between 50 clients: every flow placed, read back apart, compliant,
// at its planned start, between its slot's hosts, one MAC per host, no two
// flows on one 5-tuple at once; the same plan gives the same bytes.
func TestPlace(t *testing.T) {
	classes := []string{"dns", "http", "icmp", "ntp", "ssh"}
	mats, prof := realMatrices(t, 400, classes...)
	opt := Options{Span: 20 * time.Second, Seed: 4, Sample: pipeline.Options{Profile: prof}}
	cs, err := Default().Split(400, classes)
	if err != nil {
		t.Fatal(err)
	}
	plan, err := NewPlan(cs, opt)
	if err != nil {
		t.Fatal(err)
	}
	tr, err := Place(plan, mats, opt)
	if err != nil {
		t.Fatal(err)
	}
	if len(tr.Flows) != 400 || tr.Empty != 0 {
		t.Fatalf("%d flows placed, %d empty", len(tr.Flows), tr.Empty)
	}
	path := filepath.Join(t.TempDir(), "t.pcap")
	if err := tr.WriteFile(path); err != nil {
		t.Fatal(err)
	}
	judge(t, path, tr)
	again, err := Place(plan, mats, opt)
	if err != nil {
		t.Fatal(err)
	}
	path2 := filepath.Join(t.TempDir(), "t2.pcap")
	again.WriteFile(path2)
	a, _ := os.ReadFile(path)
	b, _ := os.ReadFile(path2)
	if !bytes.Equal(a, b) {
		t.Error("one plan, two traces")
	}
	t.Logf("%d flows, %d packets, %d clients used, %d ports redrawn", len(tr.Flows), len(tr.Packets), tr.Hosts(), tr.Redrawn)
}

// judge checks a written trace against its flows: pcapio reads as many
// flows back, each at a placed flow's start and on its 5-tuple; evaluate's
// compliance finds no problem; every IP has one MAC and every MAC one IP;
// no two flows of one 5-tuple overlap (with the margin).
func judge(t *testing.T, path string, tr *Trace) {
	t.Helper()
	c, err := evaluate.CheckFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if c.Errors() != 0 || c.Packets != len(tr.Packets) {
		t.Errorf("compliance: %d problems in %d packets (%d written): %s", c.Errors(), c.Packets, len(tr.Packets), strings.Join(c.Problems[:min(len(c.Problems), 5)], "; "))
	}
	flows, _, err := pcapio.AssembleFile(path, pcapio.FlowOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(flows) != len(tr.Flows) {
		t.Errorf("%d flows read back, %d placed", len(flows), len(tr.Flows))
	}
	placed := map[pcapio.FlowKey][]Flow{}
	for _, f := range tr.Flows {
		placed[f.Key] = append(placed[f.Key], f)
	}
	for _, f := range flows {
		ok := false
		for _, p := range placed[f.Key] {
			ok = ok || p.Start.Equal(f.First())
		}
		if !ok {
			t.Errorf("flow %v at %v read back is no flow placed", f.Key, f.First())
		}
	}
	for k, fs := range placed {
		sort.Slice(fs, func(i, j int) bool { return fs[i].Start.Before(fs[j].Start) })
		for i := 1; i < len(fs); i++ {
			if !fs[i].Start.After(fs[i-1].End.Add(DefaultMargin)) {
				t.Errorf("%v: flows at %v-%v and %v overlap", k, fs[i-1].Start, fs[i-1].End, fs[i].Start)
			}
		}
	}
	macs, ips := map[netip.Addr]map[[6]byte]bool{}, map[[6]byte]map[netip.Addr]bool{}
	add := func(a netip.Addr, m [6]byte) {
		if macs[a] == nil {
			macs[a] = map[[6]byte]bool{}
		}
		if ips[m] == nil {
			ips[m] = map[netip.Addr]bool{}
		}
		macs[a][m], ips[m][a] = true, true
	}
	for _, p := range tr.Packets {
		info, err := t2t.ParseInfo(p.Link, p.Data)
		if err != nil {
			t.Fatal(err)
		}
		add(info.Src, [6]byte(p.Data[6:12]))
		add(info.Dst, [6]byte(p.Data[0:6]))
	}
	for a, ms := range macs {
		if len(ms) != 1 {
			t.Errorf("%v has %d MACs", a, len(ms))
		}
	}
	for m, as := range ips {
		if len(as) != 1 {
			t.Errorf("MAC %x has %d addresses", m, len(as))
		}
	}
}

// TestPlaceCollisions crowds flows onto one client: ports are drawn again
// until every 5-tuple is free (TCP, UDP: client ports; ICMP: echo
// identifiers), and a class with two client ports and ten flows at once is
// refused with an error saying so.
func TestPlaceCollisions(t *testing.T) {
	mats, prof := realMatrices(t, 60, "ntp", "icmp", "ssh")
	one := &Topology{Clients: 1}
	for i := range mats["icmp"] { // one echo identifier for every ICMP flow
		mats["icmp"][i] = mats["icmp"][0]
	}
	// ntp's client ports squeezed to 20: 60 flows in 2 s need redraws
	prof.Classes["ntp"].ClientPortMin, prof.Classes["ntp"].ClientPortMax = 40000, 40019
	opt := Options{Span: 2 * time.Second, Seed: 1, Topology: one, Sample: pipeline.Options{Profile: prof}}
	plan, err := NewPlan([]Class{{"ntp", 20}, {"icmp", 60}, {"ssh", 20}}, opt)
	if err != nil {
		t.Fatal(err)
	}
	tr, err := Place(plan, mats, opt)
	if err != nil {
		t.Fatal(err)
	}
	ids := map[uint16]bool{}
	for _, f := range tr.Flows {
		if f.Key.Proto == t2t.ProtoICMP {
			ids[f.Key.A.Port()] = true
		}
	}
	if tr.Redrawn < 40 || len(ids) < 30 {
		t.Errorf("%d ports drawn again, %d echo identifiers for 60 ICMP flows of one identifier in 2 s on one client", tr.Redrawn, len(ids))
	}
	t.Logf("%d ports drawn again, %d echo identifiers", tr.Redrawn, len(ids))
	path := filepath.Join(t.TempDir(), "c.pcap")
	if err := tr.WriteFile(path); err != nil {
		t.Fatal(err)
	}
	judge(t, path, tr)
	prof.Classes["ntp"].ClientPortMax = 40001
	plan, err = NewPlan([]Class{{"ntp", 10}}, Options{Span: time.Millisecond, Seed: 1, Topology: one})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Place(plan, mats, opt); err == nil || !strings.Contains(err.Error(), "still taken") {
		t.Errorf("10 ntp flows at once on 2 ports: %v", err)
	}
	if _, err := Place(plan, map[string][]*t2t.Matrix{"ntp": mats["ntp"][:3]}, opt); err == nil || !strings.Contains(err.Error(), "3 flows sampled for 10 slots") {
		t.Errorf("too few matrices: %v", err)
	}
	opt.Sample.Payload = "bits"
	if _, err := Place(plan, mats, opt); err == nil {
		t.Error("payload bits: no error")
	}
}
