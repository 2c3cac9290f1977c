package evaluate

import "t2t/pcapio"

// ClassMemorisation compares how close synthetic and held-out real flows
// of one class (or of all, pooled) come to the training flows.
type ClassMemorisation struct {
	Class string `json:"class"`
	// Flows counted: training, held-out real (real flows not in the
	// training set) and synthetic.
	Train     int `json:"train_flows"`
	HeldOut   int `json:"held_out_flows"`
	Synthetic int `json:"synthetic_flows"`
	// Medians of the distance of each flow to its closest training flow
	// (NearestDistance).
	SyntheticMedian float64 `json:"synthetic_median"`
	HeldOutMedian   float64 `json:"held_out_median"`
	// Means of the same distances: still apart when many real flows
	// repeat each other exactly and the held-out median is 0.
	SyntheticMean float64 `json:"synthetic_mean"`
	HeldOutMean   float64 `json:"held_out_mean"`
	// Ratio is SyntheticMedian / HeldOutMedian: about 1 when the
	// generator is as far from its training flows as new real traffic
	// is, near 0 when it copies them. Nil when HeldOutMedian is 0 or
	// there are no held-out flows.
	Ratio *float64 `json:"ratio"`
	// Copies are the shares of flows at distance 0 from a training flow
	// (exact copies, on the features' cells). Real flows of a simple
	// service repeat each other exactly (a 2-packet NTP exchange has one
	// look), so HeldOutCopies is the share to compare SyntheticCopies
	// with.
	SyntheticCopies float64 `json:"synthetic_copies"`
	HeldOutCopies   float64 `json:"held_out_copies"`
}

// Memorisation measures how much a generator copies its training set.
type Memorisation struct {
	Packets  int                 `json:"packets"`
	Features int                 `json:"features"`
	Classes  []ClassMemorisation `json:"classes"`
	All      ClassMemorisation   `json:"all"`
	// TrainInReal counts the training flows found among the real flows
	// (and so left out of the held-out ones).
	TrainInReal int `json:"train_in_real"`
}

// Memorise measures, for each class of the training set, the distance
// (NearestDistance) of every synthetic flow to its closest training flow
// of the same class, and the same for every held-out real flow: a real
// flow not in the training set (HeldOut). Flows are encoded by
// MeasureFeatures(cfg.Packets). Only cfg.Packets is used.
func Memorise(train, real, synth map[string][]*pcapio.Flow, cfg MeasureConfig) (*Memorisation, error) {
	cfg = cfg.withDefaults()
	fz, err := NewFeaturizer(MeasureFeatures(cfg.Packets))
	if err != nil {
		return nil, err
	}
	m := &Memorisation{Packets: cfg.Packets, Features: fz.Width()}
	heldOut, found := HeldOut(real, train)
	var allS, allH []float64
	for _, c := range sortedKeys(train) {
		if len(train[c]) == 0 {
			continue
		}
		tr := rows(fz, train[c])
		ds, dh := nearest(fz, tr, synth[c]), nearest(fz, tr, heldOut[c])
		cm := ClassMemorisation{Class: c, Train: len(train[c]), HeldOut: len(heldOut[c]), Synthetic: len(synth[c])}
		cm.summarise(ds, dh)
		m.Classes = append(m.Classes, cm)
		m.All.Train += cm.Train
		m.All.HeldOut += cm.HeldOut
		m.All.Synthetic += cm.Synthetic
		allS = append(allS, ds...)
		allH = append(allH, dh...)
	}
	m.All.Class = "all"
	m.All.summarise(allS, allH)
	m.TrainInReal = found
	return m, nil
}

// HeldOut returns, for each class of real, its flows that are not in
// train, and the number of train's flows found in real. A flow is
// identified by its key and the time of its first packet (to the
// microsecond, what a pcap keeps), so train may be a subset of the real
// files written out again (examples/subset), its flows cut short.
func HeldOut(real, train map[string][]*pcapio.Flow) (map[string][]*pcapio.Flow, int) {
	inTrain := map[flowID]bool{}
	for _, fs := range train {
		for _, f := range fs {
			inTrain[idOf(f)] = true
		}
	}
	found := map[flowID]bool{}
	out := make(map[string][]*pcapio.Flow, len(real))
	for c, fs := range real {
		held := []*pcapio.Flow{}
		for _, f := range fs {
			if id := idOf(f); inTrain[id] {
				found[id] = true
			} else {
				held = append(held, f)
			}
		}
		out[c] = held
	}
	return out, len(found)
}

// summarise fills in the medians, ratio and copy shares from the
// distances of the synthetic and held-out flows.
func (cm *ClassMemorisation) summarise(ds, dh []float64) {
	cm.SyntheticCopies, cm.HeldOutCopies = zeroShare(ds), zeroShare(dh)
	cm.SyntheticMean, cm.HeldOutMean = mean(ds), mean(dh)
	cm.SyntheticMedian, cm.HeldOutMedian = median(ds), median(dh)
	if len(ds) > 0 && cm.HeldOutMedian > 0 {
		r := cm.SyntheticMedian / cm.HeldOutMedian
		cm.Ratio = &r
	}
}

func mean(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	t := 0.0
	for _, x := range v {
		t += x
	}
	return t / float64(len(v))
}

func zeroShare(d []float64) float64 {
	if len(d) == 0 {
		return 0
	}
	n := 0
	for _, v := range d {
		if v == 0 {
			n++
		}
	}
	return float64(n) / float64(len(d))
}

// flowID identifies a flow across files (see HeldOut).
type flowID struct {
	key pcapio.FlowKey
	us  int64
}

func idOf(f *pcapio.Flow) flowID { return flowID{f.Key, f.First().UnixMicro()} }

func sortedKeys(m map[string][]*pcapio.Flow) []string { return unionKeys(m, nil) }

// rows encodes flows into one feature row each.
func rows(fz *Featurizer, flows []*pcapio.Flow) [][]int8 {
	out := make([][]int8, len(flows))
	for i, f := range flows {
		out[i] = fz.Append(nil, f)
	}
	return out
}

// nearest returns, for each flow, NearestDistance of its features to the
// training rows.
func nearest(fz *Featurizer, train [][]int8, flows []*pcapio.Flow) []float64 {
	out := make([]float64, len(flows))
	var x []int8
	for i, f := range flows {
		x = fz.Append(x[:0], f)
		out[i] = NearestDistance(x, train)
	}
	return out
}

// NearestDistance is the normalised Hamming distance from x to the
// closest of rows: the share of the cells (all len(x) of them, padding
// included) in which x and that row differ, in [0,1]; 1 when rows is
// empty. Rows have x's length.
func NearestDistance(x []int8, rows [][]int8) float64 {
	if len(x) == 0 {
		return 0
	}
	best := len(x) + 1
	for _, r := range rows {
		d := 0
		for j, v := range x {
			if r[j] != v {
				if d++; d >= best {
					break
				}
			}
		}
		if d < best {
			best = d
			if d == 0 {
				break
			}
		}
	}
	return min(float64(best)/float64(len(x)), 1)
}
