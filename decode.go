package t2t

import (
	"encoding/binary"
	"fmt"
	"net/netip"
)

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
	r      *FieldReader
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
	return &Decoder{layout: layout, opts: opts, r: NewFieldReader(layout)}
}

// DecodeError says why a row cannot become a packet.
type DecodeError struct {
	Msg string
}

func (e *DecodeError) Error() string { return "t2t: decode: " + e.Msg }

func decodeErr(format string, args ...any) error {
	return &DecodeError{Msg: fmt.Sprintf(format, args...)}
}

// bytes appends n bytes of block b from byte k, counting the vacant bits
// read as 0 in Filled.
func (d *Decoder) bytes(dst []byte, b Block, k, n int) []byte {
	dst, vacant := d.r.Bytes(dst, b, k, n)
	d.Filled += vacant
	return dst
}

func (d *Decoder) fieldKnown(name string) bool {
	_, _, ok := d.layout.Field(name)
	return ok
}

// Decode returns the frame rebuilt from row (len Layout.Width()).
func (d *Decoder) Decode(row []int8) ([]byte, error) { return d.Append(nil, row) }

// Append appends the frame rebuilt from row to dst: the link header, the
// IP header, the transport header, the payload the row holds, then the
// lengths and checksums DecodeOptions ask for.
func (d *Decoder) Append(dst []byte, row []int8) ([]byte, error) {
	if len(row) != d.layout.width {
		return dst, decodeErr("row of %d values for a layout of %d columns", len(row), d.layout.width)
	}
	d.Filled = 0
	if err := d.r.Load(row); err != nil {
		return dst, err
	}
	v4, tb, err := d.blocks()
	if err != nil {
		return dst, err
	}
	start := len(dst)
	if dst, err = d.appendLink(dst, v4); err != nil {
		return dst, err
	}
	ipStart := len(dst)
	dst, hl, err := d.appendIP(dst, v4)
	if err != nil {
		return dst[:start], err
	}
	if dst, err = d.appendTransport(dst, tb); err != nil {
		return dst[:start], err
	}
	if d.layout.has[BlockPayload] {
		dst = d.bytes(dst, BlockPayload, 0, d.r.PayloadHeld())
	}
	return d.finish(dst, start, ipStart, hl, v4, tb)
}

// blocks finds the row's IP version and its one transport block.
func (d *Decoder) blocks() (v4 bool, tb Block, err error) {
	l := d.layout
	v4 = l.has[BlockIPv4] && d.r.Present(BlockIPv4, 20)
	v6 := l.has[BlockIPv6] && d.r.Present(BlockIPv6, 40)
	if v4 && v6 {
		return v4, 0, decodeErr("row has both an IPv4 and an IPv6 header")
	}
	if !v4 && !v6 {
		return v4, 0, decodeErr("row has no IPv4 or IPv6 header")
	}
	var trans []Block
	for _, b := range []Block{BlockTCP, BlockUDP, BlockICMP} {
		n := 8
		if b == BlockTCP {
			n = 20
		}
		if l.has[b] && d.r.Present(b, n) {
			trans = append(trans, b)
		}
	}
	if len(trans) != 1 {
		return v4, 0, decodeErr("row has %d transport headers (want exactly one of tcp, udp, icmp)", len(trans))
	}
	return v4, trans[0], nil
}

// appendLink appends the link header of DecodeOptions.Link.
func (d *Decoder) appendLink(dst []byte, v4 bool) ([]byte, error) {
	link := d.opts.Link
	if link == 0 {
		link = LinkRaw
	}
	switch link {
	case LinkRaw, LinkIPv4, LinkIPv6:
		if (link == LinkIPv4 && !v4) || (link == LinkIPv6 && v4) {
			return dst, decodeErr("row's IP version does not fit link type %v", link)
		}
	case LinkEthernet:
		if d.layout.has[BlockEth] && d.r.Present(BlockEth, 14) {
			dst = d.bytes(dst, BlockEth, 0, 14)
			binary.BigEndian.PutUint16(dst[len(dst)-2:], etherType(v4))
		} else {
			dst = appendEthernet(dst, d.opts.DstMAC, d.opts.SrcMAC, v4)
		}
	default:
		return dst, decodeErr("cannot write link type %v", link)
	}
	return dst, nil
}

// appendIP appends the IPv4 or IPv6 header (hl bytes), with the addresses
// of DecodeOptions where the layout lacks them.
func (d *Decoder) appendIP(dst []byte, v4 bool) (_ []byte, hl int, err error) {
	ipStart := len(dst)
	if !v4 {
		dst = d.bytes(dst, BlockIPv6, 0, 40)
		return dst, 40, d.fillAddrs(dst[ipStart:], false)
	}
	ihl, _ := d.r.Bits(BlockIPv4, 4, 4)
	hl = int(ihl) * 4
	if hl < 20 {
		if !d.opts.FixLengths {
			return dst, hl, decodeErr("ipv4_hl %d is below 5", ihl)
		}
		hl = 20
	}
	dst = d.bytes(dst, BlockIPv4, 0, hl)
	ip := dst[ipStart:]
	if d.opts.FixLengths {
		ip[0] = 4<<4 | byte(hl/4)
	}
	return dst, hl, d.fillAddrs(ip, true)
}

// fillAddrs writes DecodeOptions.Src and Dst into the address fields of
// the IP header ip that the layout lacks.
func (d *Decoder) fillAddrs(ip []byte, v4 bool) error {
	fields, opt := [2]string{"ipv6_src", "ipv6_dst"}, [2]string{"Src", "Dst"}
	off, n, version := 8, 16, "IPv6"
	if v4 {
		fields, off, n, version = [2]string{"ipv4_src", "ipv4_dst"}, 12, 4, "IPv4"
	}
	for i, a := range [2]netip.Addr{d.opts.Src, d.opts.Dst} {
		if d.fieldKnown(fields[i]) {
			continue
		}
		ok := a.Is4()
		if !v4 {
			ok = a.Is6() && !a.Is4In6()
		}
		if !ok {
			return decodeErr("layout lacks %s: set DecodeOptions.%s to an %s address", fields[i], opt[i], version)
		}
		o := off + i*n
		appendAddr(ip[o:o], a, v4) // in place: ip[o:o+n] has room
	}
	return nil
}

// appendTransport appends the TCP (with its options), UDP or ICMP header.
func (d *Decoder) appendTransport(dst []byte, tb Block) ([]byte, error) {
	tStart := len(dst)
	switch tb {
	case BlockTCP:
		doff, _ := d.r.Bits(BlockTCP, 96, 4)
		tl := int(doff) * 4
		if tl < 20 {
			if !d.opts.FixLengths {
				return dst, decodeErr("tcp_doff %d is below 5", doff)
			}
			tl = 20
		}
		dst = d.bytes(dst, BlockTCP, 0, tl)
		if d.opts.FixLengths {
			dst[tStart+12] = dst[tStart+12]&0x0f | byte(tl/4)<<4
		}
	case BlockUDP, BlockICMP:
		dst = d.bytes(dst, tb, 0, 8)
	}
	return dst, nil
}

// finish pads the payload, sets OrigLen, and fixes the lengths and
// checksums of the packet dst[ipStart:] as DecodeOptions ask.
func (d *Decoder) finish(dst []byte, start, ipStart, hl int, v4 bool, tb Block) ([]byte, error) {
	// the IP length the row's header claims
	var claimed int
	if v4 {
		tot, _ := d.r.Bits(BlockIPv4, 16, 16)
		claimed = int(tot)
	} else {
		pl, _ := d.r.Bits(BlockIPv6, 32, 16)
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
		fixLengths(ip, v4, hl, tb == BlockUDP)
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
