package lora

import (
	"encoding/json"
	"fmt"
	"path"
	"regexp"
	"strings"

	"t2t/unet"
)

// DefaultTargets are the attention projections of every attention block.
var DefaultTargets = []string{"*.to_q", "*.to_k", "*.to_v", "*.to_out"}

// Config describes an adapter set. It round-trips to JSON and is stored in
// every adapter file.
type Config struct {
	// Rank r of every adapter: down is [In, r], up [r, Out].
	Rank int `json:"rank"`
	// Alpha scales the adapter's output by Alpha/Rank.
	Alpha float64 `json:"alpha"`
	// Targets select the layers by name (see unet.UNet.Linears): a
	// path.Match pattern ("*.to_q", "down.*.res.*.conv1"), or, with the
	// prefix "re:", a regular expression that must match the whole name
	// ("re:^mid\\..*"). Empty means DefaultTargets.
	Targets []string `json:"targets,omitempty"`
	// Dropout on the adapter's input during training. Not implemented:
	// Validate refuses anything but 0 (the field is kept so that files
	// from other tools that set it are refused clearly rather than
	// silently trained without it).
	Dropout float64 `json:"dropout,omitempty"`
	// Tokens are the new prompt tokens this adapter adds (a new class's
	// name); their rows of tokens.embedding are trained and saved with
	// the adapter. See Set.AddTokens.
	Tokens []string `json:"tokens,omitempty"`
}

// DefaultConfig is rank 4, alpha 4 on the attention projections.
func DefaultConfig() Config {
	return Config{Rank: 4, Alpha: 4, Targets: append([]string(nil), DefaultTargets...)}
}

// targets returns the patterns in force.
func (c Config) targets() []string {
	if len(c.Targets) == 0 {
		return DefaultTargets
	}
	return c.Targets
}

// MaxRank bounds Config.Rank: above the width of any preset's layers,
// where a higher rank adds nothing, and low enough that a rank read from a
// file cannot ask for gigabytes.
const MaxRank = 1024

// Validate says what is wrong with a config.
func (c Config) Validate() error {
	switch {
	case c.Rank < 1 || c.Rank > MaxRank:
		return fmt.Errorf("lora: rank %d, want 1 to %d", c.Rank, MaxRank)
	case !(c.Alpha > 0):
		return fmt.Errorf("lora: alpha %g, want > 0", c.Alpha)
	case c.Dropout != 0:
		return fmt.Errorf("lora: dropout %g: adapter dropout is not implemented, want 0", c.Dropout)
	}
	for _, t := range c.targets() {
		if _, err := compileTarget(t); err != nil {
			return err
		}
	}
	seen := map[string]bool{}
	for _, t := range c.Tokens {
		n, err := unet.ClassToken(t)
		if err != nil {
			return fmt.Errorf("lora: token %q: %v", t, err)
		}
		if seen[n] {
			return fmt.Errorf("lora: token %q given twice", t)
		}
		seen[n] = true
	}
	return nil
}

// compileTarget returns a matcher for one target pattern.
func compileTarget(t string) (func(string) bool, error) {
	if t == "" {
		return nil, fmt.Errorf("lora: empty target pattern")
	}
	if re, ok := strings.CutPrefix(t, "re:"); ok {
		r, err := regexp.Compile("^(?:" + re + ")$")
		if err != nil {
			return nil, fmt.Errorf("lora: target %q: %v", t, err)
		}
		return r.MatchString, nil
	}
	if _, err := path.Match(t, ""); err != nil {
		return nil, fmt.Errorf("lora: target %q: %v", t, err)
	}
	return func(name string) bool {
		ok, _ := path.Match(t, name)
		return ok
	}, nil
}

// MarshalConfig is the config's JSON.
func (c Config) MarshalConfig() ([]byte, error) { return json.Marshal(c) }

// ParseConfig reads and validates a config from JSON; unknown fields are
// an error.
func ParseConfig(b []byte) (Config, error) {
	var c Config
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return Config{}, fmt.Errorf("lora: config: %v", err)
	}
	return c, c.Validate()
}
