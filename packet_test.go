package t2t_test

import (
	"net/netip"
	"testing"

	"t2t"
)

// TestParseInfoTOS: ParseInfo reads the IPv4 type of service and the IPv6
// traffic class that Headers.AppendFrame writes.
func TestParseInfoTOS(t *testing.T) {
	for _, c := range []struct{ src, dst string }{{"10.0.0.2", "10.0.0.1"}, {"fd00::2", "fd00::1"}} {
		h := t2t.Headers{Src: netip.MustParseAddr(c.src), Dst: netip.MustParseAddr(c.dst),
			TOS: 0x48, TTL: 64, Proto: t2t.ProtoUDP, SrcPort: 40000, DstPort: 53, FlowLabel: 0xabcde}
		info, err := t2t.ParseInfo(t2t.LinkEthernet, h.AppendFrame(nil, make([]byte, 8)))
		if err != nil {
			t.Fatal(err)
		}
		if info.TOS != 0x48 || info.TTL != 64 {
			t.Errorf("%s: TOS %#02x TTL %d, want 0x48 and 64", c.src, info.TOS, info.TTL)
		}
	}
}
