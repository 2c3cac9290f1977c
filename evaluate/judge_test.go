package evaluate

import (
	"bytes"
	"encoding/json"
	"net"
	"strings"
	"testing"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"

	"t2t"
)

// judgeOne checks one whole frame and counts its header fields.
func judgeOne(link t2t.LinkType, frame []byte) (*Compliance, []byte) {
	c, h := &Compliance{}, newHeaders()
	c.checkPacket(h, link, frame, len(frame), "frame")
	hist := map[string]Histogram{}
	for _, f := range Fields {
		hist[f] = NewHistogram()
	}
	countPacket(hist, h, link, frame)
	b, _ := json.Marshal(hist)
	return c, b
}

// ipv6UDP is a whole IPv6 UDP packet with right checksums, made by
// gopacket.
func ipv6UDP(t *testing.T) []byte {
	ip := &layers.IPv6{Version: 6, NextHeader: layers.IPProtocolUDP, HopLimit: 61,
		SrcIP: net.ParseIP("2001:db8::1"), DstIP: net.ParseIP("2001:db8::2")}
	udp := &layers.UDP{SrcPort: 5353, DstPort: 53}
	udp.SetNetworkLayerForChecksum(ip)
	buf := gopacket.NewSerializeBuffer()
	err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true},
		ip, udp, gopacket.Payload("an odd-length payload"))
	if err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestJudgeLinkTypes wraps one IPv4 packet (a committed NTP packet) and
// one IPv6 packet in every link header t2t reads: each must decode to the
// same clean packet with the same fields.
func TestJudgeLinkTypes(t *testing.T) {
	p := small(t).Flows["ntp"][0].Packets[0]
	if p.Link != t2t.LinkEthernet || p.OrigLen != len(p.Data) {
		t.Fatalf("want a whole Ethernet frame, got %v %d/%d", p.Link, len(p.Data), p.OrigLen)
	}
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	macs := p.Data[:12]
	type linkCase struct {
		name string
		link t2t.LinkType
		hdr  []byte
	}
	for _, tc := range []struct {
		ip []byte
		v6 bool
	}{
		{ip: p.Data[14:]},
		{ip: ipv6UDP(t), v6: true},
	} {
		et, af := []byte{0x08, 0x00}, byte(2)
		if tc.v6 {
			et, af = []byte{0x86, 0xdd}, 30
		}
		cases := []linkCase{
			{"ethernet", t2t.LinkEthernet, cat(macs, et)},
			{"802.1Q", t2t.LinkEthernet, cat(macs, []byte{0x81, 0x00, 0x00, 0x07}, et)},
			{"802.1ad", t2t.LinkEthernet, cat(macs, []byte{0x88, 0xa8, 0x00, 0x05, 0x81, 0x00, 0x00, 0x07}, et)},
			{"QinQ 0x9100", t2t.LinkEthernet, cat(macs, []byte{0x91, 0x00, 0x00, 0x05, 0x81, 0x00, 0x00, 0x07}, et)},
			{"null", t2t.LinkNull, []byte{af, 0, 0, 0}},
			{"loop", t2t.LinkLoop, []byte{0, 0, 0, af}},
			{"raw", t2t.LinkRaw, nil},
			{"linux sll", t2t.LinkLinuxSLL, cat([]byte{0, 0, 0, 1, 0, 6}, macs[:8], et)},
			// an address length beyond the 8 bytes kept: gopacket 1.1.19 panics
			{"linux sll, address length 233", t2t.LinkLinuxSLL, cat([]byte{0, 0, 0, 32, 0, 0xe9}, macs[:8], et)},
			{"linux sll2", t2t.LinkLinuxSLL2, cat(et, []byte{0, 0, 0, 0, 0, 2, 0, 1, 0, 6}, macs[:8])},
		}
		if tc.v6 {
			cases = append(cases, linkCase{"ipv6", t2t.LinkIPv6, nil},
				linkCase{"null, Linux AF_INET6", t2t.LinkNull, []byte{10, 0, 0, 0}})
		} else {
			cases = append(cases, linkCase{"ipv4", t2t.LinkIPv4, nil})
		}
		var want []byte
		for _, lc := range cases {
			c, hist := judgeOne(lc.link, cat(lc.hdr, tc.ip))
			if c.Packets != 1 || c.ChecksumChecked != 1 || c.Errors() != 0 || c.NonIP != 0 {
				t.Errorf("%s (IPv6 %v): %+v", lc.name, tc.v6, c)
			}
			if want == nil {
				want = hist
			} else if !bytes.Equal(hist, want) {
				t.Errorf("%s (IPv6 %v): fields %s, want %s", lc.name, tc.v6, hist, want)
			}
		}
	}
	// Not IP, and link headers cut short.
	if c, _ := judgeOne(t2t.LinkEthernet, cat(macs, []byte{0x08, 0x06}, make([]byte, 28))); c.NonIP != 1 || c.Errors() != 0 {
		t.Errorf("ARP: %+v", c)
	}
	for _, l := range []t2t.LinkType{t2t.LinkEthernet, t2t.LinkNull, t2t.LinkLinuxSLL, t2t.LinkLinuxSLL2, t2t.LinkRaw, 12345} {
		if c, _ := judgeOne(l, macs[:3]); c.DecodeErrors != 1 && !(l == t2t.LinkRaw && c.NonIP == 1) {
			t.Errorf("%v frame of 3 bytes: %+v", l, c)
		}
	}
}

// TestComplianceTCPOptionOverrun: a TCP option whose length runs past the
// end of the header, in a packet whose lengths and checksums are right.
// t2t's own parser does not look at options, so the hand-parsed check
// passed it; gopacket (and tshark: "option goes past end of options")
// does not.
func TestComplianceTCPOptionOverrun(t *testing.T) {
	fs := cloneFlows(small(t).Flows["ssh"])
	for fi, f := range fs {
		for pi, p := range f.Packets {
			info, _ := t2t.ParseInfo(p.Link, p.Data)
			tr := p.Data[info.TransOff:]
			if p.OrigLen != len(p.Data) || info.Proto != t2t.ProtoTCP || tr[12]>>4 <= 5 {
				continue
			}
			// the first option that has a length byte
			o := 20
			for o < int(tr[12]>>4)*4 && tr[o] == 1 {
				o++
			}
			if tr[o] < 2 {
				continue
			}
			tr[o+1] = 200
			t2t.FixChecksums(p.Data[info.NetOff:])
			if !t2t.ChecksumsValid(p.Data[info.NetOff:]) {
				t.Fatal("checksums not fixed")
			}
			c := CheckFlows(fs[fi : fi+1])
			if c.DecodeErrors != 1 || len(c.Problems) == 0 || !strings.Contains(c.Problems[0], "TCP options") {
				t.Fatalf("flow %d packet %d: %+v", fi, pi, c)
			}
			t.Log(c.Problems[0])
			return
		}
	}
	t.Fatal("no whole ssh packet with TCP options")
}
