package unet

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"gorgonia.org/tensor"

	"t2t/sampler"
)

// Model is a trained UNet with what sampling needs: its vocabulary and
// noise schedule.
type Model struct {
	UNet  *UNet
	Vocab *Vocab
	Noise sampler.Config
	// Meta holds free-form facts saved with the model (training steps,
	// data, losses...).
	Meta map[string]string
}

// Files of a model folder.
const (
	ConfigFile  = "config.json"
	VocabFile   = "vocab.json"
	WeightsFile = "model.safetensors"
	NoiseFile   = "scheduler.json"
)

// SaveModel writes a model folder: config.json, vocab.json,
// scheduler.json and model.safetensors. weights, when not nil, replaces
// the values of the named parameters in the file (the EMA weights of a
// trainer).
func SaveModel(dir string, m *Model, weights map[string][]float32) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if err := m.UNet.Config.WriteFile(filepath.Join(dir, ConfigFile)); err != nil {
		return err
	}
	for _, f := range []struct {
		name string
		v    any
	}{{VocabFile, m.Vocab}, {NoiseFile, m.Noise}} {
		b, err := json.MarshalIndent(f.v, "", "  ")
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, f.name), append(b, '\n'), 0o644); err != nil {
			return err
		}
	}
	var ts []Tensor
	for _, p := range m.UNet.Params.Sorted() {
		d := p.Float32s()
		if w, ok := weights[p.Name]; ok {
			d = w
		}
		ts = append(ts, Tensor{Name: p.Name, Shape: p.Shape(), Data: d})
	}
	return SaveSafetensors(filepath.Join(dir, WeightsFile), ts, m.Meta)
}

// LoadModel reads a model folder written by SaveModel.
func LoadModel(dir string) (*Model, error) { return LoadModelFS(os.DirFS(dir), ".", dir) }

// LoadModelFS reads a model folder from a file system (an embedded model);
// name is used in errors.
func LoadModelFS(fsys fs.FS, dir, name string) (*Model, error) {
	read := func(f string) ([]byte, error) {
		b, err := fs.ReadFile(fsys, filepath.ToSlash(filepath.Join(dir, f)))
		if err != nil {
			return nil, fmt.Errorf("unet: model %s: %w", name, err)
		}
		return b, nil
	}
	var cfg Config
	b, err := read(ConfigFile)
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(b, &cfg); err != nil {
		return nil, fmt.Errorf("unet: model %s: %s: %w", name, ConfigFile, err)
	}
	u, err := New(cfg, tensor.Float32)
	if err != nil {
		return nil, fmt.Errorf("unet: model %s: %w", name, err)
	}
	m := &Model{UNet: u, Vocab: &Vocab{}}
	if b, err = read(VocabFile); err != nil {
		return nil, err
	}
	if err := json.Unmarshal(b, m.Vocab); err != nil {
		return nil, fmt.Errorf("unet: model %s: %s: %w", name, VocabFile, err)
	}
	if m.Vocab.Len() > cfg.VocabCap {
		return nil, fmt.Errorf("unet: model %s: %d tokens exceed the table of %d", name, m.Vocab.Len(), cfg.VocabCap)
	}
	if b, err = read(NoiseFile); err != nil {
		return nil, err
	}
	if err := json.Unmarshal(b, &m.Noise); err != nil {
		return nil, fmt.Errorf("unet: model %s: %s: %w", name, NoiseFile, err)
	}
	if err := m.Noise.Validate(); err != nil {
		return nil, fmt.Errorf("unet: model %s: %s: %w", name, NoiseFile, err)
	}
	f, err := fsys.Open(filepath.ToSlash(filepath.Join(dir, WeightsFile)))
	if err != nil {
		return nil, fmt.Errorf("unet: model %s: %w", name, err)
	}
	defer f.Close()
	ts, meta, err := ReadSafetensors(f, filepath.Join(name, WeightsFile))
	if err != nil {
		return nil, err
	}
	m.Meta = meta
	if err := LoadWeights(u.Params, ts); err != nil {
		return nil, fmt.Errorf("unet: model %s: %w", name, err)
	}
	return m, nil
}

// LoadWeights copies tensors into parameters; names and shapes must match
// exactly (CheckTensors).
func LoadWeights(ps *Params, ts []Tensor) error {
	var want []Tensor
	for _, p := range ps.List() {
		want = append(want, Tensor{Name: p.Name, Shape: p.Shape(), Data: p.Float32s()})
	}
	if err := CheckTensors(ts, want); err != nil {
		return err
	}
	for _, x := range ts {
		copy(ps.Get(x.Name).Float32s(), x.Data)
	}
	return nil
}

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
	c := g.Pred.Base().Config
	if len(tokens) == 0 || len(tokens)%c.MaxTokens != 0 {
		return nil, fmt.Errorf("unet: %d prompt tokens for prompts of %d", len(tokens), c.MaxTokens)
	}
	b := len(tokens) / c.MaxTokens
	cp, controlled := g.Pred.(Controlled)
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
		run := func(xs []float32, toks []int) ([]float32, error) {
			n := len(toks) / c.MaxTokens
			net, err := g.net(n)
			if err != nil {
				return nil, err
			}
			ts := make([]int, n)
			for i := range ts {
				ts[i] = t
			}
			if err := net.SetInputs(xs, ts, toks); err != nil {
				return nil, err
			}
			if controlled {
				ctl := control
				if n > b {
					ctl = append(append([]float32(nil), control...), control...)
				}
				if err := net.SetControl(ctl); err != nil {
					return nil, err
				}
			}
			if err := net.Run(); err != nil {
				return nil, err
			}
			return net.Output(nil), nil
		}
		switch need {
		case sampler.Cond:
			cond, err = run(x, tokens)
		case sampler.Uncond:
			uncond, err = run(x, null)
		case sampler.Cond | sampler.Uncond:
			var out []float32
			out, err = run(append(append([]float32(nil), x...), x...), append(append([]int(nil), tokens...), null...))
			if err == nil {
				cond, uncond = out[:len(x)], out[len(x):]
			}
		default:
			err = errors.New("unet: denoise asked for nothing")
		}
		return cond, uncond, err
	}, nil
}
