package evaluate

import (
	"bufio"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"sort"
	"strings"
)

// ReadGroups reads a class-to-group table: one "class<TAB>group" per line
// (any run of spaces or tabs separates them); blank lines and lines
// starting with # are skipped.
func ReadGroups(r io.Reader) (map[string]string, error) {
	g := map[string]string{}
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Fields(line)
		if len(f) != 2 {
			return nil, fmt.Errorf("evaluate: groups line %d: want class and group, got %q", n, line)
		}
		if old, ok := g[f[0]]; ok && old != f[1] {
			return nil, fmt.Errorf("evaluate: groups line %d: class %s in groups %s and %s", n, f[0], old, f[1])
		}
		g[f[0]] = f[1]
	}
	return g, sc.Err()
}

// ReadGroupsFile reads a groups table from a file.
func ReadGroupsFile(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("evaluate: %w", err)
	}
	defer f.Close()
	return ReadGroups(f)
}

// Split divides the flows into train and test sets, stratified by label:
// of each class's n flows, round(testFrac*n) go to test, but at least one
// when n >= 2 and never all of them. The choice is a seeded shuffle of
// each class's flows.
func Split(l *Labelled, testFrac float64, rng *rand.Rand) (train, test *Labelled) {
	byClass := make([][]int, len(l.Classes))
	for i, y := range l.Label {
		byClass[y] = append(byClass[y], i)
	}
	var tr, te []int
	for _, idx := range byClass {
		n := len(idx)
		rng.Shuffle(n, func(i, j int) { idx[i], idx[j] = idx[j], idx[i] })
		k := int(testFrac*float64(n) + 0.5)
		if k == 0 && n >= 2 && testFrac > 0 {
			k = 1
		}
		if k >= n && n > 0 {
			k = n - 1
		}
		te = append(te, idx[:k]...)
		tr = append(tr, idx[k:]...)
	}
	sort.Ints(tr)
	sort.Ints(te)
	return l.Subset(tr), l.Subset(te)
}

// Scenario is one train/test pairing of the service recognition table.
type Scenario struct {
	Name  string `json:"name"`  // "real/real", "real/synthetic", "synthetic/real"
	Train string `json:"train"` // what the forest learned from
	Test  string `json:"test"`  // what it was tested on
	// TrainFlows and TestFlows count flows.
	TrainFlows int `json:"train_flows"`
	TestFlows  int `json:"test_flows"`
	// Micro is the class accuracy; Macro the group accuracy of the same
	// predictions (a predicted class counts as right when it is in the
	// true class's group). TrainAccuracy is the class accuracy on the
	// training flows.
	Micro         float64 `json:"micro"`
	Macro         float64 `json:"macro"`
	TrainAccuracy float64 `json:"train_accuracy"`
	// PerClass is the class accuracy (recall) of each class with test
	// flows.
	PerClass  map[string]float64 `json:"per_class"`
	Confusion [][]int            `json:"confusion"` // [true][predicted], classes in Recognition.Classes order
}

// RecognitionConfig configures the service recognition experiment.
type RecognitionConfig struct {
	Features FeatureOptions `json:"features"`
	Forest   ForestConfig   `json:"forest"`
	// TestFraction of each real class is held out for testing (0: 0.2).
	TestFraction float64 `json:"test_fraction"`
	// Groups maps classes to their macro-level group; a class without one
	// is its own group.
	Groups map[string]string `json:"groups,omitempty"`
	Seed   uint64            `json:"seed"`
}

// Recognition is the outcome of the service recognition experiment.
type Recognition struct {
	Classes   []string   `json:"classes"`
	Packets   int        `json:"packets"`  // K: packets per flow in the features
	Features  int        `json:"features"` // feature vector length
	Scenarios []Scenario `json:"scenarios"`
}

// Recognize runs the paper's service recognition table. The real flows
// are split by class (TestFraction held out, seeded). Scenarios:
//
//	real/real        train on the real train split, test on the real test split
//	real/synthetic   train on all real flows, test on all synthetic flows
//	synthetic/real   train on all synthetic flows, test on the real test split
//
// real/synthetic may use every real flow because the synthetic set is the
// held-out set there; so a synthetic set equal to the real one scores
// exactly the forest's training accuracy. synthetic is optional (nil:
// only real/real). Synthetic classes must be among the real ones.
func Recognize(real, synthetic *Labelled, cfg RecognitionConfig) (*Recognition, error) {
	if cfg.TestFraction <= 0 {
		cfg.TestFraction = 0.2
	}
	fz, err := NewFeaturizer(cfg.Features)
	if err != nil {
		return nil, err
	}
	rng := seedRand(cfg.Seed)
	train, test := Split(real, cfg.TestFraction, rng)
	rec := &Recognition{Classes: real.Classes, Packets: fz.Options().Packets, Features: fz.Width()}
	trS, err := fz.Samples(train)
	if err != nil {
		return nil, err
	}
	teS, err := fz.Samples(test)
	if err != nil {
		return nil, err
	}
	group := func(y int) string {
		c := real.Classes[y]
		if g, ok := cfg.Groups[c]; ok {
			return g
		}
		return c
	}
	run := func(name, trName, teName string, tr, te *Samples) error {
		f, err := TrainForest(tr, len(real.Classes), cfg.Forest, rng)
		if err != nil {
			return fmt.Errorf("evaluate: %s: %w", name, err)
		}
		sc := Scenario{Name: name, Train: trName, Test: teName, TrainFlows: tr.N, TestFlows: te.N,
			PerClass: map[string]float64{}}
		sc.TrainAccuracy = Accuracy(f.PredictAll(tr), tr.Y)
		pred := f.PredictAll(te)
		sc.Micro = Accuracy(pred, te.Y)
		okG := 0
		for i := range pred {
			if group(pred[i]) == group(te.Y[i]) {
				okG++
			}
		}
		if len(pred) > 0 {
			sc.Macro = float64(okG) / float64(len(pred))
		}
		sc.Confusion = Confusion(pred, te.Y, len(real.Classes))
		for y, row := range sc.Confusion {
			n := 0
			for _, v := range row {
				n += v
			}
			if n > 0 {
				sc.PerClass[real.Classes[y]] = float64(row[y]) / float64(n)
			}
		}
		rec.Scenarios = append(rec.Scenarios, sc)
		return nil
	}
	if err := run("real/real", "real train split", "real test split", trS, teS); err != nil {
		return nil, err
	}
	if synthetic == nil || len(synthetic.Flows) == 0 {
		return rec, nil
	}
	syn, err := relabel(synthetic, real.Classes)
	if err != nil {
		return nil, err
	}
	allS, err := fz.Samples(real)
	if err != nil {
		return nil, err
	}
	synS, err := fz.Samples(syn)
	if err != nil {
		return nil, err
	}
	if err := run("real/synthetic", "all real", "all synthetic", allS, synS); err != nil {
		return nil, err
	}
	if err := run("synthetic/real", "all synthetic", "real test split", synS, teS); err != nil {
		return nil, err
	}
	return rec, nil
}

// relabel maps l's labels onto classes.
func relabel(l *Labelled, classes []string) (*Labelled, error) {
	index := map[string]int{}
	for i, c := range classes {
		index[c] = i
	}
	out := &Labelled{Classes: classes, Flows: l.Flows}
	for _, y := range l.Label {
		c := l.Classes[y]
		i, ok := index[c]
		if !ok {
			return nil, fmt.Errorf("evaluate: synthetic class %q has no real flows", c)
		}
		out.Label = append(out.Label, i)
	}
	return out, nil
}
