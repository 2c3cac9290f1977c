package repair

import (
	"math"
	"math/bits"

	"t2t"
)

// PositionOdds weighs a profile value at a packet's position against the
// generated value: each value v the class's real flows carry at that
// position (and direction) is drawn with probability proportional to its
// count times PositionOdds to the power of the bits v differs in from
// the generated value. A generated value the class has at that position
// is kept (so a real flow repairs to itself); for any other, the
// generated bits are evidence and the class's values the prior: a value
// one or two bits off a common one most likely becomes it, and one far
// from all becomes one the class has there, as often as real flows have
// it.
const PositionOdds = 0.1

// positions draws each packet's payload length and TCP window, among the
// first PositionPackets packets of the flow, from the values real flows of
// the class carry at the packet's position and direction (see
// PositionOdds). TCP packets with SYN, FIN or RST, or without payload,
// keep their length (the handshake and the flow's end are repaired
// elsewhere); ICMP keeps its own (replies echo requests). It runs once
// the flow's packets, directions and handshake are final.
func (rp *repairer) positions(ps []*pkt) {
	cp := rp.cp
	if cp == nil {
		return
	}
	for i, q := range ps {
		if i >= len(cp.Positions) {
			return
		}
		pos := &cp.Positions[i]
		d := q.dir
		room := rp.mtu - rp.hdrLen(q)
		switch rp.proto() {
		case t2t.ProtoTCP:
			if q.flags&(flagSYN|flagFIN|flagRST) == 0 && q.plen > 0 {
				q.plen = rp.drawValue(q.plen, pos.Payload[d], 1, room)
			}
			if q.win != 0 {
				q.win = uint16(rp.drawValue(int(q.win), pos.Windows[d], 1, 65535))
			}
		case t2t.ProtoUDP:
			q.plen = rp.drawValue(q.plen, pos.Payload[d], 0, room)
		}
	}
}

// drawValue returns v when known holds it, else draws among the values
// of known in [lo, hi], each weighed by its count times PositionOdds to
// the power of its Hamming distance to v; v when none is in range.
func (rp *repairer) drawValue(v int, known []Count, lo, hi int) int {
	total := 0.0
	for _, c := range known {
		if c.Value == v {
			return v
		}
		if c.Value >= lo && c.Value <= hi {
			total += positionWeight(v, c)
		}
	}
	if total == 0 {
		return v
	}
	x := rp.rng.Float64() * total
	last := v
	for _, c := range known {
		if c.Value < lo || c.Value > hi {
			continue
		}
		last = c.Value
		if x -= positionWeight(v, c); x < 0 {
			return c.Value
		}
	}
	return last
}

func positionWeight(v int, c Count) float64 {
	return float64(c.N) * math.Pow(PositionOdds, float64(bits.OnesCount(uint(c.Value^v))))
}
