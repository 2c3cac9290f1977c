package repair

import (
	"testing"

	"t2t"
)

// TestLengthSnap: real flows whose IP total length has one or two bits
// flipped in every packet come out of repair with lengths the class
// really has (its own, for ntp whose packets all have one length; for dns
// and sip a flipped length may land on, or as near to, another real one)
// when the profile knows the class's lengths (overall, and per packet
// position: ClassProfile.Positions), and keep the damage when it does
// not; a length three flips from every known one is kept.
func TestLengthSnap(t *testing.T) {
	flows := committed(t)
	prof := BuildProfile(flows)
	col, _, _ := ndLayout.Field("ipv4_tl")
	for _, class := range []string{"dns", "ntp", "sip"} {
		cp := prof.Class(class)
		if len(cp.IPLens) == 0 {
			t.Fatalf("%s: no lengths in the profile", class)
		}
		fixed, total, damaged := 0, 0, 0
		for i, f := range flows[class] {
			m := encode(t, f)
			want := make([]int, m.Rows)
			for r := 0; r < m.Rows; r++ {
				want[r] = readBits(m.Row(r)[col : col+16])
				// flip bit 13 (value 4) and, in odd rows, bit 15 (value 1)
				m.Row(r)[col+13] ^= 1
				if r%2 == 1 {
					m.Row(r)[col+15] ^= 1
				}
			}
			res, err := Flow(m, class, prof, own(f), newRand(int64(i)))
			if err != nil {
				t.Fatal(err)
			}
			for k, p := range res.Packets {
				info, err := t2t.ParseInfo(t2t.LinkEthernet, p.Data)
				if err != nil || k >= len(want) {
					continue
				}
				total++
				got := int(p.Data[info.NetOff+2])<<8 | int(p.Data[info.NetOff+3])
				if got == want[k] {
					fixed++
				}
				if !known(cp.IPLens, got) {
					t.Fatalf("%s flow %d packet %d: length %d is not one the class has", class, i, k, got)
				}
			}
			// without lengths in the profile, the damage stays
			bare := *cp
			bare.IPLens, bare.Positions = nil, nil
			res2, err := Flow(m, class, &Profile{Classes: map[string]*ClassProfile{class: &bare}}, own(f), newRand(int64(i)))
			if err != nil {
				t.Fatal(err)
			}
			for k, p := range res2.Packets {
				info, err := t2t.ParseInfo(t2t.LinkEthernet, p.Data)
				if err == nil && k < len(want) && int(p.Data[info.NetOff+2])<<8|int(p.Data[info.NetOff+3]) != want[k] {
					damaged++
				}
			}
		}
		t.Logf("%s: %d of %d damaged lengths repaired (%d stay damaged without lengths in the profile)", class, fixed, total, damaged)
		if damaged < total/2 {
			t.Fatalf("%s: only %d of %d lengths stay damaged without a length profile: test is vacuous", class, damaged, total)
		}
		if total == 0 || class == "ntp" && fixed != total {
			t.Errorf("%s: %d of %d damaged lengths repaired", class, fixed, total)
		}
	}
	if got := snapLength(0b1000111, 28, 1500, []Count{{0b1000000, 5}}); got != 0b1000111 {
		t.Errorf("three flips away: snapped to %d", got)
	}
	if got := snapLength(0b1000011, 28, 1500, []Count{{0b1000000, 1}, {0b1000001, 9}}); got != 0b1000001 {
		t.Errorf("nearest: snapped to %d, want 65", got)
	}
	if got := snapLength(21, 28, 1500, []Count{{20, 9}}); got != 21 {
		t.Errorf("a known length below the header: snapped to %d", got)
	}
}

func known(l []Count, v int) bool {
	for _, c := range l {
		if c.Value == v {
			return true
		}
	}
	return false
}

func readBits(b []int8) int {
	v := 0
	for _, x := range b {
		v = v<<1 | int(x&1)
	}
	return v
}
