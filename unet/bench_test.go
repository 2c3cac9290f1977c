package unet

import (
	"math/rand/v2"
	"runtime"
	"testing"

	"gorgonia.org/tensor"

	"t2t/sampler"
)

func peakHeap(b *testing.B) {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	b.ReportMetric(float64(ms.HeapSys)/(1<<20), "heapMB")
}

// BenchmarkDenoiseStep is one model evaluation for one flow (batch 1, no
// guidance) plus the scheduler step.
func BenchmarkDenoiseStep(b *testing.B) {
	for _, name := range []string{"tiny", "small"} {
		b.Run(name, func(b *testing.B) {
			c, _ := Preset(name)
			u, _ := New(c, tensor.Float32)
			g := NewGenerator(u)
			defer g.Close()
			f, err := g.DenoiseFunc(NullPrompt(c.MaxTokens))
			if err != nil {
				b.Fatal(err)
			}
			s, _ := sampler.New("ddim", sampler.DefaultConfig())
			s.SetTimesteps(b.N)
			x := make([]float32, c.InputSize())
			rng := rand.New(rand.NewPCG(1, 2))
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				t := s.Timesteps()[i]
				out, _, err := f(x, t, sampler.Cond)
				if err != nil {
					b.Fatal(err)
				}
				st, err := s.Step(out, x, t, rng)
				if err != nil {
					b.Fatal(err)
				}
				x = st.Prev
			}
			peakHeap(b)
		})
	}
}
