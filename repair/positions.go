package repair

import (
	"math"
	"math/bits"

	"t2t"
)

// PositionOdds weighs a profile value at a packet's position against the
// generated value where no Step decides (UDP lengths; TCP windows in a
// context the class's flows never had, TCP lengths at a position where
// they have no step): each value v the class's real flows carry at that
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
// the class carry there. A TCP segment without SYN, FIN or RST takes its
// length, PSH flag and window from its step (ClassProfile.Steps: what real
// flows send at its position and direction after the flow's previous data
// packet and previous packet, see SequenceWeight), mixed with its
// position's; an empty one may take data, but only before the flow's
// first FIN or RST and its ending. A UDP datagram takes its length from
// the position's values (see PositionOdds). Segments with SYN, FIN or RST
// keep their length (the handshake and the flow's end are repaired
// elsewhere); ICMP keeps its own (replies echo requests). It runs once the
// flow's packets, directions and handshake are final.
func (rp *repairer) positions(ps []*pkt) {
	cp := rp.cp
	if cp == nil {
		return
	}
	// an empty segment may take data only before the first FIN or RST and
	// before the ending the flow was given
	open := len(ps)
	if rp.opts.End {
		open = max(0, len(ps)-EndPackets)
	}
	for i, q := range ps {
		if q.flags&(flagFIN|flagRST) != 0 {
			open = min(open, i)
			break
		}
	}
	prevDir, prevLen, last := -1, 0, -1 // the context of a Step
	for i, q := range ps {
		if i >= len(cp.Positions) {
			return
		}
		pos := &cp.Positions[i]
		d := q.dir
		room := rp.mtu - rp.hdrLen(q)
		switch rp.proto() {
		case t2t.ProtoTCP:
			s, at := cp.step(stepKey{i, d, prevDir, prevLen, last}), cp.step(stepKey{i, d, AnyPrev, 0, -1})
			if q.flags&(flagSYN|flagFIN|flagRST) == 0 && (q.plen > 0 || i < open) {
				q.plen = rp.drawLength(q.plen, s, at, pos.Payload[d], room)
			}
			if q.flags&(flagSYN|flagFIN|flagRST) == 0 {
				rp.psh(q, s, at)
			}
			if q.win != 0 {
				q.win = uint16(rp.drawWindow(int(q.win), s, pos.Windows[d]))
			}
		case t2t.ProtoUDP:
			q.plen = rp.drawValue(q.plen, pos.Payload[d], 0, room)
		}
		last = 2 * d
		if q.plen > 0 {
			prevDir, prevLen, last = d, q.plen, 2*d+1
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
