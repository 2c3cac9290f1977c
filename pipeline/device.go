package pipeline

import (
	"fmt"

	"t2t/internal/cuda"
	"t2t/internal/prog"
	"t2t/sampler"
	"t2t/unet"
)

// Devices a model can be sampled on (SampleOptions.Device).
const (
	CPU  = "cpu"
	CUDA = "cuda"
)

// CheckDevice says what is wrong with a device name ("" is CPU).
func CheckDevice(device string) error {
	switch device {
	case "", CPU, CUDA:
		return nil
	}
	return fmt.Errorf("device %q: want %s or %s", device, CPU, CUDA)
}

// denoiser evaluates a predictor for the sampler, compiled once per batch
// size: a unet.Generator (CPU) or a deviceGen.
type denoiser interface {
	DenoiseFuncControl(tokens []int, control []float32) (sampler.DenoiseFunc, error)
	Close()
}

// newDenoiser returns the denoiser of device ("" is CPU).
func newDenoiser(p unet.Predictor, device string) (denoiser, error) {
	if err := CheckDevice(device); err != nil {
		return nil, fmt.Errorf("pipeline: %w", err)
	}
	switch device {
	case "", CPU:
		return unet.NewGenerator(p), nil
	case CUDA:
		pp, ok := p.(unet.Programmable)
		if !ok {
			return nil, fmt.Errorf("pipeline: a %T cannot run on cuda (it builds no program)", p)
		}
		d, err := cuda.Open(0)
		if err != nil {
			return nil, fmt.Errorf("pipeline: device cuda: %w", err)
		}
		return &deviceGen{pred: pp, dev: d, progs: map[int]*deviceProgram{}}, nil
	}
	panic("unreachable: CheckDevice passed " + device)
}

// deviceGen runs a predictor's program on a GPU, one program per batch
// size; the sampler's steps stay on the host, with the CPU path's random
// draws, so that both paths give the same flows up to float rounding.
type deviceGen struct {
	pred  unet.Programmable
	dev   *cuda.Device
	progs map[int]*deviceProgram
}

type deviceProgram struct {
	p  *prog.Program
	lp *cuda.Program
}

func (g *deviceGen) program(b int) (*deviceProgram, error) {
	if dp, ok := g.progs[b]; ok {
		return dp, nil
	}
	p, err := g.pred.Program(b)
	if err != nil {
		return nil, err
	}
	lp, err := g.dev.Load(p)
	if err != nil {
		return nil, fmt.Errorf("pipeline: loading a batch of %d on %s: %w", b, g.dev.Name(), err)
	}
	dp := &deviceProgram{p, lp}
	g.progs[b] = dp
	return dp, nil
}

func (g *deviceGen) DenoiseFuncControl(tokens []int, control []float32) (sampler.DenoiseFunc, error) {
	c := g.pred.Base().Config
	return unet.DenoiseFuncFor(g.pred, tokens, control, func(x []float32, ts, toks []int, ctl []float32) ([]float32, error) {
		dp, err := g.program(len(ts))
		if err != nil {
			return nil, err
		}
		in, err := unet.ProgramInputValues(dp.p, c, x, ts, toks, ctl)
		if err != nil {
			return nil, err
		}
		return dp.lp.Run(in, nil)
	})
}

func (g *deviceGen) Close() {
	for _, dp := range g.progs {
		dp.lp.Close()
	}
	g.dev.Close()
}
