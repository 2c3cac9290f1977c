package train

import (
	"runtime"
	"testing"

	"gorgonia.org/tensor"

	"t2t/unet"
)

func peakHeap(b *testing.B) {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	b.ReportMetric(float64(ms.HeapSys)/(1<<20), "heapMB")
}

// BenchmarkTrainStep is one AdamW step (forward, backward, update) at the
// batch of DefaultConfig.
func BenchmarkTrainStep(b *testing.B) {
	for _, name := range []string{"tiny", "small"} {
		b.Run(name, func(b *testing.B) {
			c, _ := unet.Preset(name)
			u, err := unet.New(c, tensor.Float32)
			if err != nil {
				b.Fatal(err)
			}
			tc := DefaultConfig()
			tc.Steps = b.N + 1
			tr, err := NewTrainer(u, tc, benchExamples(c, 16))
			if err != nil {
				b.Fatal(err)
			}
			defer tr.Close()
			tc.Steps = b.N
			b.ResetTimer()
			tr.Config.Steps = b.N
			if err := tr.Run(b.Context(), nil); err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(u.Params.Count()), "params")
			peakHeap(b)
		})
	}
}
