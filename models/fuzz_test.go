package models

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"testing/fstest"

	"t2t/internal/fuzzseed"
)

// FuzzLoadFolder: any config.json, vocab.json, scheduler.json and
// profile.json beside a Tiny model's weights give a model or an error,
// never a panic or an allocation the weights file does not justify. The
// seeds are the Tiny model's own files and the hostile configs of
// TestLoadHostileConfig.
func FuzzLoadFolder(f *testing.F) {
	dir := tinyFolder(f)
	read := func(name string) []byte {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			f.Fatal(err)
		}
		return b
	}
	weights := read(WeightsFile)
	cfg, vocab, noise := read(ConfigFile), read(VocabFile), read(NoiseFile)
	profile := Profile()
	fuzzseed.Add(f, "tiny", cfg, vocab, noise, profile)
	for i, h := range hostileConfigs {
		var c map[string]any
		json.Unmarshal(cfg, &c)
		h.edit(c)
		b, _ := json.Marshal(c)
		fuzzseed.Add(f, "hostile-"+string(rune('a'+i)), b, vocab, noise, []byte("{}"))
	}
	fuzzseed.Add(f, "vocab-path", cfg, []byte(`["<null>","<unk>","../../pwned"]`), noise, []byte("{}"))
	over := []string{"<null>", "<unk>"}
	for i := 0; i < 70; i++ {
		over = append(over, fmt.Sprintf("c%d", i))
	}
	ob, _ := json.Marshal(over)
	fuzzseed.Add(f, "vocab-over-cap", cfg, ob, []byte(`{"num_train_timesteps":-1}`), []byte(`{"classes":{"x":null}}`))
	f.Fuzz(func(t *testing.T, cfg, vocab, noise, profile []byte) {
		fsys := fstest.MapFS{
			ConfigFile:  {Data: cfg},
			VocabFile:   {Data: vocab},
			NoiseFile:   {Data: noise},
			ProfileFile: {Data: profile},
			WeightsFile: {Data: weights},
		}
		fo, err := loadFS(fsys, ".", "fuzz")
		if err != nil {
			return
		}
		if fo.Model.UNet.Params.Count() > 1<<20 || fo.Model.Vocab.Len() > fo.Model.UNet.Config.VocabCap {
			t.Fatalf("loaded a model of %d weights, %d tokens", fo.Model.UNet.Params.Count(), fo.Model.Vocab.Len())
		}
	})
}
