package repair

import (
	"testing"

	"t2t"
)

// TestWindowSnapsToKnown: a TCP window one high bit off the value the
// class uses comes back as that value (the real flows' windows are kept:
// TestIdentity).
func TestWindowSnapsToKnown(t *testing.T) {
	flows := committed(t)
	prof := BuildProfile(flows)
	checked := 0
	for i, f := range flows["ssh"] {
		if i == 5 {
			break
		}
		m := encode(t, f)
		c, _, _ := m.Layout.Field("tcp_wsize")
		const row = 3
		if m.Rows <= row {
			continue
		}
		info, _ := t2t.ParseInfo(f.Packets[row].Link, f.Packets[row].Data)
		want := info.TCPWindow
		m.SetBit(row, c+3, 1-m.Bit(row, c+3)) // a high bit (4096): no known window is as near
		res, err := Flow(m, "ssh", prof, own(f), newRand(1))
		if err != nil {
			t.Fatal(err)
		}
		got, _ := t2t.ParseInfo(res.Packets[row].Link, res.Packets[row].Data)
		if got.TCPWindow != want {
			t.Errorf("flow %d: window %d, want %d", i, got.TCPWindow, want)
		}
		checked++
	}
	if checked < 3 {
		t.Fatalf("%d flows checked", checked)
	}
}
