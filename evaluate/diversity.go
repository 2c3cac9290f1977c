package evaluate

import (
	"encoding/binary"

	"github.com/google/gopacket/layers"

	"t2t/pcapio"
)

// A flow's shape is what its first packets look like on the wire with
// the payload bytes and the capture-specific numbers left out: for each
// of the first K packets, in order, its direction, its transport, its IP
// length, its TCP flags and window, its UDP length and its ICMP type and
// code (a field the packet lacks is 0). Two flows of one shape differ
// only in addresses, ports, IDs, sequence numbers, options, payload bytes
// and timing.
type shaper struct {
	h   *headers
	buf []byte
}

func newShaper() *shaper { return &shaper{h: newHeaders()} }

// shapeLen is the length of one packet's part of a shape.
const shapeLen = 12

// shape returns the shape of the first k packets of f; the bytes are
// valid only until the next call.
func (s *shaper) shape(f *pcapio.Flow, k int) []byte {
	s.buf = s.buf[:0]
	for i, p := range f.Packets {
		if i == k {
			break
		}
		var e [shapeLen]byte
		if f.Forward(i) {
			e[0] = 1
		}
		d := s.h
		d.decode(p.Link, p.Data)
		switch {
		case d.net == layers.LayerTypeIPv4 && d.has(layers.LayerTypeIPv4):
			e[1] = byte(d.ip4.Protocol)
			binary.BigEndian.PutUint16(e[2:], uint16(d.ipv4Length()))
		case d.net == layers.LayerTypeIPv6 && d.has(layers.LayerTypeIPv6):
			e[1] = byte(d.ip6.NextHeader)
			binary.BigEndian.PutUint16(e[2:], 40+d.ip6.Length)
		}
		switch {
		case d.has(layers.LayerTypeTCP):
			binary.BigEndian.PutUint16(e[4:], d.tcpFlags())
			binary.BigEndian.PutUint16(e[6:], d.tcp.Window)
		case d.has(layers.LayerTypeUDP):
			binary.BigEndian.PutUint16(e[8:], d.udp.Length)
		case d.has(layers.LayerTypeICMPv4):
			binary.BigEndian.PutUint16(e[10:], uint16(d.icmp.TypeCode))
		}
		s.buf = append(s.buf, e[:]...)
	}
	return s.buf
}

// ShapeShare is the number of distinct shapes among flows divided by the
// number of flows (0 for none): 1 when no two flows look alike, 1/n when
// all n do. A flow's shape is the sequence, over its first packets
// packets (0: MeasurePackets), of each packet's direction, transport, IP
// length, TCP flags, TCP window, UDP length and ICMP type and code.
//
// The share falls as n grows (shapes repeat), so compare two sets at the
// same n, as Diversify does.
func ShapeShare(flows []*pcapio.Flow, packets int) float64 {
	if len(flows) == 0 {
		return 0
	}
	return float64(len(shapeSet(newShaper(), flows, packets))) / float64(len(flows))
}

// shapeSet returns the distinct shapes of flows.
func shapeSet(s *shaper, flows []*pcapio.Flow, packets int) map[string]bool {
	if packets <= 0 {
		packets = MeasurePackets
	}
	set := map[string]bool{}
	for _, f := range flows {
		set[string(s.shape(f, packets))] = true
	}
	return set
}

// ClassDiversity compares the shape shares of one class's real and
// synthetic flows at the same number of flows.
type ClassDiversity struct {
	Class string `json:"class"`
	// Flows is n, the flows drawn from each side: the smaller count.
	Flows     int     `json:"flows"`
	Real      float64 `json:"real_share"`
	Synthetic float64 `json:"synthetic_share"`
	// Novel is the share of the synthetic shapes that none of the drawn
	// real flows has.
	Novel float64 `json:"novel_shapes"`
}

// Diversity is the shape diversity of the real and synthetic sets.
type Diversity struct {
	Packets int              `json:"packets"`
	Classes []ClassDiversity `json:"classes"`
	// All pools the flows drawn from every class.
	All ClassDiversity `json:"all"`
}

// Diversify measures, for each class with flows on both sides, the share
// of distinct flow shapes (ShapeShare) among n real and among n
// synthetic flows, n the smaller count, each side's n flows drawn with
// the seed. A generator that repeats itself scores below the real share;
// one that produces random shapes scores above it, with many Novel ones.
func Diversify(real, synth map[string][]*pcapio.Flow, cfg MeasureConfig) *Diversity {
	cfg = cfg.withDefaults()
	s := newShaper()
	dv := &Diversity{Packets: cfg.Packets}
	var novelAll, shapesR, shapesS int
	for _, c := range commonClasses(real, synth) {
		n := min(len(real[c]), len(synth[c]))
		rng := classRand(cfg.Seed, c)
		realSet := shapeSet(s, drawFlows(real[c], n, rng), cfg.Packets)
		synSet := shapeSet(s, drawFlows(synth[c], n, rng), cfg.Packets)
		nr, ns := len(realSet), len(synSet)
		novel := 0
		for k := range synSet {
			if !realSet[k] {
				novel++
			}
		}
		dv.Classes = append(dv.Classes, ClassDiversity{Class: c, Flows: n,
			Real: float64(nr) / float64(n), Synthetic: float64(ns) / float64(n), Novel: float64(novel) / float64(ns)})
		dv.All.Flows += n
		shapesR += nr
		shapesS += ns
		novelAll += novel
	}
	// Pooled, a shape counts once per class: two classes sharing a shape
	// are still two kinds of flow.
	dv.All.Class = "all"
	if n := dv.All.Flows; n > 0 {
		dv.All.Real = float64(shapesR) / float64(n)
		dv.All.Synthetic = float64(shapesS) / float64(n)
		dv.All.Novel = float64(novelAll) / float64(shapesS)
	}
	return dv
}
