package pipeline

import (
	"context"
	"fmt"
	"runtime"
	"testing"

	"t2t/models"
	"t2t/sampler"
)

// BenchmarkGenerate measures flows per second of the embedded model end to
// end (sampling with guidance, repair, the packets merged in time order)
// for the class dns at 20 steps (the default) and at the fast setting,
// with 64 flows per op in batches of 1, 16 and 64 flows, and the heap the
// process holds (HeapSys: it only grows, so each batch size's own peak is
// its first row, at 20 steps, the batches running in increasing size).
//
//	go test -run XXX -bench Generate -benchtime 1x ./pipeline
//	CGO_LDFLAGS=-lopenblas go test -tags openblas -run XXX -bench Generate -benchtime 1x ./pipeline
func BenchmarkGenerate(b *testing.B) {
	f, err := models.Load("")
	if err != nil {
		b.Fatal(err)
	}
	s, err := sampler.New("", f.Model.Noise)
	if err != nil {
		b.Fatal(err)
	}
	const n = 64
	for _, steps := range []int{20, FastSteps} {
		for _, batch := range []int{1, 16, 64} {
			if batch == 1 && steps == 20 && testing.Short() {
				continue
			}
			b.Run(fmt.Sprintf("steps=%d/batch=%d", steps, batch), func(b *testing.B) {
				opt := Options{Profile: f.Profile, Templates: f.Templates,
					SampleOptions: SampleOptions{N: n, Steps: steps, Scheduler: s, Guidance: 2, Seed: 1, Batch: batch}}
				var ms runtime.MemStats
				runtime.GC()
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					if _, err := Generate(context.Background(), f.Model, "dns", opt); err != nil {
						b.Fatal(err)
					}
				}
				b.StopTimer()
				runtime.ReadMemStats(&ms)
				b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "flows/s")
				b.ReportMetric(float64(ms.HeapSys)/(1<<20), "heapMB")
			})
		}
	}
}
