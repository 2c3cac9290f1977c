package evaluate

import (
	"math"
	"sort"
)

// Histogram counts the values of one quantity. The zero value is not
// usable: make one with NewHistogram or a composite literal with a map.
type Histogram map[int64]float64

// NewHistogram returns an empty histogram.
func NewHistogram() Histogram { return Histogram{} }

// Add counts value v once.
func (h Histogram) Add(v int64) { h[v]++ }

// Total is the sum of the counts.
func (h Histogram) Total() float64 {
	t := 0.0
	for _, k := range h.keys() {
		t += h[k]
	}
	return t
}

func (h Histogram) keys() []int64 {
	ks := make([]int64, 0, len(h))
	for k := range h {
		ks = append(ks, k)
	}
	sort.Slice(ks, func(i, j int) bool { return ks[i] < ks[j] })
	return ks
}

// union returns the sorted keys of both histograms and their normalised
// probabilities over those keys. An empty histogram has all-zero
// probabilities.
func union(p, q Histogram) (ps, qs []float64) {
	keys := map[int64]bool{}
	for k := range p {
		keys[k] = true
	}
	for k := range q {
		keys[k] = true
	}
	ks := make([]int64, 0, len(keys))
	for k := range keys {
		ks = append(ks, k)
	}
	sort.Slice(ks, func(i, j int) bool { return ks[i] < ks[j] })
	tp, tq := p.Total(), q.Total()
	ps, qs = make([]float64, len(ks)), make([]float64, len(ks))
	for i, k := range ks {
		if tp > 0 {
			ps[i] = p[k] / tp
		}
		if tq > 0 {
			qs[i] = q[k] / tq
		}
	}
	return ps, qs
}

// JSD is the Jensen-Shannon divergence, base 2, of two histograms: in
// [0,1], 0 exactly when they are proportional, 1 when their supports are
// disjoint. Two empty histograms are at 0, an empty and a non-empty one
// at 1.
func JSD(p, q Histogram) float64 { return histDistance(p, q, JSDProb) }

// histDistance is d over the probabilities of two histograms on their
// joint support; two empty histograms are at 0, an empty and a non-empty
// one at 1.
func histDistance(p, q Histogram, d func(ps, qs []float64) float64) float64 {
	tp, tq := p.Total(), q.Total()
	switch {
	case tp == 0 && tq == 0:
		return 0
	case tp == 0 || tq == 0:
		return 1
	}
	ps, qs := union(p, q)
	return d(ps, qs)
}

// JSDProb is the Jensen-Shannon divergence, base 2, of two probability
// vectors of equal length.
func JSDProb(p, q []float64) float64 {
	d := 0.0
	for i := range p {
		a, b := p[i], q[i]
		if a == b {
			continue // both terms are a*log2(a/a) = 0
		}
		m := (a + b) / 2
		if a > 0 {
			d += a * math.Log2(a/m)
		}
		if b > 0 {
			d += b * math.Log2(b/m)
		}
	}
	d /= 2
	return min(max(d, 0), 1)
}

// TV is the total variation distance of two histograms, half the L1
// distance of their probabilities: in [0,1]. Empty histograms are treated
// as in JSD.
func TV(p, q Histogram) float64 { return histDistance(p, q, TVProb) }

// TVProb is the total variation distance of two probability vectors.
func TVProb(p, q []float64) float64 {
	d := 0.0
	for i := range p {
		d += math.Abs(p[i] - q[i])
	}
	return min(d/2, 1)
}
