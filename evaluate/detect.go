package evaluate

import (
	"fmt"
	"math/rand/v2"

	"t2t/pcapio"
)

// ClassDetectability is the detectability of one class, or of all of
// them pooled.
type ClassDetectability struct {
	Class string `json:"class"`
	// Flows is the number of flows drawn from each side: the smaller of
	// the two sides' counts.
	Flows int `json:"flows"`
	Folds int `json:"folds"`
	// Accuracy is the cross-validated accuracy of the classifier telling
	// real from synthetic, over all 2 x Flows flows.
	Accuracy float64 `json:"accuracy"`
}

// Detectability is how well a classifier tells synthetic flows from real
// ones: 0.5 when it cannot, 1 when it always can.
type Detectability struct {
	Packets  int `json:"packets"`  // K: packets per flow in the features
	Features int `json:"features"` // feature vector length
	Folds    int `json:"folds"`    // folds asked for (a class with fewer flows a side has fewer)
	// Classes has one classifier per class. All pools their
	// predictions: the accuracy over every flow drawn (so classes weigh
	// by their flows); MeanAccuracy averages the classes' accuracies.
	Classes      []ClassDetectability `json:"classes"`
	All          ClassDetectability   `json:"all"`
	MeanAccuracy float64              `json:"mean_accuracy"`
	// Skipped lists the classes with flows on both sides but fewer than 2
	// on one of them: too few to cross-validate.
	Skipped []string `json:"skipped,omitempty"`
}

// Detect measures the detectability of synthetic flows among real ones,
// class by class (the classes with flows on both sides). Of each class, n
// flows are drawn from each side (n the smaller count, seeded), encoded by
// MeasureFeatures(cfg.Packets), and a random forest learns to tell the two
// sides apart in a cross-validation of cfg.Folds folds (fewer when n is
// smaller), stratified by side; the accuracy counts every flow once, when
// its fold is the test fold.
//
// 0.5 means the forest cannot tell them apart. A synthetic set that holds
// copies of real flows of the set can score below 0.5: a test flow's twin
// then sits in the training folds with the other label.
func Detect(real, synth map[string][]*pcapio.Flow, cfg MeasureConfig) (*Detectability, error) {
	cfg = cfg.withDefaults()
	fo := MeasureFeatures(cfg.Packets)
	fo.Drop = append(fo.Drop, cfg.Drop...)
	fz, err := NewFeaturizer(fo)
	if err != nil {
		return nil, err
	}
	d := &Detectability{Packets: cfg.Packets, Features: fz.Width(), Folds: cfg.Folds, All: ClassDetectability{Class: "all"}}
	right := 0
	for _, c := range commonClasses(real, synth) {
		n := min(len(real[c]), len(synth[c]))
		if n < 2 {
			d.Skipped = append(d.Skipped, c)
			continue
		}
		rng := classRand(cfg.Seed, c)
		flows := append(drawFlows(real[c], n, rng), drawFlows(synth[c], n, rng)...)
		k, r, err := crossValidate(fz, flows, cfg, rng)
		if err != nil {
			return nil, fmt.Errorf("evaluate: detectability of %s: %w", c, err)
		}
		acc := float64(r) / float64(2*n)
		d.Classes = append(d.Classes, ClassDetectability{Class: c, Flows: n, Folds: k, Accuracy: acc})
		d.MeanAccuracy += acc
		d.All.Flows += n
		d.All.Folds = max(d.All.Folds, k)
		right += r
	}
	if len(d.Classes) > 0 {
		d.MeanAccuracy /= float64(len(d.Classes))
		d.All.Accuracy = float64(right) / float64(2*d.All.Flows)
	}
	return d, nil
}

// crossValidate encodes flows, the first half real and the second half
// synthetic, and cross-validates a forest telling them apart over
// cfg.Folds folds (at most one per flow of a side) stratified by side. It
// returns the folds and the number of flows classified right.
func crossValidate(fz *Featurizer, flows []*pcapio.Flow, cfg MeasureConfig, rng *rand.Rand) (k, right int, err error) {
	n := len(flows) / 2
	y := make([]int, 2*n)
	for i := n; i < 2*n; i++ {
		y[i] = 1
	}
	k = min(cfg.Folds, n)
	s, err := fz.Samples(&Labelled{Classes: []string{"real", "synthetic"}, Flows: flows, Label: y})
	if err != nil {
		return 0, 0, err
	}
	fold := folds(y, k, rng)
	for f := 0; f < k; f++ {
		var tr, te []int
		for i, g := range fold {
			if g == f {
				te = append(te, i)
			} else {
				tr = append(tr, i)
			}
		}
		forest, err := TrainForest(s.subset(tr), 2, cfg.Forest, rng)
		if err != nil {
			return 0, 0, err
		}
		for _, i := range te {
			if forest.Predict(s.Row(i)) == y[i] {
				right++
			}
		}
	}
	return k, right, nil
}

// subset copies the rows at idx into new Samples.
func (s *Samples) subset(idx []int) *Samples {
	out := &Samples{N: len(idx), D: s.D, X: make([]int8, 0, len(idx)*s.D), Y: make([]int, len(idx))}
	for k, i := range idx {
		out.X = append(out.X, s.Row(i)...)
		out.Y[k] = s.Y[i]
	}
	return out
}
