package evaluate

import (
	"hash/fnv"
	"math/rand/v2"
	"sort"

	"t2t/pcapio"
)

// CaptureFields are the nPrint fields whose values the capture, not the
// service, sets: the IPv4 identification (a per-host counter) and the TCP
// sequence and acknowledgement numbers (random per connection). The
// measures (Detect, Memorise) leave them out besides IdentityFields and
// ChecksumFields, so that a generator is judged on what it can know.
var CaptureFields = []string{"ipv4_id", "tcp_seq", "tcp_ackn"}

// MeasurePackets is the default K of the measures: the first 16 packets
// of a flow.
const MeasurePackets = 16

// MeasureFeatures are the feature options of the measures: the nPrint
// cells of the first packets (0: MeasurePackets) packets of a flow,
// without addresses, ports, checksums and CaptureFields.
func MeasureFeatures(packets int) FeatureOptions {
	if packets <= 0 {
		packets = MeasurePackets
	}
	return FeatureOptions{Packets: packets, Drop: append([]string(nil), CaptureFields...)}
}

// MeasureConfig configures Detect, Diversify and Memorise.
type MeasureConfig struct {
	// Packets is K: a flow is judged on its first K packets
	// (0: MeasurePackets).
	Packets int `json:"packets"`
	// Folds of the detectability cross-validation (0: 5).
	Folds int `json:"folds"`
	// Forest is the detectability classifier (zero value: 100 trees).
	Forest ForestConfig `json:"forest"`
	// Seed draws the balanced subsets, the folds and the forests.
	Seed uint64 `json:"seed"`
	// Drop lists fields detectability leaves out besides CaptureFields,
	// addresses, ports and checksums: to find which fields give a
	// generator away, or to judge it without values it does not model.
	Drop []string `json:"drop,omitempty"`
}

func (c MeasureConfig) withDefaults() MeasureConfig {
	if c.Packets <= 0 {
		c.Packets = MeasurePackets
	}
	if c.Folds <= 0 {
		c.Folds = 5
	}
	return c
}

// classRand is the generator of one class under a seed: a class's
// figures do not depend on which other classes are measured.
func classRand(seed uint64, class string) *rand.Rand {
	h := fnv.New64a()
	h.Write([]byte(class))
	return seedRand(seed ^ h.Sum64())
}

// drawFlows returns n of flows chosen by a seeded shuffle, in their original
// order (all of them when n >= len(flows)).
func drawFlows(flows []*pcapio.Flow, n int, rng *rand.Rand) []*pcapio.Flow {
	idx := rng.Perm(len(flows))
	idx = idx[:min(n, len(idx))]
	sort.Ints(idx)
	out := make([]*pcapio.Flow, len(idx))
	for i, j := range idx {
		out[i] = flows[j]
	}
	return out
}

// commonClasses returns the sorted classes with flows on both sides.
func commonClasses(a, b map[string][]*pcapio.Flow) []string {
	var cs []string
	for c, fs := range a {
		if len(fs) > 0 && len(b[c]) > 0 {
			cs = append(cs, c)
		}
	}
	sort.Strings(cs)
	return cs
}

// folds assigns each row to one of k folds, stratified: the rows of each
// stratum (strata[i] of row i) are shuffled and dealt round-robin, the
// deal carrying on from one stratum to the next, so every fold gets
// floor or ceil of each stratum's share and the folds differ in size by
// at most one row.
func folds(strata []int, k int, rng *rand.Rand) []int {
	by := map[int][]int{}
	var keys []int
	for i, s := range strata {
		if _, ok := by[s]; !ok {
			keys = append(keys, s)
		}
		by[s] = append(by[s], i)
	}
	sort.Ints(keys)
	out := make([]int, len(strata))
	next := 0
	for _, s := range keys {
		idx := by[s]
		rng.Shuffle(len(idx), func(i, j int) { idx[i], idx[j] = idx[j], idx[i] })
		for _, i := range idx {
			out[i] = next
			next = (next + 1) % k
		}
	}
	return out
}

// median of v (sorted in place); 0 when empty.
func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	sort.Float64s(v)
	n := len(v)
	if n%2 == 1 {
		return v[n/2]
	}
	return (v[n/2-1] + v[n/2]) / 2
}
