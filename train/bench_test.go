package train

import (
	"math/rand/v2"
	"runtime"
	"testing"

	"gorgonia.org/tensor"

	"t2t"
	"t2t/unet"
)

// micro is a UNet config small enough for gradient-level tests.
func micro() unet.Config {
	c := unet.Tiny()
	c.Rows, c.Channels, c.Attn, c.Heads, c.Groups = 4, []int{4, 8}, []bool{true, true}, 2, 2
	c.TimeDim, c.EmbedDim, c.ContextDim, c.MaxTokens, c.VocabCap = 4, 6, 4, 2, 5
	c.Layout = t2t.LayoutSpec{UDP: true}
	c.Cols = 64
	return c
}

func benchExamples(c unet.Config, n int) []Example {
	rng := rand.New(rand.NewPCG(1, 1))
	var ex []Example
	for i := 0; i < n; i++ {
		x := make([]float32, c.InputSize())
		for j := range x {
			x[j] = float32(rng.IntN(2)*2 - 1)
		}
		ex = append(ex, Example{X: x, Prompts: [][]int{unet.NullPrompt(c.MaxTokens)}})
	}
	return ex
}

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
