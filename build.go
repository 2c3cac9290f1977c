package t2t

import (
	"encoding/binary"
	"net/netip"
)

// Headers are the values of the headers of one Ethernet frame carrying
// IPv4 or IPv6 and TCP, UDP or ICMP: what t2t/repair chooses for each
// packet it writes. AppendFrame builds the frame; the fields it does not
// name are zero (IPv4 IHL 5 without options, no fragmentation, TCP
// reserved bits clear).
type Headers struct {
	DstMAC, SrcMAC [6]byte
	// Src and Dst are the IP addresses. The packet is IPv4 when Src is an
	// IPv4 (or IPv4-mapped) address, IPv6 otherwise; Dst must be of the
	// same version.
	Src, Dst  netip.Addr
	TOS       uint8  // IPv4 type of service, IPv6 traffic class
	ID        uint16 // IPv4 identification
	DF        bool   // IPv4 don't fragment
	TTL       uint8  // IPv4 time to live, IPv6 hop limit
	FlowLabel uint32 // IPv6 flow label (20 bits)
	Proto     uint8  // ProtoTCP, ProtoUDP or ProtoICMP

	SrcPort, DstPort uint16 // TCP and UDP
	Seq, Ack         uint32 // TCP
	Flags            uint8  // TCP flags (byte 13 of the header)
	Window, Urgent   uint16 // TCP
	// Options are the TCP options, a multiple of 4 bytes long.
	Options []byte

	ICMPType, ICMPCode uint8
	ICMPRest           uint32 // ICMP rest of header (echo: identifier<<16 | sequence)
}

// IPv4 reports whether h describes an IPv4 packet.
func (h *Headers) IPv4() bool { return h.Src.Is4() || h.Src.Is4In6() }

// AppendFrame appends to dst the Ethernet frame of h carrying payload,
// with the IP and UDP lengths set and every checksum computed.
func (h *Headers) AppendFrame(dst, payload []byte) []byte {
	v4 := h.IPv4()
	dst = appendEthernet(dst, h.DstMAC, h.SrcMAC, v4)
	ipStart := len(dst)
	hl := 40
	if v4 {
		hl = 20
		dst = append(dst, 0x45, h.TOS, 0, 0, byte(h.ID>>8), byte(h.ID), 0, 0, h.TTL, h.Proto, 0, 0)
		if h.DF {
			dst[ipStart+6] = 0x40
		}
	} else {
		dst = binary.BigEndian.AppendUint32(dst, 6<<28|uint32(h.TOS)<<20|h.FlowLabel&0xfffff)
		dst = append(dst, 0, 0, h.Proto, h.TTL)
	}
	dst = appendAddr(appendAddr(dst, h.Src, v4), h.Dst, v4)
	switch h.Proto {
	case ProtoTCP:
		dst = binary.BigEndian.AppendUint16(dst, h.SrcPort)
		dst = binary.BigEndian.AppendUint16(dst, h.DstPort)
		dst = binary.BigEndian.AppendUint32(dst, h.Seq)
		dst = binary.BigEndian.AppendUint32(dst, h.Ack)
		dst = append(dst, byte((20+len(h.Options))/4)<<4, h.Flags)
		dst = binary.BigEndian.AppendUint16(dst, h.Window)
		dst = append(dst, 0, 0)
		dst = binary.BigEndian.AppendUint16(dst, h.Urgent)
		dst = append(dst, h.Options...)
	case ProtoUDP:
		dst = binary.BigEndian.AppendUint16(dst, h.SrcPort)
		dst = binary.BigEndian.AppendUint16(dst, h.DstPort)
		dst = append(dst, 0, 0, 0, 0)
	case ProtoICMP:
		dst = append(dst, h.ICMPType, h.ICMPCode, 0, 0)
		dst = binary.BigEndian.AppendUint32(dst, h.ICMPRest)
	}
	dst = append(dst, payload...)
	ip := dst[ipStart:]
	fixLengths(ip, v4, hl, h.Proto == ProtoUDP)
	FixChecksums(ip)
	return dst
}

// appendEthernet appends an Ethernet header with the ethertype of IPv4 or
// IPv6.
func appendEthernet(dst []byte, dstMAC, srcMAC [6]byte, v4 bool) []byte {
	dst = append(dst, dstMAC[:]...)
	dst = append(dst, srcMAC[:]...)
	return binary.BigEndian.AppendUint16(dst, etherType(v4))
}

func etherType(v4 bool) uint16 {
	if v4 {
		return EtherTypeIPv4
	}
	return EtherTypeIPv6
}

// appendAddr appends an IPv4 (4 bytes) or IPv6 (16 bytes) address.
func appendAddr(dst []byte, a netip.Addr, v4 bool) []byte {
	if v4 {
		b := a.As4()
		return append(dst, b[:]...)
	}
	b := a.As16()
	return append(dst, b[:]...)
}

// fixLengths sets the length fields of the IP packet ip (network header of
// hl bytes) to len(ip): the IPv4 total length or the IPv6 payload length,
// and the UDP length when udp is set.
func fixLengths(ip []byte, v4 bool, hl int, udp bool) {
	if v4 {
		binary.BigEndian.PutUint16(ip[2:4], uint16(len(ip)))
	} else {
		binary.BigEndian.PutUint16(ip[4:6], uint16(len(ip)-40))
	}
	if udp {
		binary.BigEndian.PutUint16(ip[hl+4:hl+6], uint16(len(ip)-hl))
	}
}
