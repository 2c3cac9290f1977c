package evaluate

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"
)

// Samples is a dense, row-major matrix of ternary features (nPrint bits:
// 1, 0 or -1) with a class label per row.
type Samples struct {
	X []int8 // N rows of D values; any value < 0 counts as -1, > 0 as 1
	N int    // rows
	D int    // features per row
	Y []int  // label of each row, in [0, number of classes)
}

// Row returns row i of the feature matrix.
func (s *Samples) Row(i int) []int8 { return s.X[i*s.D : (i+1)*s.D] }

// Validate checks the shapes and that every label is in [0, classes).
func (s *Samples) Validate(classes int) error {
	if s.N < 0 || s.D <= 0 || len(s.X) != s.N*s.D || len(s.Y) != s.N {
		return fmt.Errorf("evaluate: samples: %d rows x %d features, but %d values and %d labels", s.N, s.D, len(s.X), len(s.Y))
	}
	for i, y := range s.Y {
		if y < 0 || y >= classes {
			return fmt.Errorf("evaluate: samples: label %d of row %d out of range [0,%d)", y, i, classes)
		}
	}
	return nil
}

// ForestConfig configures a random forest. The zero value is usable: 100
// trees, unlimited depth, one sample per leaf, sqrt(D) features per split,
// bootstrap on, one worker per CPU.
type ForestConfig struct {
	Trees       int  `json:"trees"`        // number of trees (0: 100)
	MaxDepth    int  `json:"max_depth"`    // deepest level of a tree, root at 0 (0: unlimited)
	MinLeaf     int  `json:"min_leaf"`     // fewest samples on each side of a split (0: 1)
	MaxFeatures int  `json:"max_features"` // non-constant features tried per split (0: sqrt(D))
	NoBootstrap bool `json:"no_bootstrap"` // train every tree on all rows instead of a bootstrap sample
	Workers     int  `json:"workers"`      // trees built at once (0: GOMAXPROCS); never changes the result
}

func (c ForestConfig) withDefaults(d int) ForestConfig {
	if c.Trees <= 0 {
		c.Trees = 100
	}
	if c.MinLeaf <= 0 {
		c.MinLeaf = 1
	}
	if c.MaxFeatures <= 0 {
		c.MaxFeatures = int(math.Sqrt(float64(d)))
	}
	if c.MaxFeatures < 1 {
		c.MaxFeatures = 1
	}
	if c.MaxFeatures > d {
		c.MaxFeatures = d
	}
	if c.Workers <= 0 {
		c.Workers = runtime.GOMAXPROCS(0)
	}
	return c
}

// node of a tree. An inner node sends a row left when its value of
// Feature is <= Threshold (-1 or 0: the split points -0.5 and 0.5 of
// ternary data); a leaf (Feature < 0) holds class probabilities at
// Prob[0:classes].
type node struct {
	feature     int32
	threshold   int8
	left, right int32
	prob        int32 // offset of the leaf's class probabilities in tree.probs
}

// Tree is one CART decision tree of a Forest.
type Tree struct {
	nodes []node
	probs []float32
}

// Nodes returns the number of nodes of the tree.
func (t *Tree) Nodes() int { return len(t.nodes) }

// Depth returns the depth of the tree (a lone leaf has depth 0).
func (t *Tree) Depth() int { return t.depth(0) }

func (t *Tree) depth(i int32) int {
	n := &t.nodes[i]
	if n.feature < 0 {
		return 0
	}
	return 1 + max(t.depth(n.left), t.depth(n.right))
}

// leaf returns the class probabilities of the leaf row x falls into.
func (t *Tree) leaf(x []int8, classes int) []float32 {
	i := int32(0)
	for {
		n := &t.nodes[i]
		if n.feature < 0 {
			return t.probs[n.prob : int(n.prob)+classes]
		}
		if x[n.feature] <= n.threshold {
			i = n.left
		} else {
			i = n.right
		}
	}
}

// Forest is a random forest classifier over ternary features.
type Forest struct {
	Classes  int
	Features int
	Trees    []*Tree
	// Importance is each feature's total Gini decrease (weighted by the
	// samples reaching the node), summed over trees and normalised to sum 1.
	Importance []float64
}

// ErrNoSamples is returned when training on an empty sample set.
var ErrNoSamples = errors.New("evaluate: no training samples")

// TrainForest grows a random forest on s, whose labels lie in
// [0, classes). Every tree draws its randomness from its own generator,
// seeded in tree order from rng before any tree is built, so the same rng
// state gives the same forest whatever the number of workers.
func TrainForest(s *Samples, classes int, cfg ForestConfig, rng *rand.Rand) (*Forest, error) {
	if err := s.Validate(classes); err != nil {
		return nil, err
	}
	if s.N == 0 {
		return nil, ErrNoSamples
	}
	cfg = cfg.withDefaults(s.D)
	// Column-major copy with values folded to -1/0/1: split search reads
	// one feature over many rows.
	xt := make([]int8, s.N*s.D)
	for i := 0; i < s.N; i++ {
		row := s.X[i*s.D : (i+1)*s.D]
		for j, v := range row {
			xt[j*s.N+i] = sign8(v)
		}
	}
	// Features constant over the whole training set can never split.
	var live []int32
	for j := 0; j < s.D; j++ {
		col := xt[j*s.N : (j+1)*s.N]
		for _, v := range col[1:] {
			if v != col[0] {
				live = append(live, int32(j))
				break
			}
		}
	}
	seeds := make([][2]uint64, cfg.Trees)
	for i := range seeds {
		seeds[i] = [2]uint64{rng.Uint64(), rng.Uint64()}
	}
	f := &Forest{Classes: classes, Features: s.D, Trees: make([]*Tree, cfg.Trees)}
	imps := make([][]float64, cfg.Trees)
	var next atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < min(cfg.Workers, cfg.Trees); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			b := newBuilder(xt, s, classes, cfg)
			for {
				t := int(next.Add(1) - 1)
				if t >= cfg.Trees {
					return
				}
				r := rand.New(rand.NewPCG(seeds[t][0], seeds[t][1]))
				f.Trees[t], imps[t] = b.build(live, r)
			}
		}()
	}
	wg.Wait()
	f.Importance = make([]float64, s.D)
	total := 0.0
	for _, imp := range imps { // tree order: a deterministic sum
		for j, v := range imp {
			f.Importance[j] += v
			total += v
		}
	}
	if total > 0 {
		for j := range f.Importance {
			f.Importance[j] /= total
		}
	}
	return f, nil
}

func sign8(v int8) int8 {
	switch {
	case v < 0:
		return -1
	case v > 0:
		return 1
	}
	return 0
}

// builder holds one worker's scratch space.
type builder struct {
	xt      []int8 // column-major features
	n       int
	y       []int
	classes int
	cfg     ForestConfig

	idx    []int32   // rows of the current tree (bootstrap sample), partitioned by node
	feats  []int32   // candidate features, permuted in place
	counts []int     // [3][classes] counts of value (-1,0,1) x class
	tot    []int     // class counts of a node
	imp    []float64 // importance of the current tree
	tree   *Tree
}

func newBuilder(xt []int8, s *Samples, classes int, cfg ForestConfig) *builder {
	return &builder{xt: xt, n: s.N, y: s.Y, classes: classes, cfg: cfg,
		idx: make([]int32, s.N), counts: make([]int, 3*classes), tot: make([]int, classes)}
}

func (b *builder) build(live []int32, r *rand.Rand) (*Tree, []float64) {
	for i := range b.idx {
		if b.cfg.NoBootstrap {
			b.idx[i] = int32(i)
		} else {
			b.idx[i] = int32(r.IntN(b.n))
		}
	}
	b.feats = append(b.feats[:0], live...)
	b.imp = make([]float64, len(b.xt)/b.n)
	b.tree = &Tree{}
	b.grow(b.idx, b.feats, 0, r)
	return b.tree, b.imp
}

// grow builds the subtree of rows idx and returns its node index. feats
// holds the features not known to be constant on idx.
func (b *builder) grow(idx []int32, feats []int32, depth int, r *rand.Rand) int32 {
	C := b.classes
	tot := b.tot
	clear(tot)
	for _, i := range idx {
		tot[b.y[i]]++
	}
	n := len(idx)
	self := int32(len(b.tree.nodes))
	b.tree.nodes = append(b.tree.nodes, node{feature: -1})
	pure := false
	for _, c := range tot {
		if c == n {
			pure = true
		}
	}
	if pure || n < 2*b.cfg.MinLeaf || (b.cfg.MaxDepth > 0 && depth >= b.cfg.MaxDepth) {
		b.makeLeaf(self, tot, n)
		return self
	}
	// Parent score: sum of squared class counts / n (Gini = 1 - that/n).
	parent := 0.0
	for _, c := range tot {
		parent += float64(c) * float64(c)
	}
	parent /= float64(n)

	bestScore, bestFeat, bestThr := math.Inf(-1), int32(-1), int8(0)
	end := len(feats) // feats[end:] are constant on idx
	tried := 0
	for i := 0; i < end && tried < b.cfg.MaxFeatures; {
		j := i + r.IntN(end-i)
		feats[i], feats[j] = feats[j], feats[i]
		f := feats[i]
		col := b.xt[int(f)*b.n : int(f+1)*b.n]
		cnt := b.counts
		clear(cnt)
		for _, s := range idx {
			cnt[int(col[s]+1)*C+b.y[s]]++
		}
		var nv [3]int
		for v := 0; v < 3; v++ {
			for c := 0; c < C; c++ {
				nv[v] += cnt[v*C+c]
			}
		}
		if nv[0] == n || nv[1] == n || nv[2] == n {
			end--
			feats[i], feats[end] = feats[end], feats[i]
			continue
		}
		tried++
		i++
		// Threshold -1: {-1} | {0,1}; threshold 0: {-1,0} | {1}.
		for t := int8(-1); t <= 0; t++ {
			nl := nv[0]
			if t == 0 {
				nl += nv[1]
			}
			nr := n - nl
			if nl < b.cfg.MinLeaf || nr < b.cfg.MinLeaf {
				continue
			}
			sl, sr := 0.0, 0.0
			for c := 0; c < C; c++ {
				l := cnt[c]
				if t == 0 {
					l += cnt[C+c]
				}
				rr := tot[c] - l
				sl += float64(l) * float64(l)
				sr += float64(rr) * float64(rr)
			}
			score := sl/float64(nl) + sr/float64(nr)
			if score > bestScore {
				bestScore, bestFeat, bestThr = score, f, t
			}
		}
	}
	if bestFeat < 0 {
		b.makeLeaf(self, tot, n)
		return self
	}
	// Weighted impurity decrease: n*Gini(parent) - nl*Gini(l) - nr*Gini(r)
	// = score - parent. A split without gain is taken too (as CART in
	// scikit-learn does): XOR-like targets need one.
	b.imp[bestFeat] += max(bestScore-parent, 0)
	col := b.xt[int(bestFeat)*b.n : int(bestFeat+1)*b.n]
	k := 0
	for i, s := range idx {
		if col[s] <= bestThr {
			idx[i], idx[k] = idx[k], idx[i]
			k++
		}
	}
	sub := feats[:end]
	l := b.grow(idx[:k], sub, depth+1, r)
	rt := b.grow(idx[k:], sub, depth+1, r)
	b.tree.nodes[self] = node{feature: bestFeat, threshold: bestThr, left: l, right: rt}
	return self
}

func (b *builder) makeLeaf(self int32, tot []int, n int) {
	off := int32(len(b.tree.probs))
	for _, c := range tot {
		b.tree.probs = append(b.tree.probs, float32(c)/float32(n))
	}
	b.tree.nodes[self] = node{feature: -1, prob: off}
}

// PredictProba writes into dst (len Classes, allocated when nil) the mean
// over trees of the class probabilities of the leaves x reaches.
func (f *Forest) PredictProba(dst []float64, x []int8) []float64 {
	if len(x) != f.Features {
		panic(fmt.Sprintf("evaluate: PredictProba: row of %d features for a forest of %d", len(x), f.Features))
	}
	if dst == nil {
		dst = make([]float64, f.Classes)
	}
	clear(dst)
	for _, t := range f.Trees {
		for c, p := range t.leaf(x, f.Classes) {
			dst[c] += float64(p)
		}
	}
	for c := range dst {
		dst[c] /= float64(len(f.Trees))
	}
	return dst
}

// Predict returns the most probable class of x (the lowest on ties).
func (f *Forest) Predict(x []int8) int {
	var buf [64]float64
	var p []float64
	if f.Classes <= len(buf) {
		p = f.PredictProba(buf[:f.Classes], x)
	} else {
		p = f.PredictProba(nil, x)
	}
	best := 0
	for c, v := range p {
		if v > p[best] {
			best = c
		}
	}
	return best
}

// PredictAll predicts every row of s.
func (f *Forest) PredictAll(s *Samples) []int {
	out := make([]int, s.N)
	for i := range out {
		out[i] = f.Predict(s.Row(i))
	}
	return out
}

// Accuracy is the share of predictions equal to the labels (0 when empty).
func Accuracy(pred, labels []int) float64 {
	if len(pred) != len(labels) {
		panic("evaluate: Accuracy: lengths differ")
	}
	if len(pred) == 0 {
		return 0
	}
	ok := 0
	for i := range pred {
		if pred[i] == labels[i] {
			ok++
		}
	}
	return float64(ok) / float64(len(pred))
}

// Confusion returns the confusion matrix m[true][predicted] of counts.
func Confusion(pred, labels []int, classes int) [][]int {
	m := make([][]int, classes)
	for i := range m {
		m[i] = make([]int, classes)
	}
	for i := range pred {
		m[labels[i]][pred[i]]++
	}
	return m
}
