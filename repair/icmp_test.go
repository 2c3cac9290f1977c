package repair

import (
	"encoding/binary"
	"testing"

	"t2t"
)

// TestEchoRepliesPair: every echo reply answers its own request (same
// identifier and sequence number, sent before it, answered once), even when
// the model gives every reply sequence number 1 and doubles replies.
func TestEchoRepliesPair(t *testing.T) {
	flows := committed(t)
	prof := BuildProfile(flows)
	checked := 0
	for i, f := range flows["icmp"] {
		if i == 6 {
			break
		}
		m := encode(t, f)
		c, _, _ := m.Layout.Field("icmp_roh") // identifier (16 bits), then sequence (16)
		ty, _, _ := m.Layout.Field("icmp_type")
		var rows []int8
		for r := 0; r < m.Rows; r++ {
			row := append([]int8(nil), m.Row(r)...)
			if row[ty+4] == 0 { // type 0: a reply; its sequence number becomes 1
				for b := 0; b < 16; b++ {
					row[c+16+b] = 0
				}
				row[c+31] = 1
				rows = append(rows, row...)
			}
			rows = append(rows, row...)
		}
		m.Bits, m.Rows, m.Times = rows, len(rows)/m.Cols, nil
		res, err := Flow(m, "icmp", prof, own(f), newRand(1))
		if err != nil {
			t.Fatal(err)
		}
		sent := map[uint32]bool{}
		answered := map[uint32]bool{}
		replies := 0
		for k, p := range res.Packets {
			info, err := t2t.ParseInfo(p.Link, p.Data)
			if err != nil {
				t.Fatal(err)
			}
			h := p.Data[info.TransOff:]
			key := binary.BigEndian.Uint32(h[4:8])
			switch h[0] {
			case 8:
				sent[key] = true
			case 0:
				replies++
				if !sent[key] || answered[key] {
					t.Fatalf("flow %d packet %d: reply id/seq %08x answers no request of its own (sent %v, answered before %v)", i, k, key, sent[key], answered[key])
				}
				answered[key] = true
			}
		}
		if replies == 0 {
			t.Fatalf("flow %d: no reply", i)
		}
		checked++
	}
	if checked < 3 {
		t.Fatalf("%d flows checked", checked)
	}
}
