package t2t

import (
	"encoding/binary"
	"net/netip"
)

// IP protocol numbers of the transports nPrint encodes.
const (
	ProtoICMP = 1
	ProtoTCP  = 6
	ProtoUDP  = 17
)

// PacketInfo is what t2t reads of a packet's network and transport headers:
// enough to key nPrint rows and to assemble flows. The zero value means
// "not an IP packet carrying TCP, UDP or ICMP".
type PacketInfo struct {
	Version  int        // 4 or 6; 0 when the frame holds no IP packet
	NetOff   int        // offset of the IP header in the frame
	Src, Dst netip.Addr // network addresses
	Proto    uint8      // transport protocol (ProtoTCP, ProtoUDP, ProtoICMP, or another)
	// TransOff is the offset of the transport header in the frame, or -1
	// when the transport is not one nPrint encodes.
	TransOff         int
	SrcPort, DstPort uint16 // TCP/UDP ports; 0 otherwise
	// ICMPID is the identifier of ICMP echo (and timestamp, information)
	// messages, so that ping sessions make separate flows.
	ICMPID   uint16
	ICMPType uint8
}

// Encodable reports whether nPrint writes a row for the packet: an IP
// packet whose (first) next header is TCP, UDP or ICMP.
func (p *PacketInfo) Encodable() bool { return p.TransOff >= 0 && p.Version != 0 }

// ParseInfo reads the addresses, transport protocol and ports of a frame of
// the given link type. It follows nPrint: IPv6 extension headers are not
// walked, so an IPv6 packet whose next header is not TCP, UDP or ICMP has
// TransOff -1. Truncated headers are not an error: fields that the capture
// does not hold stay zero and TransOff is -1 when the transport header's
// first 8 bytes are missing. Only an unknown link type, or a frame shorter
// than its link header, is an error.
func ParseInfo(link LinkType, frame []byte) (PacketInfo, error) {
	var p PacketInfo
	p.TransOff = -1
	off, v, err := NetworkLayer(link, frame)
	if err != nil || v == 0 {
		return p, err
	}
	p.NetOff = off
	ip := frame[off:]
	var thl int
	switch v {
	case 4:
		if len(ip) < 20 || ip[0]>>4 != 4 {
			return p, nil
		}
		p.Version = 4
		p.Src = netip.AddrFrom4([4]byte(ip[12:16]))
		p.Dst = netip.AddrFrom4([4]byte(ip[16:20]))
		p.Proto = ip[9]
		thl = int(ip[0]&0xf) * 4
		if thl < 20 {
			return p, nil
		}
	case 6:
		if len(ip) < 40 || ip[0]>>4 != 6 {
			return p, nil
		}
		p.Version = 6
		p.Src = netip.AddrFrom16([16]byte(ip[8:24]))
		p.Dst = netip.AddrFrom16([16]byte(ip[24:40]))
		p.Proto = ip[6]
		thl = 40
	}
	switch p.Proto {
	case ProtoTCP, ProtoUDP, ProtoICMP:
	default:
		return p, nil
	}
	if len(ip) < thl+8 {
		return p, nil
	}
	t := ip[thl:]
	p.TransOff = off + thl
	switch p.Proto {
	case ProtoTCP, ProtoUDP:
		p.SrcPort = binary.BigEndian.Uint16(t[0:2])
		p.DstPort = binary.BigEndian.Uint16(t[2:4])
	case ProtoICMP:
		p.ICMPType = t[0]
		switch t[0] {
		case 0, 8, 13, 14, 15, 16, 17, 18:
			p.ICMPID = binary.BigEndian.Uint16(t[4:6])
		}
	}
	return p, nil
}
