package repair

import (
	"math/bits"

	"t2t"
	"t2t/pcapio"
)

// hdrLen is the IP and transport header length of q with its options.
func (rp *repairer) hdrLen(q *pkt) int {
	h := 20
	if rp.v6 {
		h = 40
	}
	switch rp.proto() {
	case t2t.ProtoTCP:
		h += 20 + len(q.opts)
	default:
		h += 8
	}
	return h
}

// lengths brings payload lengths within the MTU: a length field too large
// loses its highest set bits until it fits (which undoes a flipped high
// bit).
func (rp *repairer) lengths(ps []*pkt) {
	for _, q := range ps {
		h := rp.hdrLen(q)
		tl := q.plen + h
		for tl > rp.mtu {
			tl &^= 1 << (bits.Len(uint(tl)) - 1)
		}
		if rp.cp != nil {
			tl = snapLength(tl, h, rp.mtu, rp.cp.IPLens)
		}
		q.plen = max(0, tl-h)
	}
}

// MaxLenFlips is how many bits a generated IP length may be off a length
// of the class profile (ClassProfile.IPLens) and still be snapped to it.
const MaxLenFlips = 2

// snapLength returns tl if it is a known length (or none is known), else
// the known length nearest in Hamming distance, at most MaxLenFlips bits
// away, of at least the header length h and at most mtu (ties: the more
// frequent one); tl when there is none.
func snapLength(tl, h, mtu int, known []Count) int { return snapValue(tl, h, mtu, known) }

// snapValue returns v when known holds it, else the known value in
// [lo, hi] nearest to v in Hamming distance within MaxLenFlips bit flips
// (the most frequent first on a tie), else v.
func snapValue(v, lo, hi int, known []Count) int {
	best, bestD := v, MaxLenFlips+1
	for _, c := range known {
		if c.Value == v {
			return v
		}
		if c.Value < lo || c.Value > hi {
			continue
		}
		if d := bits.OnesCount(uint(c.Value ^ v)); d < bestD {
			best, bestD = c.Value, d
		}
	}
	return best
}

// dirIP is what one direction's packets share: TTL, DF, flow label.
type dirIP struct {
	prof    []Count // the profile's TTLs of the direction
	ttl     int     // TTL of packets whose own is not kept
	forceDF int     // -1: keep each packet's DF; 0 or 1: force it
	df      int     // DF of inserted packets
	fl      int     // IPv6 flow label
}

// ipFields makes TTLs, DF, IDs and flow labels consistent per direction.
func (rp *repairer) ipFields(ps []*pkt) {
	for d := 0; d < 2; d++ {
		rp.setIP(ps, d, rp.dirIP(ps, d))
	}
}

// dirIP chooses the TTL, DF and flow label of direction d: the TTL the
// rows and the profile agree on, DF forced where the class is unanimous
// (99%; for ICMP, its echo requests' or replies') and else the DF of most
// rows, the flow label of most rows.
func (rp *repairer) dirIP(ps []*pkt, d int) dirIP {
	cp := rp.cp
	ttls, dfs, fls := counter{}, counter{}, counter{}
	for _, q := range ps {
		if q.dir == d && q.row >= 0 {
			ttls[int(q.ttl)]++
			fls[int(q.fl)]++
			if q.df {
				dfs[1]++
			} else {
				dfs[0]++
			}
		}
	}
	var di dirIP
	if cp != nil {
		di.prof = cp.TTL[d]
	}
	gen, ok := mode(ttls.list())
	di.ttl = 64
	switch {
	case len(di.prof) > 0 && ok && contains(di.prof, gen):
		di.ttl = gen
	case len(di.prof) > 0:
		di.ttl, _ = mode(di.prof)
	case ok && gen >= 16:
		di.ttl = gen
	}
	di.forceDF = -1
	if cp != nil {
		n0, n1 := cp.DF[d][0], cp.DF[d][1]
		if rp.proto() == t2t.ProtoICMP && cp.ICMPDF[d][0]+cp.ICMPDF[d][1] > 0 {
			// repair's ICMP flows are echo sessions: requests from the
			// client (direction 0), replies from the server
			n0, n1 = cp.ICMPDF[d][0], cp.ICMPDF[d][1]
		}
		if n1 > 0 && n1*100 >= 99*(n0+n1) {
			di.forceDF = 1
		} else if n0 > 0 && n0*100 >= 99*(n0+n1) {
			di.forceDF = 0
		}
	}
	di.df, _ = mode(dfs.list())
	if len(dfs) == 0 {
		di.df = 1
	}
	di.fl, _ = mode(fls.list())
	return di
}

// setIP gives the packets of direction d its TTL, DF and flow label, and
// IPv4 IDs: inserted packets follow the previous ID, and IDs of
// fragmentable packets are unique.
func (rp *repairer) setIP(ps []*pkt, d int, di dirIP) {
	seen := map[uint16]bool{}
	var last uint16
	habit := -1
	if !rp.v6 {
		habit = rp.idHabit(ps, d)
	}
	k := 0 // packets of the direction so far
	for i, q := range ps {
		if q.dir != d {
			continue
		}
		k++
		keepTTL := q.row >= 0 && (len(di.prof) > 0 && contains(di.prof, int(q.ttl)) || len(di.prof) == 0 && int(q.ttl) == di.ttl)
		if !keepTTL {
			q.ttl = uint8(di.ttl)
		}
		if cp := rp.cp; cp != nil {
			known := cp.TOS[d]
			if i < len(cp.Positions) && len(cp.Positions[i].TOS[d]) > 0 {
				known = cp.Positions[i].TOS[d]
			}
			q.tos = uint8(rp.drawValue(int(q.tos), known, 0, 255))
		}
		// DF is one value per direction of a flow (real stacks never mix
		// it within a flow: 0 of 2,371 flows of captures-seed42 do):
		// the class's when unanimous, else the direction's most frequent
		if di.forceDF >= 0 {
			q.df = di.forceDF == 1
		} else {
			q.df = di.df == 1
		}
		if rp.v6 {
			q.fl = uint32(di.fl) & 0xfffff
			continue
		}
		switch {
		case habit == pcapio.IDCounter && k > 1 && (q.row < 0 || q.id-last == 0 || q.id-last > pcapio.MaxIDStep):
			q.id = last + 1 // the kind's stacks count their IDs up
		case habit == pcapio.IDZero && q.df && q.id != 0:
			q.id = 0
		case q.row < 0:
			q.id = last + 1
			if q.df {
				q.id = 0
			}
		}
		if !q.df { // IDs of fragmentable packets must be unique per direction
			for seen[q.id] {
				q.id++
			}
		}
		seen[q.id] = true
		last = q.id
	}
}

// idHabit is the IP ID habit repair gives direction d: none (-1) when the
// rows' own IDs follow a habit the flow's kind has (minimal change), else
// the habit most of the kind's flows have (ClassProfile.IPID).
func (rp *repairer) idHabit(ps []*pkt, d int) int {
	var ids []uint16
	for _, q := range ps {
		if q.dir == d && q.row >= 0 {
			ids = append(ids, q.id)
		}
	}
	if g := pcapio.IDHabit(ids); g >= 0 && rp.cp != nil && rp.cp.IPID[d][g] > 0 {
		return -1
	}
	return rp.cp.idHabit(d)
}
