package pcapio

import "sort"

// Stratified picks n flows of at least minPackets packets: each transport
// protocol (the flow key's) gets its share of n by its share of all the
// flows (largest remainders; a protocol with too few eligible flows gives
// its rest to the others), and within a protocol the picks are spread
// evenly in capture order. With no more than n eligible flows it returns
// them all.
func Stratified(flows []*Flow, n, minPackets int) []*Flow {
	byProto := map[uint8][]*Flow{}
	share := map[uint8]int{}
	var protos []uint8
	eligible := 0
	for _, f := range flows {
		if _, ok := share[f.Key.Proto]; !ok {
			protos = append(protos, f.Key.Proto)
		}
		share[f.Key.Proto]++
		if len(f.Packets) >= minPackets {
			byProto[f.Key.Proto] = append(byProto[f.Key.Proto], f)
			eligible++
		}
	}
	if eligible <= n {
		var out []*Flow
		for _, f := range flows {
			if len(f.Packets) >= minPackets {
				out = append(out, f)
			}
		}
		return out
	}
	// quotas by largest remainder over all flows' protocol shares
	quota := map[uint8]int{}
	type rem struct {
		p uint8
		r float64
	}
	var rems []rem
	given := 0
	for _, p := range protos {
		exact := float64(n) * float64(share[p]) / float64(len(flows))
		quota[p] = int(exact)
		given += quota[p]
		rems = append(rems, rem{p, exact - float64(quota[p])})
	}
	sort.SliceStable(rems, func(i, j int) bool { return rems[i].r > rems[j].r })
	for i := 0; given < n && i < len(rems); i++ {
		quota[rems[i].p]++
		given++
	}
	// cap at what each protocol has; hand the rest to the others in order
	spare := 0
	for _, p := range protos {
		if q := quota[p]; q > len(byProto[p]) {
			spare += q - len(byProto[p])
			quota[p] = len(byProto[p])
		}
	}
	for _, r := range rems {
		for spare > 0 && quota[r.p] < len(byProto[r.p]) {
			quota[r.p]++
			spare--
		}
	}
	var out []*Flow
	for _, p := range protos {
		fl := byProto[p]
		for i := 0; i < quota[p]; i++ {
			out = append(out, fl[i*len(fl)/quota[p]])
		}
	}
	return out
}
