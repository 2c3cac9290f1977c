package unet

import (
	"encoding/json"
	"fmt"
	"os"

	"t2t"
)

// Config describes a UNet. It round-trips through JSON (config.json of a
// model folder).
type Config struct {
	Name string `json:"name"`
	// Rows is the image height: packets per flow.
	Rows int `json:"rows"`
	// Layout is the nPrint layout of a row; Cols must equal its width.
	Layout t2t.LayoutSpec `json:"layout"`
	Cols   int            `json:"cols"`
	// Patch is the patch embedding in and out of the UNet. "row" embeds
	// each packet's whole row (3 planes x Cols) into one vector, so the
	// UNet runs over the packet axis and every channel sees the whole
	// header: DESIGN.md measured a 2-D 1x8-patch UNet at 4-5x the cost per
	// step for a model that learned no better; "row" is the only patch t2t
	// builds.
	Patch string `json:"patch"`
	// Channels per level; the packet axis halves from one level to the
	// next, so Rows must be divisible by 2^(len(Channels)-1).
	Channels []int `json:"channels"`
	// ResBlocks per level on the way down (one more on the way up takes the
	// skip connection).
	ResBlocks int `json:"res_blocks"`
	// Attn marks the levels with cross-attention to the prompt; the middle
	// block always has self-attention over packets and cross-attention.
	Attn       []bool `json:"attn"`
	Heads      int    `json:"heads"`
	Groups     int    `json:"groups"`      // GroupNorm groups
	TimeDim    int    `json:"time_dim"`    // sinusoidal timestep width
	EmbedDim   int    `json:"embed_dim"`   // timestep embedding width
	ContextDim int    `json:"context_dim"` // prompt token embedding width
	MaxTokens  int    `json:"max_tokens"`  // prompt length in tokens
	// PoolPrompt adds the prompt, pooled over its tokens, to the timestep
	// embedding, so that every ResBlock is conditioned on the class and not
	// only the attention layers.
	PoolPrompt bool `json:"pool_prompt,omitempty"`
	// VocabCap is the number of rows of the token embedding table: the
	// vocabulary may grow up to it (new classes for LoRA adapters).
	VocabCap int `json:"vocab_cap"`
	// Seed initialises the weights: the same seed gives the same model.
	Seed uint64 `json:"seed"`
}

// Tiny is for tests: it builds and steps in milliseconds.
func Tiny() Config {
	return Config{Name: "tiny", Rows: 8, Layout: t2t.NetDiffusionSpec, Cols: 1088, Patch: "row",
		Channels: []int{32, 48}, ResBlocks: 1, Attn: []bool{false, true}, Heads: 2, Groups: 4,
		TimeDim: 32, EmbedDim: 64, ContextDim: 32, MaxTokens: 4, VocabCap: 64, PoolPrompt: true, Seed: 1}
}

// Small trains on a 2-core CPU in under half an hour.
func Small() Config {
	return Config{Name: "small", Rows: 32, Layout: t2t.NetDiffusionSpec, Cols: 1088, Patch: "row",
		Channels: []int{128, 192, 224}, ResBlocks: 1, Attn: []bool{false, true, true}, Heads: 4, Groups: 8,
		TimeDim: 64, EmbedDim: 256, ContextDim: 64, MaxTokens: 4, VocabCap: 64, PoolPrompt: true, Seed: 1}
}

// Base is for a GPU or a long CPU run.
func Base() Config {
	return Config{Name: "base", Rows: 64, Layout: t2t.NetDiffusionSpec, Cols: 1088, Patch: "row",
		Channels: []int{256, 384, 512, 512}, ResBlocks: 2, Attn: []bool{false, true, true, true}, Heads: 8, Groups: 16,
		TimeDim: 128, EmbedDim: 512, ContextDim: 128, MaxTokens: 8, VocabCap: 256, PoolPrompt: true, Seed: 1}
}

// Preset returns Tiny, Small or Base by name.
func Preset(name string) (Config, error) {
	switch name {
	case "tiny":
		return Tiny(), nil
	case "small":
		return Small(), nil
	case "base":
		return Base(), nil
	}
	return Config{}, fmt.Errorf("unet: unknown config %q (want tiny, small or base)", name)
}

// Bounds Validate puts on a config, far above the presets (Base has 64 rows,
// 4 levels of at most 512 channels and 256 token rows), so that a config.json
// from someone else cannot make New ask for more memory than a machine has: a
// model folder's weights file is checked against the shapes the config
// implies (Shapes) before anything is allocated, and these bounds keep that
// check itself small.
const (
	MaxRows      = 1024    // packets per flow
	MaxLevels    = 8       // len(Channels)
	MaxChannels  = 8192    // channels per level
	MaxResBlocks = 16      // ResBlocks per level
	MaxHeads     = 256     // attention heads
	MaxDim       = 16384   // TimeDim, EmbedDim, ContextDim
	MaxPrompt    = 256     // MaxTokens
	MaxVocabCap  = 1 << 16 // VocabCap
)

// Validate says what is wrong with a config.
func (c Config) Validate() error {
	bad := func(field, format string, args ...any) error {
		return fmt.Errorf("unet: config %q: %s: %s", c.Name, field, fmt.Sprintf(format, args...))
	}
	l, err := c.Layout.Layout()
	if err != nil {
		return bad("layout", "%v", err)
	}
	if c.Cols != l.Width() {
		return bad("cols", "%d, layout %v has %d", c.Cols, l, l.Width())
	}
	if c.Patch != "row" {
		return bad("patch", "%q: only \"row\" is built", c.Patch)
	}
	if len(c.Channels) == 0 || len(c.Channels) > MaxLevels {
		return bad("channels", "%d levels, want 1 to %d", len(c.Channels), MaxLevels)
	}
	if c.Rows <= 0 || c.Rows > MaxRows || c.Rows%(1<<(len(c.Channels)-1)) != 0 {
		return bad("rows", "%d must be a positive multiple of %d for %d levels, at most %d", c.Rows, 1<<(len(c.Channels)-1), len(c.Channels), MaxRows)
	}
	if len(c.Attn) != len(c.Channels) {
		return bad("attn", "%d entries for %d levels", len(c.Attn), len(c.Channels))
	}
	if c.Groups < 1 || c.Groups > MaxChannels {
		return bad("groups", "%d, want 1 to %d", c.Groups, MaxChannels)
	}
	if c.Heads < 1 || c.Heads > MaxHeads {
		return bad("heads", "%d, want 1 to %d", c.Heads, MaxHeads)
	}
	for i, ch := range c.Channels {
		if ch <= 0 || ch > MaxChannels || ch%c.Groups != 0 || ch%c.Heads != 0 {
			return bad("channels", "level %d: %d must be a positive multiple of groups %d and heads %d, at most %d", i, ch, c.Groups, c.Heads, MaxChannels)
		}
	}
	if c.ResBlocks < 1 || c.ResBlocks > MaxResBlocks {
		return bad("res_blocks", "%d, want 1 to %d", c.ResBlocks, MaxResBlocks)
	}
	if c.TimeDim < 2 || c.TimeDim%2 != 0 || c.TimeDim > MaxDim {
		return bad("time_dim", "%d must be even and positive, at most %d", c.TimeDim, MaxDim)
	}
	for _, d := range []struct {
		name   string
		v, max int
	}{{"embed_dim", c.EmbedDim, MaxDim}, {"context_dim", c.ContextDim, MaxDim}, {"max_tokens", c.MaxTokens, MaxPrompt}} {
		if d.v < 1 || d.v > d.max {
			return bad(d.name, "%d, want 1 to %d", d.v, d.max)
		}
	}
	if c.VocabCap < 2 || c.VocabCap > MaxVocabCap {
		return bad("vocab_cap", "%d, want 2 (null and unknown) to %d", c.VocabCap, MaxVocabCap)
	}
	return nil
}

// FitVocab returns c with a token table (VocabCap) that holds a vocabulary
// of tokens words with room for half as many again (new classes for LoRA
// adapters), rounded up to a multiple of 64: c itself when its table is
// big enough already, so that a data set that fits a preset trains the
// preset's model.
func (c Config) FitVocab(tokens int) Config {
	if tokens > c.VocabCap {
		c.VocabCap = min((tokens*3/2+63)/64*64, MaxVocabCap)
	}
	return c
}

// InputSize is the length of one sample: Rows x 3 planes x Cols.
func (c Config) InputSize() int { return c.Rows * 3 * c.Cols }

// WriteFile writes the config as indented JSON.
func (c Config) WriteFile(path string) error {
	b, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

// ReadConfig reads and validates a config file.
func ReadConfig(path string) (Config, error) {
	var c Config
	b, err := os.ReadFile(path)
	if err != nil {
		return c, err
	}
	if err := json.Unmarshal(b, &c); err != nil {
		return c, fmt.Errorf("unet: %s: %w", path, err)
	}
	if err := c.Validate(); err != nil {
		return c, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}
