package controlnet

import (
	"math/rand/v2"
	"runtime"
	"testing"

	"gorgonia.org/tensor"

	"t2t/sampler"
	"t2t/unet"
)

// BenchmarkDenoiseStep is one model evaluation for one flow (batch 1,
// with classifier-free guidance: the conditional and unconditional
// predictions in one doubled batch, as generation runs it) plus the
// scheduler step, for the UNet alone and steered by a ControlNet.
func BenchmarkDenoiseStep(b *testing.B) {
	for _, size := range []string{"tiny", "small"} {
		for _, with := range []bool{false, true} {
			name := size + "/unet"
			if with {
				name = size + "/controlnet"
			}
			b.Run(name, func(b *testing.B) {
				c, _ := unet.Preset(size)
				u, _ := unet.New(c, tensor.Float32)
				var p unet.Predictor = u
				var ctl []float32
				if with {
					n, err := New(u, 1)
					if err != nil {
						b.Fatal(err)
					}
					p = n
					ctl = make([]float32, c.Rows*c.Cols)
					for i := range ctl {
						ctl[i] = float32(i%3) - 1
					}
				}
				g := unet.NewGenerator(p)
				defer g.Close()
				f, err := g.DenoiseFuncControl(unet.NullPrompt(c.MaxTokens), ctl)
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
					out, _, err := f(x, t, sampler.Cond|sampler.Uncond)
					if err != nil {
						b.Fatal(err)
					}
					st, err := s.Step(out, x, t, rng)
					if err != nil {
						b.Fatal(err)
					}
					x = st.Prev
				}
				var ms runtime.MemStats
				runtime.ReadMemStats(&ms)
				b.ReportMetric(float64(ms.HeapSys)/(1<<20), "heapMB")
			})
		}
	}
}
