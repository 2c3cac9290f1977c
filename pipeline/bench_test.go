package pipeline

import (
	"context"
	"fmt"
	"runtime"
	"testing"

	"t2t/controlnet"
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

// BenchmarkLongFlows measures the cost of a flow by its length: 4
// voip_audio flows continued window after window to 32, 256 and 1,024
// packets (MaxPackets), at the fast setting, sampled and repaired; it
// reports seconds per generated packet, which should not grow with the
// length, and the heap.
//
//	OPENBLAS_NUM_THREADS=1 CGO_LDFLAGS=-lopenblas go test -tags openblas -run XXX -bench LongFlows -benchtime 1x ./pipeline
func BenchmarkLongFlows(b *testing.B) {
	f, err := models.Load("")
	if err != nil {
		b.Fatal(err)
	}
	s, err := sampler.New("", f.Model.Noise)
	if err != nil {
		b.Fatal(err)
	}
	const class = "voip_audio"
	ct := f.Templates.Classes[class]
	longest := 0
	for i, fl := range ct.Flows {
		if len(fl.Rows) > len(ct.Flows[longest].Rows) {
			longest = i
		}
	}
	if len(ct.Flows[longest].Rows) < 1024 {
		b.Skipf("the longest %s template has %d packets", class, len(ct.Flows[longest].Rows))
	}
	one := *f.Templates
	one.Classes = map[string]*controlnet.ClassTemplates{class: {Masks: ct.Masks, Flows: []controlnet.FlowTemplate{ct.Flows[longest]}}}
	for _, n := range []int{32, 256, 1024} {
		b.Run(fmt.Sprintf("packets=%d", n), func(b *testing.B) {
			opt := Options{Profile: f.Profile, Templates: &one, MaxPackets: n, Transport: "none",
				SampleOptions: SampleOptions{N: 4, Steps: FastSteps, Scheduler: s, Guidance: 2, Seed: 1, Batch: 4}}
			var ms runtime.MemStats
			packets := 0
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				o, err := Generate(context.Background(), f.Model, class, opt)
				if err != nil {
					b.Fatal(err)
				}
				packets += len(o.Packets)
			}
			b.StopTimer()
			runtime.ReadMemStats(&ms)
			b.ReportMetric(b.Elapsed().Seconds()/float64(packets), "s/packet")
			b.ReportMetric(float64(packets)/float64(b.N), "packets/op")
			b.ReportMetric(float64(ms.HeapSys)/(1<<20), "heapMB")
		})
	}
}
