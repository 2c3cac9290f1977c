package lora

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"t2t/internal/safetensors"
	"t2t/unet"
)

// Metadata keys of an adapter file.
const (
	metaName        = "lora.name"
	metaConfig      = "lora.config"
	metaFingerprint = "lora.base_fingerprint"
	formatName      = "t2t-lora/1"
	metaExtra       = "extra."
)

// tokensTensor is the name of the saved rows of the new tokens.
func tokensTensor(name string) string { return "lora." + name + ".tokens" }

// tensors returns the set's tensors as a file holds them (float32).
func (s *Set) tensors() ([]unet.Tensor, error) {
	ts := unet.ParamTensors(s.params.List())
	if len(s.Config.Tokens) > 0 {
		dim := s.u.Config.ContextDim
		var rows []float32
		switch {
		case len(s.tokenIDs) == len(s.Config.Tokens):
			emb := values(s.u.Params.Get(TokensParam))
			for _, id := range s.tokenIDs {
				rows = append(rows, float32s(emb[id*dim:(id+1)*dim])...)
			}
		case s.tokenRows != nil:
			rows = s.tokenRows
		default:
			return nil, fmt.Errorf("lora: %s: save: the set has new tokens %v but AddTokens was not called", s.Name, s.Config.Tokens)
		}
		ts = append(ts, unet.Tensor{Name: tokensTensor(s.Name), Shape: []int{len(s.Config.Tokens), dim}, Data: rows})
	}
	return ts, nil
}

func float32s(d []float64) []float32 {
	f := make([]float32, len(d))
	for i, v := range d {
		f[i] = float32(v)
	}
	return f
}

// Save writes the set alone to path as safetensors: the adapters' down
// and up, the rows of its new tokens ("lora.<name>.tokens"), and in the
// metadata its name, config (JSON) and base fingerprint. The base weights
// are not saved.
func (s *Set) Save(path string) error {
	ts, err := s.tensors()
	if err != nil {
		return err
	}
	cfg, err := json.Marshal(s.Config)
	if err != nil {
		return fmt.Errorf("lora: %s: save: %v", s.Name, err)
	}
	meta := map[string]string{
		unet.FormatKey:  formatName,
		metaName:        s.Name,
		metaConfig:      string(cfg),
		metaFingerprint: s.BaseFingerprint,
	}
	for k, v := range s.Extra {
		meta[metaExtra+k] = v
	}
	return safetensors.Save(path, ts, meta)
}

// Load reads an adapter file written by Save for the base model u. It
// returns the set, detached; call AddTokens to bring in its new tokens.
// It refuses, with an error matching ErrWrongBase that names both
// fingerprints, a file made for another base; a file that is not an
// adapter, is truncated, or whose tensors do not have the names and shapes
// its config gives on u is refused with an error saying what is wrong.
func Load(path string, u *unet.UNet) (*Set, error) {
	ts, meta, err := safetensors.Load(path)
	if err != nil {
		return nil, fmt.Errorf("lora: loading %s: %w", path, err)
	}
	return fromTensors(ts, meta, path, u)
}

// Read is Load from a reader; name identifies it in errors.
func Read(r io.Reader, name string, u *unet.UNet) (*Set, error) {
	ts, meta, err := safetensors.Read(r, name)
	if err != nil {
		return nil, fmt.Errorf("lora: loading %s: %w", name, err)
	}
	return fromTensors(ts, meta, name, u)
}

// fromTensors makes the set a file of path holds (ts and meta) for u.
func fromTensors(ts []unet.Tensor, meta map[string]string, path string, u *unet.UNet) (*Set, error) {
	name := meta[metaName]
	if err := unet.CheckFile(meta, formatName, "an adapter", metaFingerprint, u, path); err != nil {
		return nil, fmt.Errorf("lora: loading adapter %q: %w", name, err)
	}
	cfg, err := ParseConfig([]byte(meta[metaConfig]))
	if err != nil {
		return nil, fmt.Errorf("lora: loading %s: %w", path, err)
	}
	// the shapes the config gives, checked against the file before the
	// set is made: a rank the file does not hold allocates nothing
	want, err := shapes(u, name, cfg)
	if err != nil {
		return nil, fmt.Errorf("lora: loading %s: %w", path, err)
	}
	if err := unet.CheckTensors(ts, want); err != nil {
		return nil, fmt.Errorf("lora: loading %s: %w", path, err)
	}
	if err := unet.CheckFinite(ts); err != nil {
		return nil, fmt.Errorf("lora: loading %s: %w", path, err)
	}
	s, err := New(u, name, cfg, 0)
	if err != nil {
		return nil, fmt.Errorf("lora: loading %s: %w", path, err)
	}
	unet.CopyTensors(s.params.List(), ts)
	if len(cfg.Tokens) > 0 {
		for _, t := range ts {
			if t.Name == tokensTensor(name) {
				s.tokenRows = append([]float32(nil), t.Data...)
			}
		}
	}
	for k, v := range meta {
		if e, ok := strings.CutPrefix(k, metaExtra); ok {
			if s.Extra == nil {
				s.Extra = map[string]string{}
			}
			s.Extra[e] = v
		}
	}
	return s, nil
}
