package models

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"gorgonia.org/tensor"

	"t2t/internal/safetensors"
	"t2t/sampler"
	"t2t/unet"
)

// tinyFolder saves an untrained Tiny model (vocabulary dns, ssh) into a
// fresh folder.
func tinyFolder(t testing.TB) string {
	t.Helper()
	u, err := unet.New(unet.Tiny(), tensor.Float32)
	if err != nil {
		t.Fatal(err)
	}
	m := &unet.Model{UNet: u, Vocab: unet.NewVocab("dns", "ssh"), Noise: sampler.DefaultConfig(), Meta: map[string]string{"classes": "dns,ssh"}}
	dir := t.TempDir()
	if err := Save(dir, &Folder{Model: m}, nil); err != nil {
		t.Fatal(err)
	}
	return dir
}

// editConfig rewrites config.json of dir with edit applied to its JSON
// object.
func editConfig(t testing.TB, dir string, edit func(map[string]any)) {
	t.Helper()
	p := filepath.Join(dir, ConfigFile)
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	var c map[string]any
	if err := json.Unmarshal(b, &c); err != nil {
		t.Fatal(err)
	}
	edit(c)
	if b, err = json.Marshal(c); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// hostileConfigs are config.json edits a shared model folder may carry
// (issue 17, items 2 and 3): each divides by zero or asks for gigabytes if
// the model is built before it is checked.
var hostileConfigs = []struct {
	name string
	edit func(map[string]any)
}{
	{"heads 0", func(c map[string]any) { c["heads"] = 0 }},
	{"groups 0", func(c map[string]any) { c["groups"] = 0 }},
	{"channels 65536", func(c map[string]any) { c["channels"] = []int{65536, 65536} }},
	{"vocab_cap 2^30", func(c map[string]any) { c["vocab_cap"] = 1 << 30 }},
	{"max_tokens 2^30", func(c map[string]any) { c["max_tokens"] = 1 << 30 }},
	{"embed_dim 2^28", func(c map[string]any) { c["embed_dim"] = 1 << 28 }},
	{"res_blocks 2^20", func(c map[string]any) { c["res_blocks"] = 1 << 20 }},
	{"rows 2^20", func(c map[string]any) { c["rows"] = 1 << 20 }},
	// within every bound, but 8 levels of 8192 channels with 16 ResBlocks
	// each (over 10^11 weights) against the Tiny model's weights file
	{"huge but bounded", func(c map[string]any) {
		c["channels"] = []int{8192, 8192, 8192, 8192, 8192, 8192, 8192, 8192}
		c["attn"] = []bool{true, true, true, true, true, true, true, true}
		c["res_blocks"], c["rows"] = 16, 128
		c["vocab_cap"], c["context_dim"], c["embed_dim"] = 65536, 16384, 16384
	}},
	{"vocab_cap 65536", func(c map[string]any) { c["vocab_cap"] = 65536 }},
	{"rows 16 for a model of 8", func(c map[string]any) { c["rows"] = 16 }},
}

// TestLoadHostileConfig: every hostile config.json is refused with an error
// naming the folder, before the memory it asks for is allocated: loading
// allocates under 64 MB in all (the weights file of the Tiny model is 1 MB).
func TestLoadHostileConfig(t *testing.T) {
	for _, tc := range hostileConfigs {
		dir := tinyFolder(t)
		editConfig(t, dir, tc.edit)
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		var err error
		func() {
			defer func() {
				if r := recover(); r != nil {
					t.Fatalf("%s: Load panics: %v", tc.name, r)
				}
			}()
			_, err = Load(dir)
		}()
		runtime.ReadMemStats(&after)
		if err == nil || !strings.Contains(err.Error(), dir) {
			t.Errorf("%s: Load: %v, want an error naming %s", tc.name, err, dir)
		}
		if a := after.TotalAlloc - before.TotalAlloc; a > 64<<20 {
			t.Errorf("%s: Load allocated %d MB before the error", tc.name, a>>20)
		}
		t.Logf("%s: %d kB allocated: %v", tc.name, (after.TotalAlloc-before.TotalAlloc)>>10, err)
	}
}

// TestLoadNonFinite: weights holding NaN or infinities are refused, with
// the file and the tensor named (issue 17, items 9 and 12).
func TestLoadNonFinite(t *testing.T) {
	for _, v := range []float32{float32(math.NaN()), float32(math.Inf(1))} {
		dir := tinyFolder(t)
		p := filepath.Join(dir, WeightsFile)
		ts, meta, err := safetensors.Load(p)
		if err != nil {
			t.Fatal(err)
		}
		ts[3].Data[5] = v
		if err := safetensors.Save(p, ts, meta); err != nil {
			t.Fatal(err)
		}
		_, err = Load(dir)
		if err == nil || !strings.Contains(err.Error(), WeightsFile) || !strings.Contains(err.Error(), ts[3].Name) {
			t.Errorf("weight %g: %v, want an error naming %s and %s", v, err, WeightsFile, ts[3].Name)
		}
	}
}

// TestLoadHugeJSON: a vocabulary file of more than the limit is refused
// without being read.
func TestLoadHugeJSON(t *testing.T) {
	dir := tinyFolder(t)
	if err := os.WriteFile(filepath.Join(dir, VocabFile), make([]byte, maxModelJSON+1), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(dir); err == nil || !strings.Contains(err.Error(), VocabFile) {
		t.Errorf("huge vocab.json: %v", err)
	}
}
