package pipeline

import (
	"net/netip"
	"t2t"
	"t2t/pcapio"
	"time"
)

// Raw decodes each flow's rows into Ethernet packets as they are, without
// repair: only lengths and checksums are fixed, each flow gets its own
// address pair (10.1.i.1 <-> 10.2.i.1, fd00:1::i <-> fd00:2::i), and
// packets are 1 ms apart from t2t.DefaultStart. Rows that are vacant or
// that no decoder can read (two transports, no IP header) are skipped and
// counted. It shows what a model generates before repair.
func Raw(flows []*t2t.Matrix) (packets []pcapio.Packet, skipped int) {
	ts := t2t.DefaultStart
	for i, m := range flows {
		a4 := netip.AddrFrom4([4]byte{10, 1, byte(i >> 8), byte(i)})
		b4 := netip.AddrFrom4([4]byte{10, 2, byte(i >> 8), byte(i)})
		a6 := netip.AddrFrom16([16]byte{0xfd, 0, 0, 1, 14: byte(i >> 8), 15: byte(i)})
		b6 := netip.AddrFrom16([16]byte{0xfd, 0, 0, 2, 14: byte(i >> 8), 15: byte(i)})
		var first uint16 // the first packet's source port: the client's
		for r := 0; r < m.Rows; r++ {
			if m.RowVacant(r) {
				continue
			}
			row := m.Row(r)
			src, dst := a4, b4
			if v6(m.Layout, row) {
				src, dst = a6, b6
			}
			dec := t2t.NewDecoder(m.Layout, t2t.DecodeOptions{Link: t2t.LinkEthernet, FixLengths: true, FixChecksums: true, Src: src, Dst: dst,
				SrcMAC: [6]byte{2, 0, 0, 0, 1, byte(i)}, DstMAC: [6]byte{2, 0, 0, 0, 2, byte(i)}})
			frame, err := dec.Decode(row)
			if err != nil {
				skipped++
				continue
			}
			// a packet sent by the server goes the other way
			info, _ := t2t.ParseInfo(t2t.LinkEthernet, frame)
			if first == 0 {
				first = info.SrcPort
			} else if info.SrcPort != first && info.DstPort == first {
				dec = t2t.NewDecoder(m.Layout, t2t.DecodeOptions{Link: t2t.LinkEthernet, FixLengths: true, FixChecksums: true, Src: dst, Dst: src,
					SrcMAC: [6]byte{2, 0, 0, 0, 2, byte(i)}, DstMAC: [6]byte{2, 0, 0, 0, 1, byte(i)}})
				if frame, err = dec.Decode(row); err != nil {
					skipped++
					continue
				}
			}
			ts = ts.Add(time.Millisecond)
			packets = append(packets, pcapio.Packet{Time: ts, Data: frame, OrigLen: len(frame), Link: t2t.LinkEthernet})
		}
		ts = ts.Add(100 * time.Millisecond)
	}
	return packets, skipped
}

// v6 reports whether a row's IPv6 block is present and its IPv4 block not.
func v6(l *t2t.Layout, row []int8) bool {
	c4, _, ok4 := l.Field("ipv4_ver")
	c6, _, ok6 := l.Field("ipv6_ver")
	return ok6 && row[c6] != -1 && (!ok4 || row[c4] == -1)
}
