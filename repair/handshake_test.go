package repair

import (
	"testing"
	"time"

	"t2t"
)

// TestDuplicateHandshake: a SYN+ACK repeated right after the first is
// noise and dropped (the model's duplicates carry no time); one that comes
// a second later, as a kernel retransmits, is kept.
func TestDuplicateHandshake(t *testing.T) {
	flows := committed(t)
	prof := BuildProfile(flows)
	f := flows["http"][0]
	m := encode(t, f)
	// rows: SYN, SYN+ACK, SYN+ACK again, the rest
	dup := func(gap time.Duration, times bool) *t2t.Matrix {
		out := t2t.NewMatrix(m.Layout, 0)
		out.Cols = m.Cols
		for r := 0; r < m.Rows; r++ {
			out.Bits = append(out.Bits, m.Row(r)...)
			out.Rows++
			if r == 1 {
				out.Bits = append(out.Bits, m.Row(r)...)
				out.Rows++
			}
		}
		if times {
			for r := 0; r < out.Rows; r++ {
				src := r
				if r > 1 {
					src = r - 1
				}
				ts := m.Times[src]
				if r >= 2 {
					ts = ts.Add(gap)
				}
				out.Times = append(out.Times, ts)
			}
		}
		return out
	}
	synacks := func(mm *t2t.Matrix) int {
		res, err := Flow(mm, "http", prof, own(f), newRand(1))
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, p := range res.Packets {
			info, _ := t2t.ParseInfo(p.Link, p.Data)
			if info.TCPFlags&0x12 == 0x12 {
				n++
			}
		}
		return n
	}
	if n := synacks(dup(0, false)); n != 1 {
		t.Errorf("a generated duplicate SYN+ACK: %d SYN+ACKs written, want 1", n)
	}
	if n := synacks(dup(time.Second, true)); n != 2 {
		t.Errorf("a SYN+ACK retransmitted after 1 s: %d SYN+ACKs written, want 2", n)
	}
}
