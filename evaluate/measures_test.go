package evaluate

import (
	"bytes"
	"image/color"
	"image/png"
	"math"
	"math/rand/v2"
	"os"
	"testing"
	"time"

	"t2t"
	"t2t/pcapio"
)

// halves splits each class's flows into two random halves (seeded).
func halves(flows map[string][]*pcapio.Flow, seed uint64) (a, b map[string][]*pcapio.Flow) {
	a, b = map[string][]*pcapio.Flow{}, map[string][]*pcapio.Flow{}
	rng := seedRand(seed)
	for _, c := range sortedKeys(flows) {
		fs := flows[c]
		idx := rng.Perm(len(fs))
		for i, j := range idx {
			if i < len(fs)/2 {
				a[c] = append(a[c], fs[j])
			} else {
				b[c] = append(b[c], fs[j])
			}
		}
	}
	return a, b
}

func TestFolds(t *testing.T) {
	strata := make([]int, 0, 23)
	for i := 0; i < 23; i++ {
		strata = append(strata, i%3) // 8, 8, 7 rows
	}
	f := folds(strata, 5, rand.New(rand.NewPCG(1, 2)))
	size := make([]int, 5)
	per := make([][3]int, 5)
	for i, g := range f {
		size[g]++
		per[g][strata[i]]++
	}
	for g := range size {
		if size[g] < 4 || size[g] > 5 {
			t.Errorf("fold %d has %d rows", g, size[g])
		}
		for s, n := range per[g] {
			if n < 1 || n > 2 {
				t.Errorf("fold %d has %d rows of stratum %d", g, n, s)
			}
		}
	}
}

func TestNearestDistance(t *testing.T) {
	x := []int8{1, 0, -1, 1}
	rows := [][]int8{{0, 1, 1, 0}, {1, 0, 0, 0}, {1, 1, -1, 1}}
	if d := NearestDistance(x, rows); d != 0.25 {
		t.Errorf("distance %v, want 1/4", d)
	}
	if d := NearestDistance(x, append(rows, []int8{1, 0, -1, 1})); d != 0 {
		t.Errorf("copy at %v", d)
	}
	if d := NearestDistance(x, rows[:1]); d != 1 {
		t.Errorf("all cells differ: %v", d)
	}
	if d := NearestDistance(x, nil); d != 1 {
		t.Errorf("no rows: %v", d)
	}
}

// Two random halves of one real set are indistinguishable.
func TestDetectHalves(t *testing.T) {
	a, b := halves(small(t).Flows, 7)
	cfg := MeasureConfig{Forest: ForestConfig{Trees: 30}, Seed: 1}
	start := time.Now()
	d, err := Detect(a, b, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("K=%d, %d features, %v", d.Packets, d.Features, time.Since(start).Round(time.Millisecond))
	for _, c := range d.Classes {
		t.Logf("%-6s %3d flows/side %d folds: accuracy %.3f", c.Class, c.Flows, c.Folds, c.Accuracy)
	}
	t.Logf("all: %d flows/side, accuracy %.3f; mean over classes %.3f", d.All.Flows, d.All.Accuracy, d.MeanAccuracy)
	// http and redis have one flow per half: too few to cross-validate.
	if len(d.Classes) != 5 || len(d.Skipped) != 2 || d.Packets != MeasurePackets || d.Features != 16*(1088-64-64-16-32-32) {
		t.Fatalf("%d classes, K %d, %d features", len(d.Classes), d.Packets, d.Features)
	}
	if d.All.Accuracy < 0.35 || d.All.Accuracy > 0.65 || d.MeanAccuracy < 0.35 || d.MeanAccuracy > 0.65 {
		t.Errorf("halves of one set: accuracy %.3f pooled, %.3f mean, want 0.5 ± 0.15", d.All.Accuracy, d.MeanAccuracy)
	}
	d2, _ := Detect(a, b, cfg)
	if d2.All != d.All || d2.MeanAccuracy != d.MeanAccuracy {
		t.Error("same seed, different detectability")
	}
}

// A set differing in one field, or another service, is told apart.
func TestDetectDifferent(t *testing.T) {
	ds := small(t)
	a, b := halves(ds.Flows, 7)
	// Every TTL of the second half one lower: a single field moved.
	for c, fs := range b {
		b[c] = cloneFlows(fs)
		for _, f := range b[c] {
			for _, p := range f.Packets {
				info, _ := t2t.ParseInfo(p.Link, p.Data)
				p.Data[info.NetOff+8]--
			}
		}
	}
	cfg := MeasureConfig{Forest: ForestConfig{Trees: 30}, Seed: 1}
	d, err := Detect(a, b, cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range d.Classes {
		t.Logf("%-6s TTL-1: %3d flows/side, accuracy %.3f", c.Class, c.Flows, c.Accuracy)
		if c.Flows >= 8 && c.Accuracy < 0.95 { // ssh, 3 a side, is a toss
			t.Errorf("%s with TTL-1: accuracy %.3f, want >= 0.95", c.Class, c.Accuracy)
		}
	}
	if d.All.Accuracy < 0.95 {
		t.Errorf("TTL-1 pooled: %.3f", d.All.Accuracy)
	}
	// dns against ntp under one class name.
	pooled := d.All.Accuracy
	d, err = Detect(map[string][]*pcapio.Flow{"x": ds.Flows["dns"]}, map[string][]*pcapio.Flow{"x": ds.Flows["ntp"]}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("TTL-1 pooled %.3f; dns vs ntp %.3f (%d flows/side)", pooled, d.Classes[0].Accuracy, d.Classes[0].Flows)
	if d.Classes[0].Accuracy < 0.95 {
		t.Errorf("dns vs ntp: accuracy %.3f", d.Classes[0].Accuracy)
	}
	// A class with one flow on a side cannot be cross-validated.
	d, err = Detect(map[string][]*pcapio.Flow{"x": ds.Flows["dns"][:1]}, map[string][]*pcapio.Flow{"x": ds.Flows["ssh"]}, cfg)
	if err != nil || len(d.Classes) != 0 || len(d.Skipped) != 1 {
		t.Errorf("one flow: %+v %v", d, err)
	}
}

func TestDiversitySelf(t *testing.T) {
	ds := small(t)
	dv := Diversify(ds.Flows, ds.Flows, MeasureConfig{Seed: 3})
	if len(dv.Classes) != 7 {
		t.Fatalf("%d classes", len(dv.Classes))
	}
	for _, c := range append(dv.Classes, dv.All) {
		t.Logf("%-6s n %3d: share %.3f", c.Class, c.Flows, c.Real)
		if c.Real != c.Synthetic || c.Novel != 0 || c.Real <= 0 || c.Real > 1 {
			t.Errorf("%s against itself: real %v synthetic %v novel %v", c.Class, c.Real, c.Synthetic, c.Novel)
		}
	}
}

// k distinct shapes among n flows give k/n.
func TestShapeShareKnown(t *testing.T) {
	ds := small(t)
	// Three flows of different classes (different transports or lengths)
	// and a copy of one with only addresses, ports and the IP ID changed:
	// the same shape.
	d, n, s := ds.Flows["dns"][0], ds.Flows["ntp"][0], ds.Flows["ssh"][0]
	moved := cloneFlow(d)
	for _, p := range moved.Packets {
		info, _ := t2t.ParseInfo(p.Link, p.Data)
		ip := p.Data[info.NetOff:]
		ip[4] ^= 0x5a  // IP ID
		ip[15] ^= 0x55 // source address
		ip[21] ^= 0x33 // port
		t2t.FixChecksums(ip)
	}
	set := []*pcapio.Flow{d, n, s, moved, d, n, d, s, d, moved}
	if got := ShapeShare(set, 0); got != 3.0/10 {
		t.Errorf("3 shapes in 10 flows: %v", got)
	}
	// One TCP window changed: a fourth shape.
	w := cloneFlow(s)
	info, _ := t2t.ParseInfo(w.Packets[1].Link, w.Packets[1].Data)
	w.Packets[1].Data[info.TransOff+14] ^= 1
	if got := ShapeShare(append(set, w), 0); got != 4.0/11 {
		t.Errorf("4 shapes in 11 flows: %v", got)
	}
	// ...but not when only the first packet counts.
	if got := ShapeShare(append(set, w), 1); got != 3.0/11 {
		t.Errorf("first packet only: %v", got)
	}
	// Diversify draws n = 10 from each side: a synthetic side repeating
	// one flow has share 1/10, and its one shape is a real one.
	rep := make([]*pcapio.Flow, 12)
	for i := range rep {
		rep[i] = d
	}
	dv := Diversify(map[string][]*pcapio.Flow{"x": set}, map[string][]*pcapio.Flow{"x": rep}, MeasureConfig{})
	c := dv.Classes[0]
	if c.Flows != 10 || c.Real != 0.3 || c.Synthetic != 0.1 || c.Novel != 0 {
		t.Errorf("%+v", c)
	}
}

// Copies of the training flows are at distance 0; held-out real flows
// are not.
func TestMemoriseCopies(t *testing.T) {
	ds := small(t)
	train, held := halves(ds.Flows, 11)
	synth := map[string][]*pcapio.Flow{}
	for c, fs := range train {
		synth[c] = cloneFlows(fs)
	}
	m, err := Memorise(train, ds.Flows, synth, MeasureConfig{})
	if err != nil {
		t.Fatal(err)
	}
	trainN := 0
	for _, c := range m.Classes {
		r := -1.0
		if c.Ratio != nil {
			r = *c.Ratio
		}
		t.Logf("%-6s train %3d held-out %3d synthetic %3d: median %.4f vs %.4f (ratio %.3f), mean %.4f vs %.4f, copies %.2f vs %.2f",
			c.Class, c.Train, c.HeldOut, c.Synthetic, c.SyntheticMedian, c.HeldOutMedian, r, c.SyntheticMean, c.HeldOutMean, c.SyntheticCopies, c.HeldOutCopies)
		if c.SyntheticMedian != 0 || c.SyntheticMean != 0 || c.SyntheticCopies != 1 || c.Ratio != nil && *c.Ratio != 0 {
			t.Errorf("%s copies: median %v, copies %v", c.Class, c.SyntheticMedian, c.SyntheticCopies)
		}
		if c.HeldOut != len(held[c.Class]) || c.Train != len(train[c.Class]) {
			t.Errorf("%s: %d held out, want %d", c.Class, c.HeldOut, len(held[c.Class]))
		}
		trainN += c.Train
	}
	if m.TrainInReal != trainN || m.All.Train != trainN {
		t.Errorf("%d training flows found among the real ones, want %d", m.TrainInReal, trainN)
	}
	// Many real flows repeat each other (ntp, sip): the held-out median
	// of all is 0 and the ratio undefined, but the mean is not.
	if m.All.SyntheticCopies != 1 || m.All.HeldOutCopies == 1 || m.All.HeldOutMean <= 0 || m.All.Ratio != nil {
		t.Errorf("all: %+v", m.All)
	}
	// The held-out half against the training half: a generator as new
	// as fresh real traffic has a ratio near 1.
	m, err = Memorise(train, ds.Flows, held, MeasureConfig{})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range append(m.Classes, m.All) {
		// The same flows in another order: sums differ in the last bit.
		if math.Abs(c.SyntheticMean-c.HeldOutMean) > 1e-12 || c.SyntheticCopies != c.HeldOutCopies || c.Ratio != nil && math.Abs(*c.Ratio-1) > 1e-12 {
			t.Errorf("%s, held-out as synthetic: %+v", c.Class, c)
		}
	}
	if r := m.Classes[1].Ratio; r == nil || math.Abs(*r-1) > 1e-12 { // http
		t.Errorf("http, held-out as synthetic: ratio %v", r)
	}
}

// Real/real figures on the 14-class capture: half against half of each
// class (detectability, diversity), and the half as training set for
// memorisation.
func TestMeasuresSeed42(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	if _, err := os.Stat(seed42Dir); err != nil {
		t.Skip("no ", seed42Dir)
	}
	ds, err := pcapio.LoadDataset(seed42Dir, pcapio.FlowOptions{MaxPackets: 32})
	if err != nil {
		t.Fatal(err)
	}
	a, b := halves(ds.Flows, 42)
	cfg := MeasureConfig{Seed: 42}
	start := time.Now()
	d, err := Detect(a, b, cfg)
	if err != nil {
		t.Fatal(err)
	}
	dv := Diversify(a, b, cfg)
	// Half a as the training set: the held-out flows are half b.
	m, err := Memorise(a, ds.Flows, nil, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%v", time.Since(start).Round(time.Millisecond))
	for i, c := range d.Classes {
		v, mc := dv.Classes[i], m.Classes[i]
		t.Logf("%-10s n %3d: detect %.3f  shapes %.3f / %.3f  held-out to train: median %.4f mean %.4f copies %.2f",
			c.Class, c.Flows, c.Accuracy, v.Real, v.Synthetic, mc.HeldOutMedian, mc.HeldOutMean, mc.HeldOutCopies)
	}
	t.Logf("all: detect %.3f (mean %.3f), shapes %.3f / %.3f, held-out to train: median %.4f mean %.4f copies %.2f",
		d.All.Accuracy, d.MeanAccuracy, dv.All.Real, dv.All.Synthetic, m.All.HeldOutMedian, m.All.HeldOutMean, m.All.HeldOutCopies)
	// Measured (seed 42): pooled 0.517, classes 0.40 (sip, whose flows
	// repeat each other exactly: a twin in the other half has the other
	// label) to 0.60 (icmp); shares within 0.07 of each other.
	if d.All.Accuracy < 0.42 || d.All.Accuracy > 0.58 {
		t.Errorf("half against half: detectability %.3f", d.All.Accuracy)
	}
	for i, c := range d.Classes {
		if c.Accuracy < 0.3 || c.Accuracy > 0.7 {
			t.Errorf("%s half against half: detectability %.3f", c.Class, c.Accuracy)
		}
		if v := dv.Classes[i]; math.Abs(v.Real-v.Synthetic) > 0.12 {
			t.Errorf("%s half against half: shape shares %.3f and %.3f", c.Class, v.Real, v.Synthetic)
		}
	}
}

func TestBinShares(t *testing.T) {
	got := binShares(Histogram{1: 1, 2: 3}, Histogram{2: 1})
	if len(got) != 2 || got[0] != [2]float64{0.25, 0} || got[1] != [2]float64{0.75, 1} {
		t.Errorf("one bin per value: %v", got)
	}
	// 0..99 on one side, 99 on the other: 48 bins of width 100/48.
	p := Histogram{}
	for v := int64(0); v < 100; v++ {
		p.Add(v)
	}
	got = binShares(p, Histogram{99: 5})
	if len(got) != chartBins || got[chartBins-1][1] != 1 || got[0][0] != 3.0/100 {
		t.Errorf("binned: %d bins, first %v, last %v", len(got), got[0], got[chartBins-1])
	}
	total := 0.0
	for _, b := range got {
		total += b[0]
	}
	if math.Abs(total-1) > 1e-12 {
		t.Errorf("real shares sum to %v", total)
	}
	if binShares(Histogram{}, Histogram{}) != nil {
		t.Error("empty")
	}
}

func TestWriteFieldsPNG(t *testing.T) {
	ds := small(t)
	var buf bytes.Buffer
	if err := WriteFieldsPNG(&buf, ds.Flows["ssh"], ds.Flows["dns"]); err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(&buf)
	if err != nil {
		t.Fatal(err)
	}
	// One panel per field; both colours drawn (ssh: TCP fields, dns: UDP).
	if h := img.Bounds().Dy(); h != 10+len(ChartFields)*100 {
		t.Errorf("height %d", h)
	}
	seen := map[color.RGBA]bool{}
	for y := 0; y < img.Bounds().Dy(); y++ {
		for x := 0; x < img.Bounds().Dx(); x++ {
			seen[color.RGBAModel.Convert(img.At(x, y)).(color.RGBA)] = true
		}
	}
	if !seen[barColors[0]] || !seen[barColors[1]] {
		t.Error("a side is missing from the chart")
	}
}

func TestHeldOut(t *testing.T) {
	ds := small(t)
	a, b := halves(ds.Flows, 5)
	held, found := HeldOut(ds.Flows, a)
	n := 0
	for c, fs := range a {
		n += len(fs)
		want := map[*pcapio.Flow]bool{}
		for _, f := range b[c] {
			want[f] = true
		}
		if len(held[c]) != len(b[c]) {
			t.Errorf("%s: %d held out, want %d", c, len(held[c]), len(b[c]))
		}
		for _, f := range held[c] {
			if !want[f] {
				t.Errorf("%s: a training flow held out", c)
			}
		}
	}
	if found != n {
		t.Errorf("%d training flows found, want %d", found, n)
	}
	// Copies of the flows (as when written out again) are found too.
	c := map[string][]*pcapio.Flow{}
	for k, fs := range a {
		c[k] = cloneFlows(fs)
	}
	if _, found := HeldOut(ds.Flows, c); found != n {
		t.Errorf("copies: %d found, want %d", found, n)
	}
}

// With HeldOutOnly the real side of detectability and diversity is the
// real flows not in the training set.
func TestEvaluateHeldOutOnly(t *testing.T) {
	ds := small(t)
	a, _ := halves(ds.Flows, 5)
	train := &pcapio.Dataset{Classes: ds.Classes, Flows: a}
	rep, err := Evaluate(ds, ds, Config{Recognition: RecognitionConfig{Forest: ForestConfig{Trees: 10}},
		NoCompliance: true, Measures: MeasureConfig{Forest: ForestConfig{Trees: 10}}, Train: train, HeldOutOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	held, _ := HeldOut(ds.Flows, a)
	for _, c := range rep.Diversity.Classes {
		if c.Flows != len(held[c.Class]) {
			t.Errorf("%s: %d flows a side, want the %d held out", c.Class, c.Flows, len(held[c.Class]))
		}
	}
	var md bytes.Buffer
	if err := rep.WriteMarkdown(&md); err != nil || !bytes.Contains(md.Bytes(), []byte("held-out real flows only")) {
		t.Errorf("markdown: %v", err)
	}
}

// TestLengths: a set against itself has KS 0 and equal statistics; the
// real flows against the same flows cut to 3 packets have a large KS, a
// median of 3 on the cut side, and fewer TCP flows ending with FIN or RST.
func TestLengths(t *testing.T) {
	ds, err := pcapio.LoadDataset("../testdata/captures", pcapio.FlowOptions{})
	if err != nil {
		t.Fatal(err)
	}
	self := Lengths(ds.Flows, ds.Flows)
	if len(self) != len(ds.Classes)+1 {
		t.Fatalf("%d rows for %d classes", len(self), len(ds.Classes))
	}
	for _, c := range self {
		if c.KS != 0 || c.Real.Median != c.Synthetic.Median || c.Real.Max != c.Synthetic.Max {
			t.Errorf("%s against itself: %+v", c.Class, c)
		}
	}
	cut := map[string][]*pcapio.Flow{}
	for c, fl := range ds.Flows {
		for _, f := range fl {
			g := *f
			g.Packets = g.Packets[:min(3, len(g.Packets))]
			cut[c] = append(cut[c], &g)
		}
	}
	for _, c := range Lengths(ds.Flows, cut) {
		if c.Class != "ssh-200" {
			continue
		}
		if c.KS < 0.5 || c.Synthetic.Median != 3 || c.Synthetic.Max != 3 {
			t.Errorf("ssh cut to 3 packets: %+v", c)
		}
		if c.Real.Ended == nil || c.Synthetic.Ended == nil || *c.Synthetic.Ended >= *c.Real.Ended {
			t.Errorf("ssh cut to 3 packets: TCP endings real %v, cut %v", c.Real.Ended, c.Synthetic.Ended)
		}
		return
	}
	t.Fatal("no ssh-200 row")
}
