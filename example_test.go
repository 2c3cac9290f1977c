package t2t_test

import (
	"fmt"
	"net/netip"

	"t2t"
)

// dnsQuery is an Ethernet frame of a DNS query built from header values.
func dnsQuery() []byte {
	h := t2t.Headers{
		SrcMAC: [6]byte{2, 0, 0, 0, 0, 2}, DstMAC: [6]byte{2, 0, 0, 0, 0, 1},
		Src: netip.MustParseAddr("10.0.0.2"), Dst: netip.MustParseAddr("10.0.0.1"),
		ID: 0x1c46, DF: true, TTL: 64, Proto: t2t.ProtoUDP, SrcPort: 40000, DstPort: 53,
	}
	return h.AppendFrame(nil, make([]byte, 29))
}

func ExampleEncoder() {
	l := t2t.NetDiffusionSpec.MustLayout()
	enc := t2t.NewEncoder(l, t2t.ModelEncoderOptions())
	row := make([]int8, l.Width())
	info, err := enc.Encode(row, t2t.LinkEthernet, dnsQuery())
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(l)
	fmt.Println(t2t.TransportName(info.Proto), info.Src, info.SrcPort, "->", info.Dst, info.DstPort)
	col, n, _ := l.Field("ipv4_ttl")
	fmt.Println("ipv4_ttl bits:", row[col:col+n])
	col, n, _ = l.Field("tcp_sprt")
	fmt.Println("tcp_sprt bits:", row[col:col+n])

	// FieldReader reads the fields back, with the count of vacant bits.
	fr := t2t.NewFieldReader(l)
	if err := fr.Load(row); err != nil {
		fmt.Println(err)
		return
	}
	for _, name := range []string{"ipv4_tl", "udp_dport", "tcp_sprt"} {
		v, vacant := fr.Field(name)
		fmt.Printf("%s = %d (%d bits vacant)\n", name, v, vacant)
	}
	// Output:
	// ipv4+ipv6+tcp+udp+icmp-4 fields (1088 columns)
	// udp 10.0.0.2 40000 -> 10.0.0.1 53
	// ipv4_ttl bits: [0 1 0 0 0 0 0 0]
	// tcp_sprt bits: [-1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1]
	// ipv4_tl = 57 (0 bits vacant)
	// udp_dport = 53 (0 bits vacant)
	// tcp_sprt = 0 (16 bits vacant)
}

func ExampleDecoder() {
	l := t2t.NetDiffusionSpec.MustLayout()
	row := make([]int8, l.Width())
	if _, err := t2t.NewEncoder(l, t2t.ModelEncoderOptions()).Encode(row, t2t.LinkEthernet, dnsQuery()); err != nil {
		fmt.Println(err)
		return
	}
	// The layout has no addresses and no payload: the Decoder takes the
	// addresses from its options and writes the packet cut short after
	// its headers, with its length on the wire in OrigLen.
	dec := t2t.NewDecoder(l, t2t.DecodeOptions{
		Link: t2t.LinkEthernet, FixChecksums: true,
		Src: netip.MustParseAddr("192.0.2.2"), Dst: netip.MustParseAddr("192.0.2.1"),
	})
	frame, err := dec.Decode(row)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(len(frame), "bytes captured,", dec.OrigLen, "on the wire")
	fmt.Printf("ip  % x\n", frame[14:34])
	fmt.Printf("udp % x\n", frame[34:42])
	info, _ := t2t.ParseInfo(t2t.LinkEthernet, frame)
	fmt.Println(info.Src, info.SrcPort, "->", info.Dst, info.DstPort, "ttl", info.TTL, "df", info.DF)

	// With PadPayload the payload is zeros up to the claimed length, and
	// every checksum is computed over the whole packet.
	dec = t2t.NewDecoder(l, t2t.DecodeOptions{
		Link: t2t.LinkEthernet, FixChecksums: true, PadPayload: true,
		Src: netip.MustParseAddr("192.0.2.2"), Dst: netip.MustParseAddr("192.0.2.1"),
	})
	frame, _ = dec.Decode(row)
	fmt.Println(len(frame), "bytes, checksums valid:", t2t.ChecksumsValid(frame[14:]))
	// Output:
	// 42 bytes captured, 71 on the wire
	// ip  45 00 00 39 1c 46 40 00 40 11 9a 6a c0 00 02 02 c0 00 02 01
	// udp 9c 40 00 35 00 25 4f 2c
	// 192.0.2.2 40000 -> 192.0.2.1 53 ttl 64 df true
	// 71 bytes, checksums valid: true
}
