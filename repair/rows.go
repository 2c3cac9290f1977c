package repair

import (
	"errors"

	"t2t"
)

// The header fields of each block, by which a row's blocks are judged
// present (addresses included: a layout without them reads as if they
// were not there).
var (
	ipv4Hdr = []string{"ipv4_ver", "ipv4_hl", "ipv4_tos", "ipv4_tl", "ipv4_id", "ipv4_rbit", "ipv4_dfbit",
		"ipv4_mfbit", "ipv4_foff", "ipv4_ttl", "ipv4_proto", "ipv4_cksum", "ipv4_src", "ipv4_dst"}
	ipv6Hdr = []string{"ipv6_ver", "ipv6_tc", "ipv6_fl", "ipv6_len", "ipv6_nh", "ipv6_hl", "ipv6_src", "ipv6_dst"}
	tcpHdr  = []string{"tcp_sprt", "tcp_dprt", "tcp_seq", "tcp_ackn", "tcp_doff", "tcp_res", "tcp_ns", "tcp_cwr",
		"tcp_ece", "tcp_urg", "tcp_ackf", "tcp_psh", "tcp_rst", "tcp_syn", "tcp_fin", "tcp_wsize", "tcp_cksum", "tcp_urp"}
	udpHdr     = []string{"udp_sport", "udp_dport", "udp_len", "udp_cksum"}
	icmpHdr    = []string{"icmp_type", "icmp_code", "icmp_cksum", "icmp_roh"}
	transHdr   = [3][]string{tcpHdr, udpHdr, icmpHdr}
	transProto = [3]uint8{t2t.ProtoTCP, t2t.ProtoUDP, t2t.ProtoICMP}
)

// rowKind is the classification of one row.
type rowKind struct {
	pad    bool
	v6     bool
	trans  int // index into transProto
	f4, f6 float64
	ft     [3]float64
}

// frac is the fraction of bits of the fields that the loaded row holds (0
// when the layout has none of them).
func frac(fr *t2t.FieldReader, names []string) float64 {
	tot, on := 0, 0
	for _, n := range names {
		held, bits := fr.Held(n)
		on += held
		tot += bits
	}
	if tot == 0 {
		return 0
	}
	return float64(on) / float64(tot)
}

// classify judges the loaded row: its IP version and transport, and
// whether it is padding.
func classify(fr *t2t.FieldReader) rowKind {
	var k rowKind
	k.f4, k.f6 = frac(fr, ipv4Hdr), frac(fr, ipv6Hdr)
	k.v6 = k.f6 > k.f4
	if k.f4 == k.f6 {
		v, _ := fr.Field("ipv6_ver")
		k.v6 = v == 6
	}
	var proto uint32
	if k.v6 {
		proto, _ = fr.Field("ipv6_nh")
	} else {
		proto, _ = fr.Field("ipv4_proto")
	}
	best := -1.0
	for t := range transHdr {
		k.ft[t] = frac(fr, transHdr[t])
		s := k.ft[t]
		if uint32(transProto[t]) == proto {
			s += 0.25
		}
		if s > best {
			best, k.trans = s, t
		}
	}
	k.pad = max(k.f4, k.f6) < 0.5 || k.ft[k.trans] < 0.5
	return k
}

// classifyRows classifies every row of m, counting padding rows.
func classifyRows(fr *t2t.FieldReader, m *t2t.Matrix, lg *Log) []rowKind {
	kinds := make([]rowKind, m.Rows)
	for i := range kinds {
		fr.Load(m.Row(i)) // values checked by checkMatrix
		kinds[i] = classify(fr)
		if kinds[i].pad {
			lg.Padding++
		}
	}
	return kinds
}

// chooseFlow takes the IP version and transport of the majority of rows
// that are not padding (the version of Options.Client when it is set).
func chooseFlow(kinds []rowKind, opts Options, lg *Log) (v6 bool, tr int, err error) {
	var votes [3]int
	var v6votes, live int
	for _, k := range kinds {
		if k.pad {
			continue
		}
		live++
		votes[k.trans]++
		if k.v6 {
			v6votes++
		}
	}
	if live == 0 {
		return false, 0, ErrEmpty
	}
	for t := range votes {
		if votes[t] > votes[tr] {
			tr = t
		}
	}
	v6 = 2*v6votes > live
	if opts.Client.IsValid() {
		v6 = opts.Client.Is6() && !opts.Client.Is4In6()
	}
	if transProto[tr] == t2t.ProtoICMP && v6 {
		if opts.Client.IsValid() {
			return false, 0, errors.New("repair: an ICMP flow needs IPv4 addresses (nPrint encodes ICMPv4 only)")
		}
		v6 = false
		lg.Notes = append(lg.Notes, "ICMP flow forced to IPv4")
	}
	lg.Proto = transProto[tr]
	lg.Version = 4
	if v6 {
		lg.Version = 6
	}
	return v6, tr, nil
}

// readRows reads the rows that hold the flow's IP version and transport;
// the others are dropped.
func readRows(fr *t2t.FieldReader, m *t2t.Matrix, kinds []rowKind, v6 bool, tr int, lg *Log) []*pkt {
	var ps []*pkt
	for i, k := range kinds {
		if k.pad {
			continue
		}
		fIP := k.f4
		if v6 {
			fIP = k.f6
		}
		if fIP < 0.5 || k.ft[tr] < 0.5 {
			lg.Dropped++
			continue
		}
		fr.Load(m.Row(i))
		ps = append(ps, readRow(fr, i, v6, tr))
	}
	return ps
}

// readRow reads the fields of row i, loaded in fr, for IP version v6 and
// transport tr.
func readRow(fr *t2t.FieldReader, i int, v6 bool, tr int) *pkt {
	q := &pkt{row: i}
	hdr, tl := readIP(fr, q, v6) // header bytes and IP length the row claims
	var th int
	var ck uint32
	var ckVac int
	switch transProto[tr] {
	case t2t.ProtoTCP:
		th, ck, ckVac = readTCP(fr, q)
	case t2t.ProtoUDP:
		var ul uint32
		th, ul, ck, ckVac = readUDP(fr, q)
		// The IP length wins over the UDP length unless only the UDP
		// length is plausible.
		if int(tl) < hdr+th || int(tl) > 65535 {
			tl = uint32(hdr) + ul
		}
	case t2t.ProtoICMP:
		th, ck, ckVac = readICMP(fr, q)
	}
	hdr += th
	q.ck, q.keepCk = uint16(ck), ckVac == 0
	q.plen = int(tl) - hdr // checked against the MTU later
	if q.plen < 0 {
		q.plen = 0
	}
	if pb := fr.Layout().PayloadBytes(); pb > 0 {
		// only the leading bytes that are not wholly vacant are known
		n := min(q.plen, pb, fr.PayloadHeld())
		q.pay, _ = fr.FieldBytes(nil, "payload_bit", n)
	}
	return q
}

// readIP reads the IP fields of q; it returns the IP header length and
// the IP length the row claims.
func readIP(fr *t2t.FieldReader, q *pkt, v6 bool) (hdr int, tl uint32) {
	if v6 {
		tc, _ := fr.Field("ipv6_tc")
		fl, _ := fr.Field("ipv6_fl")
		hl, _ := fr.Field("ipv6_hl")
		pl, _ := fr.Field("ipv6_len")
		q.tos, q.fl, q.ttl = uint8(tc), fl, uint8(hl)
		return 40, pl + 40
	}
	tos, _ := fr.Field("ipv4_tos")
	id, _ := fr.Field("ipv4_id")
	df, _ := fr.Field("ipv4_dfbit")
	ttl, _ := fr.Field("ipv4_ttl")
	ihl, _ := fr.Field("ipv4_hl")
	q.tos, q.id, q.df, q.ttl = uint8(tos), uint16(id), df == 1, uint8(ttl)
	tl, _ = fr.Field("ipv4_tl")
	hdr = 20
	if ihl > 5 {
		hdr = int(ihl) * 4
	}
	return hdr, tl
}

// tcpFlags are the one-bit flag fields of the TCP header and their bits.
var tcpFlags = []struct {
	name string
	bit  uint8
}{{"tcp_cwr", flagCWR}, {"tcp_ece", flagECE}, {"tcp_urg", flagURG}, {"tcp_ackf", flagACK},
	{"tcp_psh", flagPSH}, {"tcp_rst", flagRST}, {"tcp_syn", flagSYN}, {"tcp_fin", flagFIN}}

// readTCP reads the TCP fields of q; it returns the TCP header length and
// the checksum with its vacant bits.
func readTCP(fr *t2t.FieldReader, q *pkt) (th int, ck uint32, ckVac int) {
	sp, _ := fr.Field("tcp_sprt")
	dp, _ := fr.Field("tcp_dprt")
	seq, sv := fr.Field("tcp_seq")
	ack, _ := fr.Field("tcp_ackn")
	doff, _ := fr.Field("tcp_doff")
	var fl uint8
	for _, f := range tcpFlags {
		if v, _ := fr.Field(f.name); v == 1 {
			fl |= f.bit
		}
	}
	win, _ := fr.Field("tcp_wsize")
	urp, _ := fr.Field("tcp_urp")
	ck, ckVac = fr.Field("tcp_cksum")
	q.roh = sp<<16 | dp // ports, read back in endpoints
	q.seq, q.seqOK, q.ack, q.flags, q.win, q.urp = seq, sv == 0, ack, fl, uint16(win), uint16(urp)
	th = 20
	if doff > 5 {
		th = int(doff) * 4
		o, ov := fr.FieldBytes(nil, "tcp_opt", th-20)
		q.opts, q.optsOK = o, ov == 0
	} else {
		q.optsOK = doff == 5
	}
	return th, ck, ckVac
}

// readUDP reads the UDP ports of q; it returns the header length, the UDP
// length and the checksum with its vacant bits.
func readUDP(fr *t2t.FieldReader, q *pkt) (th int, ul, ck uint32, ckVac int) {
	sp, _ := fr.Field("udp_sport")
	dp, _ := fr.Field("udp_dport")
	ul, _ = fr.Field("udp_len")
	ck, ckVac = fr.Field("udp_cksum")
	q.roh = sp<<16 | dp
	return 8, ul, ck, ckVac
}

// readICMP reads the ICMP fields of q; it returns the header length and
// the checksum with its vacant bits.
func readICMP(fr *t2t.FieldReader, q *pkt) (th int, ck uint32, ckVac int) {
	typ, _ := fr.Field("icmp_type")
	code, _ := fr.Field("icmp_code")
	roh, _ := fr.Field("icmp_roh")
	ck, ckVac = fr.Field("icmp_cksum")
	q.typ, q.code, q.roh = uint8(typ), uint8(code), roh
	return 8, ck, ckVac
}
