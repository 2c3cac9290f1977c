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
	ins := func(dir int) *pkt {
		rp.lg.Inserted++
		return &pkt{row: -1, dir: dir, optsOK: false}
	}
	var out []*pkt
	i := 0
	var syn *pkt
	if ps[0].dir == 0 && ps[0].flags&flagSYN != 0 {
		syn, i = ps[0], 1
	} else {
		syn = ins(0)
	}
	ecn := syn.flags&(flagECE|flagCWR) == flagECE|flagCWR
	synFlags := uint8(flagSYN)
	if ecn {
		synFlags |= flagECE | flagCWR
	}
	syn.flags, syn.role, syn.plen = synFlags, roleSYN, 0
	out = append(out, syn)
	for i < len(ps) && ps[i].dir == 0 && ps[i].flags&(flagSYN|flagACK) == flagSYN {
		ps[i].flags, ps[i].role, ps[i].plen = synFlags, roleSYN, 0 // retransmitted SYN
		out = append(out, ps[i])
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
		ps[i].flags, ps[i].role, ps[i].plen = saFlags, roleSYNACK, 0
		out = append(out, ps[i])
		i++
	}
	if i < len(ps) && ps[i].dir != 0 {
		a := ins(0)
		a.flags = flagACK
		out = append(out, a)
	}
	hs := len(out)
	for _, q := range ps[i:] {
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
		out = append(out, q)
	}
	// a RST ends the flow: one with more than two packets after it is
	// noise and is cleared; packets after a RST are dropped.
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
		out = out[:k+1]
		break
	}
	// a FIN before the sender's last data is noise
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
	// after both FINs, at most two packets follow (the ACKs of the FINs)
	if fin[0] >= 0 && fin[1] >= 0 {
		if end := max(fin[0], fin[1]) + 3; end < len(out) {
			rp.lg.Dropped += len(out) - end
			out = out[:end]
		}
	}
	for _, q := range out {
		if q.flags&flagURG == 0 || q.urp == 0 || int(q.urp) > q.plen {
			q.flags &^= flagURG
			q.urp = 0
		}
	}
	return out
}

// tcpNumbers makes sequence and acknowledgement numbers, options, data
// offsets and windows consistent, keeping each generated value that
// already is.
func (rp *repairer) tcpNumbers(ps []*pkt) {
	// ISN of each side: the most frequent offset seq - (bytes before),
	// when two rows or more agree; else the generated SYN's, else the
	// first row's, else random.
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
	var (
		next     [2]uint32
		started  [2]bool
		starts   = [2]map[uint32]bool{{}, {}}
		finSeq   [2]uint32
		finSent  [2]bool
		synOpt   optInfo
		tsNeg    bool
		sackNeg  bool
		tsLast   [2]uint32
		tsHave   [2]bool
		tsTime   [2]time.Time
		tsSeen   = [2]map[uint32]bool{{}, {}}
		lastWin  [2]uint16
		haveSeen [2]bool
	)
	cp := rp.cp
	template := func(l []Template) []byte {
		for _, t := range l {
			if o, err := hex.DecodeString(t.Options); err == nil {
				return o
			}
		}
		return nil
	}
	for _, q := range ps {
		d, peer := q.dir, 1-q.dir
		syn := q.role != 0
		// sequence number
		if syn {
			q.seq = isn[d]
		} else {
			s := q.seq
			ok := q.row >= 0 && q.seqOK && started[d] &&
				(s == next[d] ||
					starts[d][s] && int32(next[d]-(s+uint32(q.plen))) >= 0 ||
					s == next[d]-1 && q.plen <= 1 && q.flags&flagFIN == 0 ||
					finSent[d] && q.flags&flagFIN != 0 && q.plen == 0 && s == finSeq[d])
			if !ok {
				q.seq = next[d]
				if !started[d] {
					q.seq = isn[d] + 1
				}
			}
		}
		end := q.seq + uint32(q.plen)
		if syn {
			end++
		}
		if q.flags&flagFIN != 0 {
			if !finSent[d] {
				finSent[d], finSeq[d] = true, q.seq+uint32(q.plen)
			}
			end++
		}
		starts[d][q.seq] = true
		if !started[d] || int32(end-next[d]) > 0 {
			next[d] = end
		}
		started[d] = true
		// acknowledgement number
		if q.flags&flagACK != 0 {
			lo := isn[peer] + 1
			ok := q.row >= 0 && started[peer] && int32(q.ack-lo) >= 0 && int32(next[peer]-q.ack) >= 0
			if q.role == roleSYNACK {
				ok = q.row >= 0 && q.ack == isn[peer]+1
			}
			if !ok {
				q.ack = next[peer]
			}
		} else {
			q.ack = 0
		}
		// options
		var in optInfo
		ok := q.row >= 0 && q.optsOK && len(q.opts)%4 == 0
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
			synOpt = in
		case roleSYNACK:
			if ok && (in.ws && !synOpt.ws || in.sackOK && !synOpt.sackOK || in.ts && !synOpt.ts) {
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
				q.opts = filterOptions(t, synOpt)
				in, _ = parseOptions(q.opts, true)
			}
			tsNeg = synOpt.ts && in.ts
			sackNeg = synOpt.sackOK && in.sackOK
		default:
			if ok && (in.ts && !tsNeg || in.sack && !sackNeg || tsNeg && !in.ts && !rst) {
				ok = false
			}
			if ok && in.sack && !validSACK(q.opts, next[peer]) {
				ok = false
			}
			if !ok {
				q.opts = nil
				if tsNeg && !rst {
					q.opts = tsOptions(0, 0)
				}
				in, _ = parseOptions(q.opts, false)
			}
		}
		if in.ts {
			o := q.opts[in.tsOff:]
			val, ecr := binary.BigEndian.Uint32(o), binary.BigEndian.Uint32(o[4:])
			ms := uint32(q.t.Sub(tsTime[d]).Milliseconds())
			valOK := ok && (!tsHave[d] || int32(val-tsLast[d]) >= 0 && val-tsLast[d] <= 1000+2*ms)
			if !valOK {
				if tsHave[d] {
					val = tsLast[d] + ms
				} else {
					val = rp.rng.Uint32() >> 1
				}
			}
			var ecrOK bool
			switch {
			case q.role == roleSYN:
				ecrOK = ecr == 0
				ecr = 0
			case !tsHave[peer]:
				ecrOK = ecr == 0
				ecr = 0
			default:
				ecrOK = ok && tsSeen[peer][ecr]
				if !ecrOK {
					ecr = tsLast[peer]
				}
			}
			_ = ecrOK
			binary.BigEndian.PutUint32(o, val)
			binary.BigEndian.PutUint32(o[4:], ecr)
			tsLast[d], tsHave[d], tsTime[d] = val, true, q.t
			tsSeen[d][val] = true
		}
		// window: a zero window only on a RST
		if q.win == 0 && !rst {
			switch {
			case haveSeen[d] && lastWin[d] != 0:
				q.win = lastWin[d]
			default:
				q.win = 64240
				if cp != nil {
					for _, c := range cp.Windows[d] {
						if c.Value != 0 {
							q.win = uint16(c.Value)
							break
						}
					}
				}
			}
		}
		lastWin[d], haveSeen[d] = q.win, true
	}
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
// has left < right and right <= peerNext.
func validSACK(o []byte, peerNext uint32) bool {
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
				if int32(r-l) <= 0 || int32(peerNext-r) < 0 {
					return false
				}
			}
		}
		i += n
	}
	return true
}
