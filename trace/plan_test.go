package trace

import (
	"math"
	"math/rand/v2"
	"net/netip"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"t2t/pcapio"
)

// TestPlan: every class gets its flows within the span, from clients of
// the pool, to its own server; the same seed gives the same plan, and a
// class's flows do not depend on the classes beside it.
func TestPlan(t *testing.T) {
	opt := Options{Span: 60 * time.Second, Seed: 9}
	classes := []Class{{"ssh", 30}, {"dns", 200}, {"icmp", 40}}
	p, err := NewPlan(classes, opt)
	if err != nil {
		t.Fatal(err)
	}
	if n := p.Count(); n["dns"] != 200 || n["ssh"] != 30 || n["icmp"] != 40 || len(p.Slots) != 270 {
		t.Fatalf("counts %v", n)
	}
	pool := map[netip.Addr]bool{}
	for _, c := range p.Clients {
		pool[c] = true
	}
	used := map[netip.Addr]bool{}
	for i, s := range p.Slots {
		if i > 0 && s.Start.Before(p.Slots[i-1].Start) {
			t.Fatalf("slot %d starts before slot %d", i, i-1)
		}
		if d := s.Start.Sub(p.Start); d < 0 || d >= opt.Span {
			t.Fatalf("slot %d starts at %v, outside the span", i, d)
		}
		if !pool[s.Client] || s.Server != p.Servers[s.Class] {
			t.Fatalf("slot %d: %v -> %v", i, s.Client, s.Server)
		}
		used[s.Client] = true
	}
	if len(used) < 45 {
		t.Errorf("%d of 50 clients drawn by 270 flows", len(used))
	}
	want := map[string]string{"dns": "10.2.0.1", "icmp": "10.2.0.2", "ssh": "10.2.0.3"}
	for c, w := range want {
		if p.Servers[c].String() != w {
			t.Errorf("server of %s: %v, want %s", c, p.Servers[c], w)
		}
	}
	again, _ := NewPlan(classes, opt)
	if !slices.Equal(p.Slots, again.Slots) {
		t.Error("same seed, different plan")
	}
	alone, _ := NewPlan([]Class{{"dns", 200}}, opt)
	var dns []Slot
	for _, s := range p.Slots {
		if s.Class == "dns" {
			s.Server = alone.Servers["dns"]
			dns = append(dns, s)
		}
	}
	if !slices.Equal(dns, alone.Slots) {
		t.Error("the dns flows change with the classes beside them")
	}
	other, _ := NewPlan(classes, Options{Span: opt.Span, Seed: 10})
	if slices.Equal(p.Slots, other.Slots) {
		t.Error("another seed, the same plan")
	}
	// at the learned rate over 60 s: about 60 * rate flows
	rate, err := NewPlan([]Class{{Name: "dns"}}, opt)
	if err != nil {
		t.Fatal(err)
	}
	if n, w := len(rate.Slots), 60*Default().Class("dns").Rate; math.Abs(float64(n)-w) > 0.15*w {
		t.Errorf("%d dns flows at the learned rate over 60 s, want about %.0f", n, w)
	}
	for _, c := range []struct {
		classes []Class
		opt     Options
		want    string
	}{
		{nil, opt, "no classes"},
		{[]Class{{"dns", 1}, {"dns", 2}}, opt, "given twice"},
		{[]Class{{"nope", 1}}, opt, `no arrival process for class "nope"`},
		{[]Class{{"dns", 0}}, Options{}, "give flows, a span or both"},
		{[]Class{{"dns", -1}}, opt, "-1 flows"},
		{[]Class{{"dns", MaxFlows + 1}}, opt, "at most"},
		{[]Class{{"dns", 1}}, Options{Topology: &Topology{Clients: 300}}, "do not fit"},
		{[]Class{{"dns", 1}}, Options{Arrivals: &Arrivals{}}, "no classes"},
	} {
		_, err := NewPlan(c.classes, c.opt)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: want an error with %q, got %v", c.classes, c.want, err)
		}
	}
}

// realGaps returns the gaps between the starts of the flows of each class
// of a data set folder, and false when the folder is absent.
func realGaps(t testing.TB, dir string) (map[string][]float64, bool) {
	t.Helper()
	if _, err := os.Stat(dir); err != nil {
		return nil, false
	}
	ds, err := pcapio.LoadDataset(dir, pcapio.FlowOptions{MaxPackets: 1})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]float64{}
	for _, c := range ds.Classes {
		out[c] = Gaps(Starts(ds.Flows[c]))
	}
	return out, true
}

// thin sums every k consecutive gaps: the gaps of a process that keeps
// one flow in k.
func thin(g []float64, k int) []float64 {
	var out []float64
	for i := 0; i+k <= len(g); i += k {
		s := 0.0
		for _, x := range g[i : i+k] {
			s += x
		}
		out = append(out, s)
	}
	return out
}

// capturesDir is the whole capture testdata/train and testdata/heldout
// were cut from, read when present.
var capturesDir = "../../shared/data/captures-seed42"

// TestPlanArrivals plans 1,000 flows of each of the 14 embedded classes
// over 60 s and compares their gaps (their shape: GapJSD divides by the
// mean) with real ones, in log-spaced bins, against two baselines of as
// many gaps: a Poisson process and pipeline.Generate's flows 50 ms apart.
// Real: the training flows the process was learned from (testdata/train:
// the plan must reproduce them, JSD under 0.05); the whole capture
// (../shared/data/captures-seed42) when present, which the plan must
// match better than both baselines (the training flows are four in five
// of its flows, and a bursty class's gaps change shape when thinned); else
// the held-out flows (testdata/heldout: every fifth flow of the capture, so
// that a held-out gap spans four training gaps, and the plan's gaps are
// summed four by four alike), 20 to 60 gaps a class, within JSD 0.3
// (fewer gaps, and more regular ones: the capture paced its flows, and a
// renewal process, whose gaps are independent, thins into a less regular
// one than the capture does, so that flows 50 ms apart come as close for
// rtp_video and voip_audio).
func TestPlanArrivals(t *testing.T) {
	a := Default()
	train, _ := realGaps(t, "../testdata/train")
	real, full := realGaps(t, capturesDir)
	thinBy := 1
	if !full {
		real, _ = realGaps(t, "../testdata/heldout")
		thinBy = 4
		t.Logf("%s absent: compared with testdata/heldout", capturesDir)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for _, name := range a.Names() {
		n := 1000
		p, err := NewPlan([]Class{{name, thinBy * n}}, Options{Span: 60 * time.Second, Seed: 3})
		if err != nil {
			t.Fatal(err)
		}
		var ts []time.Time
		for _, s := range p.Slots {
			ts = append(ts, s.Start)
		}
		gen := Gaps(ts)
		poisson, constant := make([]float64, len(gen)), make([]float64, len(gen))
		for i := range gen {
			poisson[i], constant[i] = rng.ExpFloat64(), 0.05
		}
		if d := GapJSD(gen, train[name]); d > 0.05 {
			t.Errorf("%s: gaps at JSD %.3f from those of the training flows they were learned from", name, d)
		}
		r := real[name]
		d, dp, dc := GapJSD(thin(gen, thinBy), r), GapJSD(thin(poisson, thinBy), r), GapJSD(thin(constant, thinBy), r)
		t.Logf("%-10s JSD %.3f (Poisson %.3f, 50 ms apart %.3f; training flows %.3f), CV %.2f (real %.2f)", name, d, dp, dc,
			GapJSD(thin(train[name], thinBy), r), CV(thin(gen, thinBy)), CV(r))
		switch {
		case full && (d > 0.3 || d >= dp || d >= dc):
			t.Errorf("%s: gaps at JSD %.3f from the capture's, Poisson's at %.3f, 50 ms apart at %.3f", name, d, dp, dc)
		case !full && d > 0.3:
			t.Errorf("%s: gaps at JSD %.3f from the held-out flows' (50 ms apart: %.3f)", name, d, dc)
		}
	}
}

// TestGapJSD: equal shapes at any rate are at 0, disjoint ones at 1.
func TestGapJSD(t *testing.T) {
	a := []float64{0.1, 0.2, 0.3, 0.1}
	b := []float64{1, 2, 3, 1}
	if d := GapJSD(a, b); d != 0 {
		t.Errorf("one shape at two rates: %g", d)
	}
	if d := GapJSD([]float64{1, 1, 1}, []float64{0, 0, 0, 1e9}); d != 1 {
		t.Errorf("disjoint: %g", d)
	}
	if d := GapJSD(nil, a); d != 1 {
		t.Errorf("empty: %g", d)
	}
}
