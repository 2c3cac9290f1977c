package t2t_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"net/netip"
	"strings"
	"testing"

	"t2t"
)

// relink rewraps the IP packet of an Ethernet frame in another link-layer
// header.
func relink(link t2t.LinkType, eth []byte) []byte {
	et := binary.BigEndian.Uint16(eth[12:14])
	ip := eth[14:]
	var h []byte
	switch link {
	case t2t.LinkRaw, t2t.LinkIPv4, t2t.LinkIPv6:
	case t2t.LinkNull:
		h = []byte{2, 0, 0, 0} // AF_INET, little-endian host
		if et == t2t.EtherTypeIPv6 {
			h = []byte{30, 0, 0, 0}
		}
	case t2t.LinkLoop:
		h = []byte{0, 0, 0, 2}
		if et == t2t.EtherTypeIPv6 {
			h = []byte{0, 0, 0, 24}
		}
	case t2t.LinkLinuxSLL:
		h = make([]byte, 16)
		h[5] = 1 // ARPHRD_ETHER
		h[5+1] = 6
		copy(h[6:12], eth[6:12])
		binary.BigEndian.PutUint16(h[14:], et)
	case t2t.LinkLinuxSLL2:
		h = make([]byte, 20)
		binary.BigEndian.PutUint16(h[0:], et)
		h[9] = 1
		h[11] = 6
		copy(h[12:18], eth[6:12])
	case t2t.LinkEthernet: // with an 802.1Q tag and a QinQ tag
		h = append(append([]byte(nil), eth[:12]...), 0x88, 0xa8, 0, 100, 0x81, 0x00, 0, 7, byte(et>>8), byte(et))
	}
	return append(h, ip...)
}

// TestLinkTypes encodes the packets of real captures under every link
// type t2t supports: the rows must equal those of the original Ethernet
// frames (without the eth block) and the keys must agree.
func TestLinkTypes(t *testing.T) {
	l := t2t.NPrintSpec.MustLayout()
	ref := t2t.NewEncoder(l, t2t.EncoderOptions{})
	enc := t2t.NewEncoder(l, t2t.EncoderOptions{VLAN: true})
	want := make([]int8, l.Width())
	got := make([]int8, l.Width())
	links := []t2t.LinkType{t2t.LinkRaw, t2t.LinkNull, t2t.LinkLoop, t2t.LinkLinuxSLL, t2t.LinkLinuxSLL2, t2t.LinkEthernet}
	n := 0
	for _, c := range []string{"dns", "icmp", "ssh"} {
		for _, fr := range readFrames(t, "testdata/captures/"+c+"-200.pcap")[:50] {
			wi, err := ref.Encode(want, fr.link, fr.data)
			if err != nil {
				t.Fatal(err)
			}
			for _, link := range links {
				gi, err := enc.Encode(got, link, relink(link, fr.data))
				if err != nil {
					t.Fatalf("%v: %v", link, err)
				}
				if !bytes.Equal(int8Bytes(got), int8Bytes(want)) || gi.Src != wi.Src || gi.DstPort != wi.DstPort {
					t.Fatalf("%s %v: row or key differs from the Ethernet frame's", c, link)
				}
				n++
			}
		}
	}
	// nPrint (VLAN off) skips the tagged frame
	fr := readFrames(t, "testdata/captures/dns-200.pcap")[0]
	if _, err := ref.Encode(got, t2t.LinkEthernet, relink(t2t.LinkEthernet, fr.data)); !errors.Is(err, t2t.ErrSkip) {
		t.Errorf("nPrint mode encoded a QinQ frame: %v", err)
	}
	t.Logf("%d frames under %d link types", n, len(links))
}

func TestLinkTypeErrors(t *testing.T) {
	l := t2t.NPrintSpec.MustLayout()
	enc := t2t.NewEncoder(l, t2t.EncoderOptions{})
	row := make([]int8, l.Width())
	_, err := enc.Encode(row, t2t.LinkType(147), []byte{0x45, 0, 0, 20})
	var ue *t2t.UnknownLinkTypeError
	if !errors.As(err, &ue) || !strings.Contains(err.Error(), "147") {
		t.Errorf("unknown link type: %v", err)
	}
	for _, link := range []t2t.LinkType{t2t.LinkLinuxSLL, t2t.LinkLinuxSLL2, t2t.LinkNull} {
		if _, err := enc.Encode(row, link, []byte{1, 2}); err == nil || errors.Is(err, t2t.ErrSkip) {
			t.Errorf("%v: short frame: %v", link, err)
		}
	}
	// ARP over Ethernet is skipped, not an error
	arp := make([]byte, 42)
	arp[12], arp[13] = 0x08, 0x06
	if _, err := t2t.NewEncoder(l, t2t.EncoderOptions{VLAN: true}).Encode(row, t2t.LinkEthernet, arp); !errors.Is(err, t2t.ErrSkip) {
		t.Errorf("ARP: %v", err)
	}
}

func TestKeys(t *testing.T) {
	tcp := t2t.PacketInfo{Version: 6, Src: netip.MustParseAddr("2001:db8::1"), Dst: netip.MustParseAddr("2001:db8::2"), Proto: t2t.ProtoTCP, SrcPort: 443, DstPort: 50000}
	icmp := t2t.PacketInfo{Version: 4, Src: netip.MustParseAddr("10.0.0.1"), Dst: netip.MustParseAddr("10.0.0.2"), Proto: t2t.ProtoICMP}
	for _, c := range []struct {
		k    t2t.KeyKind
		p    t2t.PacketInfo
		want string
	}{
		{t2t.KeySrcIP, tcp, "2001:db8::1"},
		{t2t.KeyDstIP, tcp, "2001:db8::2"},
		{t2t.KeySrcPort, tcp, "443"},
		{t2t.KeyDstPort, tcp, "50000"},
		{t2t.KeyFlow, tcp, "2001:db8::1_2001:db8::2_443_50000_TCP"},
		{t2t.KeyDstPort, icmp, "NULL"},
		{t2t.KeyFlow, icmp, "10.0.0.1_10.0.0.2_NULL_NULL_NULL"},
	} {
		if got := string(c.k.AppendKey(nil, &c.p)); got != c.want {
			t.Errorf("%s: %q, want %q", c.k.Name(), got, c.want)
		}
	}
}
