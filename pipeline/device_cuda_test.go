//go:build t2tcuda

package pipeline

import (
	"context"
	"flag"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"t2t/internal/cuda"
	"t2t/models"
	"t2t/sampler"
	"t2t/unet"
)

// These run on a GPU machine (internal/cuda/device-check.sh builds the
// test binary here and runs it there): gorgonia.org/cu ends the process
// at start where no driver answers.

var benchBatches = flag.String("device.batches", "1,256,4096", "batch sizes of BenchmarkDevice")

// TestDeviceParity: the embedded model on the GPU gives the CPU's
// predictions up to float rounding, and Generate the same flows.
func TestDeviceParity(t *testing.T) {
	f, err := models.Load("")
	if err != nil {
		t.Fatal(err)
	}
	const n = 4
	x, ts, toks := deviceBatch(t, f, "ssh", n)
	cpu := unet.NewGenerator(f.Model.UNet)
	defer cpu.Close()
	gpu, err := newDenoiser(f.Model.UNet, CUDA)
	if err != nil {
		t.Fatal(err)
	}
	defer gpu.Close()
	t.Logf("device: %s", gpu.(*deviceGen).dev.Name())
	fc, err := cpu.DenoiseFunc(toks)
	if err != nil {
		t.Fatal(err)
	}
	fg, err := gpu.DenoiseFuncControl(toks, nil)
	if err != nil {
		t.Fatal(err)
	}
	wc, uc, err := fc(x, ts[0], sampler.Cond|sampler.Uncond)
	if err != nil {
		t.Fatal(err)
	}
	wg, ug, err := fg(x, ts[0], sampler.Cond|sampler.Uncond)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []struct {
		name     string
		cpu, gpu []float32
	}{{"conditional", wc, wg}, {"unconditional", uc, ug}} {
		diff, same := compareOutputs(p.gpu, p.cpu, f.Model.UNet.Config.Cols)
		t.Logf("%s prediction: largest difference %.3g, same plane in %.6f of the cells", p.name, diff, same)
		if diff > 1e-3 || same < 0.9999 {
			t.Errorf("%s prediction: device and CPU differ by %.3g; same plane in %.6f", p.name, diff, same)
		}
	}
	for _, class := range []string{"dns", "ssh", "voip_audio"} {
		opt := Options{Profile: f.Profile, Templates: f.Templates,
			SampleOptions: SampleOptions{N: 8, Steps: FastSteps, Guidance: 2, Seed: 3, Batch: 8}}
		scpu, err := SampleFlows(context.Background(), f.Model, class, opt)
		if err != nil {
			t.Fatal(err)
		}
		opt.Device = CUDA
		sgpu, err := SampleFlows(context.Background(), f.Model, class, opt)
		if err != nil {
			t.Fatal(err)
		}
		bits, same := 0, 0
		for i, m := range scpu.Matrices {
			g := sgpu.Matrices[i]
			for j, v := range m.Bits {
				bits++
				if j < len(g.Bits) && g.Bits[j] == v {
					same++
				}
			}
		}
		share := float64(same) / float64(bits)
		t.Logf("%s: %d flows, %d cells, identical after snapping: %.6f", class, len(scpu.Matrices), bits, share)
		if share < 0.99 {
			t.Errorf("%s: only %.4f of the cells agree", class, share)
		}
	}
}

// BenchmarkDevice measures flows per second of the embedded model sampled
// on the GPU (the sampler's steps on the host) for dns at 20 steps and at
// the fast setting, batches of -device.batches, and logs where a forward
// pass of each batch spends its time.
//
//	./pipeline.test -test.run XXX -test.bench Device -test.benchtime 1x
func BenchmarkDevice(b *testing.B) {
	f, err := models.Load("")
	if err != nil {
		b.Fatal(err)
	}
	s, err := sampler.New("", f.Model.Noise)
	if err != nil {
		b.Fatal(err)
	}
	gen, err := newDenoiser(f.Model.UNet, CUDA)
	if err != nil {
		b.Fatal(err)
	}
	defer gen.Close()
	var batches []int
	for _, v := range strings.Split(*benchBatches, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil {
			b.Fatal(err)
		}
		batches = append(batches, n)
	}
	for _, batch := range batches {
		dp, err := gen.(*deviceGen).program(2 * batch) // guidance doubles the batch
		if err != nil {
			b.Fatal(err)
		}
		x, ts, toks := deviceBatch(b, f, "dns", 2*batch)
		in, err := unet.ProgramInputValues(dp.p, f.Model.UNet.Config, x, ts, toks, nil)
		if err != nil {
			b.Fatal(err)
		}
		prof, err := dp.lp.Profile(in)
		if err != nil {
			b.Fatal(err)
		}
		var line []string
		total := 0.0
		for _, k := range cuda.Kinds(prof) {
			total += prof[k]
			line = append(line, fmt.Sprintf("%v %.2f ms", k, 1e3*prof[k]))
		}
		t0 := time.Now()
		if _, err := dp.lp.Run(in, nil); err != nil {
			b.Fatal(err)
		}
		b.Logf("batch %d (x2 for guidance): forward %.2f ms with copies, kernels %.2f ms: %s", batch, 1e3*time.Since(t0).Seconds(), 1e3*total, strings.Join(line, ", "))
		for _, steps := range []int{20, FastSteps} {
			b.Run(fmt.Sprintf("steps=%d/batch=%d", steps, batch), func(b *testing.B) {
				opt := Options{Profile: f.Profile, Templates: f.Templates,
					SampleOptions: SampleOptions{N: batch, Steps: steps, Scheduler: s, Guidance: 2, Seed: 1, Batch: batch, gen: gen}}
				var sampling time.Duration
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					out, err := Generate(context.Background(), f.Model, "dns", opt)
					if err != nil {
						b.Fatal(err)
					}
					sampling += out.Sampling
				}
				b.ReportMetric(float64(batch*b.N)/b.Elapsed().Seconds(), "flows/s")
				b.ReportMetric(float64(batch*b.N)/sampling.Seconds(), "sampled-flows/s")
			})
		}
	}
}
