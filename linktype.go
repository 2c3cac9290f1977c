package t2t

import (
	"encoding/binary"
	"fmt"
)

// LinkType is a pcap link-layer header type (the LINKTYPE_ values of the
// pcap and pcapng file formats).
type LinkType uint32

// The link types t2t reads and writes.
const (
	LinkNull      LinkType = 0   // BSD loopback: 4-byte address family in host byte order
	LinkEthernet  LinkType = 1   // Ethernet II, with optional 802.1Q / 802.1ad tags
	LinkRaw       LinkType = 101 // raw IPv4 or IPv6, version taken from the first nibble
	LinkLoop      LinkType = 108 // OpenBSD loopback: 4-byte address family in network byte order
	LinkLinuxSLL  LinkType = 113 // Linux "cooked" capture v1 (16-byte header)
	LinkIPv4      LinkType = 228 // raw IPv4
	LinkIPv6      LinkType = 229 // raw IPv6
	LinkLinuxSLL2 LinkType = 276 // Linux "cooked" capture v2 (20-byte header)
)

var linkNames = map[LinkType]string{
	LinkNull:      "NULL",
	LinkEthernet:  "ETHERNET",
	LinkRaw:       "RAW",
	LinkLoop:      "LOOP",
	LinkLinuxSLL:  "LINUX_SLL",
	LinkIPv4:      "IPV4",
	LinkIPv6:      "IPV6",
	LinkLinuxSLL2: "LINUX_SLL2",
}

func (l LinkType) String() string {
	if s, ok := linkNames[l]; ok {
		return s
	}
	return fmt.Sprintf("LinkType(%d)", uint32(l))
}

// Supported reports whether t2t can find the network layer in frames of
// this link type.
func (l LinkType) Supported() bool {
	_, ok := linkNames[l]
	return ok
}

// Ethertypes t2t recognises.
const (
	EtherTypeIPv4  = 0x0800
	EtherTypeIPv6  = 0x86DD
	EtherTypeVLAN  = 0x8100
	EtherTypeQinQ  = 0x88A8
	EtherTypeQinQ2 = 0x9100
)

// BSD address families for IPv4 and IPv6 as they appear in NULL/LOOP headers
// (IPv6 differs between BSDs: 24 NetBSD/OpenBSD, 28 FreeBSD, 30 Darwin).
func bsdFamilyVersion(af uint32) int {
	switch af {
	case 2:
		return 4
	case 10, 24, 28, 30:
		return 6
	}
	return 0
}

// NetworkLayer locates the IP packet inside a frame of link type link. It
// returns the offset of the first IP byte and the network protocol version
// (4 or 6). A frame that carries no IP packet (ARP, LLDP, ...) gives
// version 0 and no error; a frame too short for its link header, or a link
// type t2t does not know, gives an error. Ethernet frames may carry any
// number of 802.1Q/802.1ad tags.
func NetworkLayer(link LinkType, frame []byte) (off int, version int, err error) {
	switch link {
	case LinkEthernet:
		if len(frame) < 14 {
			return 0, 0, errShortLink(link, len(frame), 14)
		}
		et := binary.BigEndian.Uint16(frame[12:14])
		off = 14
		for et == EtherTypeVLAN || et == EtherTypeQinQ || et == EtherTypeQinQ2 {
			if len(frame) < off+4 {
				return 0, 0, errShortLink(link, len(frame), off+4)
			}
			et = binary.BigEndian.Uint16(frame[off+2 : off+4])
			off += 4
		}
		return off, etherVersion(et), nil
	case LinkNull, LinkLoop:
		if len(frame) < 4 {
			return 0, 0, errShortLink(link, len(frame), 4)
		}
		var af uint32
		if link == LinkLoop {
			af = binary.BigEndian.Uint32(frame)
		} else {
			// host byte order of the capturing machine: accept either
			af = binary.LittleEndian.Uint32(frame)
			if af > 0xffff {
				af = binary.BigEndian.Uint32(frame)
			}
		}
		return 4, bsdFamilyVersion(af), nil
	case LinkRaw:
		if len(frame) < 1 {
			return 0, 0, errShortLink(link, 0, 1)
		}
		v := int(frame[0] >> 4)
		if v != 4 && v != 6 {
			v = 0
		}
		return 0, v, nil
	case LinkIPv4:
		return 0, 4, nil
	case LinkIPv6:
		return 0, 6, nil
	case LinkLinuxSLL:
		if len(frame) < 16 {
			return 0, 0, errShortLink(link, len(frame), 16)
		}
		return 16, etherVersion(binary.BigEndian.Uint16(frame[14:16])), nil
	case LinkLinuxSLL2:
		if len(frame) < 20 {
			return 0, 0, errShortLink(link, len(frame), 20)
		}
		return 20, etherVersion(binary.BigEndian.Uint16(frame[0:2])), nil
	}
	return 0, 0, &UnknownLinkTypeError{Link: link}
}

func etherVersion(et uint16) int {
	switch et {
	case EtherTypeIPv4:
		return 4
	case EtherTypeIPv6:
		return 6
	}
	return 0
}

// UnknownLinkTypeError reports a link type t2t cannot decode.
type UnknownLinkTypeError struct{ Link LinkType }

func (e *UnknownLinkTypeError) Error() string {
	return fmt.Sprintf("t2t: unsupported link type %d (%v)", uint32(e.Link), e.Link)
}

func errShortLink(link LinkType, have, need int) error {
	return fmt.Errorf("t2t: %v frame of %d bytes is shorter than its %d-byte link header", link, have, need)
}
