package lora

import (
	"bytes"
	"os"
	"strings"
	"testing"

	"gorgonia.org/tensor"

	"t2t/internal/fuzzseed"
	"t2t/unet"
)

// FuzzLoadAdapter: any adapter file gives a set or an error, never a
// panic or an allocation its tensors do not justify; a loaded set's tokens
// go into a vocabulary that knows "dns" without overwriting it. Seeds: a
// valid adapter and the crafted ones of TestLoadHostileRank and
// TestTokenCollisions.
func FuzzLoadAdapter(f *testing.F) {
	u := newModel(f, micro(1), tensor.Float32)
	path := savedAdapter(f, u)
	valid, _ := os.ReadFile(path)
	fuzzseed.Add(f, "valid", valid)
	fuzzseed.Edits(f, path, map[string]func(m map[string]string){
		"rank-2e26": func(m map[string]string) {
			m[metaConfig] = strings.Replace(m[metaConfig], `"rank":2`, `"rank":67108864`, 1)
		},
		"rank-3": func(m map[string]string) { m[metaConfig] = strings.Replace(m[metaConfig], `"rank":2`, `"rank":3`, 1) },
		"token-path": func(m map[string]string) {
			m[metaConfig] = strings.Replace(m[metaConfig], `"novel"`, `"../../pwned"`, 1)
		},
		"token-known": func(m map[string]string) { m[metaConfig] = strings.Replace(m[metaConfig], `"novel"`, `"dns"`, 1) },
		"no-format":   func(m map[string]string) { delete(m, "format") },
	})
	emb := append([]float32(nil), u.Params.Get(TokensParam).Float32s()...)
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := Read(bytes.NewReader(b), "fuzz", u)
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
