package trace

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"time"

	"t2t/pcapio"
)

// MaxGaps is the most gaps a ClassArrivals keeps: a class with more is
// stored as MaxGaps quantiles of its gaps, its smallest and largest
// included.
const MaxGaps = 256

// Bounds on the values of an Arrivals, which may come from an untrusted
// file: a rate or a gap outside them is refused by Validate, and a plan
// of more than MaxFlows flows by NewPlan.
const (
	MaxRate  = 1e6     // flows per second
	MaxGap   = 86400.0 // seconds: a day
	MaxFlows = 1 << 20 // flows in one trace
)

// Arrivals is the flow arrival process of each class, learned from real
// captures (Learn) and stored as JSON (ParseArrivals reads it back).
type Arrivals struct {
	Classes map[string]*ClassArrivals `json:"classes"`
}

// ClassArrivals is one class's flow arrival process: the times between
// the starts of consecutive flows (the first packets of flows in the
// order they start), taken as a renewal process.
type ClassArrivals struct {
	// Flows is the number of flows learned from; Span the seconds from the
	// first flow's start to the last one's.
	Flows int     `json:"flows"`
	Span  float64 `json:"span_s"`
	// Rate is the flows per second of the capture, (Flows-1)/Span.
	Rate float64 `json:"rate"`
	// CV is the coefficient of variation of the gaps (standard deviation
	// over mean): 1 for a Poisson process, less for more regular arrivals,
	// more for bursts.
	CV float64 `json:"cv"`
	// Gaps are the gaps in seconds (whole microseconds), ascending: all of
	// them, or MaxGaps quantiles of them. Gap draws from them.
	Gaps []float64 `json:"gaps_s"`
}

// Learn learns the arrival process of every class of a data set from its
// flows' start times (Flow.Packets[0].Time). A class's flows are taken as
// one capture: the flows of several capture files of a class are merged
// in time, so files captured at different times leave one long gap between
// them. A class with fewer than two flows, or whose flows all start at one
// instant, has no process and is left out.
func Learn(ds *pcapio.Dataset) *Arrivals {
	a := &Arrivals{Classes: map[string]*ClassArrivals{}}
	for _, class := range ds.Classes {
		if c := learnClass(Starts(ds.Flows[class])); c != nil {
			a.Classes[class] = c
		}
	}
	return a
}

// learnClass is the process of flows starting at starts (any order), nil
// with fewer than two starts or no time between them.
func learnClass(starts []time.Time) *ClassArrivals {
	if len(starts) < 2 {
		return nil
	}
	slices.SortFunc(starts, func(a, b time.Time) int { return a.Compare(b) })
	gaps := Gaps(starts)
	for i, g := range gaps {
		gaps[i] = math.Round(g*1e6) / 1e6 // pcap times are microseconds
	}
	span := math.Round(starts[len(starts)-1].Sub(starts[0]).Seconds()*1e6) / 1e6
	if !(span > 0) {
		return nil
	}
	sort.Float64s(gaps)
	return &ClassArrivals{
		Flows: len(starts),
		Span:  span,
		Rate:  float64(len(starts)-1) / span,
		CV:    CV(gaps),
		Gaps:  quantiles(gaps, MaxGaps),
	}
}

// quantiles returns sorted, or k values of it evenly spaced in rank (the
// first and the last included) when it holds more than k.
func quantiles(sorted []float64, k int) []float64 {
	if len(sorted) <= k {
		return sorted
	}
	out := make([]float64, k)
	n := len(sorted) - 1
	for i := range out {
		out[i] = sorted[(i*n+(k-1)/2)/(k-1)]
	}
	return out
}

// Starts returns the start times of flows (their first packets'), in
// order; flows without packets are left out.
func Starts(flows []*pcapio.Flow) []time.Time {
	var starts []time.Time
	for _, f := range flows {
		if len(f.Packets) > 0 {
			starts = append(starts, f.Packets[0].Time)
		}
	}
	slices.SortFunc(starts, func(a, b time.Time) int { return a.Compare(b) })
	return starts
}

// Gaps returns the seconds between consecutive times of sorted, which
// holds times in order.
func Gaps(sorted []time.Time) []float64 {
	var g []float64
	for i := 1; i < len(sorted); i++ {
		g = append(g, sorted[i].Sub(sorted[i-1]).Seconds())
	}
	return g
}

// CV is the coefficient of variation of x: its standard deviation (over
// n) over its mean; 0 for fewer than two values or a zero mean.
func CV(x []float64) float64 {
	if len(x) < 2 {
		return 0
	}
	m := 0.0
	for _, v := range x {
		m += v
	}
	m /= float64(len(x))
	if m == 0 {
		return 0
	}
	s := 0.0
	for _, v := range x {
		s += (v - m) * (v - m)
	}
	return math.Sqrt(s/float64(len(x))) / m
}

//go:embed arrivals.json
var embedded []byte

// Default returns the arrival processes of the classes of the embedded
// model (t2t/models), learned from its training captures, testdata/train
// (TestEmbeddedArrivals checks that it is what Learn makes of them). Each
// call returns a fresh copy.
func Default() *Arrivals {
	a, err := ParseArrivals(embedded)
	if err != nil {
		panic(err) // embedded at build time and tested
	}
	return a
}

// ParseArrivals decodes arrival processes from JSON and validates them.
func ParseArrivals(data []byte) (*Arrivals, error) {
	var a Arrivals
	if err := json.Unmarshal(data, &a); err != nil {
		return nil, fmt.Errorf("trace: arrivals: %w", err)
	}
	if err := a.Validate(); err != nil {
		return nil, err
	}
	return &a, nil
}

// Marshal returns the arrivals as JSON with one line per class, classes in
// name order, so that a stored file reads (and diffs) class by class.
func (a *Arrivals) Marshal() ([]byte, error) {
	var b bytes.Buffer
	b.WriteString("{\"classes\": {")
	for i, name := range a.Names() {
		if i > 0 {
			b.WriteByte(',')
		}
		k, err := json.Marshal(name)
		if err != nil {
			return nil, err
		}
		v, err := json.Marshal(a.Classes[name])
		if err != nil {
			return nil, err
		}
		fmt.Fprintf(&b, "\n  %s: %s", k, v)
	}
	b.WriteString("\n}}\n")
	return b.Bytes(), nil
}

// Validate says what is wrong with arrival processes: no class, a class
// without a name or without gaps, gaps that are negative, not finite, over
// MaxGap, out of order or all zero, a rate, span or CV that is not a
// finite number in its range.
func (a *Arrivals) Validate() error {
	if a == nil || len(a.Classes) == 0 {
		return errors.New("trace: arrivals: no classes")
	}
	for name, c := range a.Classes {
		bad := func(format string, args ...any) error {
			return fmt.Errorf("trace: arrivals: class %q: %s", name, fmt.Sprintf(format, args...))
		}
		switch {
		case name == "":
			return errors.New("trace: arrivals: a class without a name")
		case c == nil:
			return bad("missing")
		case c.Flows < 2:
			return bad("flows %d: want 2 or more", c.Flows)
		case !(c.Span > 0) || c.Span > MaxGap*float64(MaxFlows):
			return bad("span_s %g: want a number of seconds above 0, at most %g", c.Span, MaxGap*float64(MaxFlows))
		case !(c.Rate > 0) || c.Rate > MaxRate:
			return bad("rate %g: want flows per second above 0, at most %g", c.Rate, float64(MaxRate))
		case !(c.CV >= 0) || math.IsInf(c.CV, 0):
			return bad("cv %g: want a finite number, 0 or more", c.CV)
		case len(c.Gaps) == 0 || len(c.Gaps) > MaxGaps:
			return bad("%d gaps: want 1 to %d", len(c.Gaps), MaxGaps)
		}
		for i, g := range c.Gaps {
			if !(g >= 0) || g > MaxGap {
				return bad("gap %d: %g: want seconds from 0 to %g", i, g, float64(MaxGap))
			}
			if i > 0 && g < c.Gaps[i-1] {
				return bad("gap %d: %g after %g: want gaps in ascending order", i, g, c.Gaps[i-1])
			}
		}
		if c.Gaps[len(c.Gaps)-1] == 0 {
			return bad("every gap is 0: flows would all start at one instant")
		}
	}
	return nil
}

// Class returns the process of class, or nil (a may be nil).
func (a *Arrivals) Class(class string) *ClassArrivals {
	if a == nil {
		return nil
	}
	return a.Classes[class]
}

// Gap draws a gap in seconds: one of Gaps, each as likely (the empirical
// distribution of the gaps, or of their quantiles), times a factor drawn
// uniformly from [1-GapSpread, 1+GapSpread] so that draws of one gap do not
// repeat to the microsecond. The spread keeps the mean and moves the CV by
// well under 1%, where interpolating between sorted gaps would thin a heavy
// tail (a capture's one long pause).
func (c *ClassArrivals) Gap(rng *rand.Rand) float64 {
	g := c.Gaps[rng.IntN(len(c.Gaps))]
	return g * (1 + GapSpread*(2*rng.Float64()-1))
}

// GapSpread is the relative spread of a drawn gap around the gap it
// copies.
const GapSpread = 0.1

// MeanGap is the mean of the gaps Gap draws, in seconds.
func (c *ClassArrivals) MeanGap() float64 {
	s := 0.0
	for _, g := range c.Gaps {
		s += g
	}
	return s / float64(len(c.Gaps))
}

// Starts draws the start times of the class's flows over [0, span), as
// offsets from a trace's start: a renewal process whose gaps Gap draws,
// seen from a random point of a gap. With n > 0 it places n flows and
// multiplies every gap by the one factor that makes them fill the span,
// so that the process keeps its shape (its CV, its bursts) at the rate
// n/span; with span 0, n flows at the learned rate. With n = 0 it runs at
// the learned rate and gives the flows that start before span. Offsets
// are whole microseconds, a pcap's resolution, in ascending order.
func (c *ClassArrivals) Starts(n int, span time.Duration, rng *rand.Rand) ([]time.Duration, error) {
	switch {
	case n < 0 || span < 0:
		return nil, fmt.Errorf("trace: %d flows over %v", n, span)
	case n == 0 && span == 0:
		return nil, errors.New("trace: no flows and no span: give either")
	case n > MaxFlows:
		return nil, fmt.Errorf("trace: %d flows: at most %d", n, MaxFlows)
	}
	us := func(s float64) time.Duration { return time.Duration(math.Round(s*1e6)) * time.Microsecond }
	u := rng.Float64()
	if n == 0 { // the learned rate over span
		var out []time.Duration
		t := u * c.Gap(rng)
		for us(t) < span {
			if len(out) == MaxFlows {
				return nil, fmt.Errorf("trace: more than %d flows at %g flows per second over %v", MaxFlows, 1/c.MeanGap(), span)
			}
			out = append(out, us(t))
			t += c.Gap(rng)
		}
		return out, nil
	}
	// n gaps between n+1 renewals around the flows: the first flow a
	// fraction u of a gap in, the last one 1-u of a gap before the end
	g := make([]float64, n+1)
	for i := range g {
		g[i] = c.Gap(rng)
	}
	total := u * g[0]
	for _, x := range g[1:n] {
		total += x
	}
	total += (1 - u) * g[n]
	scale := 1.0
	if span > 0 {
		if !(total > 0) { // every gap drawn was 0: spread the flows evenly
			g = slices.Repeat([]float64{1}, n+1)
			total, u = float64(n), 0.5
		}
		scale = span.Seconds() / total
	}
	out := make([]time.Duration, n)
	t := u * g[0]
	for i := range out {
		if i > 0 {
			t += g[i]
		}
		out[i] = us(t * scale)
		if span > 0 && out[i] >= span {
			out[i] = span - time.Microsecond
		}
	}
	return out, nil
}

// Split splits n flows over classes in proportion to their learned rates
// (largest remainders), at least one each, so that the classes keep the
// mix of the captures; an error names a class the arrivals lack, or n
// below the number of classes.
func (a *Arrivals) Split(n int, classes []string) ([]Class, error) {
	if n < len(classes) {
		return nil, fmt.Errorf("trace: %d flows for %d classes: want one or more each", n, len(classes))
	}
	total := 0.0
	for _, name := range classes {
		c := a.Class(name)
		if c == nil {
			return nil, fmt.Errorf("trace: no arrival process for class %q (the arrivals have %v)", name, a.Names())
		}
		total += c.Rate
	}
	out := make([]Class, len(classes))
	rem := make([]float64, len(classes))
	given := 0
	for i, name := range classes {
		exact := float64(n-len(classes)) * a.Classes[name].Rate / total
		out[i] = Class{Name: name, Flows: 1 + int(exact)}
		rem[i] = exact - float64(int(exact))
		given += out[i].Flows
	}
	for ; given < n; given++ {
		best := 0
		for i := range rem {
			if rem[i] > rem[best] {
				best = i
			}
		}
		out[best].Flows++
		rem[best] = -1
	}
	return out, nil
}

// Even splits n flows evenly over classes (the first ones take the
// remainder).
func Even(n int, classes []string) []Class {
	out := make([]Class, len(classes))
	for i, name := range classes {
		out[i] = Class{Name: name, Flows: n / len(classes)}
		if i < n%len(classes) {
			out[i].Flows++
		}
	}
	return out
}

// Names returns the classes of the arrivals, sorted.
func (a *Arrivals) Names() []string {
	if a == nil {
		return nil
	}
	var out []string
	for k := range a.Classes {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
