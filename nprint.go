package t2t

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"
)

// byteBits[b] is byte b written as nPrint bits, most significant first.
var byteBits [256][8]int8

func init() {
	for b := 0; b < 256; b++ {
		for i := 0; i < 8; i++ {
			byteBits[b][i] = int8(b >> (7 - i) & 1)
		}
	}
}

var vacant8 = [8]int8{-1, -1, -1, -1, -1, -1, -1, -1}

// EncoderOptions choose where the Encoder departs from nPrint 1.2.1. The
// zero value reproduces nPrint bit for bit, except for bytes that nPrint
// reads past the end of the captured packet (see ZeroSnappedPayload).
type EncoderOptions struct {
	// VLAN looks through 802.1Q/802.1ad tags on Ethernet frames. nPrint
	// does not: it reads a tagged frame from its first byte as if it were
	// an IP header, so it skips most tagged packets and, when the first
	// nibble of the destination MAC happens to be 4 or 6, encodes the MAC
	// addresses as an IP header.
	VLAN bool
	// IPv6Payload fixes nPrint's IPv6+TCP payload offset. nPrint 1.2.1
	// starts the payload of TCP over IPv6 at 20*doff*4 bytes past the TCP
	// header (pointer arithmetic on a struct tcphdr*) instead of doff*4.
	// With the option off, t2t reproduces that offset (bytes past the
	// capture are vacant).
	IPv6Payload bool
	// ZeroSnappedPayload writes as 0 the payload bytes that the IP header
	// claims (up to the payload block's width) but that the capture does
	// not hold, as in a capture made with a snap length. nPrint 1.2.1
	// encodes those bytes too: it reads them past the end of libpcap's
	// packet buffer, and gets zeros first, then whatever memory follows
	// (measured: 8 zero bytes, then heap contents). With the option off
	// (the zero value, and ModelEncoderOptions) they are vacant (-1), like
	// every other byte the capture lacks; on, a row holds as many payload
	// bytes as nPrint's does, the ones nPrint takes from memory being 0.
	ZeroSnappedPayload bool
}

// ModelEncoderOptions are the options of the encoding that t2t's models
// are trained on and that generated matrices are read back in: nPrint's,
// looking through VLAN tags and with the IPv6 TCP payload at its right
// offset. Use them wherever a packet is encoded to be compared with, or
// fed to, a model (training data, repair's log of changed bits); use the
// zero EncoderOptions to reproduce nPrint's output.
func ModelEncoderOptions() EncoderOptions {
	return EncoderOptions{VLAN: true, IPv6Payload: true}
}

// Encoder turns packets into nPrint rows of one Layout. An Encoder is cheap,
// allocates nothing per packet, and is not safe for concurrent use (make one
// per goroutine).
type Encoder struct {
	layout *Layout
	opts   EncoderOptions
	// per packet: header bytes of each block as captured, and the length
	// nPrint takes for the block (vacant beyond it)
	hdr  [numBlocks][]byte
	hlen [numBlocks]int
}

// NewEncoder returns an Encoder for layout.
func NewEncoder(layout *Layout, opts EncoderOptions) *Encoder {
	return &Encoder{layout: layout, opts: opts}
}

// Layout returns the encoder's layout.
func (e *Encoder) Layout() *Layout { return e.layout }

// ErrSkip is returned by Encode for a packet nPrint does not encode: not
// IP, or IP whose (first) next header is not TCP, UDP or ICMP.
var ErrSkip = errors.New("t2t: packet is not IP carrying TCP, UDP or ICMP")

// Encode writes the row of one frame of link type link into dst, which must
// have len Layout().Width(). It returns the packet's addresses and ports
// (for row keys and flows). A packet that nPrint skips gives ErrSkip; an
// unknown link type or a frame shorter than its link header gives another
// error. Header bytes past the end of a truncated capture are vacant (-1);
// nPrint reads past its buffer there.
func (e *Encoder) Encode(dst []int8, link LinkType, frame []byte) (PacketInfo, error) {
	if len(dst) != e.layout.width {
		panic(fmt.Sprintf("t2t: Encode: dst of %d values for a layout of %d columns", len(dst), e.layout.width))
	}
	info, err := e.split(link, frame)
	if err != nil {
		return info, err
	}
	for _, s := range e.layout.segs {
		e.fill(dst[s.col:s.col+s.n], s.block, s.bit)
	}
	return info, nil
}

// fill writes bits [bit, bit+len(out)) of block b: the bytes the capture
// holds, then zeros up to the block's length when it is a snapped payload
// and ZeroSnappedPayload is set, then vacant bits.
func (e *Encoder) fill(out []int8, b Block, bit int) {
	h, hl := e.hdr[b], e.hlen[b]
	if len(h) > hl {
		h = h[:hl]
	}
	zero := len(h) // bytes [len(h), zero) are written as 0
	if b == BlockPayload && e.opts.ZeroSnappedPayload {
		zero = hl
	}
	if bit&7 == 0 && len(out)&7 == 0 {
		by := bit >> 3
		for i := 0; i < len(out); i += 8 {
			k := by + i>>3
			switch {
			case k < len(h):
				*(*[8]int8)(out[i:]) = byteBits[h[k]]
			case k < zero:
				*(*[8]int8)(out[i:]) = [8]int8{}
			default:
				*(*[8]int8)(out[i:]) = vacant8
			}
		}
		return
	}
	for i := range out {
		p := bit + i
		switch k := p >> 3; {
		case k < len(h):
			out[i] = int8(h[k] >> (7 - p&7) & 1)
		case k < zero:
			out[i] = 0
		default:
			out[i] = -1
		}
	}
}

// split finds the header blocks of the frame, following nPrint 1.2.1.
func (e *Encoder) split(link LinkType, frame []byte) (PacketInfo, error) {
	var info PacketInfo
	info.TransOff = -1
	for b := range e.hdr {
		e.hdr[b], e.hlen[b] = nil, 0
	}
	off, err := e.netOffset(link, frame)
	if err != nil {
		return info, err
	}
	ip := frame[off:]
	if len(ip) < 1 {
		return info, ErrSkip
	}
	info.NetOff = off
	thl, plen, ok := info.parseIP(ip) // network header length, total IP length claimed
	if !ok {
		return info, ErrSkip
	}
	if info.Version == 4 {
		e.hdr[BlockIPv4], e.hlen[BlockIPv4] = ip, thl
	} else {
		e.hdr[BlockIPv6], e.hlen[BlockIPv6] = ip, 40
	}
	var t []byte
	if thl <= len(ip) {
		t = ip[thl:]
	}
	var tb Block
	tl := 8
	info.parseTransport(t)
	switch info.Proto {
	case ProtoTCP:
		tb, tl = BlockTCP, info.TCPDataOff // 0 when not captured
	case ProtoUDP:
		tb = BlockUDP
	case ProtoICMP:
		tb = BlockICMP
	default:
		return info, ErrSkip
	}
	info.TransOff = off + thl
	e.hdr[tb], e.hlen[tb] = t, tl
	if e.layout.payload > 0 {
		e.payload(&info, t, tb, thl, tl, plen)
	}
	return info, nil
}

// netOffset finds the IP header of the frame, following nPrint 1.2.1,
// and notes the Ethernet header.
func (e *Encoder) netOffset(link LinkType, frame []byte) (int, error) {
	if link == LinkEthernet && !e.opts.VLAN {
		// nPrint: the frame has an Ethernet header only if its ethertype
		// is IPv4 or IPv6; otherwise the frame itself is read as IP.
		if len(frame) >= 14 {
			if et := binary.BigEndian.Uint16(frame[12:14]); et == EtherTypeIPv4 || et == EtherTypeIPv6 {
				e.hdr[BlockEth], e.hlen[BlockEth] = frame[:14], 14
				return 14, nil
			}
		}
		return 0, nil
	}
	o, v, err := NetworkLayer(link, frame)
	if err != nil {
		return 0, err
	}
	if v == 0 {
		return 0, ErrSkip
	}
	if link == LinkEthernet {
		e.hdr[BlockEth], e.hlen[BlockEth] = frame[:14], 14
	}
	return o, nil
}

// payload notes the payload block: the bytes after the transport header t
// (of block tb, tl bytes long) of an IP packet whose network header is thl
// bytes long and whose header claims plen bytes.
func (e *Encoder) payload(info *PacketInfo, t []byte, tb Block, thl, tl, plen int) {
	// nPrint computes the payload length as an unsigned 32-bit
	// difference: a header longer than the total length wraps around
	// to "longer than the payload block".
	pl := uint32(plen) - uint32(thl+tl)
	poff := tl
	if tb == BlockTCP && info.Version == 6 && !e.opts.IPv6Payload {
		poff = 20 * tl
	}
	var p []byte
	if poff <= len(t) {
		p = t[poff:]
	}
	n := e.layout.payload
	if pl < uint32(n) {
		n = int(pl)
	}
	e.hdr[BlockPayload], e.hlen[BlockPayload] = p, n
}

// Append encodes one frame as a new row of m (whose layout must be the
// encoder's) with capture time ts. A packet that nPrint skips gives ErrSkip
// and leaves m unchanged.
func (e *Encoder) Append(m *Matrix, link LinkType, frame []byte, ts time.Time) (PacketInfo, error) {
	if m.Cols != e.layout.width {
		return PacketInfo{}, fmt.Errorf("t2t: Append: matrix of %d columns, encoder layout %d", m.Cols, e.layout.width)
	}
	n := len(m.Bits)
	m.Bits = append(m.Bits, make([]int8, m.Cols)...)
	info, err := e.Encode(m.Bits[n:], link, frame)
	if err != nil {
		m.Bits = m.Bits[:n]
		return info, err
	}
	if m.Times != nil || !ts.IsZero() {
		if m.Times == nil {
			m.Times = make([]time.Time, m.Rows, m.Rows+1)
		}
		m.Times = append(m.Times, ts)
	}
	m.Rows++
	return info, nil
}
