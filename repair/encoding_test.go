package repair

import (
	"net/netip"
	"testing"
	"time"

	"t2t"
)

// TestModelEncodingLog: the log of changed bits encodes with
// t2t.ModelEncoderOptions, so a valid IPv6 TCP flow over a layout with
// payload bytes repairs with no bit changed (nPrint's own IPv6 payload
// offset would misplace the payload of every data segment).
func TestModelEncodingLog(t *testing.T) {
	c, s := netip.MustParseAddr("2001:db8::2"), netip.MustParseAddr("2001:db8::1")
	data := make([]byte, 100)
	for i := range data {
		data[i] = 'a'
	}
	type seg struct {
		dir      int
		seq, ack uint32
		flags    uint8
		pay      []byte
	}
	segs := []seg{
		{0, 1000, 0, flagSYN, nil},
		{1, 5000, 1001, flagSYN | flagACK, nil},
		{0, 1001, 5001, flagACK, nil},
		{0, 1001, 5001, flagACK | flagPSH, data},
		{1, 5001, 1101, flagACK, nil},
	}
	l := t2t.LayoutSpec{IPv4: true, IPv6: true, TCP: true, UDP: true, ICMP: true, Payload: 16}.MustLayout()
	m := t2t.NewMatrix(l, 0)
	enc := t2t.NewEncoder(l, t2t.ModelEncoderOptions())
	t0 := time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC)
	for i, g := range segs {
		h := t2t.Headers{Src: c, Dst: s, TTL: 64, Proto: t2t.ProtoTCP, SrcPort: 40000, DstPort: 443,
			Seq: g.seq, Ack: g.ack, Flags: g.flags, Window: 64240}
		if g.dir == 1 {
			h.Src, h.Dst, h.SrcPort, h.DstPort = s, c, 443, 40000
		}
		if _, err := enc.Append(m, t2t.LinkEthernet, h.AppendFrame(nil, g.pay), t0.Add(time.Duration(i)*time.Millisecond)); err != nil {
			t.Fatal(err)
		}
	}
	res, err := Flow(m, "", nil, Options{Client: c, Server: s, ClientPort: 40000, ServerPort: 443}, newRand(1))
	if err != nil {
		t.Fatal(err)
	}
	if lg := res.Log; lg.BitsChanged != 0 || lg.Inserted != 0 || lg.Dropped != 0 || len(res.Packets) != len(segs) {
		t.Fatalf("%d bits changed %v, inserted %d, dropped %d, %d packets", lg.BitsChanged, lg.Fields, lg.Inserted, lg.Dropped, len(res.Packets))
	}
	if p := res.Packets[3]; len(p.Data) != 14+40+20+100 || string(p.Data[74:90]) != "aaaaaaaaaaaaaaaa" {
		t.Fatalf("data segment % x", p.Data)
	}
}
