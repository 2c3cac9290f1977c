package sampler

import (
	"testing"
)

// BenchmarkStep measures one scheduler step on a [3,64,1088] sample (one
// 64-packet flow image), to compare with a model evaluation.
func BenchmarkStep(b *testing.B) {
	const n = 3 * 64 * 1088
	rng := newRand(1)
	x, out := gaussian(rng, n), gaussian(rng, n)
	for _, name := range Names() {
		b.Run(name, func(b *testing.B) {
			s, err := New(name, DefaultConfig())
			if err != nil {
				b.Fatal(err)
			}
			if err := s.SetTimesteps(20); err != nil {
				b.Fatal(err)
			}
			ts := s.Timesteps()
			b.SetBytes(4 * n)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; b.Loop(); i++ {
				if _, err := s.Step(out, x, ts[i%len(ts)], rng); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkAddNoise(b *testing.B) {
	const n = 3 * 64 * 1088
	rng := newRand(1)
	x0, noise := gaussian(rng, n), gaussian(rng, n)
	s, _ := NewSchedule(DefaultConfig())
	b.SetBytes(4 * n)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.AddNoise(x0, noise, 500); err != nil {
			b.Fatal(err)
		}
	}
}
