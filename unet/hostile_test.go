package unet

import (
	"slices"
	"testing"

	"gorgonia.org/tensor"
)

// TestConfigHostile: configs a hostile config.json may hold are refused by
// Validate, without a panic (heads or groups 0 divided by zero) and without
// New asking for the memory they imply (issue 17, items 2 and 3).
func TestConfigHostile(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(*Config)
	}{
		{"heads 0", func(c *Config) { c.Heads = 0 }},
		{"groups 0", func(c *Config) { c.Groups = 0 }},
		{"heads -2", func(c *Config) { c.Heads = -2 }},
		{"channels 65536", func(c *Config) { c.Channels = []int{65536, 65536} }},
		{"vocab_cap 2^30", func(c *Config) { c.VocabCap = 1 << 30 }},
		{"max_tokens 2^30", func(c *Config) { c.MaxTokens = 1 << 30 }},
		{"embed_dim 2^28", func(c *Config) { c.EmbedDim = 1 << 28 }},
		{"context_dim 2^28", func(c *Config) { c.ContextDim = 1 << 28 }},
		{"time_dim 2^28", func(c *Config) { c.TimeDim = 1 << 28 }},
		{"res_blocks 2^20", func(c *Config) { c.ResBlocks = 1 << 20 }},
		{"rows 2^20", func(c *Config) { c.Rows = 1 << 20 }},
		{"levels 40", func(c *Config) {
			c.Channels = make([]int, 40)
			c.Attn = make([]bool, 40)
			for i := range c.Channels {
				c.Channels[i] = 32
			}
		}},
	} {
		c := Tiny()
		tc.edit(&c)
		func() {
			defer func() {
				if r := recover(); r != nil {
					t.Errorf("%s: Validate panics: %v", tc.name, r)
				}
			}()
			if err := c.Validate(); err == nil {
				t.Errorf("%s: no error", tc.name)
			}
			if _, err := Shapes(c); err == nil {
				t.Errorf("%s: Shapes: no error", tc.name)
			}
		}()
	}
}

// TestShapes: Shapes lists what New makes, without values.
func TestShapes(t *testing.T) {
	for _, cfg := range []Config{Tiny(), Small(), Base()} {
		u, err := New(cfg, tensor.Float32)
		if err != nil {
			t.Fatal(err)
		}
		got, err := Shapes(cfg)
		if err != nil {
			t.Fatal(err)
		}
		want := ParamShapes(u.Params.List())
		if !slices.EqualFunc(got, want, func(a, b Tensor) bool { return a.Name == b.Name && slices.Equal(a.Shape, b.Shape) }) {
			t.Fatalf("%s: Shapes differ from New's parameters", cfg.Name)
		}
		if err := CheckTensors(got, want); err != nil {
			t.Fatal(err)
		}
	}
}

// TestFitVocab: the token table grows with the vocabulary, and a
// vocabulary that fits keeps the preset.
func TestFitVocab(t *testing.T) {
	for _, cfg := range []Config{Tiny(), Small(), Base()} {
		if got := cfg.FitVocab(cfg.VocabCap); got.VocabCap != cfg.VocabCap {
			t.Errorf("%s: a vocabulary that fits changed the table: %d", cfg.Name, got.VocabCap)
		}
		got := cfg.FitVocab(cfg.VocabCap + 1)
		if got.VocabCap <= cfg.VocabCap || got.VocabCap%64 != 0 || got.Validate() != nil {
			t.Errorf("%s: FitVocab(%d) = %d", cfg.Name, cfg.VocabCap+1, got.VocabCap)
		}
	}
}
