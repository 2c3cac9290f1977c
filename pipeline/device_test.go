package pipeline

import (
	"context"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"t2t/internal/cuda"
	"t2t/models"
	"t2t/sampler"
	"t2t/unet"
)

// deviceBatch is the input of one denoising step of the embedded model
// for n flows of class: their template starts with a share of the cells
// drawn as the fast setting's second step sees them, the timestep of that
// step and the prompt's tokens.
func deviceBatch(t testing.TB, f *models.Folder, class string, n int) (x []float32, ts, toks []int) {
	t.Helper()
	c := f.Model.UNet.Config
	ctls, err := f.Templates.DrawTrimmed(class, "", n, newRand(5))
	if err != nil {
		t.Fatal(err)
	}
	rng := newRand(6)
	for _, ctl := range ctls {
		s, err := StructureStart(Window(ctl, 0, c.Rows), c.Rows, c.Cols)
		if err != nil {
			t.Fatal(err)
		}
		sampler.MaskInput(s, c.Cols)
		// draw half the masked cells, as a step of the sampler would
		for r := 0; r < c.Rows; r++ {
			row := s[r*3*c.Cols : (r+1)*3*c.Cols]
			for j := 0; j < c.Cols; j++ {
				if row[j] == 0 && row[c.Cols+j] == 0 && row[2*c.Cols+j] == 0 && rng.IntN(2) == 0 {
					k := rng.IntN(2)
					row[j], row[c.Cols+j], row[2*c.Cols+j] = -1, -1, -1
					row[k*c.Cols+j] = 1
				}
			}
		}
		x = append(x, s...)
		ts = append(ts, 500)
	}
	one, err := f.Model.Vocab.Tokenize(class, c.MaxTokens, false)
	if err != nil {
		t.Fatal(err)
	}
	for range n {
		toks = append(toks, one...)
	}
	return x, ts, toks
}

// TestProgramEmbedded checks the device path's description of the
// embedded model, its program, on the CPU reference against the gorgonia
// graph the CPU path runs: the predictions agree to float rounding and
// pick the same plane in every cell.
func TestProgramEmbedded(t *testing.T) {
	f, err := models.Load("")
	if err != nil {
		t.Fatal(err)
	}
	const n = 2
	x, ts, toks := deviceBatch(t, f, "ssh", n)
	u := f.Model.UNet
	net, err := unet.Compile(u, n, false)
	if err != nil {
		t.Fatal(err)
	}
	defer net.Close()
	if err := net.SetInputs(x, ts, toks); err != nil {
		t.Fatal(err)
	}
	if err := net.Run(); err != nil {
		t.Fatal(err)
	}
	want := net.Output(nil)
	p, err := u.Program(n)
	if err != nil {
		t.Fatal(err)
	}
	bufs, err := unet.ProgramInputValues(p, u.Config, x, ts, toks, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Run(bufs); err != nil {
		t.Fatal(err)
	}
	diff, same := compareOutputs(bufs[p.Out], want, u.Config.Cols)
	t.Logf("program vs graph: largest difference %.3g, same plane in %.6f of the cells", diff, same)
	if diff > 1e-3 || same < 0.9999 {
		t.Fatalf("program and graph differ by %.3g; same plane in %.6f of the cells", diff, same)
	}
}

// compareOutputs gives the largest difference between two predictions
// and the share of cells (three planes of cols values per row) whose
// largest plane is the same.
func compareOutputs(a, b []float32, cols int) (diff, same float64) {
	argmax := func(v []float32, at int) int {
		k := 0
		for q := 1; q < 3; q++ {
			if v[at+q*cols] > v[at+k*cols] {
				k = q
			}
		}
		return k
	}
	cells, agree := 0, 0
	for r := 0; r+3*cols <= len(a); r += 3 * cols {
		for j := 0; j < cols; j++ {
			cells++
			if argmax(a, r+j) == argmax(b, r+j) {
				agree++
			}
		}
	}
	for i := range a {
		diff = math.Max(diff, math.Abs(float64(a[i]-b[i])))
	}
	return diff, float64(agree) / float64(cells)
}

func TestDeviceChoice(t *testing.T) {
	f, err := models.Load("")
	if err != nil {
		t.Fatal(err)
	}
	opt := Options{Profile: f.Profile, Templates: f.Templates, SampleOptions: SampleOptions{N: 1, Steps: 1, Seed: 1, Device: "tpu"}}
	if _, err := Generate(context.Background(), f.Model, "dns", opt); err == nil || !strings.Contains(err.Error(), `device "tpu"`) {
		t.Fatalf("device tpu: %v", err)
	}
	if cuda.Built {
		t.Skip("built with the device code: the parity test covers cuda")
	}
	opt.Device = CUDA
	if _, err := Generate(context.Background(), f.Model, "dns", opt); err == nil || !strings.Contains(err.Error(), "built without cuda") {
		t.Fatalf("device cuda in a build without it: %v", err)
	}
}

func newRand(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, 0x646576)) }
