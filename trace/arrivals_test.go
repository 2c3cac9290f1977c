package trace

import (
	"bytes"
	"flag"
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"t2t/pcapio"
)

var update = flag.Bool("update", false, "rewrite arrivals.json from ../testdata/train")

// TestEmbeddedArrivals: the embedded arrivals are what Learn makes of the
// embedded model's training captures, testdata/train, for its 14 classes
// (rewrite with -update).
func TestEmbeddedArrivals(t *testing.T) {
	ds, err := pcapio.LoadDataset("../testdata/train", pcapio.FlowOptions{})
	if err != nil {
		t.Fatal(err)
	}
	a := Learn(ds)
	b, err := a.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if *update {
		if err := os.WriteFile("arrivals.json", b, 0o644); err != nil {
			t.Fatal(err)
		}
		embedded = b
	}
	if !bytes.Equal(b, embedded) {
		t.Fatalf("arrivals.json is not what Learn makes of ../testdata/train (go test -run TestEmbeddedArrivals -update)")
	}
	d := Default()
	if len(d.Classes) != 14 {
		t.Fatalf("embedded arrivals of %d classes: %v", len(d.Classes), d.Names())
	}
	for _, name := range ds.Classes {
		c := d.Class(name)
		if c == nil || c.Flows != len(ds.Flows[name]) || len(c.Gaps) != min(c.Flows-1, MaxGaps) {
			t.Errorf("class %s: %+v for %d flows", name, c, len(ds.Flows[name]))
		}
	}
}

// TestLearn learns from known start times: gaps, rate, CV and quantiles.
func TestLearn(t *testing.T) {
	t0 := time.Unix(1000, 0)
	starts := []time.Time{t0.Add(3 * time.Second), t0, t0.Add(time.Second), t0.Add(1500 * time.Millisecond)}
	c := learnClass(starts)
	if c.Flows != 4 || c.Span != 3 || c.Rate != 1 || !slices.Equal(c.Gaps, []float64{0.5, 1, 1.5}) {
		t.Fatalf("learned %+v", c)
	}
	// gaps 1, 0.5, 1.5 have mean 1 and standard deviation sqrt(1/6)
	if want := math.Sqrt(1.0 / 6); math.Abs(c.CV-want) > 1e-12 {
		t.Errorf("cv %g, want %g", c.CV, want)
	}
	if learnClass(starts[:1]) != nil || learnClass([]time.Time{t0, t0}) != nil {
		t.Error("a process learned from one flow, or from flows of one instant")
	}
	var sorted []float64
	for i := 0; i < 1001; i++ {
		sorted = append(sorted, float64(i))
	}
	q := quantiles(sorted, MaxGaps)
	if len(q) != MaxGaps || q[0] != 0 || q[MaxGaps-1] != 1000 || q[MaxGaps/2] != 502 {
		t.Errorf("quantiles: %d values, %v ... %v, middle %v", len(q), q[0], q[len(q)-1], q[MaxGaps/2])
	}
}

// TestStarts: n flows fill the span in order, keeping the shape of the
// gaps (CV within 10% of the learned one over 5,000 flows); at the learned
// rate over a span the count is the rate's; the same seed gives the same
// starts.
func TestStarts(t *testing.T) {
	d := Default()
	for _, name := range []string{"dns", "iperf_udp", "ssh"} {
		c := d.Class(name)
		span := 60 * time.Second
		s, err := c.Starts(5000, span, rand.New(rand.NewPCG(1, 2)))
		if err != nil {
			t.Fatal(err)
		}
		if len(s) != 5000 || s[0] < 0 || s[len(s)-1] >= span || !slices.IsSorted(s) {
			t.Fatalf("%s: %d starts from %v to %v", name, len(s), s[0], s[len(s)-1])
		}
		var gaps []float64
		for i := 1; i < len(s); i++ {
			gaps = append(gaps, (s[i] - s[i-1]).Seconds())
		}
		if cv := CV(gaps); math.Abs(cv-c.CV) > 0.1*c.CV {
			t.Errorf("%s: cv %.3f of the placed gaps, learned %.3f", name, cv, c.CV)
		}
		again, _ := c.Starts(5000, span, rand.New(rand.NewPCG(1, 2)))
		if !slices.Equal(s, again) {
			t.Errorf("%s: two draws with one seed differ", name)
		}
		// the learned rate: over 2000 mean gaps, the count is within 15%
		long := time.Duration(2000 * c.MeanGap() * 1e9)
		r, err := c.Starts(0, long, rand.New(rand.NewPCG(3, 4)))
		if err != nil {
			t.Fatal(err)
		}
		if n := len(r); n < 1700 || n > 2300 {
			t.Errorf("%s: %d flows over %v at the learned rate, want about 2000", name, n, long)
		}
		// span 0: n flows at the learned rate
		z, err := c.Starts(300, 0, rand.New(rand.NewPCG(5, 6)))
		if err != nil {
			t.Fatal(err)
		}
		if got, want := z[len(z)-1].Seconds(), 300*c.MeanGap(); got < 0.7*want || got > 1.3*want {
			t.Errorf("%s: 300 flows at the learned rate end at %.1fs, want about %.1fs", name, got, want)
		}
	}
	c := d.Class("dns")
	if _, err := c.Starts(0, 0, rand.New(rand.NewPCG(1, 1))); err == nil {
		t.Error("no flows and no span: no error")
	}
	if _, err := c.Starts(0, 1e6*time.Hour, rand.New(rand.NewPCG(1, 1))); err == nil || !strings.Contains(err.Error(), "more than") {
		t.Errorf("a million hours at the learned rate: %v", err)
	}
}

// TestSplit: by rate, at least one each, summing to n.
func TestSplit(t *testing.T) {
	d := Default()
	cs, err := d.Split(1000, []string{"dns", "ssh", "sip"})
	if err != nil {
		t.Fatal(err)
	}
	sum := 0
	for _, c := range cs {
		sum += c.Flows
	}
	r := d.Class("dns").Rate / d.Class("ssh").Rate
	if sum != 1000 || cs[0].Flows < cs[1].Flows || math.Abs(float64(cs[0].Flows)/float64(cs[1].Flows)-r) > 0.05*r {
		t.Errorf("split %v, want dns/ssh about %.2f", cs, r)
	}
	cs, _ = d.Split(3, []string{"dns", "ssh", "sip"})
	for _, c := range cs {
		if c.Flows != 1 {
			t.Errorf("3 flows over 3 classes: %v", cs)
		}
	}
	if _, err := d.Split(10, []string{"dns", "nope"}); err == nil {
		t.Error("a class without arrivals: no error")
	}
	if e := Even(7, []string{"a", "b", "c"}); e[0].Flows != 3 || e[1].Flows != 2 || e[2].Flows != 2 {
		t.Errorf("even: %v", e)
	}
}

// TestValidate: each bad value gives an error naming it.
func TestValidate(t *testing.T) {
	good := func() *Arrivals {
		return &Arrivals{Classes: map[string]*ClassArrivals{"dns": {Flows: 3, Span: 2, Rate: 1, CV: 0.5, Gaps: []float64{0.5, 1.5}}}}
	}
	if err := good().Validate(); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		edit func(a *Arrivals)
		want string
	}{
		{func(a *Arrivals) { a.Classes = nil }, "no classes"},
		{func(a *Arrivals) { a.Classes[""] = a.Classes["dns"] }, "without a name"},
		{func(a *Arrivals) { a.Classes["dns"] = nil }, "missing"},
		{func(a *Arrivals) { a.Classes["dns"].Flows = 1 }, "flows 1"},
		{func(a *Arrivals) { a.Classes["dns"].Span = math.NaN() }, "span_s NaN"},
		{func(a *Arrivals) { a.Classes["dns"].Rate = 0 }, "rate 0"},
		{func(a *Arrivals) { a.Classes["dns"].Rate = 1e9 }, "rate 1e+09"},
		{func(a *Arrivals) { a.Classes["dns"].CV = math.Inf(1) }, "cv +Inf"},
		{func(a *Arrivals) { a.Classes["dns"].Gaps = nil }, "0 gaps"},
		{func(a *Arrivals) { a.Classes["dns"].Gaps = make([]float64, MaxGaps+1) }, "257 gaps"},
		{func(a *Arrivals) { a.Classes["dns"].Gaps[0] = -1 }, "gap 0: -1"},
		{func(a *Arrivals) { a.Classes["dns"].Gaps[1] = 1e9 }, "gap 1: 1e+09"},
		{func(a *Arrivals) { a.Classes["dns"].Gaps = []float64{2, 1} }, "ascending"},
		{func(a *Arrivals) { a.Classes["dns"].Gaps = []float64{0, 0} }, "every gap is 0"},
	} {
		a := good()
		c.edit(a)
		err := a.Validate()
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("want an error with %q, got %v", c.want, err)
		}
	}
	for _, s := range []string{``, `[]`, `{"classes": {"dns": {"gaps_s": "x"}}}`, `{"classes": {"dns": {"flows": 3, "span_s": 1e999}}}`} {
		if _, err := ParseArrivals([]byte(s)); err == nil {
			t.Errorf("ParseArrivals(%q): no error", s)
		}
	}
}
