package evaluate

import (
	"math"
	"math/bits"
	"sort"

	"github.com/google/gopacket/layers"

	"t2t"
	"t2t/pcapio"
)

// Fields are the quantities whose distributions Fidelity compares, in
// report order. Header fields are counted per packet by exact value; the
// flow fields per flow (flow_packets, flow_proto) or per consecutive
// packet pair (flow_iat).
//
//	ip_version     IP version (4 or 6)
//	ip_ttl         IPv4 TTL (nPrint ipv4_ttl) or IPv6 hop limit (ipv6_hl)
//	ip_len         IPv4 total length (ipv4_tl) or 40 + IPv6 payload length
//	ip_proto       IPv4 protocol (ipv4_proto) or IPv6 next header
//	ipv4_flags     IPv4 reserved/DF/MF bits
//	tcp_flags      TCP flags as one value: NS<<8 | CWR..FIN
//	tcp_doff       TCP data offset
//	tcp_wsize      TCP window
//	tcp_optlen     TCP option bytes (doff*4 - 20)
//	udp_len        UDP length
//	icmp_type      ICMP type<<8 | code
//	flow_packets   packets per flow (all the flow had, not only those kept)
//	flow_iat       inter-arrival time within a flow, log2 buckets of
//	               microseconds: bucket b holds [2^(b-1), 2^b) µs, 0 holds 0
//	flow_proto     transport of each flow (the TCP/UDP/ICMP mix)
var Fields = []string{"ip_version", "ip_ttl", "ip_len", "ip_proto", "ipv4_flags",
	"tcp_flags", "tcp_doff", "tcp_wsize", "tcp_optlen", "udp_len", "icmp_type",
	"flow_packets", "flow_iat", "flow_proto"}

// FieldHistograms counts the Fields over flows. Every field has a
// histogram, possibly empty.
func FieldHistograms(flows []*pcapio.Flow) map[string]Histogram {
	h := make(map[string]Histogram, len(Fields))
	for _, f := range Fields {
		h[f] = NewHistogram()
	}
	d := newHeaders()
	for _, f := range flows {
		h["flow_packets"].Add(int64(max(f.Seen, len(f.Packets))))
		h["flow_proto"].Add(int64(f.Key.Proto))
		for i, p := range f.Packets {
			if i > 0 {
				h["flow_iat"].Add(iatBucket(p.Time.Sub(f.Packets[i-1].Time).Microseconds()))
			}
			countPacket(h, d, p.Link, p.Data)
		}
	}
	return h
}

// iatBucket is 0 for us <= 0 and 1+floor(log2(us)) otherwise.
func iatBucket(us int64) int64 {
	if us <= 0 {
		return 0
	}
	return int64(64 - bits.LeadingZeros64(uint64(us)))
}

// countPacket decodes a frame with d and counts its header fields in h. A
// header's fields count when gopacket read its fixed part (a TCP header
// cut inside its options still counts); transport headers count under IP
// only, and not in fragments after the first.
func countPacket(h map[string]Histogram, d *headers, link t2t.LinkType, frame []byte) {
	d.decode(link, frame)
	switch {
	case d.net == layers.LayerTypeIPv4 && d.has(layers.LayerTypeIPv4) && d.ip4.Version == 4:
		ip := &d.ip4
		h["ip_version"].Add(4)
		h["ip_ttl"].Add(int64(ip.TTL))
		h["ip_len"].Add(int64(d.ipv4Length()))
		h["ip_proto"].Add(int64(ip.Protocol))
		h["ipv4_flags"].Add(int64(ip.Flags))
	case d.net == layers.LayerTypeIPv6 && d.has(layers.LayerTypeIPv6) && d.ip6.Version == 6:
		ip := &d.ip6
		h["ip_version"].Add(6)
		h["ip_ttl"].Add(int64(ip.HopLimit))
		h["ip_len"].Add(40 + int64(ip.Length))
		h["ip_proto"].Add(int64(ip.NextHeader))
	default:
		return
	}
	switch {
	case d.has(layers.LayerTypeTCP):
		t := &d.tcp
		h["tcp_flags"].Add(int64(d.tcpFlags()))
		h["tcp_doff"].Add(int64(t.DataOffset))
		h["tcp_wsize"].Add(int64(t.Window))
		h["tcp_optlen"].Add(int64(t.DataOffset)*4 - 20)
	case d.has(layers.LayerTypeUDP):
		h["udp_len"].Add(int64(d.udp.Length))
	case d.has(layers.LayerTypeICMPv4):
		h["icmp_type"].Add(int64(d.icmp.TypeCode))
	}
}

// FieldDistance is the distance between the real and synthetic
// distributions of one field.
type FieldDistance struct {
	Field     string  `json:"field"`
	JSD       float64 `json:"jsd"`
	TV        float64 `json:"tv"`
	Real      float64 `json:"real_count"`      // values counted on the real side
	Synthetic float64 `json:"synthetic_count"` // values counted on the synthetic side
}

// ClassFidelity holds the field distances of one class.
type ClassFidelity struct {
	Class  string          `json:"class"`
	Fields []FieldDistance `json:"fields"`
	// MeanJSD and MeanTV average the fields that have values on at least
	// one side.
	MeanJSD float64 `json:"mean_jsd"`
	MeanTV  float64 `json:"mean_tv"`
}

// Fidelity compares real and synthetic flows class by class.
type Fidelity struct {
	Classes []ClassFidelity `json:"classes"`
	// All compares the pooled flows of all classes.
	All ClassFidelity `json:"all"`
	// ProtoMix is the share of TCP, UDP and ICMP flows on each side.
	ProtoMixReal      map[string]float64 `json:"proto_mix_real"`
	ProtoMixSynthetic map[string]float64 `json:"proto_mix_synthetic"`
	// MeanJSD and MeanTV average the classes' means.
	MeanJSD float64 `json:"mean_jsd"`
	MeanTV  float64 `json:"mean_tv"`
}

// CompareFields computes the distance of every field of two histogram
// sets made by FieldHistograms.
func CompareFields(class string, real, synth map[string]Histogram) ClassFidelity {
	cf := ClassFidelity{Class: class}
	n := 0
	for _, name := range Fields {
		p, q := real[name], synth[name]
		d := FieldDistance{Field: name, JSD: JSD(p, q), TV: TV(p, q), Real: p.Total(), Synthetic: q.Total()}
		cf.Fields = append(cf.Fields, d)
		if d.Real > 0 || d.Synthetic > 0 {
			cf.MeanJSD += d.JSD
			cf.MeanTV += d.TV
			n++
		}
	}
	if n > 0 {
		cf.MeanJSD /= float64(n)
		cf.MeanTV /= float64(n)
	}
	return cf
}

// CompareFidelity compares the field distributions of real and synthetic
// flows of each class (the union of both sides' classes, sorted; a class
// that one side lacks is at distance 1 in every field with values).
func CompareFidelity(real, synth map[string][]*pcapio.Flow) *Fidelity {
	classes := unionKeys(real, synth)
	fd := &Fidelity{}
	var allR, allS []*pcapio.Flow
	for _, c := range classes {
		cf := CompareFields(c, FieldHistograms(real[c]), FieldHistograms(synth[c]))
		fd.Classes = append(fd.Classes, cf)
		fd.MeanJSD += cf.MeanJSD
		fd.MeanTV += cf.MeanTV
		allR = append(allR, real[c]...)
		allS = append(allS, synth[c]...)
	}
	if len(classes) > 0 {
		fd.MeanJSD /= float64(len(classes))
		fd.MeanTV /= float64(len(classes))
	}
	fd.All = CompareFields("all", FieldHistograms(allR), FieldHistograms(allS))
	fd.ProtoMixReal = protoMix(allR)
	fd.ProtoMixSynthetic = protoMix(allS)
	return fd
}

func protoMix(flows []*pcapio.Flow) map[string]float64 {
	m := map[string]float64{"tcp": 0, "udp": 0, "icmp": 0}
	for _, f := range flows {
		switch f.Key.Proto {
		case t2t.ProtoTCP:
			m["tcp"]++
		case t2t.ProtoUDP:
			m["udp"]++
		case t2t.ProtoICMP:
			m["icmp"]++
		default:
			m["other"]++
		}
	}
	if len(flows) > 0 {
		for k := range m {
			m[k] /= float64(len(flows))
		}
	}
	return m
}

func unionKeys[V any](a, b map[string]V) []string {
	set := map[string]bool{}
	for k := range a {
		set[k] = true
	}
	for k := range b {
		set[k] = true
	}
	ks := make([]string, 0, len(set))
	for k := range set {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// Balance describes how the flows of a set spread over classes.
type Balance struct {
	Counts map[string]int `json:"counts"`
	Total  int            `json:"total"`
	// Entropy is the Shannon entropy (bits) of the class shares;
	// Normalized divides it by log2 of the number of classes: 1 for a
	// perfectly balanced set, 0 when one class holds everything (and for
	// fewer than two classes).
	Entropy    float64 `json:"entropy_bits"`
	Normalized float64 `json:"normalized_entropy"`
}

// ClassBalance counts the flows of each class. Classes listed in classes
// but absent from flows count 0 (and lower the normalised entropy).
func ClassBalance(flows map[string][]*pcapio.Flow, classes []string) Balance {
	b := Balance{Counts: map[string]int{}}
	for _, c := range classes {
		b.Counts[c] = 0
	}
	for c, fl := range flows {
		b.Counts[c] += len(fl)
		b.Total += len(fl)
	}
	if b.Total == 0 || len(b.Counts) < 2 {
		return b
	}
	keys := make([]string, 0, len(b.Counts))
	for k := range b.Counts {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if n := b.Counts[k]; n > 0 {
			p := float64(n) / float64(b.Total)
			b.Entropy -= p * math.Log2(p)
		}
	}
	b.Normalized = b.Entropy / math.Log2(float64(len(b.Counts)))
	return b
}
