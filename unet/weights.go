package unet

import (
	"errors"
	"fmt"
	"math"

	"t2t/internal/safetensors"
)

// Tensor is one named weight as a weights file holds it: Name is the
// parameter's checkpoint key, Data row-major float32.
type Tensor = safetensors.Tensor

// ErrWrongBase is matched (errors.Is) by the error of loading a file made
// for another base model: an adapter (lora) or a ControlNet records its
// base's Fingerprint and is refused by any other.
var ErrWrongBase = errors.New("made for another base model")

// CheckFile checks the metadata of a weights file that belongs to a base
// model (an adapter, a ControlNet): meta["format"] must be format (kind
// names the file's kind in the error, e.g. "an adapter"), and
// meta[fingerprintKey] the Fingerprint of base, or the error matches
// ErrWrongBase and names both fingerprints. file names the file in errors.
func CheckFile(meta map[string]string, format, kind, fingerprintKey string, base *UNet, file string) error {
	if f := meta[FormatKey]; f != format {
		return fmt.Errorf("%s: format %q, want %q (not %s file?)", file, f, format, kind)
	}
	if want, fp := meta[fingerprintKey], Fingerprint(base); want != fp && (want == "" || want != base.legacyFingerprint) {
		return fmt.Errorf("%w: %s was made for base %s, this model is %s", ErrWrongBase, file, want, fp)
	}
	return nil
}

// FormatKey is the metadata key that names the format of a weights file.
const FormatKey = "format"

// ParamTensors returns the values of ps as tensors, in the order of ps:
// the data of float32 parameters is shared, not copied; float64 ones are
// converted.
func ParamTensors(ps []*Param) []Tensor {
	ts := make([]Tensor, len(ps))
	for i, p := range ps {
		d := p.Float32s()
		if d == nil {
			d = make([]float32, len(p.Float64s()))
			for k, v := range p.Float64s() {
				d[k] = float32(v)
			}
		}
		ts[i] = Tensor{Name: p.Name, Shape: p.Shape(), Data: d}
	}
	return ts
}

// ParamShapes returns the names and shapes of ps, without data: what a file
// must hold for them (see CheckTensors).
func ParamShapes(ps []*Param) []Tensor {
	ts := make([]Tensor, len(ps))
	for i, p := range ps {
		ts[i] = Tensor{Name: p.Name, Shape: p.Shape()}
	}
	return ts
}

// CheckTensors compares loaded tensors with the ones a model expects: the
// same names with the same shapes; the error lists the first problems.
func CheckTensors(got, want []Tensor) error { return safetensors.Check(got, want) }

// CopyTensors copies the data of the tensors named like parameters of ps
// into them (converting to float64 parameters); tensors without a
// parameter are ignored. Check them first (CheckTensors).
func CopyTensors(ps []*Param, ts []Tensor) {
	byName := make(map[string][]float32, len(ts))
	for _, t := range ts {
		byName[t.Name] = t.Data
	}
	for _, p := range ps {
		src, ok := byName[p.Name]
		if !ok {
			continue
		}
		if d := p.Float32s(); d != nil {
			copy(d, src)
			continue
		}
		d := p.Float64s()
		for i, v := range src {
			d[i] = float64(v)
		}
	}
}

// LoadWeights copies tensors into parameters; names and shapes must match
// exactly (CheckTensors).
func LoadWeights(ps *Params, ts []Tensor) error {
	if err := CheckTensors(ts, ParamShapes(ps.List())); err != nil {
		return err
	}
	CopyTensors(ps.List(), ts)
	return nil
}

// CheckFinite returns an error naming the first tensor of ts that holds a
// NaN or an infinity (and where): such weights make every output NaN, so a
// loader refuses them rather than generate nothing.
func CheckFinite(ts []Tensor) error {
	for _, t := range ts {
		for i, v := range t.Data {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				return fmt.Errorf("unet: tensor %q holds %g at index %d", t.Name, v, i)
			}
		}
	}
	return nil
}
