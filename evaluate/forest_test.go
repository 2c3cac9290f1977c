package evaluate

import (
	"math/rand/v2"
	"reflect"
	"testing"
)

// logicSamples makes n rows of d ternary features; the label is
// 2*(x0 AND x1) + (x2 XOR x3) on the bits at columns 0..3 (values 0/1),
// every other column random in {-1,0,1}.
func logicSamples(n, d int, r *rand.Rand) *Samples {
	s := &Samples{N: n, D: d, X: make([]int8, n*d), Y: make([]int, n)}
	for i := 0; i < n; i++ {
		row := s.Row(i)
		for j := range row {
			if j < 4 {
				row[j] = int8(r.IntN(2))
			} else {
				row[j] = int8(r.IntN(3) - 1)
			}
		}
		s.Y[i] = 2*int(row[0]&row[1]) + int(row[2]^row[3])
	}
	return s
}

func TestForestLogic(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	// XOR has no marginal Gini gain, so greedy trees find it only when
	// noise columns do not drown it: 4 informative columns of 12 (at 40,
	// held-out accuracy falls to about 0.75, as with any CART forest).
	train, test := logicSamples(2000, 12, r), logicSamples(500, 12, r)
	f, err := TrainForest(train, 4, ForestConfig{Trees: 50}, rand.New(rand.NewPCG(3, 4)))
	if err != nil {
		t.Fatal(err)
	}
	acc := Accuracy(f.PredictAll(test), test.Y)
	t.Logf("AND/XOR held-out accuracy %.3f", acc)
	if acc < 0.97 {
		t.Errorf("held-out accuracy %.3f, want >= 0.97", acc)
	}
	// The four informative columns must carry most of the importance.
	imp := f.Importance[0] + f.Importance[1] + f.Importance[2] + f.Importance[3]
	if imp < 0.5 {
		t.Errorf("importance of the informative columns %.3f, want >= 0.5", imp)
	}
}

func TestForestAND(t *testing.T) {
	// Default MaxFeatures (sqrt D = 6 of 40): AND has a marginal gain.
	r := rand.New(rand.NewPCG(5, 6))
	mk := func(n int) *Samples {
		s := logicSamples(n, 40, r)
		for i := range s.Y {
			s.Y[i] /= 2
		}
		return s
	}
	train, test := mk(1000), mk(500)
	f, err := TrainForest(train, 2, ForestConfig{Trees: 30}, rand.New(rand.NewPCG(1, 1)))
	if err != nil {
		t.Fatal(err)
	}
	if acc := Accuracy(f.PredictAll(test), test.Y); acc < 0.97 {
		t.Errorf("AND held-out accuracy %.3f, want >= 0.97", acc)
	}
}

func TestForestRandomLabels(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	mk := func(n int) *Samples {
		s := logicSamples(n, 100, r)
		for i := range s.Y {
			s.Y[i] = r.IntN(4)
		}
		return s
	}
	train, test := mk(1000), mk(2000)
	f, err := TrainForest(train, 4, ForestConfig{Trees: 30}, rand.New(rand.NewPCG(1, 1)))
	if err != nil {
		t.Fatal(err)
	}
	trainAcc := Accuracy(f.PredictAll(train), train.Y)
	acc := Accuracy(f.PredictAll(test), test.Y)
	t.Logf("random labels: train %.3f, held out %.3f (chance 0.25)", trainAcc, acc)
	if acc < 0.19 || acc > 0.31 {
		t.Errorf("held-out accuracy %.3f on random labels, want about 0.25", acc)
	}
	if trainAcc < 0.9 {
		t.Errorf("training accuracy %.3f: fully grown trees should memorise", trainAcc)
	}
}

func TestForestDeterministic(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 9))
	s := logicSamples(500, 200, r)
	train := func(workers int) *Forest {
		f, err := TrainForest(s, 4, ForestConfig{Trees: 16, Workers: workers}, rand.New(rand.NewPCG(42, 0)))
		if err != nil {
			t.Fatal(err)
		}
		return f
	}
	a, b, c := train(1), train(4), train(16)
	if !reflect.DeepEqual(a, b) || !reflect.DeepEqual(a, c) {
		t.Fatal("same seed, different worker counts: different forests")
	}
	d, err := TrainForest(s, 4, ForestConfig{Trees: 16}, rand.New(rand.NewPCG(43, 0)))
	if err != nil {
		t.Fatal(err)
	}
	if reflect.DeepEqual(a, d) {
		t.Fatal("different seeds gave the same forest")
	}
}

func TestForestLimits(t *testing.T) {
	r := rand.New(rand.NewPCG(10, 10))
	s := logicSamples(400, 50, r)
	f, err := TrainForest(s, 4, ForestConfig{Trees: 5, MaxDepth: 3, MinLeaf: 10}, r)
	if err != nil {
		t.Fatal(err)
	}
	for i, tr := range f.Trees {
		if d := tr.Depth(); d > 3 {
			t.Errorf("tree %d depth %d > MaxDepth 3", i, d)
		}
	}
	p := f.PredictProba(nil, s.Row(0))
	sum := 0.0
	for _, v := range p {
		sum += v
	}
	if sum < 0.999 || sum > 1.001 {
		t.Errorf("probabilities sum to %v", sum)
	}
	if _, err := TrainForest(&Samples{D: 3}, 2, ForestConfig{}, r); err == nil {
		t.Error("no error on empty samples")
	}
	if _, err := TrainForest(&Samples{N: 1, D: 1, X: []int8{1}, Y: []int{5}}, 2, ForestConfig{}, r); err == nil {
		t.Error("no error on a label out of range")
	}
}

func TestConfusion(t *testing.T) {
	m := Confusion([]int{0, 1, 1, 2}, []int{0, 1, 2, 2}, 3)
	want := [][]int{{1, 0, 0}, {0, 1, 0}, {0, 1, 1}}
	if !reflect.DeepEqual(m, want) {
		t.Fatalf("confusion %v, want %v", m, want)
	}
	if a := Accuracy([]int{0, 1, 1, 2}, []int{0, 1, 2, 2}); a != 0.75 {
		t.Fatalf("accuracy %v", a)
	}
}
