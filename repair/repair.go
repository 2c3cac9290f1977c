package repair

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/bits"
	"math/rand/v2"
	"net/netip"
	"time"

	"t2t"
	"t2t/pcapio"
)

// PayloadMode says what the payload bytes of repaired packets hold (the
// usual layouts carry no payload bits, only the length).
type PayloadMode int

const (
	PayloadZero   PayloadMode = iota // zero bytes
	PayloadRandom                    // bytes drawn from the rng
)

// DefaultStart is the time of the first packet when Options.Start is zero
// and the matrix carries no times.
var DefaultStart = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

// Options choose the endpoints, times and payload of a repaired flow. The
// zero value works: private addresses derived from FlowIndex, ports and
// times from the matrix or the profile, zero payload bytes.
type Options struct {
	// FlowIndex makes the default addresses and MACs distinct per flow:
	// client 10.0.0.0+4*FlowIndex+2, server ...+1 (IPv6: fd00::<index>:2
	// and :1), MACs 02:00:<index>:02 and :01.
	FlowIndex int
	// Client and Server override the default addresses; both must be of
	// the flow's IP version (a flow takes the version of the addresses
	// given, whatever the matrix says).
	Client, Server netip.Addr
	// ClientPort and ServerPort override the ports (0: keep the matrix's
	// when plausible, otherwise draw from the profile).
	ClientPort, ServerPort uint16
	// ClientMAC and ServerMAC override the default MACs.
	ClientMAC, ServerMAC [6]byte
	// Start is the time of the first packet. When the matrix carries times
	// they are shifted to start there (zero: kept as they are).
	Start time.Time
	// IgnoreTimes draws inter-arrival times from the profile even when the
	// matrix carries times.
	IgnoreTimes bool
	// Payload chooses the payload bytes.
	Payload PayloadMode
	// RecomputeChecksums computes every transport checksum from zero
	// payload bytes. By default the matrix's checksum is kept when the free
	// payload bytes can be chosen to make it right (the layout holds no
	// payload, so any checksum of a packet with two payload bytes or more
	// is achievable), which keeps valid input unchanged.
	RecomputeChecksums bool
	// MTU bounds IP packet lengths (0: the class's longest packet, at
	// least 1500).
	MTU int
}

// Log says how far the matrix was from a valid flow.
type Log struct {
	Rows     int // rows of the matrix
	Padding  int // rows dropped for being (nearly) vacant
	Dropped  int // other rows dropped: wrong protocol, beyond the end of the flow
	Inserted int // packets added (TCP handshake, ICMP echo requests)
	// BitsChanged counts the bits of the kept rows that differ from the
	// encoding of the repaired packets over the matrix's layout (a vacant
	// bit that became 0 or 1 counts, and so does the reverse); Fields
	// splits it by nPrint field name. BitsKept is the number of bits of
	// the kept rows.
	BitsChanged int
	BitsKept    int
	Fields      map[string]int
	// Version and Proto are the IP version and transport chosen.
	Version int
	Proto   uint8
	Notes   []string
}

// Result is a repaired flow.
type Result struct {
	Packets        []pcapio.Packet // Ethernet frames, timestamps monotone
	Client, Server netip.AddrPort  // endpoints (ICMP: port 0)
	Proto          uint8
	Log            Log
}

// ErrEmpty is returned for a matrix with no usable row.
var ErrEmpty = errors.New("repair: no usable row: every row is vacant or carries no IP and transport header")

// pkt is one packet being repaired.
type pkt struct {
	row  int // matrix row, -1 for an inserted packet
	dir  int // 0 client to server, 1 server to client
	tos  uint8
	id   uint16
	df   bool
	ttl  uint8
	fl   uint32 // IPv6 flow label
	plen int    // payload bytes
	pay  []byte // payload bytes known from the layout's payload block
	// TCP
	seq, ack uint32
	seqOK    bool // seq was read without vacant bits
	flags    uint8
	win, urp uint16
	opts     []byte
	optsOK   bool // options read without vacant bits
	role     int  // roleSYN, roleSYNACK or 0
	// ICMP
	typ, code uint8
	roh       uint32
	// checksum to keep when the payload allows
	ck     uint16
	keepCk bool
	t      time.Time
}

const (
	roleSYN = 1 + iota
	roleSYNACK
)

// reader reads fields of matrix rows.
type reader struct {
	m    *t2t.Matrix
	cols map[string][2]int
}

func newReader(m *t2t.Matrix) *reader {
	r := &reader{m: m, cols: map[string][2]int{}}
	for _, f := range m.Layout.Fields() {
		c, n, _ := m.Layout.Field(f.Name)
		r.cols[f.Name] = [2]int{c, n}
	}
	return r
}

// get reads a field of up to 32 bits; vacant bits read as 0 and are
// counted; a field the layout lacks reads 0 with vac == -1.
func (r *reader) get(row int, name string) (v uint32, vac int) {
	c, ok := r.cols[name]
	if !ok {
		return 0, -1
	}
	for _, x := range r.m.Row(row)[c[0] : c[0]+c[1]] {
		if x < 0 {
			vac++
			x = 0
		}
		v = v<<1 | uint32(x)
	}
	return v, vac
}

// bytesOf reads n bytes of a field from its start.
func (r *reader) bytesOf(row int, name string, n int) (b []byte, vac int) {
	c, ok := r.cols[name]
	if !ok || n*8 > c[1] {
		return make([]byte, n), -1
	}
	b = make([]byte, n)
	bits := r.m.Row(row)[c[0]:]
	for i := 0; i < n*8; i++ {
		x := bits[i]
		if x < 0 {
			vac++
			x = 0
		}
		b[i/8] |= byte(x) << (7 - i%8)
	}
	return b, vac
}

// frac is the fraction of bits of the fields that are not vacant (0 when
// the layout has none of them).
func (r *reader) frac(row int, names []string) float64 {
	tot, on := 0, 0
	for _, n := range names {
		c, ok := r.cols[n]
		if !ok {
			continue
		}
		for _, x := range r.m.Row(row)[c[0] : c[0]+c[1]] {
			tot++
			if x >= 0 {
				on++
			}
		}
	}
	if tot == 0 {
		return 0
	}
	return float64(on) / float64(tot)
}

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

func classify(r *reader, row int) rowKind {
	var k rowKind
	k.f4, k.f6 = r.frac(row, ipv4Hdr), r.frac(row, ipv6Hdr)
	k.v6 = k.f6 > k.f4
	if k.f4 == k.f6 {
		v, _ := r.get(row, "ipv6_ver")
		k.v6 = v == 6
	}
	var proto uint32
	if k.v6 {
		proto, _ = r.get(row, "ipv6_nh")
	} else {
		proto, _ = r.get(row, "ipv4_proto")
	}
	best := -1.0
	for t := range transHdr {
		k.ft[t] = r.frac(row, transHdr[t])
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

func ham16(a, b uint16) int { return bits.OnesCount16(a ^ b) }

// Flow repairs one generated matrix into the packets of one valid flow of
// class (see the package documentation for what is kept and what is
// changed). p may be nil (no profile: defaults are used); rng drives every
// random choice, so equal seeds give equal packets.
func Flow(m *t2t.Matrix, class string, p *Profile, opts Options, rng *rand.Rand) (*Result, error) {
	if m == nil || m.Layout == nil || m.Cols != m.Layout.Width() || len(m.Bits) != m.Rows*m.Cols {
		return nil, errors.New("repair: matrix without layout or of inconsistent size")
	}
	for i, v := range m.Bits {
		if v < -1 || v > 1 {
			return nil, fmt.Errorf("repair: value %d at row %d column %d is not 1, 0 or -1", v, i/m.Cols, i%m.Cols)
		}
	}
	cp := p.Class(class)
	rd := newReader(m)
	lg := Log{Rows: m.Rows, Fields: map[string]int{}}

	// 1. Classify rows; the flow takes the majority IP version and transport.
	kinds := make([]rowKind, m.Rows)
	var votes [3]int
	var v6votes, live int
	for i := range kinds {
		kinds[i] = classify(rd, i)
		if kinds[i].pad {
			lg.Padding++
			continue
		}
		live++
		votes[kinds[i].trans]++
		if kinds[i].v6 {
			v6votes++
		}
	}
	if live == 0 {
		return nil, ErrEmpty
	}
	tr := 0
	for t := range votes {
		if votes[t] > votes[tr] {
			tr = t
		}
	}
	v6 := 2*v6votes > live
	if opts.Client.IsValid() {
		v6 = opts.Client.Is6() && !opts.Client.Is4In6()
	}
	if transProto[tr] == t2t.ProtoICMP && v6 {
		if opts.Client.IsValid() {
			return nil, errors.New("repair: an ICMP flow needs IPv4 addresses (nPrint encodes ICMPv4 only)")
		}
		v6 = false
		lg.Notes = append(lg.Notes, "ICMP flow forced to IPv4")
	}
	lg.Proto = transProto[tr]
	lg.Version = 4
	if v6 {
		lg.Version = 6
	}

	// 2. Read the kept rows.
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
		ps = append(ps, readRow(rd, i, v6, tr))
	}
	if len(ps) == 0 {
		return nil, ErrEmpty
	}
	mtu := opts.MTU
	if mtu == 0 {
		mtu = 1500
		if cp != nil {
			mtu = max(mtu, cp.MaxIPLen)
		}
	}
	rp := &repairer{m: m, rd: rd, cp: cp, opts: opts, rng: rng, lg: &lg, v6: v6, tr: tr, mtu: mtu}
	rp.lengths(ps)

	// 3. Endpoints and directions.
	rp.endpoints(ps)

	// 4. Protocol state.
	switch transProto[tr] {
	case t2t.ProtoTCP:
		ps = rp.tcpStructure(ps)
	case t2t.ProtoICMP:
		ps = rp.icmp(ps)
	}
	rp.ipFields(ps)
	rp.times(ps)
	if transProto[tr] == t2t.ProtoTCP {
		rp.tcpNumbers(ps)
	}

	// 5. Bytes, checksums, log.
	res := &Result{Proto: lg.Proto, Client: netip.AddrPortFrom(rp.addr[0], rp.port[0]),
		Server: netip.AddrPortFrom(rp.addr[1], rp.port[1])}
	enc := t2t.NewEncoder(m.Layout, t2t.EncoderOptions{})
	row := make([]int8, m.Cols)
	fieldAt := make([]string, 0, m.Cols)
	for _, f := range m.Layout.Fields() {
		for j := 0; j < f.Bits; j++ {
			fieldAt = append(fieldAt, f.Name)
		}
	}
	for _, q := range ps {
		frame := rp.frame(q)
		res.Packets = append(res.Packets, pcapio.Packet{Time: q.t, Data: frame, OrigLen: len(frame), Link: t2t.LinkEthernet})
		if q.row < 0 {
			continue
		}
		if _, err := enc.Encode(row, t2t.LinkEthernet, frame); err != nil {
			return nil, fmt.Errorf("repair: internal error: repaired packet does not encode: %v", err)
		}
		lg.BitsKept += m.Cols
		for c, v := range m.Row(q.row) {
			if v != row[c] {
				lg.BitsChanged++
				lg.Fields[fieldAt[c]]++
			}
		}
	}
	res.Log = lg
	return res, nil
}

// readRow reads the fields of row i for IP version v6 and transport tr.
func readRow(rd *reader, i int, v6 bool, tr int) *pkt {
	q := &pkt{row: i}
	var hdr int // header bytes the row claims
	var tl uint32
	if v6 {
		tc, _ := rd.get(i, "ipv6_tc")
		fl, _ := rd.get(i, "ipv6_fl")
		hl, _ := rd.get(i, "ipv6_hl")
		pl, _ := rd.get(i, "ipv6_len")
		q.tos, q.fl, q.ttl = uint8(tc), fl, uint8(hl)
		hdr, tl = 40, pl+40
	} else {
		tos, _ := rd.get(i, "ipv4_tos")
		id, _ := rd.get(i, "ipv4_id")
		df, _ := rd.get(i, "ipv4_dfbit")
		ttl, _ := rd.get(i, "ipv4_ttl")
		ihl, _ := rd.get(i, "ipv4_hl")
		q.tos, q.id, q.df, q.ttl = uint8(tos), uint16(id), df == 1, uint8(ttl)
		tl, _ = rd.get(i, "ipv4_tl")
		hdr = 20
		if ihl > 5 {
			hdr = int(ihl) * 4
		}
	}
	var ck uint32
	var ckVac int
	switch transProto[tr] {
	case t2t.ProtoTCP:
		sp, _ := rd.get(i, "tcp_sprt")
		dp, _ := rd.get(i, "tcp_dprt")
		seq, sv := rd.get(i, "tcp_seq")
		ack, _ := rd.get(i, "tcp_ackn")
		doff, _ := rd.get(i, "tcp_doff")
		var fl uint8
		for _, f := range []struct {
			n string
			b uint8
		}{{"tcp_cwr", flagCWR}, {"tcp_ece", flagECE}, {"tcp_urg", flagURG}, {"tcp_ackf", flagACK},
			{"tcp_psh", flagPSH}, {"tcp_rst", flagRST}, {"tcp_syn", flagSYN}, {"tcp_fin", flagFIN}} {
			if v, _ := rd.get(i, f.n); v == 1 {
				fl |= f.b
			}
		}
		win, _ := rd.get(i, "tcp_wsize")
		urp, _ := rd.get(i, "tcp_urp")
		ck, ckVac = rd.get(i, "tcp_cksum")
		q.roh = sp<<16 | dp // ports, read back in endpoints
		q.seq, q.seqOK, q.ack, q.flags, q.win, q.urp = seq, sv == 0, ack, fl, uint16(win), uint16(urp)
		d := 20
		if doff > 5 {
			d = int(doff) * 4
			o, ov := rd.bytesOf(i, "tcp_opt", d-20)
			q.opts, q.optsOK = o, ov == 0
		} else {
			q.optsOK = doff == 5
		}
		hdr += d
	case t2t.ProtoUDP:
		sp, _ := rd.get(i, "udp_sport")
		dp, _ := rd.get(i, "udp_dport")
		ul, _ := rd.get(i, "udp_len")
		ck, ckVac = rd.get(i, "udp_cksum")
		q.roh = sp<<16 | dp
		hdr += 8
		// The IP length wins over the UDP length unless only the UDP
		// length is plausible.
		if int(tl) < hdr || int(tl) > 65535 {
			tl = uint32(hdr-8) + ul
		}
	case t2t.ProtoICMP:
		typ, _ := rd.get(i, "icmp_type")
		code, _ := rd.get(i, "icmp_code")
		roh, _ := rd.get(i, "icmp_roh")
		ck, ckVac = rd.get(i, "icmp_cksum")
		q.typ, q.code, q.roh = uint8(typ), uint8(code), roh
		hdr += 8
	}
	q.ck, q.keepCk = uint16(ck), ckVac == 0
	q.plen = int(tl) - hdr // checked against the MTU later
	if q.plen < 0 {
		q.plen = 0
	}
	if rd.m.Layout.PayloadBytes() > 0 {
		n := min(q.plen, rd.m.Layout.PayloadBytes())
		b, _ := rd.bytesOf(i, "payload_bit", n)
		// only the leading bytes that are not wholly vacant are known
		c := rd.cols["payload_bit"]
		bitsRow := rd.m.Row(i)[c[0]:]
		k := 0
		for k < n {
			vac := true
			for j := 0; j < 8; j++ {
				if bitsRow[k*8+j] >= 0 {
					vac = false
				}
			}
			if vac {
				break
			}
			k++
		}
		q.pay = b[:k]
	}
	return q
}

// repairer holds the state of one repair.
type repairer struct {
	m    *t2t.Matrix
	rd   *reader
	cp   *ClassProfile
	opts Options
	rng  *rand.Rand
	lg   *Log
	v6   bool
	tr   int
	mtu  int
	addr [2]netip.Addr // client, server
	port [2]uint16
	mac  [2][6]byte
}

func (rp *repairer) proto() uint8 { return transProto[rp.tr] }

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
func snapLength(tl, h, mtu int, known []Count) int {
	best, bestD := tl, MaxLenFlips+1
	for _, c := range known {
		if c.Value == tl {
			return tl
		}
		if c.Value < h || c.Value > mtu {
			continue
		}
		if d := bits.OnesCount(uint(c.Value ^ tl)); d < bestD {
			best, bestD = c.Value, d
		}
	}
	return best
}

// endpoints chooses addresses, ports and MACs and sets each packet's
// direction.
//
// Direction heuristic (TCP, UDP): the two most frequent port values of the
// rows are the generated pair; the server port is the one the profile
// lists more often as a server port (or Options.ServerPort, or failing
// both the destination port of the first row holding the pair). A row goes
// client-to-server when its (source, destination) ports are closer in
// Hamming distance to (client, server) than to (server, client); a tie
// (both ports equal, or equally damaged) takes the opposite direction of
// the previous row, as requests and answers alternate. ICMP: bit 3 of the
// type (set in echo request 8, clear in echo reply 0) decides.
func (rp *repairer) endpoints(ps []*pkt) {
	o := rp.opts
	idx := uint32(o.FlowIndex)
	if o.Client.IsValid() && o.Server.IsValid() {
		rp.addr = [2]netip.Addr{o.Client, o.Server}
	} else if rp.v6 {
		var a [16]byte
		a[0] = 0xfd
		binary.BigEndian.PutUint32(a[10:], idx)
		a[15] = 2
		rp.addr[0] = netip.AddrFrom16(a)
		a[15] = 1
		rp.addr[1] = netip.AddrFrom16(a)
	} else {
		base := uint32(10)<<24 | (idx*4)&0xffffff
		var a [4]byte
		binary.BigEndian.PutUint32(a[:], base+2)
		rp.addr[0] = netip.AddrFrom4(a)
		binary.BigEndian.PutUint32(a[:], base+1)
		rp.addr[1] = netip.AddrFrom4(a)
	}
	for d := 0; d < 2; d++ {
		rp.mac[d] = [6]byte{0x02, 0, byte(idx >> 24), byte(idx >> 16), byte(idx >> 8), byte(idx)}
		rp.mac[d][5] = byte(idx)
		rp.mac[d][1] = byte(2 - d)
	}
	if o.ClientMAC != ([6]byte{}) {
		rp.mac[0] = o.ClientMAC
	}
	if o.ServerMAC != ([6]byte{}) {
		rp.mac[1] = o.ServerMAC
	}
	if rp.proto() == t2t.ProtoICMP {
		for _, q := range ps {
			q.dir = 1
			if q.typ&0x08 != 0 {
				q.dir = 0
			}
		}
		return
	}
	cnt := counter{}
	for _, q := range ps {
		cnt[int(q.roh>>16)]++
		cnt[int(q.roh&0xffff)]++
	}
	top := cnt.list()
	a := uint16(top[0].Value)
	b := a
	if len(top) > 1 {
		b = uint16(top[1].Value)
	}
	cp := rp.cp
	score := func(x uint16) int {
		if cp == nil {
			return 0
		}
		for _, c := range cp.ServerPorts {
			if c.Value == int(x) {
				return c.N
			}
		}
		return 0
	}
	genS, genC := a, b
	switch {
	case o.ServerPort != 0 && (a == o.ServerPort || b == o.ServerPort):
		if b == o.ServerPort {
			genS, genC = b, a
		}
	case score(a) != score(b):
		if score(b) > score(a) {
			genS, genC = b, a
		}
	default:
		for _, q := range ps {
			sp, dp := uint16(q.roh>>16), uint16(q.roh)
			if sp == a && dp == b || sp == b && dp == a {
				genS, genC = dp, sp
				break
			}
		}
	}
	prev := 1
	for _, q := range ps {
		sp, dp := uint16(q.roh>>16), uint16(q.roh)
		dc := ham16(sp, genC) + ham16(dp, genS)
		ds := ham16(sp, genS) + ham16(dp, genC)
		switch {
		case dc < ds:
			q.dir = 0
		case ds < dc:
			q.dir = 1
		default:
			q.dir = 1 - prev
		}
		prev = q.dir
	}
	// final ports
	server := o.ServerPort
	if server == 0 {
		plausible := genS != 0
		if cp != nil && len(cp.ServerPorts) > 0 {
			plausible = contains(cp.ServerPorts, int(genS))
		}
		server = genS
		if !plausible {
			if v, ok := pick(cp.serverPorts(), rp.rng); ok {
				server = uint16(v)
			} else if server == 0 {
				server = 443
			}
		}
	}
	client := o.ClientPort
	if client == 0 {
		lo, hi := 32768, 60999
		if cp != nil && cp.ClientPortMax > 0 {
			lo, hi = cp.ClientPortMin, cp.ClientPortMax
		}
		client = genC
		if genC == 0 || genC == server || int(genC) < lo || int(genC) > hi {
			client = uint16(lo + rp.rng.IntN(hi-lo+1))
			if client == server {
				client++
			}
		}
	}
	rp.port = [2]uint16{client, server}
}

func (c *ClassProfile) serverPorts() []Count {
	if c == nil {
		return nil
	}
	return c.ServerPorts
}

// ipFields makes TTLs, DF, IDs and flow labels consistent per direction.
func (rp *repairer) ipFields(ps []*pkt) {
	cp := rp.cp
	for d := 0; d < 2; d++ {
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
		var prof []Count
		if cp != nil {
			prof = cp.TTL[d]
		}
		gen, ok := mode(ttls.list())
		dirTTL := 64
		switch {
		case len(prof) > 0 && ok && contains(prof, gen):
			dirTTL = gen
		case len(prof) > 0:
			dirTTL, _ = mode(prof)
		case ok && gen >= 16:
			dirTTL = gen
		}
		// DF: forced where the class is unanimous (99%), else kept.
		force := -1
		if cp != nil {
			n0, n1 := cp.DF[d][0], cp.DF[d][1]
			if n1 > 0 && n1*100 >= 99*(n0+n1) {
				force = 1
			} else if n0 > 0 && n0*100 >= 99*(n0+n1) {
				force = 0
			}
		}
		dfMode, _ := mode(dfs.list())
		if len(dfs) == 0 {
			dfMode = 1
		}
		flMode, _ := mode(fls.list())
		seen := map[uint16]bool{}
		var last uint16
		for _, q := range ps {
			if q.dir != d {
				continue
			}
			keepTTL := q.row >= 0 && (len(prof) > 0 && contains(prof, int(q.ttl)) || len(prof) == 0 && int(q.ttl) == dirTTL)
			if !keepTTL {
				q.ttl = uint8(dirTTL)
			}
			if force >= 0 {
				q.df = force == 1
			} else if q.row < 0 {
				q.df = dfMode == 1
			}
			if rp.v6 {
				q.fl = uint32(flMode) & 0xfffff
				continue
			}
			if q.row < 0 {
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
}

// times sets monotone timestamps: the matrix's when it carries them (and
// they are monotone), otherwise gaps drawn from the class profile.
func (rp *repairer) times(ps []*pkt) {
	m := rp.m
	use := m.Times != nil && !rp.opts.IgnoreTimes
	if use {
		var last time.Time
		for _, q := range ps {
			if q.row < 0 {
				continue
			}
			t := m.Times[q.row]
			if t.IsZero() || t.Before(last) {
				use = false
				break
			}
			last = t
		}
	}
	if use {
		var first time.Time
		for _, q := range ps {
			if q.row >= 0 {
				first = m.Times[q.row]
				break
			}
		}
		shift := time.Duration(0)
		if !rp.opts.Start.IsZero() {
			shift = rp.opts.Start.Sub(first)
		}
		// inserted packets take the time of the packet before them (of
		// the first kept one when they lead)
		cur := first.Add(shift)
		for _, q := range ps {
			if q.row >= 0 {
				cur = m.Times[q.row].Add(shift)
			}
			q.t = cur
		}
		return
	}
	if m.Times != nil {
		rp.lg.Notes = append(rp.lg.Notes, "matrix times not monotone: drawn from the profile")
	}
	t := rp.opts.Start
	if t.IsZero() {
		t = DefaultStart
	}
	for i, q := range ps {
		if i > 0 {
			t = t.Add(time.Duration(rp.cp.sampleIAT(i, rp.rng)) * time.Microsecond)
		}
		q.t = t
	}
}

// icmp makes an echo session: requests from the client, replies from the
// server with the identifier of the session, each reply answering the last
// request (a request is inserted before a reply that has none).
func (rp *repairer) icmp(ps []*pkt) []*pkt {
	ids := counter{}
	for _, q := range ps {
		ids[int(q.roh>>16)]++
	}
	id, _ := mode(ids.list())
	var out []*pkt
	var req *pkt              // the last request
	reqs := map[uint16]*pkt{} // requests by sequence number
	for _, q := range ps {
		q.code = 0
		q.roh = uint32(id)<<16 | q.roh&0xffff
		if q.dir == 0 {
			q.typ = 8
			if req != nil {
				if d := uint16(q.roh) - uint16(req.roh); d == 0 || d > 1024 {
					q.roh = q.roh&0xffff0000 | uint32(uint16(req.roh)+1)
				}
			}
			req = q
			reqs[uint16(q.roh)] = q
			out = append(out, q)
			continue
		}
		q.typ = 0
		if req == nil {
			req = &pkt{row: -1, dir: 0, typ: 8, roh: q.roh, plen: q.plen, df: true}
			reqs[uint16(q.roh)] = req
			out = append(out, req)
			rp.lg.Inserted++
		}
		// a reply answers the request of its sequence number, or else
		// the last request
		r, ok := reqs[uint16(q.roh)]
		if !ok {
			r = req
		}
		q.roh, q.plen = r.roh, r.plen
		out = append(out, q)
	}
	return out
}

// frame serializes q as an Ethernet frame with valid checksums.
func (rp *repairer) frame(q *pkt) []byte {
	d := q.dir
	h := rp.hdrLen(q)
	n := 14 + h + q.plen
	b := make([]byte, n)
	copy(b[0:6], rp.mac[1-d][:])
	copy(b[6:12], rp.mac[d][:])
	ip := b[14:]
	proto := rp.proto()
	src, dst := rp.addr[d], rp.addr[1-d]
	var ipHL int
	if rp.v6 {
		binary.BigEndian.PutUint16(b[12:], t2t.EtherTypeIPv6)
		binary.BigEndian.PutUint32(ip[0:], 6<<28|uint32(q.tos)<<20|q.fl&0xfffff)
		binary.BigEndian.PutUint16(ip[4:], uint16(len(ip)-40))
		ip[6], ip[7] = proto, q.ttl
		s, t := src.As16(), dst.As16()
		copy(ip[8:24], s[:])
		copy(ip[24:40], t[:])
		ipHL = 40
	} else {
		binary.BigEndian.PutUint16(b[12:], t2t.EtherTypeIPv4)
		ip[0], ip[1] = 0x45, q.tos
		binary.BigEndian.PutUint16(ip[2:], uint16(len(ip)))
		binary.BigEndian.PutUint16(ip[4:], q.id)
		if q.df {
			ip[6] = 0x40
		}
		ip[8], ip[9] = q.ttl, proto
		s, t := src.As4(), dst.As4()
		copy(ip[12:16], s[:])
		copy(ip[16:20], t[:])
		ipHL = 20
	}
	seg := ip[ipHL:]
	var th, ckOff int
	switch proto {
	case t2t.ProtoTCP:
		binary.BigEndian.PutUint16(seg[0:], rp.port[d])
		binary.BigEndian.PutUint16(seg[2:], rp.port[1-d])
		binary.BigEndian.PutUint32(seg[4:], q.seq)
		binary.BigEndian.PutUint32(seg[8:], q.ack)
		th = 20 + len(q.opts)
		seg[12] = byte(th/4) << 4
		seg[13] = q.flags
		binary.BigEndian.PutUint16(seg[14:], q.win)
		binary.BigEndian.PutUint16(seg[18:], q.urp)
		copy(seg[20:], q.opts)
		ckOff = 16
	case t2t.ProtoUDP:
		binary.BigEndian.PutUint16(seg[0:], rp.port[d])
		binary.BigEndian.PutUint16(seg[2:], rp.port[1-d])
		binary.BigEndian.PutUint16(seg[4:], uint16(len(seg)))
		th, ckOff = 8, 6
	case t2t.ProtoICMP:
		seg[0], seg[1] = q.typ, q.code
		binary.BigEndian.PutUint32(seg[4:], q.roh)
		th, ckOff = 8, 2
	}
	pay := seg[th:]
	known := copy(pay, q.pay)
	if rp.opts.Payload == PayloadRandom {
		for k := known; k < len(pay); k++ {
			pay[k] = byte(rp.rng.Uint32())
		}
	}
	t2t.FixChecksums(ip)
	if q.keepCk && !rp.opts.RecomputeChecksums && q.row >= 0 {
		keepChecksum(ip, ipHL, seg, ckOff, th+known, q.ck, proto)
	}
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
