package lora

import (
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"gorgonia.org/tensor"

	"t2t/internal/safetensors"
	"t2t/unet"
)

// savedAdapter writes an adapter with the new token "novel" for u and
// returns its path.
func savedAdapter(t testing.TB, u *unet.UNet) string {
	t.Helper()
	cfg := DefaultConfig()
	cfg.Rank = 2
	cfg.Tokens = []string{"novel"}
	s, err := New(u, "shelf", cfg, 4)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.AddTokens(unet.NewVocab()); err != nil {
		t.Fatal(err)
	}
	s.Extra = map[string]string{"classes": "novel"}
	path := filepath.Join(t.TempDir(), "a.safetensors")
	if err := s.Save(path); err != nil {
		t.Fatal(err)
	}
	return path
}

// withConfig rewrites the adapter file at path with its config edited.
func withConfig(t *testing.T, path string, edit func(*Config)) string {
	t.Helper()
	ts, meta, err := safetensors.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := ParseConfig([]byte(meta[metaConfig]))
	if err != nil {
		t.Fatal(err)
	}
	edit(&cfg)
	b, _ := cfg.MarshalConfig()
	meta[metaConfig] = string(b)
	out := filepath.Join(t.TempDir(), "edited.safetensors")
	if err := safetensors.Save(out, ts, meta); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestLoadHostileRank: an adapter file whose config asks a rank of 2^26
// (34 GB on the Small model) or any rank its tensors do not have is
// refused before the adapters are allocated (issue 17, item 3).
func TestLoadHostileRank(t *testing.T) {
	u := newModel(t, micro(1), tensor.Float32)
	path := savedAdapter(t, u)
	for _, rank := range []int{1 << 26, MaxRank, 3} {
		p := withConfig(t, path, func(c *Config) { c.Rank = rank })
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		_, err := Load(p, u)
		runtime.ReadMemStats(&after)
		if err == nil {
			t.Errorf("rank %d: no error", rank)
		}
		if a := after.TotalAlloc - before.TotalAlloc; a > 16<<20 {
			t.Errorf("rank %d: %d MB allocated before the error", rank, a>>20)
		}
		t.Logf("rank %d: %v", rank, err)
	}
}

// TestTokenCollisions: an adapter's new token that the model knows already
// ("dns") is refused, not written over the model's embedding (even at
// weight 0); aliases, special tokens and paths cannot be new tokens (issue 17,
// items 1 and 6).
func TestTokenCollisions(t *testing.T) {
	u := newModel(t, micro(1), tensor.Float32)
	path := withConfig(t, savedAdapter(t, u), func(c *Config) { c.Tokens = []string{"dns"} })
	s, err := Load(path, u)
	if err != nil {
		t.Fatal(err)
	}
	s.SetWeight(0)
	emb := append([]float32(nil), u.Params.Get(TokensParam).Float32s()...)
	vocab := unet.NewVocab("dns")
	if _, err := s.AddTokens(vocab); err == nil || !strings.Contains(err.Error(), `"dns"`) {
		t.Errorf("adapter token dns on a model that knows dns: %v", err)
	}
	for i, v := range u.Params.Get(TokensParam).Float32s() {
		if v != emb[i] {
			t.Fatal("the model's token table changed")
		}
	}
	// a token the set added itself may be added again
	fresh := unet.NewVocab()
	if _, err := s.AddTokens(fresh); err != nil {
		t.Fatal(err)
	}
	if _, err := s.AddTokens(fresh); err != nil {
		t.Errorf("AddTokens again on its own vocabulary: %v", err)
	}
	for _, tok := range []string{"../../pwned", "a/b", `a\b`, ".hidden", "type-1", "<null>"} {
		cfg := DefaultConfig()
		cfg.Tokens = []string{tok}
		if err := cfg.Validate(); err == nil {
			t.Errorf("token %q: no error", tok)
		}
	}
	cfg := DefaultConfig()
	cfg.Tokens = []string{"type-b", "d-link_cam"}
	if err := cfg.Validate(); err != nil {
		t.Errorf("ordinary tokens refused: %v", err)
	}
}
