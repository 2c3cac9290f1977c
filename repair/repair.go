package repair

import (
	"errors"
	"fmt"
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
// and the matrix carries no times: t2t.DefaultStart, which it copies.
var DefaultStart = t2t.DefaultStart

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
	// when plausible, otherwise draw from the profile). For ICMP,
	// ClientPort sets the echo identifier (0: the matrix's), the field that
	// tells ICMP sessions between two hosts apart as a client port tells
	// TCP and UDP flows (pcapio.FlowKey).
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
	// End says the matrix holds the flow's end (its last row is the
	// flow's last packet, not a cut): a TCP flow then ends as the class's
	// real flows do, with one of the profile's endings
	// (ClassProfile.Endings) drawn by how often real flows end so, or
	// with none as often as real flows have none.
	End bool
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
	// echo is the request an ICMP echo reply answers: the reply carries
	// its payload (built, once the request's frame is), as a real one does
	echo  *pkt
	built []byte
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

// Flow repairs one generated matrix into the packets of one valid flow of
// class (see the package documentation for what is kept and what is
// changed). p may be nil (no profile: defaults are used); rng drives every
// random choice, so equal seeds give equal packets.
func Flow(m *t2t.Matrix, class string, p *Profile, opts Options, rng *rand.Rand) (*Result, error) {
	if err := checkMatrix(m); err != nil {
		return nil, err
	}
	cp := p.Class(class)
	fr := t2t.NewFieldReader(m.Layout)
	lg := Log{Rows: m.Rows, Fields: map[string]int{}}

	// 1. Rows: classify them; the flow takes the majority IP version and
	// transport; read the rows that have them.
	kinds := classifyRows(fr, m, &lg)
	v6, tr, err := chooseFlow(kinds, opts, &lg)
	if err != nil {
		return nil, err
	}
	ps := readRows(fr, m, kinds, v6, tr, &lg)
	if len(ps) == 0 {
		return nil, ErrEmpty
	}
	rp := &repairer{m: m, cp: cp, opts: opts, rng: rng, lg: &lg, v6: v6, tr: tr, mtu: flowMTU(opts, cp)}
	rp.chooseKind(ps)
	rp.lengths(ps)

	// 2. Endpoints and directions.
	rp.endpoints(ps)

	// 3. Protocol state.
	switch rp.proto() {
	case t2t.ProtoTCP:
		ps = rp.tcpStructure(ps)
	case t2t.ProtoICMP:
		ps = rp.icmp(ps)
	}
	rp.positions(ps)
	rp.ipFields(ps)
	rp.times(ps)
	if rp.proto() == t2t.ProtoTCP {
		rp.tcpNumbers(ps)
	}

	// 4. Bytes, checksums, log.
	return rp.result(ps)
}

// checkMatrix says what makes m unusable: no layout, an inconsistent size,
// a value that is not 1, 0 or -1.
func checkMatrix(m *t2t.Matrix) error {
	if m == nil || m.Layout == nil || m.Cols != m.Layout.Width() || len(m.Bits) != m.Rows*m.Cols {
		return errors.New("repair: matrix without layout or of inconsistent size")
	}
	for i, v := range m.Bits {
		if v < -1 || v > 1 {
			return fmt.Errorf("repair: value %d at row %d column %d is not 1, 0 or -1", v, i/m.Cols, i%m.Cols)
		}
	}
	return nil
}

// flowMTU bounds the IP length of the flow's packets: Options.MTU, else
// 1500 or the class's longest packet.
func flowMTU(opts Options, cp *ClassProfile) int {
	if opts.MTU != 0 {
		return opts.MTU
	}
	mtu := 1500
	if cp != nil {
		mtu = max(mtu, cp.MaxIPLen)
	}
	return mtu
}

// result serializes the packets and logs how far the kept rows were from
// the encoding of their repaired packets.
func (rp *repairer) result(ps []*pkt) (*Result, error) {
	m, lg := rp.m, rp.lg
	res := &Result{Proto: lg.Proto, Client: netip.AddrPortFrom(rp.addr[0], rp.port[0]),
		Server: netip.AddrPortFrom(rp.addr[1], rp.port[1])}
	enc := t2t.NewEncoder(m.Layout, t2t.ModelEncoderOptions())
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
	res.Log = *lg
	return res, nil
}

// repairer holds the state of one repair.
type repairer struct {
	m  *t2t.Matrix
	cp *ClassProfile // the statistics of the flow's kind (chooseKind)
	// class is the class's statistics, of every kind of its flows
	class *ClassProfile
	// generated client and server ports, and the server port chosen
	genC, genS, server uint16
	opts               Options
	rng                *rand.Rand
	lg                 *Log
	v6                 bool
	tr                 int
	mtu                int
	addr               [2]netip.Addr // client, server
	port               [2]uint16
	mac                [2][6]byte
}

func (rp *repairer) proto() uint8 { return transProto[rp.tr] }
