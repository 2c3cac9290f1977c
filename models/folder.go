package models

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path"
	"path/filepath"
	"strings"

	"gorgonia.org/tensor"

	"t2t/controlnet"
	"t2t/internal/safetensors"
	"t2t/repair"
	"t2t/train"
	"t2t/unet"
)

// The files of a model folder. Save writes them and Load reads them; no
// other package knows these names.
const (
	ConfigFile     = "config.json"            // unet.Config
	VocabFile      = "vocab.json"             // unet.Vocab
	NoiseFile      = "scheduler.json"         // sampler.Config
	WeightsFile    = "model.safetensors"      // the UNet's weights, unet.Model.Meta as metadata
	ProfileFile    = "profile.json"           // repair.Profile (optional)
	ControlNetFile = "controlnet.safetensors" // controlnet.ControlNet with its templates (optional)
	RecordFile     = "train.json"             // Record (optional)
	TemplatesFile  = "templates.json"         // controlnet.Templates of the training flows, for masked models (optional)
	StateDir       = "state"                  // train.Trainer checkpoints of a training run
)

// Folder is everything a model folder holds: the model, and optionally the
// repair profile of its training data, its ControlNet and the record of its
// training run.
type Folder struct {
	Model      *unet.Model
	Profile    *repair.Profile
	ControlNet *controlnet.ControlNet
	Record     *Record
	// Templates are the structures of the training flows, with which
	// generation starts a masked model's flows (pipeline.Options.Templates).
	Templates *controlnet.Templates
}

// Record says how a model was trained (train.json).
type Record struct {
	Train  train.Config   `json:"train"`
	Flows  map[string]int `json:"flows"` // training flows per class
	Steps  int            `json:"steps"`
	Losses []float64      `json:"losses"`
}

// Save writes f to the folder dir (created if needed): the model's four
// files, and the profile, ControlNet and record when f has them. weights,
// when not nil, replaces the values of the named parameters in the
// weights file (a trainer's EMA weights).
func Save(dir string, f *Folder, weights map[string][]float32) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("models: %w", err)
	}
	m := f.Model
	if err := m.UNet.Config.WriteFile(filepath.Join(dir, ConfigFile)); err != nil {
		return err
	}
	if err := writeJSON(dir, VocabFile, m.Vocab, "  ", true); err != nil {
		return err
	}
	if err := writeJSON(dir, NoiseFile, m.Noise, "  ", true); err != nil {
		return err
	}
	ts := unet.ParamTensors(m.UNet.Params.Sorted())
	for i := range ts {
		if w, ok := weights[ts[i].Name]; ok {
			ts[i].Data = w
		}
	}
	meta := maps.Clone(m.Meta)
	if meta == nil {
		meta = map[string]string{}
	}
	meta[metaRows] = fmt.Sprint(m.UNet.Config.Rows)
	meta[unet.ConvTapsKey] = unet.ConvTapsExact
	if err := safetensors.Save(filepath.Join(dir, WeightsFile), ts, meta); err != nil {
		return err
	}
	if f.Profile != nil {
		if err := SaveProfile(dir, f.Profile); err != nil {
			return err
		}
	}
	if f.ControlNet != nil {
		if err := f.ControlNet.Save(filepath.Join(dir, ControlNetFile), nil); err != nil {
			return err
		}
	}
	if f.Templates != nil {
		if err := writeJSON(dir, TemplatesFile, f.Templates, "", false); err != nil {
			return err
		}
	}
	if f.Record != nil {
		return writeJSON(dir, RecordFile, f.Record, " ", false)
	}
	return nil
}

// SaveProfile writes a repair profile into the folder dir (created if
// needed), as Save does.
func SaveProfile(dir string, p *repair.Profile) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("models: %w", err)
	}
	return writeJSON(dir, ProfileFile, p, " ", false)
}

// writeJSON writes v indented to dir/name, ending with a newline when nl.
func writeJSON(dir, name string, v any, indent string, nl bool) error {
	b, err := json.MarshalIndent(v, "", indent)
	if err != nil {
		return fmt.Errorf("models: %s: %w", name, err)
	}
	if nl {
		b = append(b, '\n')
	}
	if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
		return fmt.Errorf("models: %w", err)
	}
	return nil
}

// Load reads the model folder dir, or the embedded model when dir is "".
// The profile, ControlNet and record are nil when the folder lacks their
// file (repair then uses its defaults).
func Load(dir string) (*Folder, error) {
	if dir == "" {
		return loadFS(files, "small", "embedded:small")
	}
	return loadFS(os.DirFS(dir), ".", dir)
}

// loadFS reads a model folder from a file system; name is used in errors.
func loadFS(fsys fs.FS, dir, name string) (*Folder, error) {
	m, err := loadModel(fsys, dir, name)
	if err != nil {
		return nil, err
	}
	f := &Folder{Model: m}
	read := func(file string) ([]byte, error) {
		b, err := readFile(fsys, dir, file, maxExtraJSON)
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil
		}
		if err != nil {
			return nil, fmt.Errorf("models: %s: %w", name, err)
		}
		return b, nil
	}
	b, err := read(ProfileFile)
	if err != nil {
		return nil, err
	}
	if b != nil {
		if f.Profile, err = repair.ParseProfile(b); err != nil {
			return nil, fmt.Errorf("models: %s: %w", filepath.Join(name, ProfileFile), err)
		}
	}
	if f.ControlNet, err = loadControlNet(fsys, dir, name, m.UNet); err != nil {
		return nil, err
	}
	if b, err = read(TemplatesFile); err != nil {
		return nil, err
	}
	if b != nil {
		t := &controlnet.Templates{}
		if err := json.Unmarshal(b, t); err != nil {
			return nil, fmt.Errorf("models: %s: %w", filepath.Join(name, TemplatesFile), err)
		}
		if err := t.Validate(); err != nil {
			return nil, fmt.Errorf("models: %s: %w", filepath.Join(name, TemplatesFile), err)
		}
		if c := m.UNet.Config; t.Rows < c.Rows || t.Rows > controlnet.MaxTemplateRows || t.Cols != c.Cols {
			return nil, fmt.Errorf("models: %s: templates of %dx%d for a model of %dx%d (want the model's columns and %d to %d rows: flows as long as the model continues them)", filepath.Join(name, TemplatesFile), t.Rows, t.Cols, c.Rows, c.Cols, c.Rows, controlnet.MaxTemplateRows)
		}
		f.Templates = t
	}
	if b, err = read(RecordFile); err != nil {
		return nil, err
	}
	if b != nil {
		f.Record = &Record{}
		if err := json.Unmarshal(b, f.Record); err != nil {
			return nil, fmt.Errorf("models: %s: %w", filepath.Join(name, RecordFile), err)
		}
	}
	return f, nil
}

// Size limits of the JSON files of a model folder: a larger file is refused
// before it is read, so that a hostile folder cannot make Load allocate for
// it (config, vocabulary and schedule are a few kB; a profile or a record
// of a long run a few MB).
const (
	maxModelJSON = 4 << 20  // config.json, vocab.json, scheduler.json
	maxExtraJSON = 64 << 20 // profile.json, train.json
)

// metaRows is the weights-file metadata key recording the rows (packets
// per flow) the model was trained on: Load refuses a config.json that asks
// for another number.
const metaRows = "rows"

// readFile reads dir/file of fsys, refusing one of more than limit bytes.
func readFile(fsys fs.FS, dir, file string, limit int64) ([]byte, error) {
	f, err := fsys.Open(path.Join(dir, file))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("%s is over the %d MB a model folder's %s may have", file, limit>>20, file)
	}
	return b, nil
}

// loadModel reads the model's four files. Everything the config asks for is
// checked before the model is built: its bounds (unet.Config.Validate), the
// vocabulary against the token table, and the parameters' shapes
// (unet.Shapes) against the header of the weights file, so that a hostile
// config.json is refused before any memory is allocated for it.
func loadModel(fsys fs.FS, dir, name string) (*unet.Model, error) {
	fail := func(file string, err error) error {
		if file == "" {
			return fmt.Errorf("models: model %s: %w", name, err)
		}
		return fmt.Errorf("models: model %s: %s: %w", name, file, err)
	}
	read := func(f string) ([]byte, error) {
		b, err := readFile(fsys, dir, f, maxModelJSON)
		if err != nil {
			return nil, fail("", err)
		}
		return b, nil
	}
	var cfg unet.Config
	b, err := read(ConfigFile)
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(b, &cfg); err != nil {
		return nil, fail(ConfigFile, err)
	}
	if err := cfg.Validate(); err != nil {
		return nil, fail(ConfigFile, err)
	}
	m := &unet.Model{Vocab: &unet.Vocab{}}
	if b, err = read(VocabFile); err != nil {
		return nil, err
	}
	if err := json.Unmarshal(b, m.Vocab); err != nil {
		return nil, fail(VocabFile, err)
	}
	if m.Vocab.Len() > cfg.VocabCap {
		return nil, fail("", fmt.Errorf("%d tokens exceed the table of %d", m.Vocab.Len(), cfg.VocabCap))
	}
	if b, err = read(NoiseFile); err != nil {
		return nil, err
	}
	if err := json.Unmarshal(b, &m.Noise); err != nil {
		return nil, fail(NoiseFile, err)
	}
	if err := m.Noise.Validate(); err != nil {
		return nil, fail(NoiseFile, err)
	}
	weights := filepath.Join(name, WeightsFile)
	open := func() (fs.File, error) {
		f, err := fsys.Open(path.Join(dir, WeightsFile))
		if err != nil {
			return nil, fail("", err)
		}
		return f, nil
	}
	f, err := open()
	if err != nil {
		return nil, err
	}
	head, meta, err := safetensors.ReadHeader(f, weights)
	f.Close()
	if err != nil {
		return nil, err
	}
	shapes, err := unet.Shapes(cfg)
	if err != nil {
		return nil, fail(ConfigFile, err)
	}
	if err := unet.CheckTensors(head, shapes); err != nil {
		return nil, fail("", fmt.Errorf("%s does not fit %s: %w", WeightsFile, ConfigFile, err))
	}
	if r, ok := meta[metaRows]; ok && r != fmt.Sprint(cfg.Rows) {
		return nil, fail(ConfigFile, fmt.Errorf("rows %d, but the weights were trained on flows of %s packets", cfg.Rows, r))
	}
	u, err := unet.New(cfg, tensor.Float32)
	if err != nil {
		return nil, fail("", err)
	}
	m.UNet = u
	if f, err = open(); err != nil {
		return nil, err
	}
	defer f.Close()
	ts, meta, err := safetensors.Read(f, weights)
	if err != nil {
		return nil, err
	}
	m.Meta = meta
	if cs := meta["classes"]; cs != "" {
		for _, c := range strings.Split(cs, ",") {
			if _, err := unet.NormalizeToken(c); err != nil {
				return nil, fail(WeightsFile, fmt.Errorf("class %q: %w", c, err))
			}
		}
	}
	if err := unet.LoadWeights(u.Params, ts); err != nil {
		return nil, fail("", err)
	}
	if err := unet.CheckFinite(ts); err != nil {
		return nil, fail(WeightsFile, err)
	}
	if meta[unet.ConvTapsKey] != unet.ConvTapsExact {
		// trained when Conv1D's taps could share a weight block: keep
		// the function it learned (unet.LegacyTaps)
		u.KeepLegacyTaps()
	}
	return m, nil
}

// loadControlNet reads the folder's ControlNet for base; nil without one.
func loadControlNet(fsys fs.FS, dir, name string, base *unet.UNet) (*controlnet.ControlNet, error) {
	f, err := fsys.Open(path.Join(dir, ControlNetFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("models: %s: %w", name, err)
	}
	defer f.Close()
	n, _, err := controlnet.Read(f, filepath.Join(name, ControlNetFile), base)
	return n, err
}
