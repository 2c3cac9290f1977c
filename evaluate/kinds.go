package evaluate

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"sort"
	"strings"

	"t2t"
	"t2t/pcapio"
)

// KindFieldNames are the fields KindFidelity compares, in report order:
// ttl and df per packet and direction, ipid the IP ID habit per flow and
// direction (counter, zero, random), sport the client port (a port that
// real flows of the kind use again and again, else "ephemeral"), dst the
// responder address's kind (broadcast, multicast, unicast), iplen the IP
// length per packet and direction, window the TCP window per packet and
// direction.
var KindFieldNames = []string{"ttl", "df", "ipid", "sport", "dst", "iplen", "window"}

// KindFidelity is how well synthetic flows match real ones within each
// class and kind of flow (pcapio.FlowKind: transport, IP version and
// server port): a class of real device traffic mixes kinds (DHCP,
// DNS, mDNS, TLS), each with its own values, and a field that is bimodal
// within a kind must come out bimodal.
type KindFidelity struct {
	Fields []string `json:"fields"`
	// Mix is, per class, the total variation distance between the real
	// and the synthetic shares of flows per kind.
	Mix map[string]float64 `json:"mix"`
	// Kinds compares each kind that both sides of a class hold.
	Kinds []KindTV `json:"kinds"`
	// Median is, per field, the median over Kinds of its distance (kinds
	// where neither side has the field left out).
	Median map[string]float64 `json:"median"`
}

// KindTV is one class and kind: flows of each side and, per field, the
// total variation distance between the real and synthetic distributions
// (absent when neither side has the field).
type KindTV struct {
	Class     string             `json:"class"`
	Kind      string             `json:"kind"`
	Real      int                `json:"real"`
	Synthetic int                `json:"synthetic"`
	TV        map[string]float64 `json:"tv"`
}

// kindHist holds the histograms of one side of one kind.
type kindHist map[string]map[string]int

func (h kindHist) add(field, v string) {
	if h[field] == nil {
		h[field] = map[string]int{}
	}
	h[field][v]++
}

// CompareKinds measures KindFidelity of synthetic against real flows.
func CompareKinds(real, synthetic map[string][]*pcapio.Flow) *KindFidelity {
	kf := &KindFidelity{Fields: KindFieldNames, Mix: map[string]float64{}, Median: map[string]float64{}}
	classes := make([]string, 0, len(real))
	for c := range real {
		classes = append(classes, c)
	}
	sort.Strings(classes)
	per := map[string][]float64{}
	for _, class := range classes {
		rk, sk := byKind(real[class]), byKind(synthetic[class])
		if len(sk) == 0 {
			continue
		}
		kf.Mix[class] = tvCounts(kindCounts(rk), kindCounts(sk))
		kinds := make([]string, 0, len(rk))
		for k := range rk {
			if len(sk[k]) > 0 {
				kinds = append(kinds, k)
			}
		}
		sort.Strings(kinds)
		for _, k := range kinds {
			fixed := fixedPorts(rk[k])
			rh, sh := kindHists(rk[k], fixed), kindHists(sk[k], fixed)
			kt := KindTV{Class: class, Kind: k, Real: len(rk[k]), Synthetic: len(sk[k]), TV: map[string]float64{}}
			for _, f := range KindFieldNames {
				if len(rh[f]) == 0 && len(sh[f]) == 0 {
					continue
				}
				kt.TV[f] = tvCounts(rh[f], sh[f])
				per[f] = append(per[f], kt.TV[f])
			}
			kf.Kinds = append(kf.Kinds, kt)
		}
	}
	for f, v := range per {
		kf.Median[f] = median(v)
	}
	return kf
}

func byKind(fl []*pcapio.Flow) map[string][]*pcapio.Flow {
	out := map[string][]*pcapio.Flow{}
	for _, f := range fl {
		if k := pcapio.FlowKind(f); k != "" {
			out[k] = append(out[k], f)
		}
	}
	return out
}

func kindCounts(m map[string][]*pcapio.Flow) map[string]int {
	out := map[string]int{}
	for k, fl := range m {
		out[k] = len(fl)
	}
	return out
}

// tvCounts is the total variation distance between two histograms (1
// when one is empty and the other not, 0 when both are).
func tvCounts(a, b map[string]int) float64 {
	na, nb := 0, 0
	for _, n := range a {
		na += n
	}
	for _, n := range b {
		nb += n
	}
	if na == 0 || nb == 0 {
		if na == nb {
			return 0
		}
		return 1
	}
	d := 0.0
	for k, n := range a {
		x := float64(n)/float64(na) - float64(b[k])/float64(nb)
		if x < 0 {
			x = -x
		}
		d += x
	}
	for k, n := range b {
		if _, ok := a[k]; !ok {
			d += float64(n) / float64(nb)
		}
	}
	return d / 2
}

// fixedPorts are the client ports at least two real flows and a fifth of
// them share.
func fixedPorts(fl []*pcapio.Flow) map[uint16]bool {
	c := map[uint16]int{}
	for _, f := range fl {
		c[f.Src.Port()]++
	}
	out := map[uint16]bool{}
	for p, n := range c {
		if n >= 2 && n*5 >= len(fl) {
			out[p] = true
		}
	}
	return out
}

func kindHists(fl []*pcapio.Flow, fixed map[uint16]bool) kindHist {
	h := kindHist{}
	for _, f := range fl {
		if f.Key.Proto != t2t.ProtoICMP {
			if fixed[f.Src.Port()] {
				h.add("sport", fmt.Sprint(f.Src.Port()))
			} else {
				h.add("sport", "ephemeral")
			}
		}
		dst := f.Key.A
		if dst == f.Src {
			dst = f.Key.B
		}
		h.add("dst", addrKind(dst.Addr()))
		var ids [2][]uint16
		for i, p := range f.Packets {
			info, err := t2t.ParseInfo(p.Link, p.Data)
			if err != nil || info.Version == 0 {
				continue
			}
			d := "1:"
			if f.Forward(i) {
				d = "0:"
			}
			h.add("ttl", d+fmt.Sprint(info.TTL))
			h.add("iplen", d+fmt.Sprint(info.IPLen))
			if info.Version == 4 {
				h.add("df", fmt.Sprint(d, info.DF))
				if info.NetOff+6 <= len(p.Data) {
					k := 1
					if f.Forward(i) {
						k = 0
					}
					ids[k] = append(ids[k], binary.BigEndian.Uint16(p.Data[info.NetOff+4:]))
				}
			}
			if info.Proto == t2t.ProtoTCP && info.TCPHeader {
				h.add("window", d+fmt.Sprint(info.TCPWindow))
			}
		}
		for d := 0; d < 2; d++ {
			if hb := pcapio.IDHabit(ids[d]); hb >= 0 {
				h.add("ipid", fmt.Sprintf("%d:%s", d, pcapio.IDHabitNames[hb]))
			}
		}
	}
	return h
}

func addrKind(a netip.Addr) string {
	a = a.Unmap()
	switch {
	case a == netip.AddrFrom4([4]byte{255, 255, 255, 255}):
		return "broadcast"
	case a.IsMulticast():
		return "multicast"
	}
	return "unicast"
}

// write adds the kinds' table to a Markdown report.
func (kf *KindFidelity) write(p func(format string, args ...any)) {
	p("\n## Fields within class and kind of flow\n\n")
	p("Total variation distance, real against synthetic, per class and kind of flow (transport, IP version, server port; kinds both sides hold): %s. Mix: the distance between the shares of flows per kind.\n\n", strings.Join(kf.Fields, ", "))
	p("| class | kind | flows real / syn |")
	for _, f := range kf.Fields {
		p(" %s |", f)
	}
	p("\n|---|---|---:|%s\n", strings.Repeat("---:|", len(kf.Fields)))
	for _, k := range kf.Kinds {
		p("| %s | %s | %d / %d |", k.Class, k.Kind, k.Real, k.Synthetic)
		for _, f := range kf.Fields {
			if v, ok := k.TV[f]; ok {
				p(" %.3f |", v)
			} else {
				p(" – |")
			}
		}
		p("\n")
	}
	p("| median | | |")
	for _, f := range kf.Fields {
		p(" %.3f |", kf.Median[f])
	}
	p("\n\nKind mix per class:")
	classes := make([]string, 0, len(kf.Mix))
	for c := range kf.Mix {
		classes = append(classes, c)
	}
	sort.Strings(classes)
	for _, c := range classes {
		p(" %s %.3f;", c, kf.Mix[c])
	}
	p("\n")
}
