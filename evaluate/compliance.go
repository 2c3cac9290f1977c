package evaluate

import (
	"fmt"
	"io"

	"github.com/google/gopacket/layers"

	"t2t"
	"t2t/pcapio"
)

// TCPViolations counts breaches of the TCP state machine, per packet
// unless said otherwise.
type TCPViolations struct {
	// NoHandshake counts flows whose first packet is not a SYN without
	// ACK followed by the peer's SYN+ACK (per flow). A capture that starts
	// in the middle of a connection has some.
	NoHandshake int `json:"no_handshake"`
	// IllegalFlags: SYN+FIN, SYN+RST, FIN without ACK, no flag at all.
	IllegalFlags int `json:"illegal_flags"`
	// SYNAfterData: a SYN from a side that has already sent data, or with
	// a sequence number other than its first SYN's.
	SYNAfterData int `json:"syn_after_data"`
	// DataBeforeHandshake: payload before the handshake reached SYN+ACK.
	DataBeforeHandshake int `json:"data_before_handshake"`
	// SeqGap: a segment starting beyond every byte its sender has sent so
	// far: a made-up sequence number, or, in a real capture, a segment
	// lost before the capture point (the gap is then one segment long).
	SeqGap int `json:"seq_gap"`
	// AckAhead: an acknowledgement of bytes the peer has not sent.
	AckAhead int `json:"ack_ahead"`
	// AfterRST: a packet other than a RST from a side after that side
	// sent a RST, or from the peer later than one second after it (a RST
	// answering each segment still in flight is legal).
	AfterRST int `json:"after_rst"`
}

func (v TCPViolations) total() int {
	return v.NoHandshake + v.IllegalFlags + v.SYNAfterData + v.DataBeforeHandshake +
		v.SeqGap + v.AckAhead + v.AfterRST
}

// Compliance is what a protocol check of packets found. Counts are of
// packets unless said otherwise.
type Compliance struct {
	Packets        int `json:"packets"`
	NonIP          int `json:"non_ip"`          // not IP (ARP, ...): not checked, not an error
	OtherTransport int `json:"other_transport"` // IP carrying neither TCP, UDP nor ICMP: transport not checked
	Fragments      int `json:"fragments"`       // IPv4 fragments: transport and checksum not checked
	// DecodeErrors counts packets whose headers do not parse: bad
	// version, header length, total length, TCP data offset, or a header
	// cut short in a packet captured whole.
	DecodeErrors int `json:"decode_errors"`
	// Truncated counts packets captured shorter than their length on the
	// wire: their checksums cannot be verified.
	Truncated       int           `json:"truncated"`
	ChecksumChecked int           `json:"checksum_checked"` // packets whose checksums were verified
	BadChecksums    int           `json:"bad_checksums"`
	UDPLength       int           `json:"udp_length"`   // UDP length differs from the IP payload length
	ICMPInvalid     int           `json:"icmp_invalid"` // ICMP type or code not defined
	Flows           int           `json:"flows"`
	TCPFlows        int           `json:"tcp_flows"`
	TCP             TCPViolations `json:"tcp"`
	// Problems describes the first MaxProblems problems found.
	Problems []string `json:"problems,omitempty"`
}

// MaxProblems bounds Compliance.Problems.
const MaxProblems = 20

// Errors is the number of problems: decode errors, bad checksums, UDP
// length and ICMP errors and TCP violations.
func (c *Compliance) Errors() int {
	return c.DecodeErrors + c.BadChecksums + c.UDPLength + c.ICMPInvalid + c.TCP.total()
}

// Add sums o into c.
func (c *Compliance) Add(o *Compliance) {
	c.Packets += o.Packets
	c.NonIP += o.NonIP
	c.OtherTransport += o.OtherTransport
	c.Fragments += o.Fragments
	c.DecodeErrors += o.DecodeErrors
	c.Truncated += o.Truncated
	c.ChecksumChecked += o.ChecksumChecked
	c.BadChecksums += o.BadChecksums
	c.UDPLength += o.UDPLength
	c.ICMPInvalid += o.ICMPInvalid
	c.Flows += o.Flows
	c.TCPFlows += o.TCPFlows
	t, u := &c.TCP, o.TCP
	t.NoHandshake += u.NoHandshake
	t.IllegalFlags += u.IllegalFlags
	t.SYNAfterData += u.SYNAfterData
	t.DataBeforeHandshake += u.DataBeforeHandshake
	t.SeqGap += u.SeqGap
	t.AckAhead += u.AckAhead
	t.AfterRST += u.AfterRST
	for _, p := range o.Problems {
		if len(c.Problems) < MaxProblems {
			c.Problems = append(c.Problems, p)
		}
	}
}

func (c *Compliance) problem(format string, args ...any) {
	if len(c.Problems) < MaxProblems {
		c.Problems = append(c.Problems, fmt.Sprintf(format, args...))
	}
}

// tcpSeg is what the state machine reads of a TCP segment.
type tcpSeg struct {
	seq, ack uint32
	flags    uint8
	payload  int
}

const (
	finF = 0x01
	synF = 0x02
	rstF = 0x04
	ackF = 0x10
)

// checkPacket checks one packet, decoded with h, and returns its TCP
// segment when it is a well-formed, unfragmented TCP packet. where names
// the packet in problems.
func (c *Compliance) checkPacket(h *headers, link t2t.LinkType, data []byte, origLen int, where string) (seg tcpSeg, isTCP bool) {
	c.Packets++
	whole := origLen <= len(data)
	if !whole {
		c.Truncated++
	}
	h.decode(link, data)
	if h.linkErr != nil {
		c.DecodeErrors++
		c.problem("%s: %v", where, h.linkErr)
		return seg, false
	}
	if h.net == 0 {
		c.NonIP++
		return seg, false
	}
	bad := func(msg string, args ...any) (tcpSeg, bool) {
		if whole {
			c.DecodeErrors++
			c.problem("%s: %s", where, fmt.Sprintf(msg, args...))
		}
		return tcpSeg{}, false
	}
	ip := h.netData
	var hl, tl int
	switch h.net {
	case layers.LayerTypeIPv4:
		if len(ip) < 20 {
			return bad("IPv4 header cut short (%d bytes)", len(ip))
		}
		v4 := &h.ip4
		if v4.Version != 4 {
			return bad("IP version %d under an IPv4 link header", v4.Version)
		}
		hl, tl = int(v4.IHL)*4, h.ipv4Length()
		if hl < 20 || tl < hl {
			return bad("IPv4 header length %d, total length %d", hl, tl)
		}
		if v4.Flags&layers.IPv4EvilBit != 0 {
			return bad("IPv4 reserved flag set")
		}
		if v4.Flags&layers.IPv4MoreFragments != 0 || v4.FragOffset != 0 {
			c.Fragments++
			return seg, false
		}
	case layers.LayerTypeIPv6:
		if len(ip) < 40 {
			return bad("IPv6 header cut short (%d bytes)", len(ip))
		}
		if h.ip6.Version != 6 {
			return bad("IP version %d under an IPv6 link header", h.ip6.Version)
		}
		// gopacket's errors here are about a zero payload length, which
		// RFC 8200 allows (no next header), and hop-by-hop options, which
		// make the packet OtherTransport: the checks below judge both.
		hl, tl = 40, 40+int(h.ip6.Length)
	}
	if whole && len(ip) < tl {
		return bad("IP length %d but %d bytes in the frame", tl, len(ip))
	}
	if whole && h.failed == layers.LayerTypeIPv4 {
		// the lengths are right (above): gopacket stumbled on the options
		return bad("IPv4 options: %v", h.err)
	}
	proto, _ := h.transport()
	switch proto {
	case layers.IPProtocolTCP, layers.IPProtocolUDP, layers.IPProtocolICMPv4:
	default:
		c.OtherTransport++
		return seg, false
	}
	plen := tl - hl // transport length on the wire
	switch proto {
	case layers.IPProtocolTCP:
		if plen < 20 {
			return bad("TCP segment of %d bytes", plen)
		}
		if !h.has(layers.LayerTypeTCP) {
			return seg, false // cut by the snap length
		}
		doff := int(h.tcp.DataOffset) * 4
		if doff < 20 || doff > plen {
			return bad("TCP data offset %d in a %d-byte segment", doff, plen)
		}
		if whole && h.failed == layers.LayerTypeTCP {
			return bad("TCP options: %v", h.err)
		}
		seg = tcpSeg{seq: h.tcp.Seq, ack: h.tcp.Ack, flags: uint8(h.tcpFlags()), payload: plen - doff}
		isTCP = true
	case layers.IPProtocolUDP:
		if plen < 8 {
			return bad("UDP datagram of %d bytes", plen)
		}
		if h.has(layers.LayerTypeUDP) {
			if ul := int(h.udp.Length); ul != plen {
				c.UDPLength++
				c.problem("%s: UDP length %d, IP payload %d", where, ul, plen)
			}
		}
	case layers.IPProtocolICMPv4:
		if plen < 8 {
			return bad("ICMP message of %d bytes", plen)
		}
		if h.has(layers.LayerTypeICMPv4) {
			if typ, code := h.icmp.TypeCode.Type(), h.icmp.TypeCode.Code(); !icmpValid(typ, code) {
				c.ICMPInvalid++
				c.problem("%s: ICMP type %d code %d", where, typ, code)
			}
		}
	}
	if whole {
		c.ChecksumChecked++
		if !h.checksumsValid() {
			c.BadChecksums++
			c.problem("%s: bad checksum", where)
		}
	}
	return seg, isTCP
}

// icmpValid reports whether type and code are defined for ICMPv4 (RFC 792,
// 950, 1256, 1812, 4884; deprecated types still count as defined).
func icmpValid(typ, code uint8) bool {
	switch typ {
	case 0, 8, 4, 10, 13, 14, 15, 16, 17, 18, 37, 38:
		return code == 0
	case 3:
		return code <= 15
	case 5:
		return code <= 3
	case 9:
		return code == 0 || code == 16
	case 11:
		return code <= 1
	case 12:
		return code <= 2
	case 40:
		return code <= 5
	case 42:
		return code == 0
	case 43:
		return code <= 4
	}
	return false
}

// tcpSide is the state of one direction of a TCP connection.
type tcpSide struct {
	started  bool   // a segment has been seen
	next     uint32 // one past the highest sequence number sent
	synSeen  bool
	isn      uint32
	sentData bool
	rst      bool
	rstTime  int64 // unix nanoseconds of the first RST
}

// checkTCP runs the TCP state machine over a flow whose segments are
// segs (nil for packets that are not well-formed TCP) in flow order.
func (c *Compliance) checkTCP(f *pcapio.Flow, segs []*tcpSeg, name string) {
	var side [2]tcpSide // 0: initiator, 1: responder
	state := 0          // 0 before, 1 after SYN, 2 after SYN+ACK
	first := true
	for i, s := range segs {
		if s == nil {
			continue
		}
		d := 1
		if f.Forward(i) {
			d = 0
		}
		me, peer := &side[d], &side[1-d]
		where := fmt.Sprintf("%s packet %d", name, i)
		fl := s.flags
		syn, ack, fin, rst := fl&synF != 0, fl&ackF != 0, fl&finF != 0, fl&rstF != 0
		if first {
			first = false
			if !syn || ack {
				c.TCP.NoHandshake++
				c.problem("%s: flow starts without a SYN", where)
				state = 2 // judge the rest as an established connection
			}
		}
		now := f.Packets[i].Time.UnixNano()
		if !rst && (me.rst || peer.rst && now-peer.rstTime > 1e9) {
			c.TCP.AfterRST++
			c.problem("%s: packet after RST", where)
		}
		switch {
		case syn && fin, syn && rst, fl&0x3f == 0, fin && !ack:
			c.TCP.IllegalFlags++
			c.problem("%s: illegal flags %#02x", where, fl)
		}
		if syn {
			if me.sentData || me.synSeen && s.seq != me.isn {
				c.TCP.SYNAfterData++
				c.problem("%s: SYN after data or with a new sequence number", where)
			}
			if !me.synSeen {
				me.synSeen, me.isn = true, s.seq
			}
			switch {
			case state == 0 && d == 0 && !ack:
				state = 1
			case state == 1 && d == 1 && ack:
				state = 2
			}
		}
		if s.payload > 0 && state < 2 && !syn {
			c.TCP.DataBeforeHandshake++
			c.problem("%s: data before the handshake", where)
		}
		// Sequence space: SYN and FIN take one number each.
		end := s.seq + uint32(s.payload)
		if syn {
			end++
		}
		if fin {
			end++
		}
		if me.started {
			if int32(s.seq-me.next) > 0 {
				c.TCP.SeqGap++
				c.problem("%s: sequence %d beyond the %d sent so far", where, s.seq, me.next)
			}
			if int32(end-me.next) > 0 {
				me.next = end
			}
		} else if !rst || s.seq != 0 {
			me.started, me.next = true, end
		}
		if ack && peer.started && int32(s.ack-peer.next) > 0 {
			c.TCP.AckAhead++
			c.problem("%s: acknowledges %d, peer sent up to %d", where, s.ack, peer.next)
		}
		if s.payload > 0 {
			me.sentData = true
		}
		if rst && !me.rst {
			me.rst, me.rstTime = true, now
		}
	}
}

// CheckFlows checks every packet of the flows and runs the TCP state
// machine over each TCP flow.
func CheckFlows(flows []*pcapio.Flow) *Compliance {
	c, h := &Compliance{}, newHeaders()
	for fi, f := range flows {
		c.checkFlow(h, f, fmt.Sprintf("flow %d (%v)", fi, f.Key), true)
	}
	return c
}

func (c *Compliance) checkFlow(h *headers, f *pcapio.Flow, name string, packets bool) {
	c.Flows++
	segs := make([]*tcpSeg, len(f.Packets))
	scratch := &Compliance{}
	for i, p := range f.Packets {
		dst := c
		if !packets {
			dst = scratch // counted by the caller's pass over the file
		}
		if s, ok := dst.checkPacket(h, p.Link, p.Data, p.OrigLen, fmt.Sprintf("%s packet %d", name, i)); ok {
			segs[i] = &s
		}
	}
	if f.Key.Proto == t2t.ProtoTCP {
		c.TCPFlows++
		c.checkTCP(f, segs, name)
	}
}

// CheckFile checks every packet of a capture file (packets that are not
// IP included) and the TCP state machine of each of its flows.
func CheckFile(path string) (*Compliance, error) {
	r, err := pcapio.Open(path)
	if err != nil {
		return nil, err
	}
	c, h := &Compliance{}, newHeaders()
	for {
		p, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			r.Close()
			return nil, err
		}
		c.checkPacket(h, p.Link, p.Data, p.OrigLen, fmt.Sprintf("%s offset %d", path, p.Offset))
	}
	r.Close()
	flows, _, err := pcapio.AssembleFile(path, pcapio.FlowOptions{IdleTimeout: -1, NewFlowOnSYN: true})
	if err != nil {
		return nil, err
	}
	for fi, f := range flows {
		c.checkFlow(h, f, fmt.Sprintf("%s flow %d (%v)", path, fi, f.Key), false)
	}
	return c, nil
}
