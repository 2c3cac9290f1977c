package t2t

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
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
// zero value reproduces nPrint bit for bit.
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

// fill writes bits [bit, bit+len(out)) of block b.
func (e *Encoder) fill(out []int8, b Block, bit int) {
	h, hl := e.hdr[b], e.hlen[b]
	if len(h) > hl {
		h = h[:hl]
	}
	if bit&7 == 0 && len(out)&7 == 0 {
		by := bit >> 3
		for i := 0; i < len(out); i += 8 {
			k := by + i>>3
			if k < len(h) {
				*(*[8]int8)(out[i:]) = byteBits[h[k]]
			} else {
				*(*[8]int8)(out[i:]) = vacant8
			}
		}
		return
	}
	for i := range out {
		p := bit + i
		if k := p >> 3; k < len(h) {
			out[i] = int8(h[k] >> (7 - p&7) & 1)
		} else {
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
	var ip []byte
	off := 0
	if link == LinkEthernet && !e.opts.VLAN {
		// nPrint: the frame has an Ethernet header only if its ethertype
		// is IPv4 or IPv6; otherwise the frame itself is read as IP.
		if len(frame) >= 14 {
			if et := binary.BigEndian.Uint16(frame[12:14]); et == EtherTypeIPv4 || et == EtherTypeIPv6 {
				e.hdr[BlockEth], e.hlen[BlockEth] = frame[:14], 14
				off = 14
			}
		}
		ip = frame[off:]
	} else {
		o, v, err := NetworkLayer(link, frame)
		if err != nil {
			return info, err
		}
		if v == 0 {
			return info, ErrSkip
		}
		if link == LinkEthernet {
			e.hdr[BlockEth], e.hlen[BlockEth] = frame[:14], 14
		}
		off = o
		ip = frame[o:]
	}
	if len(ip) < 1 {
		return info, ErrSkip
	}
	info.NetOff = off
	var thl, plen int // network header length, total IP length claimed
	switch ip[0] >> 4 {
	case 4:
		if len(ip) < 20 {
			return info, ErrSkip
		}
		info.Version = 4
		thl = int(ip[0]&0xf) * 4
		e.hdr[BlockIPv4], e.hlen[BlockIPv4] = ip, thl
		info.Proto = ip[9]
		info.Src = netip.AddrFrom4([4]byte(ip[12:16]))
		info.Dst = netip.AddrFrom4([4]byte(ip[16:20]))
		plen = int(binary.BigEndian.Uint16(ip[2:4]))
	case 6:
		if len(ip) < 40 {
			return info, ErrSkip
		}
		info.Version = 6
		thl = 40
		e.hdr[BlockIPv6], e.hlen[BlockIPv6] = ip, 40
		info.Proto = ip[6]
		info.Src = netip.AddrFrom16([16]byte(ip[8:24]))
		info.Dst = netip.AddrFrom16([16]byte(ip[24:40]))
		plen = int(binary.BigEndian.Uint16(ip[4:6])) + 40
	default:
		return info, ErrSkip
	}
	var t []byte
	if thl <= len(ip) {
		t = ip[thl:]
	}
	var tb Block
	var tl int
	switch info.Proto {
	case ProtoTCP:
		tb = BlockTCP
		if len(t) >= 13 {
			tl = int(t[12]>>4) * 4
		}
	case ProtoUDP:
		tb, tl = BlockUDP, 8
	case ProtoICMP:
		tb, tl = BlockICMP, 8
	default:
		return info, ErrSkip
	}
	info.TransOff = off + thl
	e.hdr[tb], e.hlen[tb] = t, tl
	if len(t) >= 4 && tb != BlockICMP {
		info.SrcPort = binary.BigEndian.Uint16(t[0:2])
		info.DstPort = binary.BigEndian.Uint16(t[2:4])
	}
	if tb == BlockICMP && len(t) >= 6 {
		info.ICMPType = t[0]
		switch t[0] {
		case 0, 8, 13, 14, 15, 16, 17, 18:
			info.ICMPID = binary.BigEndian.Uint16(t[4:6])
		}
	}
	if e.layout.payload > 0 {
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
	return info, nil
}

// DecodeOptions control how the Decoder rebuilds packets.
type DecodeOptions struct {
	// Link is the link type of the frames returned: LinkRaw (the zero
	// value is taken as LinkRaw), LinkIPv4/LinkIPv6, or LinkEthernet (an
	// Ethernet header from the row's eth block when the layout has it,
	// otherwise from SrcMAC/DstMAC).
	Link LinkType
	// FixLengths sets IPv4 total length, IPv6 payload length and UDP length
	// to what the rebuilt packet holds, and raises an IPv4 IHL or TCP data
	// offset below 5 to 5.
	FixLengths bool
	// FixChecksums recomputes the IPv4 header checksum and the TCP, UDP and
	// ICMP checksums. The transport checksum is recomputed only when the
	// rebuilt packet is whole (see Decoder.OrigLen); a packet cut short
	// keeps the checksum its row holds, as a capture with a snap length
	// would.
	FixChecksums bool
	// PadPayload appends zero bytes after the payload the row holds, up to
	// the length that the row's IPv4 total length or IPv6 payload length
	// claims, so that packet sizes survive a layout with a short payload
	// block or none.
	PadPayload bool
	// Src and Dst are the addresses used when the layout lacks the address
	// fields (as NetDiffusion's does). They must match the row's IP
	// version.
	Src, Dst netip.Addr
	// SrcMAC and DstMAC are used for Ethernet output when the layout has
	// no eth block.
	SrcMAC, DstMAC [6]byte
}

// Decoder rebuilds packet bytes from nPrint rows. Vacant (-1) bits mark
// absent headers and bytes; a -1 inside a header that is present is read
// as 0 and counted in Filled. A Decoder is not safe for concurrent use.
type Decoder struct {
	layout *Layout
	opts   DecodeOptions
	blk    [numBlocks][]int8 // full block bits, -1 where the layout has no column
	// Filled counts the vacant bits read as 0 inside present headers by
	// the last call to Append.
	Filled int
	// OrigLen is the length on the wire of the frame rebuilt by the last
	// call to Append: its length, or, when the row's length fields claim
	// more bytes than the row holds (a payload block shorter than the
	// payload, or none) and neither FixLengths nor PadPayload is set, the
	// claimed length. A frame shorter than OrigLen is a packet cut short,
	// as pcap records with caplen < len are.
	OrigLen int
}

// NewDecoder returns a Decoder for rows of layout.
func NewDecoder(layout *Layout, opts DecodeOptions) *Decoder {
	d := &Decoder{layout: layout, opts: opts}
	for b := Block(0); b < numBlocks; b++ {
		n := blockBytes[b] * 8
		if b == BlockPayload {
			n = layout.payload * 8
		}
		d.blk[b] = make([]int8, n)
	}
	return d
}

// DecodeError says why a row cannot become a packet.
type DecodeError struct {
	Msg string
}

func (e *DecodeError) Error() string { return "t2t: decode: " + e.Msg }

func decodeErr(format string, args ...any) error {
	return &DecodeError{Msg: fmt.Sprintf(format, args...)}
}

// present reports whether any of the first n bytes of block b has a bit
// that is not vacant.
func (d *Decoder) present(b Block, n int) bool {
	for _, v := range d.blk[b][:n*8] {
		if v >= 0 {
			return true
		}
	}
	return false
}

// bytesOf appends n bytes of block b starting at byte k, reading vacant
// bits as 0 and counting them.
func (d *Decoder) bytesOf(dst []byte, b Block, k, n int) []byte {
	bits := d.blk[b]
	for i := k; i < k+n; i++ {
		var v byte
		for j := 0; j < 8; j++ {
			x := bits[i*8+j]
			if x < 0 {
				d.Filled++
				x = 0
			}
			v = v<<1 | byte(x)
		}
		dst = append(dst, v)
	}
	return dst
}

func (d *Decoder) fieldKnown(name string) bool {
	_, _, ok := d.layout.Field(name)
	return ok
}

// uintField reads a field (bits of block b from bit off, n bits); ok is
// false when any bit is vacant.
func (d *Decoder) uintField(b Block, off, n int) (v uint32, ok bool) {
	ok = true
	for _, x := range d.blk[b][off : off+n] {
		if x < 0 {
			ok = false
			x = 0
		}
		v = v<<1 | uint32(x)
	}
	return v, ok
}

// Decode returns the frame rebuilt from row (len Layout.Width()).
func (d *Decoder) Decode(row []int8) ([]byte, error) { return d.Append(nil, row) }

// Append appends the frame rebuilt from row to dst.
func (d *Decoder) Append(dst []byte, row []int8) ([]byte, error) {
	l := d.layout
	if len(row) != l.width {
		return dst, decodeErr("row of %d values for a layout of %d columns", len(row), l.width)
	}
	d.Filled = 0
	for b := range d.blk {
		for i := range d.blk[b] {
			d.blk[b][i] = -1
		}
	}
	for _, s := range l.segs {
		for i, v := range row[s.col : s.col+s.n] {
			if v < -1 || v > 1 {
				return dst, decodeErr("value %d in column %d is not 1, 0 or -1", v, s.col+i)
			}
		}
		copy(d.blk[s.block][s.bit:], row[s.col:s.col+s.n])
	}
	v4 := l.has[BlockIPv4] && d.present(BlockIPv4, 20)
	v6 := l.has[BlockIPv6] && d.present(BlockIPv6, 40)
	if v4 && v6 {
		return dst, decodeErr("row has both an IPv4 and an IPv6 header")
	}
	if !v4 && !v6 {
		return dst, decodeErr("row has no IPv4 or IPv6 header")
	}
	var trans []Block
	for _, b := range []Block{BlockTCP, BlockUDP, BlockICMP} {
		n := 8
		if b == BlockTCP {
			n = 20
		}
		if l.has[b] && d.present(b, n) {
			trans = append(trans, b)
		}
	}
	if len(trans) != 1 {
		return dst, decodeErr("row has %d transport headers (want exactly one of tcp, udp, icmp)", len(trans))
	}
	tb := trans[0]
	link := d.opts.Link
	if link == 0 {
		link = LinkRaw
	}
	start := len(dst)
	switch link {
	case LinkRaw, LinkIPv4, LinkIPv6:
		if (link == LinkIPv4 && !v4) || (link == LinkIPv6 && !v6) {
			return dst, decodeErr("row's IP version does not fit link type %v", link)
		}
	case LinkEthernet:
		if l.has[BlockEth] && d.present(BlockEth, 14) {
			dst = d.bytesOf(dst, BlockEth, 0, 14)
		} else {
			dst = append(dst, d.opts.DstMAC[:]...)
			dst = append(dst, d.opts.SrcMAC[:]...)
			dst = append(dst, 0, 0)
		}
		et := uint16(EtherTypeIPv4)
		if v6 {
			et = EtherTypeIPv6
		}
		binary.BigEndian.PutUint16(dst[len(dst)-2:], et)
	default:
		return dst, decodeErr("cannot write link type %v", link)
	}
	ipStart := len(dst)
	// network header
	var hl int
	if v4 {
		ihl, _ := d.uintField(BlockIPv4, 4, 4)
		hl = int(ihl) * 4
		if hl < 20 {
			if !d.opts.FixLengths {
				return dst[:start], decodeErr("ipv4_hl %d is below 5", ihl)
			}
			hl = 20
		}
		dst = d.bytesOf(dst, BlockIPv4, 0, hl)
		ip := dst[ipStart:]
		if d.opts.FixLengths {
			ip[0] = 4<<4 | byte(hl/4)
		}
		if !d.fieldKnown("ipv4_src") {
			if !d.opts.Src.Is4() {
				return dst[:start], decodeErr("layout lacks ipv4_src: set DecodeOptions.Src to an IPv4 address")
			}
			a := d.opts.Src.As4()
			copy(ip[12:16], a[:])
		}
		if !d.fieldKnown("ipv4_dst") {
			if !d.opts.Dst.Is4() {
				return dst[:start], decodeErr("layout lacks ipv4_dst: set DecodeOptions.Dst to an IPv4 address")
			}
			a := d.opts.Dst.As4()
			copy(ip[16:20], a[:])
		}
	} else {
		hl = 40
		dst = d.bytesOf(dst, BlockIPv6, 0, 40)
		ip := dst[ipStart:]
		if !d.fieldKnown("ipv6_src") {
			if !d.opts.Src.Is6() || d.opts.Src.Is4In6() {
				return dst[:start], decodeErr("layout lacks ipv6_src: set DecodeOptions.Src to an IPv6 address")
			}
			a := d.opts.Src.As16()
			copy(ip[8:24], a[:])
		}
		if !d.fieldKnown("ipv6_dst") {
			if !d.opts.Dst.Is6() || d.opts.Dst.Is4In6() {
				return dst[:start], decodeErr("layout lacks ipv6_dst: set DecodeOptions.Dst to an IPv6 address")
			}
			a := d.opts.Dst.As16()
			copy(ip[24:40], a[:])
		}
	}
	// transport header
	tStart := len(dst)
	var tl int
	switch tb {
	case BlockTCP:
		doff, _ := d.uintField(BlockTCP, 96, 4)
		tl = int(doff) * 4
		if tl < 20 {
			if !d.opts.FixLengths {
				return dst[:start], decodeErr("tcp_doff %d is below 5", doff)
			}
			tl = 20
		}
		dst = d.bytesOf(dst, BlockTCP, 0, tl)
		if d.opts.FixLengths {
			dst[tStart+12] = dst[tStart+12]&0x0f | byte(tl/4)<<4
		}
	case BlockUDP:
		tl = 8
		dst = d.bytesOf(dst, BlockUDP, 0, 8)
	case BlockICMP:
		tl = 8
		dst = d.bytesOf(dst, BlockICMP, 0, 8)
	}
	// payload: leading bytes that are not wholly vacant
	np := 0
	if l.has[BlockPayload] {
		bits := d.blk[BlockPayload]
		for np < l.payload {
			if *(*[8]int8)(bits[np*8:]) == vacant8 {
				break
			}
			np++
		}
		dst = d.bytesOf(dst, BlockPayload, 0, np)
	}
	// the IP length the row's header claims
	var claimed int
	if v4 {
		tot, _ := d.uintField(BlockIPv4, 16, 16)
		claimed = int(tot)
	} else {
		pl, _ := d.uintField(BlockIPv6, 32, 16)
		claimed = int(pl) + 40
	}
	if d.opts.PadPayload {
		for i := len(dst) - ipStart; i < claimed; i++ {
			dst = append(dst, 0)
		}
	}
	ip := dst[ipStart:]
	whole := d.opts.FixLengths || len(ip) >= claimed
	d.OrigLen = len(dst) - start
	if !whole {
		d.OrigLen = ipStart - start + claimed
	}
	if len(ip) > 65535+40 || (v4 && len(ip) > 65535) {
		return dst[:start], decodeErr("packet of %d bytes is too long for IP", len(ip))
	}
	if d.opts.FixLengths {
		if v4 {
			binary.BigEndian.PutUint16(ip[2:4], uint16(len(ip)))
		} else {
			binary.BigEndian.PutUint16(ip[4:6], uint16(len(ip)-40))
		}
		if tb == BlockUDP {
			binary.BigEndian.PutUint16(ip[hl+4:hl+6], uint16(len(ip)-hl))
		}
	}
	if d.opts.FixChecksums {
		if whole {
			FixChecksums(ip)
		} else if v4 {
			ip[10], ip[11] = 0, 0
			binary.BigEndian.PutUint16(ip[10:12], Checksum(ip[:hl]))
		}
	}
	return dst, nil
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
