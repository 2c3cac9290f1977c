package lora

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gorgonia.org/tensor"

	"t2t/internal/fuzzseed"
	"t2t/internal/safetensors"
	"t2t/unet"
)

// FuzzLoadAdapter: any adapter file gives a set or an error, never a
// panic or an allocation its tensors do not justify; a loaded set's tokens
// go into a vocabulary that knows "dns" without overwriting it. Seeds: a
// valid adapter and the crafted ones of TestLoadHostileRank and
// TestTokenCollisions.
func FuzzLoadAdapter(f *testing.F) {
	u := newModel(f, micro(1), tensor.Float32)
	dir := f.TempDir()
	cfg := DefaultConfig()
	cfg.Rank = 2
	cfg.Tokens = []string{"novel"}
	s, err := New(u, "shelf", cfg, 4)
	if err != nil {
		f.Fatal(err)
	}
	if _, err := s.AddTokens(unet.NewVocab()); err != nil {
		f.Fatal(err)
	}
	s.Extra = map[string]string{"classes": "novel"}
	path := filepath.Join(dir, "a.safetensors")
	if err := s.Save(path); err != nil {
		f.Fatal(err)
	}
	valid, _ := os.ReadFile(path)
	fuzzseed.Add(f, "valid", valid)
	ts, meta, _ := safetensors.Load(path)
	for name, edit := range map[string]func(m map[string]string){
		"rank-2e26":   func(m map[string]string) { m[metaConfig] = strings.Replace(m[metaConfig], `"rank":2`, `"rank":67108864`, 1) },
		"rank-3":      func(m map[string]string) { m[metaConfig] = strings.Replace(m[metaConfig], `"rank":2`, `"rank":3`, 1) },
		"token-path":  func(m map[string]string) { m[metaConfig] = strings.Replace(m[metaConfig], `"novel"`, `"../../pwned"`, 1) },
		"token-known": func(m map[string]string) { m[metaConfig] = strings.Replace(m[metaConfig], `"novel"`, `"dns"`, 1) },
		"no-format":   func(m map[string]string) { delete(m, "format") },
	} {
		m := map[string]string{}
		for k, v := range meta {
			m[k] = v
		}
		edit(m)
		p := filepath.Join(dir, name)
		if err := safetensors.Save(p, ts, m); err != nil {
			f.Fatal(err)
		}
		b, _ := os.ReadFile(p)
		fuzzseed.Add(f, name, b)
	}
	emb := append([]float32(nil), u.Params.Get(TokensParam).Float32s()...)
	f.Fuzz(func(t *testing.T, b []byte) {
		p := filepath.Join(t.TempDir(), "f.safetensors")
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		s, err := Load(p, u)
		if err != nil {
			return
		}
		if s.Count() > len(b) {
			t.Fatalf("a set of %d weights from %d bytes", s.Count(), len(b))
		}
		v := unet.NewVocab("dns")
		ids, err := s.AddTokens(v)
		if err != nil {
			return
		}
		for _, id := range ids {
			if id < 3 {
				t.Fatalf("new token at id %d, a known word's", id)
			}
		}
		// put the table back for the next input
		copy(u.Params.Get(TokensParam).Float32s(), emb)
	})
}
