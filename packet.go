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

	// IP header fields, set with Version.
	IPLen int   // IP length the header claims: IPv4 total length, IPv6 40 + payload length
	TTL   uint8 // IPv4 time to live, IPv6 hop limit
	TOS   uint8 // IPv4 type of service, IPv6 traffic class
	DF    bool  // IPv4 don't-fragment flag

	// TCPDataOff is the TCP header length in bytes (data offset * 4), set
	// when the capture holds the data offset (13 bytes of TCP header).
	TCPDataOff int
	// TCP header fields, set when the capture holds the 20 bytes of the
	// fixed TCP header (TCPHeader is then true).
	TCPHeader bool
	TCPFlags  uint8  // byte 13: CWR ECE URG ACK PSH RST SYN FIN
	TCPWindow uint16 // window size
}

// Encodable reports whether nPrint writes a row for the packet: an IP
// packet whose (first) next header is TCP, UDP or ICMP.
func (p *PacketInfo) Encodable() bool { return p.TransOff >= 0 && p.Version != 0 }

// TCPOptions returns the TCP options of frame (the frame p was parsed
// from; empty when the header has none); ok is false when the packet is
// not TCP, its data offset is below 5, or the capture does not hold the
// whole header.
func (p *PacketInfo) TCPOptions(frame []byte) (opts []byte, ok bool) {
	if !p.TCPHeader || p.TCPDataOff < 20 || p.TransOff+p.TCPDataOff > len(frame) {
		return nil, false
	}
	return frame[p.TransOff+20 : p.TransOff+p.TCPDataOff], true
}

// ParseInfo reads the addresses, transport protocol and ports of a frame of
// the given link type. It follows nPrint: IPv6 extension headers are not
// walked, so an IPv6 packet whose next header is not TCP, UDP or ICMP has
// TransOff -1. Truncated headers are not an error: fields that the capture
// does not hold stay zero and TransOff is -1 when the transport header's
// first 8 bytes are missing. Only an unknown link type, or a frame shorter
// than its link header, is an error.
//
// ParseInfo and the Encoder share one hand parser of IP and transport
// headers (parseIP, parseTransport); every other package reads headers
// through them.
func ParseInfo(link LinkType, frame []byte) (PacketInfo, error) {
	var p PacketInfo
	p.TransOff = -1
	off, v, err := NetworkLayer(link, frame)
	if err != nil || v == 0 {
		return p, err
	}
	p.NetOff = off
	ip := frame[off:]
	if len(ip) == 0 || int(ip[0]>>4) != v {
		return p, nil
	}
	thl, _, ok := p.parseIP(ip)
	if !ok || thl < 20 || TransportName(p.Proto) == "" || len(ip) < thl+8 {
		return p, nil
	}
	p.TransOff = off + thl
	p.parseTransport(ip[thl:])
	return p, nil
}

// TransportName names the transports nPrint encodes: "tcp", "udp" or
// "icmp" for ProtoTCP, ProtoUDP and ProtoICMP, "" for any other protocol.
func TransportName(proto uint8) string {
	switch proto {
	case ProtoTCP:
		return "tcp"
	case ProtoUDP:
		return "udp"
	case ProtoICMP:
		return "icmp"
	}
	return ""
}

// TransportProto is the inverse of TransportName: the protocol number of
// "tcp", "udp" or "icmp"; ok is false for any other name.
func TransportProto(name string) (proto uint8, ok bool) {
	switch name {
	case "tcp":
		return ProtoTCP, true
	case "udp":
		return ProtoUDP, true
	case "icmp":
		return ProtoICMP, true
	}
	return 0, false
}

// parseIP reads the IPv4 or IPv6 header ip (its version from its first
// nibble) into p: version, addresses, transport protocol, TTL, DF and
// claimed length. It returns the network header length (IPv4: IHL*4, which
// may be below 20) and the claimed IP length; ok is false, and p is left
// as it is, when ip is shorter than the fixed header or not IPv4 or IPv6.
func (p *PacketInfo) parseIP(ip []byte) (hl, iplen int, ok bool) {
	if len(ip) == 0 {
		return 0, 0, false
	}
	switch ip[0] >> 4 {
	case 4:
		if len(ip) < 20 {
			return 0, 0, false
		}
		p.Version = 4
		p.Src = netip.AddrFrom4([4]byte(ip[12:16]))
		p.Dst = netip.AddrFrom4([4]byte(ip[16:20]))
		p.Proto, p.TTL, p.TOS, p.DF = ip[9], ip[8], ip[1], ip[6]&0x40 != 0
		p.IPLen = int(binary.BigEndian.Uint16(ip[2:4]))
		return int(ip[0]&0xf) * 4, p.IPLen, true
	case 6:
		if len(ip) < 40 {
			return 0, 0, false
		}
		p.Version = 6
		p.Src = netip.AddrFrom16([16]byte(ip[8:24]))
		p.Dst = netip.AddrFrom16([16]byte(ip[24:40]))
		p.Proto, p.TTL, p.TOS = ip[6], ip[7], ip[0]<<4|ip[1]>>4
		p.IPLen = int(binary.BigEndian.Uint16(ip[4:6])) + 40
		return 40, p.IPLen, true
	}
	return 0, 0, false
}

// parseTransport reads what the capture holds of the transport header t
// of protocol p.Proto: ports (4 bytes), ICMP type and echo identifier (6
// bytes), TCP data offset (13 bytes), flags and window (20 bytes).
func (p *PacketInfo) parseTransport(t []byte) {
	switch p.Proto {
	case ProtoTCP, ProtoUDP:
		if len(t) >= 4 {
			p.SrcPort = binary.BigEndian.Uint16(t[0:2])
			p.DstPort = binary.BigEndian.Uint16(t[2:4])
		}
		if p.Proto == ProtoTCP && len(t) >= 13 {
			p.TCPDataOff = int(t[12]>>4) * 4
		}
		if p.Proto == ProtoTCP && len(t) >= 20 {
			p.TCPHeader = true
			p.TCPFlags = t[13]
			p.TCPWindow = binary.BigEndian.Uint16(t[14:16])
		}
	case ProtoICMP:
		if len(t) >= 6 {
			p.ICMPType = t[0]
			switch t[0] {
			case 0, 8, 13, 14, 15, 16, 17, 18:
				p.ICMPID = binary.BigEndian.Uint16(t[4:6])
			}
		}
	}
}
