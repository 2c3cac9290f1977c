package unet

import (
	"math/rand/v2"
	"runtime"
	"testing"

	"gorgonia.org/tensor"

	"t2t/sampler"
)

func benchExamples(c Config, n int) []Example {
	rng := rand.New(rand.NewPCG(1, 1))
	var ex []Example
	for i := 0; i < n; i++ {
		x := make([]float32, c.InputSize())
		for j := range x {
			x[j] = float32(rng.IntN(2)*2 - 1)
		}
		ex = append(ex, Example{X: x, Prompts: [][]int{NullPrompt(c.MaxTokens)}})
	}
	return ex
}

func peakHeap(b *testing.B) {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	b.ReportMetric(float64(ms.HeapSys)/(1<<20), "heapMB")
}

// BenchmarkTrainStep is one AdamW step (forward, backward, update) at the
// batch of DefaultTrainConfig.
func BenchmarkTrainStep(b *testing.B) {
	for _, name := range []string{"tiny", "small"} {
		b.Run(name, func(b *testing.B) {
			c, _ := Preset(name)
			u, err := New(c, tensor.Float32)
			if err != nil {
				b.Fatal(err)
			}
			tc := DefaultTrainConfig()
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
