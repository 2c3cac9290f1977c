package evaluate

import (
	"math/rand/v2"
	"os"
	"testing"

	"t2t/pcapio"
)

// benchSamples is a realistic feature matrix: the first 10 packets of
// every flow of the 14 seed42 classes (about 2400 flows x 9600 features),
// or of the committed captures when those are absent.
func benchSamples(b *testing.B) (*Samples, int) {
	dir := seed42Dir
	if _, err := os.Stat(dir); err != nil {
		dir = capturesDir
	}
	ds, err := pcapio.LoadDataset(dir, pcapio.FlowOptions{MaxPackets: 10})
	if err != nil {
		b.Fatal(err)
	}
	l, err := FromDataset(ds, nil)
	if err != nil {
		b.Fatal(err)
	}
	fz, err := NewFeaturizer(FeatureOptions{Packets: 10})
	if err != nil {
		b.Fatal(err)
	}
	s, err := fz.Samples(l)
	if err != nil {
		b.Fatal(err)
	}
	return s, len(l.Classes)
}

func benchTrain(b *testing.B, cfg ForestConfig) {
	s, classes := benchSamples(b)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := TrainForest(s, classes, cfg, rand.New(rand.NewPCG(1, 2))); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(s.N), "rows")
	b.ReportMetric(float64(s.D), "features")
}

func BenchmarkTrainForest100(b *testing.B) { benchTrain(b, ForestConfig{Trees: 100}) }
func BenchmarkTrainForest100OneWorker(b *testing.B) {
	benchTrain(b, ForestConfig{Trees: 100, Workers: 1})
}
func BenchmarkTrainForest10(b *testing.B) { benchTrain(b, ForestConfig{Trees: 10}) }

func BenchmarkPredict(b *testing.B) {
	s, classes := benchSamples(b)
	f, err := TrainForest(s, classes, ForestConfig{Trees: 100}, rand.New(rand.NewPCG(1, 2)))
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		f.Predict(s.Row(i % s.N))
	}
}
