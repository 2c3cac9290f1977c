package evaluate

import (
	"fmt"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"

	"t2t"
)

// headers decodes frames with gopacket's layers, independently of the
// header parser t2t writes packets with (t2t.ParseInfo, t2t.NetworkLayer,
// t2t.ChecksumsValid), so that evaluate judges t2t's output instead of
// grading it with its own code. One DecodingLayerParser per first layer
// (Ethernet, loopback, Linux SLL, IPv4, IPv6) is built once; all of them
// share the layer values below, which every decode overwrites in place.
// A headers is not safe for concurrent use.
type headers struct {
	eth   ether
	dot1q vlan
	sll   linuxSLL
	loop  layers.Loopback
	ip4   ipv4
	ip6   ipv6
	tcp   layers.TCP
	udp   layers.UDP
	icmp  layers.ICMPv4

	parsers map[gopacket.LayerType]*gopacket.DecodingLayerParser
	byType  map[gopacket.LayerType]gopacket.DecodingLayer // the values above by type
	decoded []gopacket.LayerType

	// What decode found.

	// linkErr: the link header is cut short, or the link type is one
	// evaluate does not know.
	linkErr error
	// net is LayerTypeIPv4 or LayerTypeIPv6 when the link header says the
	// frame carries IP, zero otherwise; netData is the frame from the IP
	// header on. The IP layer's fields are read only when netData holds
	// at least its fixed header (20 or 40 bytes): gopacket fills those in
	// before it checks anything else.
	net     gopacket.LayerType
	netData []byte
	// failed is the layer gopacket could not decode (zero when none),
	// err its error and failData its input.
	failed   gopacket.LayerType
	failData []byte
	err      error
}

func newHeaders() *headers {
	h := &headers{parsers: map[gopacket.LayerType]*gopacket.DecodingLayerParser{},
		byType: map[gopacket.LayerType]gopacket.DecodingLayer{}}
	decoders := []gopacket.DecodingLayer{&h.eth, &h.dot1q, &h.sll, &h.loop, &h.ip4, &h.ip6, &h.tcp, &h.udp, &h.icmp}
	for _, d := range decoders {
		for _, t := range d.CanDecode().LayerTypes() {
			h.byType[t] = d
		}
	}
	for _, first := range []gopacket.LayerType{layers.LayerTypeEthernet, layers.LayerTypeLoopback,
		layers.LayerTypeLinuxSLL, layers.LayerTypeIPv4, layers.LayerTypeIPv6} {
		p := gopacket.NewDecodingLayerParser(first, decoders...)
		p.IgnoreUnsupported = true // payloads (DNS, TLS, ...) and ARP & co. end the decoding
		h.parsers[first] = p
	}
	h.decoded = make([]gopacket.LayerType, 0, 8)
	return h
}

// first maps a link type to the layer gopacket starts decoding with and
// the bytes it starts from (zero: no IP in the frame, or linkErr).
func (h *headers) first(link t2t.LinkType, frame []byte) (gopacket.LayerType, []byte) {
	switch link {
	case t2t.LinkEthernet:
		return layers.LayerTypeEthernet, frame
	case t2t.LinkNull, t2t.LinkLoop:
		return layers.LayerTypeLoopback, frame // gopacket takes either byte order
	case t2t.LinkLinuxSLL:
		return layers.LayerTypeLinuxSLL, frame
	case t2t.LinkIPv4:
		return layers.LayerTypeIPv4, frame
	case t2t.LinkIPv6:
		return layers.LayerTypeIPv6, frame
	case t2t.LinkRaw:
		// The version nibble chooses, as gopacket's own LinkTypeRaw
		// decoder does.
		if len(frame) == 0 {
			h.linkErr = fmt.Errorf("empty %v frame", link)
			return 0, nil
		}
		switch frame[0] >> 4 {
		case 4:
			return layers.LayerTypeIPv4, frame
		case 6:
			return layers.LayerTypeIPv6, frame
		}
		return 0, nil
	case t2t.LinkLinuxSLL2:
		// gopacket 1.1.19 has no SLL2 layer: skip its 20-byte header,
		// whose first two bytes are the protocol (an EtherType).
		if len(frame) < 20 {
			h.linkErr = fmt.Errorf("%v frame of %d bytes is shorter than its 20-byte header", link, len(frame))
			return 0, nil
		}
		switch t := layers.EthernetType(uint16(frame[0])<<8 | uint16(frame[1])).LayerType(); t {
		case layers.LayerTypeIPv4, layers.LayerTypeIPv6:
			return t, frame[20:]
		}
		return 0, nil
	}
	h.linkErr = fmt.Errorf("unsupported link type %d (%v)", uint32(link), link)
	return 0, nil
}

// decode decodes frame, which has link type link, into the layer values
// and sets what it found (net, failed, ...).
func (h *headers) decode(link t2t.LinkType, frame []byte) {
	h.linkErr, h.net, h.netData = nil, 0, nil
	h.failed, h.failData, h.err = 0, nil, nil
	h.decoded = h.decoded[:0]
	typ, data := h.first(link, frame)
	if typ == 0 {
		return
	}
	// The parser's Truncated flag is not needed: whether a packet was
	// captured whole is the capture's to say (its length on the wire).
	err := h.parsers[typ].DecodeLayers(data, &h.decoded)
	// Walk the decoded layers to the one that was not decoded (failed,
	// unsupported or with nothing left), noting the input of the IP
	// layer. A layer type may repeat (802.1ad tags): its value then holds
	// the innermost, whose next type and payload are the ones wanted.
	for _, t := range h.decoded {
		if h.net == 0 && isIP(t) {
			h.net, h.netData = t, data
		}
		l := h.byType[t]
		typ, data = l.NextLayerType(), l.LayerPayload()
	}
	if h.net == 0 && isIP(typ) {
		h.net, h.netData = typ, data
	}
	if err != nil {
		h.failed, h.failData, h.err = typ, data, err
		switch typ {
		case layers.LayerTypeEthernet, layers.LayerTypeDot1Q, layers.LayerTypeLinuxSLL, layers.LayerTypeLoopback:
			h.linkErr = fmt.Errorf("%v: %v", typ, err)
		}
	}
}

func isIP(t gopacket.LayerType) bool {
	return t == layers.LayerTypeIPv4 || t == layers.LayerTypeIPv6
}

// minLen is the fixed header of each layer evaluate reads: gopacket fills
// its fields in whenever it gets that many bytes, even if it then finds
// an error further on.
var minLen = map[gopacket.LayerType]int{
	layers.LayerTypeIPv4: 20, layers.LayerTypeIPv6: 40,
	layers.LayerTypeTCP: 20, layers.LayerTypeUDP: 8, layers.LayerTypeICMPv4: 8,
}

// has reports whether the fields of layer t were read from this frame:
// t was decoded, or failed after reading its fixed header.
func (h *headers) has(t gopacket.LayerType) bool {
	for _, d := range h.decoded {
		if d == t {
			return true
		}
	}
	return h.failed == t && len(h.failData) >= minLen[t]
}

// ipv4Length is the IPv4 total length field. gopacket 1.1.19 replaces a
// zero there by the frame's length (TCP segmentation offload captures);
// a packet t2t writes must carry its length, so a zero stays a zero.
func (h *headers) ipv4Length() int {
	if c := h.ip4.Contents; len(c) >= 4 && c[2] == 0 && c[3] == 0 {
		return 0
	}
	return int(h.ip4.Length)
}

// transport is the IP protocol and the captured IP payload (without
// link-layer padding) of the IP layer found.
func (h *headers) transport() (layers.IPProtocol, []byte) {
	if h.net == layers.LayerTypeIPv4 {
		return h.ip4.Protocol, h.ip4.Payload
	}
	return h.ip6.NextHeader, h.ip6.Payload
}

// tcpFlags is the TCP flags as one value: NS<<8 | CWR..FIN.
func (h *headers) tcpFlags() uint16 {
	var f uint16
	for i, set := range [...]bool{h.tcp.FIN, h.tcp.SYN, h.tcp.RST, h.tcp.PSH, h.tcp.ACK, h.tcp.URG, h.tcp.ECE, h.tcp.CWR, h.tcp.NS} {
		if set {
			f |= 1 << i
		}
	}
	return f
}

// checksumsValid reports whether the IPv4 header checksum and the TCP,
// UDP or ICMP checksum of a decoded, whole packet are right (a UDP
// checksum of 0 over IPv4 means none). gopacket delimits the bytes and
// gives the addresses; the sums are done here (RFC 1071), because
// gopacket 1.1.19 verifies no checksum itself and re-serialising a layer
// to recompute one would drop what gopacket does not keep (TCP reserved
// bits, IPv4 option padding).
func (h *headers) checksumsValid() bool {
	proto, t := h.transport()
	var pseudo uint32 // TCP/UDP pseudo-header
	if h.net == layers.LayerTypeIPv4 {
		if onesFold(onesSum(0, h.ip4.Contents)) != 0xffff {
			return false
		}
		pseudo = onesSum(onesSum(0, h.ip4.SrcIP.To4()), h.ip4.DstIP.To4())
	} else {
		pseudo = onesSum(onesSum(0, h.ip6.SrcIP.To16()), h.ip6.DstIP.To16())
	}
	pseudo += uint32(proto) + uint32(len(t))
	switch proto {
	case layers.IPProtocolTCP:
		return onesFold(onesSum(pseudo, t)) == 0xffff
	case layers.IPProtocolUDP:
		if h.net == layers.LayerTypeIPv4 && h.udp.Checksum == 0 {
			return true
		}
		return onesFold(onesSum(pseudo, t)) == 0xffff
	case layers.IPProtocolICMPv4:
		return onesFold(onesSum(0, t)) == 0xffff
	}
	return true
}

// onesSum adds b, as big-endian 16-bit words with an odd last byte padded
// with zero, to the running ones' complement sum s.
func onesSum(s uint32, b []byte) uint32 {
	for ; len(b) >= 2; b = b[2:] {
		s += uint32(b[0])<<8 | uint32(b[1])
	}
	if len(b) == 1 {
		s += uint32(b[0]) << 8
	}
	return s
}

// onesFold folds the carries of s back in: 0xffff for data whose
// checksum is right.
func onesFold(s uint32) uint16 {
	for s > 0xffff {
		s = s>>16 + s&0xffff
	}
	return uint16(s)
}

// The wrappers below change only which layer comes next.

// ipv4 and ipv6 end the decoding at the IP header unless it carries TCP,
// UDP or ICMP: IP in IP would decode into the same value and overwrite the
// outer header, and gopacket walks IPv6 hop-by-hop options, which nPrint
// (and so evaluate) does not. Later fragments end it too.
type ipv4 struct{ layers.IPv4 }

func (l *ipv4) NextLayerType() gopacket.LayerType {
	if l.Version != 4 || l.FragOffset != 0 {
		return gopacket.LayerTypeZero
	}
	return transportLayer(l.Protocol)
}

type ipv6 struct{ layers.IPv6 }

func (l *ipv6) NextLayerType() gopacket.LayerType {
	if l.Version != 6 {
		return gopacket.LayerTypeZero
	}
	return transportLayer(l.NextHeader)
}

func transportLayer(p layers.IPProtocol) gopacket.LayerType {
	switch p {
	case layers.IPProtocolTCP, layers.IPProtocolUDP, layers.IPProtocolICMPv4:
		return p.LayerType()
	}
	return gopacket.LayerTypeZero
}

// linuxSLL works around a gopacket 1.1.19 bug: LinuxSLL slices the
// address by the header's address length, which may exceed the 8 bytes
// the header keeps (libpcap's sll_halen is the address's real length), and
// panics when it also exceeds the frame. Such a header is decoded from a
// copy whose length says 8; the layer then keeps the frame's bytes.
type linuxSLL struct {
	layers.LinuxSLL
	hdr [16]byte
}

func (l *linuxSLL) DecodeFromBytes(data []byte, df gopacket.DecodeFeedback) error {
	if len(data) < 16 || data[4] == 0 && data[5] <= 8 {
		return l.LinuxSLL.DecodeFromBytes(data, df)
	}
	copy(l.hdr[:], data)
	l.hdr[4], l.hdr[5] = 0, 8
	if err := l.LinuxSLL.DecodeFromBytes(l.hdr[:], df); err != nil {
		return err
	}
	l.AddrLen = uint16(data[4])<<8 | uint16(data[5])
	l.Addr = data[6:14]
	l.BaseLayer = layers.BaseLayer{Contents: data[:16], Payload: data[16:]}
	return nil
}

// ether and vlan also take the EtherType 0x9100 (pre-standard QinQ) for an
// 802.1Q tag, as t2t's reader does; gopacket 1.1.19 knows 0x8100 and
// 0x88a8 only.
type ether struct{ layers.Ethernet }

func (l *ether) NextLayerType() gopacket.LayerType { return etherNext(l.EthernetType) }

type vlan struct{ layers.Dot1Q }

func (l *vlan) NextLayerType() gopacket.LayerType { return etherNext(l.Type) }

func etherNext(t layers.EthernetType) gopacket.LayerType {
	if t == t2t.EtherTypeQinQ2 {
		return layers.LayerTypeDot1Q
	}
	return t.LayerType()
}
