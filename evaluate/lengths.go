package evaluate

import (
	"math"
	"slices"

	"t2t"
	"t2t/pcapio"
)

// EndPackets is how many of a TCP flow's last packets Lengths looks in
// for the FIN or RST that ends it.
const EndPackets = 4

// ClassLengths compares the packets per flow, and how TCP flows end, of
// one class's real and synthetic flows.
type ClassLengths struct {
	Class string `json:"class"`
	// Real and Synthetic summarise the packets per flow of each side.
	Real      LengthStats `json:"real"`
	Synthetic LengthStats `json:"synthetic"`
	// KS is the two-sample Kolmogorov-Smirnov statistic of the two
	// distributions of packets per flow (0: the same; 1: apart).
	KS float64 `json:"ks"`
}

// LengthStats are a side's packets per flow, and the share of its TCP
// flows that end with a FIN or RST (in one of their last EndPackets
// packets; nil without TCP flows).
type LengthStats struct {
	Flows    int      `json:"flows"`
	Median   float64  `json:"median"`
	P90      float64  `json:"p90"`
	Max      int      `json:"max"`
	TCPFlows int      `json:"tcp_flows"`
	Ended    *float64 `json:"tcp_ended,omitempty"`
}

// Lengths compares packets per flow and TCP flow endings class by class,
// for the classes with flows on both sides, and over all flows (class
// "all").
func Lengths(real, synth map[string][]*pcapio.Flow) []ClassLengths {
	var out []ClassLengths
	var allR, allS []*pcapio.Flow
	for _, c := range commonClasses(real, synth) {
		out = append(out, classLengths(c, real[c], synth[c]))
		allR, allS = append(allR, real[c]...), append(allS, synth[c]...)
	}
	if len(out) > 0 {
		out = append(out, classLengths("all", allR, allS))
	}
	return out
}

func classLengths(class string, real, synth []*pcapio.Flow) ClassLengths {
	r, rs := lengthStats(real)
	s, ss := lengthStats(synth)
	return ClassLengths{Class: class, Real: r, Synthetic: s, KS: ks(rs, ss)}
}

// lengthStats summarises flows; it also returns their sorted lengths.
func lengthStats(flows []*pcapio.Flow) (LengthStats, []int) {
	st := LengthStats{Flows: len(flows)}
	n := make([]int, len(flows))
	ended := 0
	for i, f := range flows {
		n[i] = len(f.Packets)
		if f.Key.Proto != t2t.ProtoTCP {
			continue
		}
		st.TCPFlows++
		for _, p := range f.Packets[max(0, len(f.Packets)-EndPackets):] {
			info, err := t2t.ParseInfo(p.Link, p.Data)
			if err == nil && info.TCPHeader && info.TCPFlags&0x05 != 0 { // FIN or RST
				ended++
				break
			}
		}
	}
	if st.TCPFlows > 0 {
		e := float64(ended) / float64(st.TCPFlows)
		st.Ended = &e
	}
	slices.Sort(n)
	if len(n) > 0 {
		st.Median, st.P90, st.Max = quantile(n, 0.5), quantile(n, 0.9), n[len(n)-1]
	}
	return st, n
}

// quantile of sorted values, interpolated linearly.
func quantile(sorted []int, q float64) float64 {
	x := q * float64(len(sorted)-1)
	i := int(x)
	if i+1 >= len(sorted) {
		return float64(sorted[len(sorted)-1])
	}
	return float64(sorted[i]) + (x-float64(i))*float64(sorted[i+1]-sorted[i])
}

// ks is the two-sample Kolmogorov-Smirnov statistic of sorted a and b:
// the largest gap between their empirical distribution functions.
func ks(a, b []int) float64 {
	if len(a) == 0 || len(b) == 0 {
		return 1
	}
	d, i, j := 0.0, 0, 0
	for i < len(a) && j < len(b) {
		v := min(a[i], b[j])
		for i < len(a) && a[i] == v {
			i++
		}
		for j < len(b) && b[j] == v {
			j++
		}
		d = max(d, math.Abs(float64(i)/float64(len(a))-float64(j)/float64(len(b))))
	}
	return d
}
