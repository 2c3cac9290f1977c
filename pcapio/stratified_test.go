package pcapio

import "testing"

// TestStratifiedKeepsTransportMix: a class that mixes TCP and UDP flows
// keeps its mix in the subset (within one flow of the exact share), picks
// no flow twice and only flows long enough.
func TestStratifiedKeepsTransportMix(t *testing.T) {
	ds, err := LoadDataset("../testdata/train", FlowOptions{MaxPackets: 32})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []string{"dns", "iperf_udp"} {
		all := ds.Flows[c]
		count := func(fl []*Flow) map[uint8]int {
			m := map[uint8]int{}
			for _, f := range fl {
				m[f.Key.Proto]++
			}
			return m
		}
		ca := count(all)
		if len(ca) < 2 {
			t.Fatalf("%s: one transport only in the test data: %v", c, ca)
		}
		for _, n := range []int{5, 16, 30} {
			got := Stratified(all, n, 2)
			if len(got) != n {
				t.Fatalf("%s n=%d: %d flows", c, n, len(got))
			}
			seen := map[*Flow]bool{}
			for _, f := range got {
				if seen[f] || len(f.Packets) < 2 {
					t.Fatalf("%s n=%d: flow repeated or too short", c, n)
				}
				seen[f] = true
			}
			for p, k := range count(got) {
				exact := float64(n) * float64(ca[p]) / float64(len(all))
				if d := float64(k) - exact; d <= -1 || d >= 1 {
					t.Errorf("%s n=%d: proto %d has %d flows, exact share %.2f", c, n, p, k, exact)
				}
			}
		}
	}
	// a protocol with too few long flows gives its quota to the others
	var fl []*Flow
	for i := 0; i < 10; i++ {
		f := &Flow{Packets: make([]Packet, 3)}
		f.Key.Proto = 17
		if i < 5 {
			f.Key.Proto = 6
			f.Packets = f.Packets[:1] // too short
		}
		fl = append(fl, f)
	}
	if got := Stratified(fl, 4, 2); len(got) != 4 || got[0].Key.Proto != 17 {
		t.Errorf("short TCP flows: got %d flows", len(got))
	}
}
