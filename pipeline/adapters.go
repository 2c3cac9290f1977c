package pipeline

import (
	"fmt"
	"strconv"
	"strings"

	"t2t/lora"
	"t2t/repair"
	"t2t/unet"
)

// Adapter metadata keys written by examples/finetune (lora.Set.Extra).
const (
	// ExtraProfile holds the repair profile (JSON) of the classes an
	// adapter adds or fine-tunes.
	ExtraProfile = "profile"
	// ExtraClasses lists them, comma-separated.
	ExtraClasses = "classes"
)

// ParseAdapterSpec splits "file[:weight]" (weight 1 when absent).
func ParseAdapterSpec(spec string) (path string, weight float64, err error) {
	path, weight = spec, 1
	if i := strings.LastIndexByte(spec, ':'); i >= 0 {
		if w, err := strconv.ParseFloat(spec[i+1:], 64); err == nil {
			path, weight = spec[:i], w
		}
	}
	if path == "" {
		return "", 0, fmt.Errorf("pipeline: adapter %q: no file", spec)
	}
	if weight != weight || weight < -100 || weight > 100 {
		return "", 0, fmt.Errorf("pipeline: adapter %q: weight %g out of range", spec, weight)
	}
	return path, weight, nil
}

// AttachAdapter loads an adapter ("file[:weight]") for m's UNet, adds its
// new prompt tokens to m's vocabulary, attaches it with its weight and
// returns it, with prof extended by the repair profile of the classes it
// carries (prof itself is not changed; a class in both takes the
// adapter's). Load adapters before merging any: merging changes the base
// fingerprint adapters check.
func AttachAdapter(m *unet.Model, prof *repair.Profile, spec string) (*lora.Set, *repair.Profile, error) {
	path, w, err := ParseAdapterSpec(spec)
	if err != nil {
		return nil, nil, err
	}
	s, err := lora.Load(path, m.UNet)
	if err != nil {
		return nil, nil, err
	}
	if _, err := s.AddTokens(m.Vocab); err != nil {
		return nil, nil, err
	}
	if cs := s.Extra[ExtraClasses]; cs != "" {
		for _, c := range strings.Split(cs, ",") {
			if _, err := unet.NormalizeToken(c); err != nil {
				return nil, nil, fmt.Errorf("pipeline: adapter %s: class %q: %w", path, c, err)
			}
		}
	}
	s.SetWeight(w)
	if err := s.Attach(); err != nil {
		return nil, nil, err
	}
	out := &repair.Profile{Classes: map[string]*repair.ClassProfile{}}
	if prof != nil {
		for c, p := range prof.Classes {
			out.Classes[c] = p
		}
	}
	if js := s.Extra[ExtraProfile]; js != "" {
		ap, err := repair.ParseProfile([]byte(js))
		if err != nil {
			s.Detach()
			return nil, nil, fmt.Errorf("pipeline: adapter %s: %w", path, err)
		}
		for c, p := range ap.Classes {
			out.Classes[c] = p
		}
	}
	return s, out, nil
}
