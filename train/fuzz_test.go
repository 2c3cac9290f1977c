package train

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gorgonia.org/tensor"

	"t2t/internal/fuzzseed"
	"t2t/unet"
)

// FuzzCheckpoint: any checkpoint file gives a checkpoint that fits the run
// or an error, never a panic or an allocation the file does not justify.
// Seeds: a valid checkpoint and crafted ones (another model's config,
// steps and losses that disagree, a bad random state, another format).
func FuzzCheckpoint(f *testing.F) {
	// a run that trains only the biases: a checkpoint of a few kB, which
	// the fuzzer mutates (and minimises) quickly
	c := micro()
	u, _ := unet.New(c, tensor.Float32)
	for _, p := range u.Params.List() {
		p.Frozen = !strings.HasSuffix(p.Name, ".bias")
	}
	tr, err := NewTrainer(u, smallTrain(2), benchExamples(c, 3))
	if err != nil {
		f.Fatal(err)
	}
	tr.Dir = f.TempDir()
	if err := tr.Run(context.Background(), nil); err != nil {
		f.Fatal(err)
	}
	path := filepath.Join(tr.Dir, stateDir, checkpointFile)
	valid, _ := os.ReadFile(path)
	fuzzseed.Add(f, "valid", valid)
	fuzzseed.Edits(f, path, map[string]func(m map[string]string){
		"rows-8":      func(m map[string]string) { m[metaState] = strings.Replace(m[metaState], `"rows":4`, `"rows":8`, 1) },
		"step-99":     func(m map[string]string) { m[metaState] = strings.Replace(m[metaState], `"step":2`, `"step":99`, 1) },
		"step-minus":  func(m map[string]string) { m[metaState] = strings.Replace(m[metaState], `"step":2`, `"step":-1`, 1) },
		"rng":         func(m map[string]string) { m[metaState] = strings.Replace(m[metaState], `"rng":"`, `"rng":"AAAA`, 1) },
		"format":      func(m map[string]string) { m["format"] = "t2t-lora/1" },
		"no-state":    func(m map[string]string) { delete(m, metaState) },
		"extra-field": func(m map[string]string) { m[metaState] = strings.Replace(m[metaState], `{`, `{"x":1,`, 1) },
	})
	want := unet.ParamShapes(tr.params)
	f.Fuzz(func(t *testing.T, b []byte) {
		ck, err := readCheckpoint(bytes.NewReader(b), "fuzz", want, c, true)
		if err != nil {
			return
		}
		if len(ck.state.Losses) != ck.state.Step || len(ck.tensor) != 4*len(want) {
			t.Fatalf("checkpoint at step %d with %d losses and %d tensors", ck.state.Step, len(ck.state.Losses), len(ck.tensor))
		}
	})
}
