package trace

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"t2t/internal/fuzzseed"
)

// FuzzParseArrivals: any JSON gives valid arrivals or an error, never a
// panic; arrivals it accepts draw finite gaps of at most MaxGap·(1+GapSpread),
// plan a few flows within the span, and survive a round trip through
// Marshal. The seeds are the embedded arrivals and the bad values of
// TestValidate (T2T_FUZZ_SEEDS=1 writes them to testdata/fuzz).
func FuzzParseArrivals(f *testing.F) {
	fuzzseed.Add(f, "embedded", embedded)
	fuzzseed.Add(f, "one", []byte(`{"classes": {"dns": {"flows": 3, "span_s": 2, "rate": 1, "cv": 0.5, "gaps_s": [0.5, 1.5]}}}`))
	fuzzseed.Add(f, "zeros", []byte(`{"classes": {"dns": {"flows": 3, "span_s": 2, "rate": 1, "cv": 0, "gaps_s": [0, 0]}}}`))
	fuzzseed.Add(f, "huge-rate", []byte(`{"classes": {"dns": {"flows": 3, "span_s": 2, "rate": 1e300, "cv": 0, "gaps_s": [0, 1e-300]}}}`))
	fuzzseed.Add(f, "unsorted", []byte(`{"classes": {"x": {"flows": 2, "span_s": 1, "rate": 1, "cv": 1, "gaps_s": [3, -1]}}}`))
	fuzzseed.Add(f, "null-class", []byte(`{"classes": {"x": null, "": {}}}`))
	fuzzseed.Add(f, "deep", []byte(`{"classes": {"x": {"gaps_s": [[[[[[1]]]]]]}}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		a, err := ParseArrivals(data)
		if err != nil {
			return
		}
		if err := a.Validate(); err != nil {
			t.Fatalf("accepted arrivals fail Validate: %v", err)
		}
		rng := rand.New(rand.NewPCG(1, 2))
		for _, name := range a.Names() {
			c := a.Class(name)
			for i := 0; i < 10; i++ {
				if g := c.Gap(rng); !(g >= 0) || g > MaxGap*(1+GapSpread) {
					t.Fatalf("class %q: gap %g", name, g)
				}
			}
			span := time.Second
			s, err := c.Starts(5, span, rng)
			if err != nil {
				t.Fatalf("class %q: 5 flows over 1 s: %v", name, err)
			}
			for _, x := range s {
				if x < 0 || x >= span {
					t.Fatalf("class %q: start %v outside %v", name, x, span)
				}
			}
			if m := c.MeanGap(); !(m > 0) || math.IsInf(m, 0) {
				t.Fatalf("class %q: mean gap %g", name, m)
			}
		}
		b, err := a.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := ParseArrivals(b); err != nil {
			t.Fatalf("round trip: %v\n%s", err, b)
		}
	})
}

// FuzzParseTopology: any JSON gives a valid topology or an error, never a
// panic; one it accepts lists its clients, assigns servers to classes or
// says why not, and is checked for shared MACs.
func FuzzParseTopology(f *testing.F) {
	fuzzseed.Add(f, "empty", []byte(`{}`))
	fuzzseed.Add(f, "full", []byte(`{"client_subnet": "10.1.0.0/24", "clients": 50, "server_subnet": "10.2.0.0/24", "servers": {"http": "10.2.0.80:8080"}}`))
	fuzzseed.Add(f, "v6", []byte(`{"client_subnet": "fd00:1::/64", "clients": 65536, "server_subnet": "fd00:2::/126", "servers": {"dns": "[fd00:2::53]:53"}}`))
	fuzzseed.Add(f, "tiny", []byte(`{"client_subnet": "10.1.0.0/31", "clients": 1, "server_subnet": "10.1.0.0/32"}`))
	fuzzseed.Add(f, "mapped", []byte(`{"client_subnet": "::ffff:10.1.0.0/120", "server_subnet": "::ffff:10.2.0.0/120"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		tp, err := ParseTopology(data)
		if err != nil {
			return
		}
		if n := len(tp.ClientHosts()); n != tp.Clients || n > MaxClients {
			t.Fatalf("%d client hosts for %d clients", n, tp.Clients)
		}
		classes := []Class{{"a", 1}, {"b", 1}, {"http", 1}}
		p, err := NewPlan(classes, Options{Span: time.Second, Topology: tp, Arrivals: &Arrivals{Classes: map[string]*ClassArrivals{
			"a": {Flows: 2, Span: 1, Rate: 1, Gaps: []float64{1}}, "b": {Flows: 2, Span: 1, Rate: 1, Gaps: []float64{1}}, "http": {Flows: 2, Span: 1, Rate: 1, Gaps: []float64{1}}}}})
		if err != nil {
			return
		}
		for _, s := range p.Slots {
			if tp.isClient(s.Server.Addr) || !tp.isClient(s.Client) {
				t.Fatalf("slot %+v: server among the clients, or client outside them", s)
			}
		}
	})
}
