package unet

import (
	"errors"
	"fmt"

	"t2t/sampler"
)

// Generator runs a Predictor for the sampler, compiling one graph per
// batch size.
type Generator struct {
	Pred Predictor
	nets map[int]*Net
}

// NewGenerator returns a generator over p.
func NewGenerator(p Predictor) *Generator { return &Generator{Pred: p, nets: map[int]*Net{}} }

// Close releases the compiled graphs.
func (g *Generator) Close() {
	for _, n := range g.nets {
		n.Close()
	}
}

func (g *Generator) net(b int) (*Net, error) {
	if n, ok := g.nets[b]; ok {
		return n, nil
	}
	n, err := Compile(g.Pred, b, false)
	if err != nil {
		return nil, err
	}
	g.nets[b] = n
	return n, nil
}

// DenoiseFunc returns the sampler's view of the model for a batch of
// samples whose prompts are tokens (MaxTokens ids per sample). When the
// sampler asks for both the conditional and the unconditional prediction,
// the model runs once on a doubled batch.
func (g *Generator) DenoiseFunc(tokens []int) (sampler.DenoiseFunc, error) {
	return g.DenoiseFuncControl(tokens, nil)
}

// DenoiseFuncControl is DenoiseFunc for a Controlled predictor: control
// holds each sample's control image (ControlCols·Rows values per sample);
// the unconditional prediction sees the same control.
func (g *Generator) DenoiseFuncControl(tokens []int, control []float32) (sampler.DenoiseFunc, error) {
	return DenoiseFuncFor(g.Pred, tokens, control, func(x []float32, ts, toks []int, ctl []float32) ([]float32, error) {
		net, err := g.net(len(ts))
		if err != nil {
			return nil, err
		}
		if err := net.SetInputs(x, ts, toks); err != nil {
			return nil, err
		}
		if ctl != nil {
			if err := net.SetControl(ctl); err != nil {
				return nil, err
			}
		}
		if err := net.Run(); err != nil {
			return nil, err
		}
		return net.Output(nil), nil
	})
}

// RunBatch evaluates a model on a batch of len(ts) samples: x their
// values, ts one timestep each, toks MaxTokens prompt ids each, ctl their
// control images (nil for a predictor without control). It returns the
// predictions, len(x) values.
type RunBatch func(x []float32, ts, toks []int, ctl []float32) ([]float32, error)

// DenoiseFuncFor is the sampler's view of p's model evaluated by run (a
// compiled graph, or a program on a device) for a batch of samples whose
// prompts are tokens (MaxTokens ids per sample) and whose control images
// are control (Controlled predictors only). When the sampler asks for
// both the conditional and the unconditional prediction, run gets one
// doubled batch.
func DenoiseFuncFor(p Predictor, tokens []int, control []float32, run RunBatch) (sampler.DenoiseFunc, error) {
	c := p.Base().Config
	if len(tokens) == 0 || len(tokens)%c.MaxTokens != 0 {
		return nil, fmt.Errorf("unet: %d prompt tokens for prompts of %d", len(tokens), c.MaxTokens)
	}
	b := len(tokens) / c.MaxTokens
	cp, controlled := p.(Controlled)
	switch {
	case controlled && len(control) != b*c.Rows*cp.ControlCols():
		return nil, fmt.Errorf("unet: control of %d values for %d samples of %dx%d", len(control), b, c.Rows, cp.ControlCols())
	case !controlled && control != nil:
		return nil, fmt.Errorf("unet: a control image for a predictor that takes none")
	}
	null := NullPrompt(len(tokens))
	return func(x []float32, t int, need sampler.Need) (cond, uncond []float32, err error) {
		if len(x) != b*c.InputSize() {
			return nil, nil, fmt.Errorf("unet: sample of %d values for %d flows of %d", len(x), b, c.InputSize())
		}
		eval := func(xs []float32, toks []int) ([]float32, error) {
			n := len(toks) / c.MaxTokens
			ts := make([]int, n)
			for i := range ts {
				ts[i] = t
			}
			var ctl []float32
			if controlled {
				ctl = control
				if n > b {
					ctl = append(append([]float32(nil), control...), control...)
				}
			}
			return run(xs, ts, toks, ctl)
		}
		switch need {
		case sampler.Cond:
			cond, err = eval(x, tokens)
		case sampler.Uncond:
			uncond, err = eval(x, null)
		case sampler.Cond | sampler.Uncond:
			var out []float32
			out, err = eval(append(append([]float32(nil), x...), x...), append(append([]int(nil), tokens...), null...))
			if err == nil {
				cond, uncond = out[:len(x)], out[len(x):]
			}
		default:
			err = errors.New("unet: denoise asked for nothing")
		}
		return cond, uncond, err
	}, nil
}
