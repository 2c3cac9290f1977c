package repair

import (
	"encoding/binary"

	"t2t"
)

// frame serializes q as an Ethernet frame with valid checksums.
func (rp *repairer) frame(q *pkt) []byte {
	d := q.dir
	proto := rp.proto()
	h := t2t.Headers{DstMAC: rp.mac[1-d], SrcMAC: rp.mac[d], Src: rp.addr[d], Dst: rp.addr[1-d],
		TOS: q.tos, ID: q.id, DF: q.df, TTL: q.ttl, FlowLabel: q.fl, Proto: proto}
	ipHL, th, ckOff := 20, 8, 0
	if rp.v6 {
		ipHL = 40
	}
	switch proto {
	case t2t.ProtoTCP:
		h.SrcPort, h.DstPort = rp.port[d], rp.port[1-d]
		h.Seq, h.Ack, h.Flags, h.Window, h.Urgent, h.Options = q.seq, q.ack, q.flags, q.win, q.urp, q.opts
		th, ckOff = 20+len(q.opts), 16
	case t2t.ProtoUDP:
		h.SrcPort, h.DstPort = rp.port[d], rp.port[1-d]
		ckOff = 6
	case t2t.ProtoICMP:
		h.ICMPType, h.ICMPCode, h.ICMPRest = q.typ, q.code, q.roh
		ckOff = 2
	}
	pay := make([]byte, q.plen)
	known := copy(pay, q.pay)
	if rp.opts.Payload == PayloadRandom {
		for k := known; k < len(pay); k++ {
			pay[k] = byte(rp.rng.Uint32())
		}
	}
	if q.echo != nil && len(q.echo.built) == len(pay) {
		pay = q.echo.built
	}
	b := h.AppendFrame(make([]byte, 0, 14+rp.hdrLen(q)+q.plen), pay)
	// an echo reply's data is its request's: no word of it is free (its
	// checksum follows from the request's, as a real reply's does)
	if q.keepCk && !rp.opts.RecomputeChecksums && q.row >= 0 && q.echo == nil {
		ip := b[14:]
		keepChecksum(ip, ipHL, ip[ipHL:], ckOff, th+known, q.ck, proto)
	}
	q.built = b[len(b)-len(pay):] // the payload as sent, free word included
	return b
}

// keepChecksum tries to make the transport checksum of seg equal want by
// choosing payload bytes at or after offset free of seg; it leaves the
// packet as it is (with the computed checksum) when it cannot.
func keepChecksum(ip []byte, ipHL int, seg []byte, ckOff, free int, want uint16, proto uint8) {
	have := binary.BigEndian.Uint16(seg[ckOff:])
	if have == want {
		return
	}
	if proto == t2t.ProtoUDP && want == 0 {
		if ipHL == 20 {
			seg[6], seg[7] = 0, 0 // IPv4 UDP: no checksum
		}
		return
	}
	sum := func() uint32 {
		var s uint32
		if proto != t2t.ProtoICMP {
			if ipHL == 20 {
				s = t2t.ChecksumSum(0, ip[12:20])
			} else {
				s = t2t.ChecksumSum(0, ip[8:40])
			}
			s += uint32(proto) + uint32(len(seg))
		}
		return t2t.ChecksumSum(s, seg)
	}
	binary.BigEndian.PutUint16(seg[ckOff:], want)
	if pos := (len(seg) - 2) &^ 1; pos >= free && pos >= 0 {
		seg[pos], seg[pos+1] = 0, 0
		binary.BigEndian.PutUint16(seg[pos:], t2t.ChecksumFold(sum()))
		if t2t.ChecksumsValid(ip) {
			return
		}
	} else if len(seg)-1 >= free && (len(seg)-1)%2 == 0 {
		// one free byte, the high half of the last word: try all values
		for v := 0; v < 256; v++ {
			seg[len(seg)-1] = byte(v)
			if t2t.ChecksumFold(sum()) == 0 {
				return
			}
		}
		seg[len(seg)-1] = 0
	}
	// not achievable: restore the computed checksum (and zero payload)
	for i := free; i < len(seg); i++ {
		seg[i] = 0
	}
	t2t.FixChecksums(ip)
}
