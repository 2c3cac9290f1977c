package t2t

import "encoding/binary"

// sum16 adds b to a ones' complement running sum.
func sum16(sum uint32, b []byte) uint32 {
	n := len(b) &^ 1
	for i := 0; i < n; i += 2 {
		sum += uint32(b[i])<<8 | uint32(b[i+1])
	}
	if len(b)&1 == 1 {
		sum += uint32(b[len(b)-1]) << 8
	}
	return sum
}

func fold(sum uint32) uint16 {
	for sum>>16 != 0 {
		sum = sum&0xffff + sum>>16
	}
	return ^uint16(sum)
}

// ChecksumSum adds b, as big-endian 16-bit words (an odd last byte padded
// with zero), to a running ones' complement sum; ChecksumFold turns the
// sum into a checksum. Together they compute checksums over pieces (a
// pseudo-header, then a segment).
func ChecksumSum(sum uint32, b []byte) uint32 { return sum16(sum, b) }

// ChecksumFold folds a running sum into the 16-bit Internet checksum.
func ChecksumFold(sum uint32) uint16 { return fold(sum) }

// Checksum is the Internet checksum (RFC 1071) of b.
func Checksum(b []byte) uint16 { return fold(sum16(0, b)) }

// pseudoSum is the ones' complement sum of the TCP/UDP pseudo-header.
func pseudoSum(ip []byte, proto uint8, length int) uint32 {
	var s uint32
	if ip[0]>>4 == 4 {
		s = sum16(0, ip[12:20])
	} else {
		s = sum16(0, ip[8:40])
	}
	return s + uint32(proto) + uint32(length)
}

// FixChecksums recomputes, in place, the IPv4 header checksum and the TCP,
// UDP or ICMP checksum of the IP packet ip (IPv4 or IPv6 without extension
// headers). The transport checksum covers the bytes ip holds, which must be
// the whole packet. It does nothing to packets it cannot parse.
func FixChecksums(ip []byte) {
	t, proto, ok := transport(ip)
	if ip[0]>>4 == 4 && len(ip) >= 20 {
		hl := int(ip[0]&0xf) * 4
		if hl >= 20 && hl <= len(ip) {
			ip[10], ip[11] = 0, 0
			binary.BigEndian.PutUint16(ip[10:12], Checksum(ip[:hl]))
		}
	}
	if !ok {
		return
	}
	switch proto {
	case ProtoTCP:
		if len(t) < 20 {
			return
		}
		t[16], t[17] = 0, 0
		binary.BigEndian.PutUint16(t[16:18], fold(sum16(pseudoSum(ip, proto, len(t)), t)))
	case ProtoUDP:
		if len(t) < 8 {
			return
		}
		t[6], t[7] = 0, 0
		c := fold(sum16(pseudoSum(ip, proto, len(t)), t))
		if c == 0 {
			c = 0xffff
		}
		binary.BigEndian.PutUint16(t[6:8], c)
	case ProtoICMP:
		if len(t) < 8 {
			return
		}
		t[2], t[3] = 0, 0
		binary.BigEndian.PutUint16(t[2:4], Checksum(t))
	}
}

// transport returns the transport header and payload of an IP packet.
func transport(ip []byte) (t []byte, proto uint8, ok bool) {
	if len(ip) < 1 {
		return nil, 0, false
	}
	switch ip[0] >> 4 {
	case 4:
		if len(ip) < 20 {
			return nil, 0, false
		}
		hl := int(ip[0]&0xf) * 4
		if hl < 20 || hl > len(ip) {
			return nil, 0, false
		}
		return ip[hl:], ip[9], true
	case 6:
		if len(ip) < 40 {
			return nil, 0, false
		}
		return ip[40:], ip[6], true
	}
	return nil, 0, false
}

// ChecksumsValid reports whether the IPv4 header checksum and the TCP, UDP
// or ICMP checksum of ip are correct (a UDP checksum of 0 over IPv4 means
// "none" and is valid).
func ChecksumsValid(ip []byte) bool {
	if len(ip) >= 20 && ip[0]>>4 == 4 {
		hl := int(ip[0]&0xf) * 4
		if hl < 20 || hl > len(ip) || Checksum(ip[:hl]) != 0 {
			return false
		}
	}
	t, proto, ok := transport(ip)
	if !ok {
		return false
	}
	switch proto {
	case ProtoTCP:
		return len(t) >= 20 && fold(sum16(pseudoSum(ip, proto, len(t)), t)) == 0
	case ProtoUDP:
		if len(t) < 8 {
			return false
		}
		if ip[0]>>4 == 4 && t[6] == 0 && t[7] == 0 {
			return true
		}
		return fold(sum16(pseudoSum(ip, proto, len(t)), t)) == 0
	case ProtoICMP:
		return len(t) >= 8 && Checksum(t) == 0
	}
	return true
}
