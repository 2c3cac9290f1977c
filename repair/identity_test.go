package repair

import (
	"testing"
)

// TestIdentity: a real, valid flow encoded as a matrix is repaired to the
// same headers and times, with nothing inserted or dropped.
func TestIdentity(t *testing.T) {
	flows := committed(t)
	prof := BuildProfile(flows)
	n := 0
	for class, fl := range flows {
		for i, f := range fl {
			m := encode(t, f)
			res, err := Flow(m, class, prof, own(f), newRand(int64(i)))
			if err != nil {
				t.Fatalf("%s flow %d: %v", class, i, err)
			}
			lg := res.Log
			changed := lg.BitsChanged
			if hasFragment(f) {
				// first fragments (MF set) become whole packets
				changed -= lg.Fields["ipv4_mfbit"] + lg.Fields["ipv4_cksum"]
			}
			if changed != 0 || lg.Inserted != 0 || lg.Dropped != 0 || lg.Padding != 0 {
				t.Errorf("%s flow %d (%v): %d bits changed %v, inserted %d, dropped %d, padding %d, notes %v",
					class, i, f.Key, lg.BitsChanged, lg.Fields, lg.Inserted, lg.Dropped, lg.Padding, lg.Notes)
				continue
			}
			if len(res.Packets) != len(f.Packets) {
				t.Fatalf("%s flow %d: %d packets, want %d", class, i, len(res.Packets), len(f.Packets))
			}
			for k, p := range res.Packets {
				if !p.Time.Equal(f.Packets[k].Time) {
					t.Fatalf("%s flow %d packet %d: time %v, want %v", class, i, k, p.Time, f.Packets[k].Time)
				}
			}
			n++
		}
	}
	t.Logf("%d flows repaired to themselves", n)
}
