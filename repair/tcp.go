package repair

import (
	"encoding/binary"
	"encoding/hex"
	"time"
)

// tcpStructure gives a TCP flow its handshake, legal flags and a coherent
// end. It may insert packets (SYN, SYN+ACK, the client's ACK) and drop
// rows after the end of the connection.
func (rp *repairer) tcpStructure(ps []*pkt) []*pkt {
	out, rest, ecn := rp.handshake(ps)
	hs := len(out)
	legalFlags(rest, ecn)
	out = append(out, rest...)
	out = rp.ending(out, hs)
	out = rp.endAtRST(out, hs)
	out = rp.closeFINs(out, hs)
	for _, q := range out {
		if q.flags&flagURG == 0 || q.urp == 0 || int(q.urp) > q.plen {
			q.flags &^= flagURG
			q.urp = 0
		}
	}
	return out
}

// handshake returns the packets of the handshake, generated ones fixed and
// missing ones inserted (SYN, SYN+ACK, and the client's ACK when the
// server would speak next), the packets after it, and whether ECN was
// negotiated.
func (rp *repairer) handshake(ps []*pkt) (out, rest []*pkt, ecn bool) {
	ins := func(dir int) *pkt {
		rp.lg.Inserted++
		return &pkt{row: -1, dir: dir, optsOK: false}
	}
	i := 0
	var syn *pkt
	if ps[0].dir == 0 && ps[0].flags&flagSYN != 0 {
		syn, i = ps[0], 1
	} else {
		syn = ins(0)
	}
	ecn = syn.flags&(flagECE|flagCWR) == flagECE|flagCWR
	synFlags := uint8(flagSYN)
	if ecn {
		synFlags |= flagECE | flagCWR
	}
	syn.flags, syn.role, syn.plen = synFlags, roleSYN, 0
	out = append(out, syn)
	for i < len(ps) && ps[i].dir == 0 && ps[i].flags&(flagSYN|flagACK) == flagSYN {
		if rp.retransmission(syn, ps[i]) {
			ps[i].flags, ps[i].role, ps[i].plen = synFlags, roleSYN, 0 // retransmitted SYN
			out = append(out, ps[i])
		} else {
			rp.lg.Dropped++
		}
		i++
	}
	var sa *pkt
	if i < len(ps) && ps[i].dir == 1 && ps[i].flags&flagSYN != 0 {
		sa = ps[i]
		i++
	} else {
		sa = ins(1)
	}
	saFlags := uint8(flagSYN | flagACK)
	if ecn && sa.flags&flagECE != 0 {
		saFlags |= flagECE
	} else {
		ecn = false
	}
	sa.flags, sa.role, sa.plen = saFlags, roleSYNACK, 0
	out = append(out, sa)
	for i < len(ps) && ps[i].dir == 1 && ps[i].flags&(flagSYN|flagACK) == flagSYN|flagACK {
		if rp.retransmission(sa, ps[i]) {
			ps[i].flags, ps[i].role, ps[i].plen = saFlags, roleSYNACK, 0
			out = append(out, ps[i])
		} else {
			rp.lg.Dropped++
		}
		i++
	}
	if i < len(ps) && ps[i].dir != 0 {
		a := ins(0)
		a.flags = flagACK
		out = append(out, a)
	}
	return out, ps[i:], ecn
}

// retransmission reports whether q, a second SYN (or SYN+ACK) after first,
// is a retransmission to keep: only when the matrix carries times and q
// comes at least MinRTO after first, as a real retransmission does (a
// kernel waits 1 s). A generated duplicate, with no time to show for it,
// is noise: real flows almost never retransmit their handshake (0 of 263
// held-out flows of captures-seed42), generated ones did (13 of 215).
func (rp *repairer) retransmission(first, q *pkt) bool {
	m := rp.m
	if m.Times == nil || first.row < 0 || q.row < 0 || first.row >= len(m.Times) || q.row >= len(m.Times) {
		return false
	}
	return m.Times[q.row].Sub(m.Times[first.row]) >= MinRTO
}

// MinRTO is the least gap after which a repeated handshake packet counts as
// a retransmission.
const MinRTO = 200 * time.Millisecond

// legalFlags makes the flags of the packets after the handshake legal: no
// SYN, ECN flags only when negotiated, ACK on every segment but a RST, and
// a RST carries no FIN, PSH, URG or data.
func legalFlags(ps []*pkt, ecn bool) {
	for _, q := range ps {
		fl := q.flags &^ flagSYN
		if !ecn {
			fl &^= flagECE | flagCWR
		}
		if fl&flagRST != 0 {
			fl &^= flagFIN | flagPSH | flagURG
			q.plen = 0
		} else {
			fl |= flagACK
		}
		q.flags = fl
	}
}

// ending gives a flow whose end the matrix holds (Options.End) one of
// the class's real endings, drawn by count against the flows that end
// with none (ClassProfile.Endings, Unended): the last packets after the
// handshake take the ending's directions and flags, and those the ending
// sends without payload lose theirs. A flow with too few packets after
// the handshake keeps its own end.
func (rp *repairer) ending(out []*pkt, hs int) []*pkt {
	cp := rp.cp
	if !rp.opts.End || cp == nil || len(cp.Endings) == 0 {
		return out
	}
	total := cp.Unended
	for _, e := range cp.Endings {
		total += e.N
	}
	x := rp.rng.IntN(max(total, 1))
	var e *Ending
	for i := range cp.Endings {
		if x -= cp.Endings[i].N; x < 0 {
			e = &cp.Endings[i]
			break
		}
	}
	if e == nil {
		// unended: a FIN or RST the model drew in the last packets is noise
		// (a segment without RST carries ACK, as legalFlags gives it)
		for _, q := range out[max(hs, len(out)-EndPackets):] {
			if q.flags&(flagFIN|flagRST) != 0 {
				q.flags = q.flags&^(flagFIN|flagRST) | flagACK
			}
		}
		return out
	}
	k := len(e.Flags)
	if len(out)-hs <= k {
		return out
	}
	for i, q := range out[len(out)-k:] {
		q.dir = int(e.Dirs[i] - '0')
		q.flags = uint8(e.Flags[i])
		if e.Data[i] == '0' {
			q.plen = 0
		}
	}
	return out
}

// endAtRST ends the flow at a RST after the handshake (out[hs:]): a RST
// with more than two packets after it is noise and is cleared; packets
// after a RST are dropped.
func (rp *repairer) endAtRST(out []*pkt, hs int) []*pkt {
	for k := hs; k < len(out); k++ {
		q := out[k]
		if q.flags&flagRST == 0 {
			continue
		}
		if len(out)-1-k > 2 {
			q.flags = q.flags&^flagRST | flagACK
			continue
		}
		rp.lg.Dropped += len(out) - 1 - k
		return out[:k+1]
	}
	return out
}

// closeFINs clears a FIN before its sender's last data (noise) and drops
// all but two packets (the ACKs of the FINs) after both FINs.
func (rp *repairer) closeFINs(out []*pkt, hs int) []*pkt {
	last := [2]int{-1, -1}
	for k := hs; k < len(out); k++ {
		if out[k].plen > 0 {
			last[out[k].dir] = k
		}
	}
	fin := [2]int{-1, -1}
	for k := hs; k < len(out); k++ {
		q := out[k]
		if q.flags&flagFIN == 0 {
			continue
		}
		if k < last[q.dir] {
			q.flags &^= flagFIN
			continue
		}
		if fin[q.dir] < 0 {
			fin[q.dir] = k
		}
	}
	if fin[0] >= 0 && fin[1] >= 0 {
		if end := max(fin[0], fin[1]) + 3; end < len(out) {
			rp.lg.Dropped += len(out) - end
			out = out[:end]
		}
	}
	return out
}

// tcpNumbers makes sequence and acknowledgement numbers, options, data
// offsets and windows consistent, keeping each generated value that
// already is.
func (rp *repairer) tcpNumbers(ps []*pkt) {
	st := &tcpState{isn: rp.isns(ps), starts: [2]map[uint32]bool{{}, {}}, tsSeen: [2]map[uint32]bool{{}, {}}}
	for _, q := range ps {
		st.seqNumber(q)
		st.ackNumber(q)
		in, ok := rp.options(st, q)
		if in.ts {
			rp.timestamps(st, q, in, ok)
		}
		rp.window(st, q)
	}
}

// isns returns the ISN of each side: the most frequent offset seq -
// (bytes before), when two rows or more agree; else the generated SYN's,
// else the first row's, else random.
func (rp *repairer) isns(ps []*pkt) [2]uint32 {
	var isn [2]uint32
	for d := 0; d < 2; d++ {
		offs := counter{}
		var cum uint32
		var first *uint32
		for _, q := range ps {
			if q.dir != d {
				continue
			}
			if q.row >= 0 && q.seqOK {
				o := q.seq - cum
				offs[int(o)]++
				if first == nil {
					first = &o
				}
			}
			cum += uint32(q.plen)
			if q.flags&flagFIN != 0 {
				cum++
			}
			if q.role != 0 {
				cum = 1
			}
		}
		l := offs.list()
		switch {
		case len(l) > 0 && l[0].N >= 2:
			isn[d] = uint32(l[0].Value)
		case first != nil:
			isn[d] = *first
		default:
			isn[d] = rp.rng.Uint32()
		}
	}
	return isn
}

// tcpState is what tcpNumbers knows of the connection so far, per
// direction.
type tcpState struct {
	isn      [2]uint32
	next     [2]uint32 // next sequence number
	started  [2]bool
	starts   [2]map[uint32]bool // sequence numbers of segments sent
	finSeq   [2]uint32
	finSent  [2]bool
	synOpt   optInfo // what the SYN offered
	tsNeg    bool    // timestamps negotiated
	sackNeg  bool    // SACK negotiated
	tsLast   [2]uint32
	tsHave   [2]bool
	tsTime   [2]time.Time
	tsSeen   [2]map[uint32]bool
	lastWin  [2]uint16
	haveSeen [2]bool
}

// seqNumber keeps q's sequence number when it is the next one, an exact
// retransmission, a keep-alive or a retransmitted FIN; otherwise it is the
// next one. It advances the sender's next sequence number.
func (st *tcpState) seqNumber(q *pkt) {
	d := q.dir
	syn := q.role != 0
	if syn {
		q.seq = st.isn[d]
	} else {
		s, next := q.seq, st.next[d]
		ok := q.row >= 0 && q.seqOK && st.started[d] &&
			(s == next ||
				st.starts[d][s] && int32(next-(s+uint32(q.plen))) >= 0 ||
				s == next-1 && q.plen <= 1 && q.flags&flagFIN == 0 ||
				st.finSent[d] && q.flags&flagFIN != 0 && q.plen == 0 && s == st.finSeq[d])
		if !ok {
			q.seq = next
			if !st.started[d] {
				q.seq = st.isn[d] + 1
			}
		}
	}
	end := q.seq + uint32(q.plen)
	if syn {
		end++
	}
	if q.flags&flagFIN != 0 {
		if !st.finSent[d] {
			st.finSent[d], st.finSeq[d] = true, q.seq+uint32(q.plen)
		}
		end++
	}
	st.starts[d][q.seq] = true
	if !st.started[d] || int32(end-st.next[d]) > 0 {
		st.next[d] = end
	}
	st.started[d] = true
}

// ackNumber keeps q's acknowledgement when it lies between the peer's
// ISN+1 and what the peer has sent (a SYN+ACK's must be ISN+1); otherwise
// it acknowledges all the peer sent. Without ACK it is zero.
func (st *tcpState) ackNumber(q *pkt) {
	peer := 1 - q.dir
	if q.flags&flagACK == 0 {
		q.ack = 0
		return
	}
	lo := st.isn[peer] + 1
	ok := q.row >= 0 && st.started[peer] && int32(q.ack-lo) >= 0 && int32(st.next[peer]-q.ack) >= 0
	if q.role == roleSYNACK {
		ok = q.row >= 0 && q.ack == st.isn[peer]+1
	}
	if !ok {
		q.ack = st.next[peer]
	}
}

// template returns the first template of l that decodes, or nil.
func template(l []Template) []byte {
	for _, t := range l {
		if o, err := hex.DecodeString(t.Options); err == nil {
			return o
		}
	}
	return nil
}

// options keeps q's options when well-formed and agreeing with the
// handshake, otherwise rebuilds them: from the class's SYN template (or
// Linux's) on a SYN, from the SYN+ACK template filtered by what the SYN
// offered on a SYN+ACK, NOP,NOP,timestamps or none after. ok says whether
// the generated options were kept.
func (rp *repairer) options(st *tcpState, q *pkt) (in optInfo, ok bool) {
	cp := rp.cp
	syn := q.role != 0
	ok = q.row >= 0 && q.optsOK && len(q.opts)%4 == 0
	if ok {
		in, ok = parseOptions(q.opts, syn)
	}
	rst := q.flags&flagRST != 0
	switch q.role {
	case roleSYN:
		if !ok {
			q.opts = template(cp.synTemplates())
			if q.opts == nil {
				q.opts = append([]byte(nil), defaultSYNOptions...)
			}
			in, _ = parseOptions(q.opts, true)
		}
		st.synOpt = in
	case roleSYNACK:
		so := st.synOpt
		if ok && (in.ws && !so.ws || in.sackOK && !so.sackOK || in.ts && !so.ts) {
			ok = false
		}
		if !ok {
			t := template(cp.synackTemplates())
			if t == nil {
				t = template(cp.synTemplates())
			}
			if t == nil {
				t = defaultSYNOptions
			}
			q.opts = filterOptions(t, so)
			in, _ = parseOptions(q.opts, true)
		}
		st.tsNeg = so.ts && in.ts
		st.sackNeg = so.sackOK && in.sackOK
	default:
		if ok && (in.ts && !st.tsNeg || in.sack && !st.sackNeg || st.tsNeg && !in.ts && !rst) {
			ok = false
		}
		if ok && in.sack && !validSACK(q.opts, q.ack, st.next[1-q.dir]) {
			ok = false
		}
		if !ok {
			q.opts = nil
			if st.tsNeg && !rst {
				q.opts = tsOptions(0, 0)
			}
			in, _ = parseOptions(q.opts, false)
		}
	}
	return in, ok
}

// timestamps keeps q's timestamp value when monotone and not running
// ahead of the clock, and its echo when it is a value the peer sent;
// otherwise they follow the sender's clock and echo the peer's last value.
func (rp *repairer) timestamps(st *tcpState, q *pkt, in optInfo, ok bool) {
	d, peer := q.dir, 1-q.dir
	o := q.opts[in.tsOff:]
	val, ecr := binary.BigEndian.Uint32(o), binary.BigEndian.Uint32(o[4:])
	ms := uint32(q.t.Sub(st.tsTime[d]).Milliseconds())
	valOK := ok && (!st.tsHave[d] || int32(val-st.tsLast[d]) >= 0 && val-st.tsLast[d] <= 1000+2*ms)
	if !valOK {
		if st.tsHave[d] {
			val = st.tsLast[d] + ms
		} else {
			val = rp.rng.Uint32() >> 1
		}
	}
	switch {
	case q.role == roleSYN, !st.tsHave[peer]:
		ecr = 0
	case !(ok && st.tsSeen[peer][ecr]):
		ecr = st.tsLast[peer]
	}
	binary.BigEndian.PutUint32(o, val)
	binary.BigEndian.PutUint32(o[4:], ecr)
	st.tsLast[d], st.tsHave[d], st.tsTime[d] = val, true, q.t
	st.tsSeen[d][val] = true
}

// window raises a zero window, except on a RST, to the sender's last one
// or the class's most frequent non-zero one; a window the class never has
// in that direction becomes the nearest one it has within MaxLenFlips bit
// flips, if any (as lengths: the bits a model gets wrong are few).
func (rp *repairer) window(st *tcpState, q *pkt) {
	d := q.dir
	if cp := rp.cp; cp != nil && q.win != 0 && len(cp.Windows[d]) > 0 {
		q.win = uint16(snapValue(int(q.win), 1, 65535, cp.Windows[d]))
	}
	if q.win == 0 && q.flags&flagRST == 0 {
		switch {
		case st.haveSeen[d] && st.lastWin[d] != 0:
			q.win = st.lastWin[d]
		default:
			q.win = 64240
			if cp := rp.cp; cp != nil {
				for _, c := range cp.Windows[d] {
					if c.Value != 0 {
						q.win = uint16(c.Value)
						break
					}
				}
			}
		}
	}
	st.lastWin[d], st.haveSeen[d] = q.win, true
}

func (c *ClassProfile) synTemplates() []Template {
	if c == nil {
		return nil
	}
	return c.SYN
}

func (c *ClassProfile) synackTemplates() []Template {
	if c == nil {
		return nil
	}
	return c.SYNACK
}

// validSACK reports whether every SACK block of the well-formed options o
// reports data the peer sent beyond the cumulative acknowledgement:
// ack < left < right <= peerNext. A block at or below ack (a D-SACK,
// RFC 2883, telling of a duplicate) is refused too: repair makes no
// duplicates for it to tell of.
func validSACK(o []byte, ack, peerNext uint32) bool {
	for i := 0; i < len(o); {
		switch o[i] {
		case optEOL:
			return true
		case optNOP:
			i++
			continue
		}
		n := int(o[i+1])
		if o[i] == optSACK {
			for b := i + 2; b+8 <= i+n; b += 8 {
				l, r := binary.BigEndian.Uint32(o[b:]), binary.BigEndian.Uint32(o[b+4:])
				// distances from the ACK, so that 2^32 wraps
				if dl, dr, dn := l-ack, r-ack, peerNext-ack; dl == 0 || dl >= dr || dr > dn {
					return false
				}
			}
		}
		i += n
	}
	return true
}
