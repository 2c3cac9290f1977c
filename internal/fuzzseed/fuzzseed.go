// Package fuzzseed adds seeds to a fuzz target and, when the environment
// variable T2T_FUZZ_SEEDS is set, also writes each to the target's committed
// corpus (testdata/fuzz/<FuzzName>/<name>), so that the crafted cases of a
// test stay in the corpus that `go test -fuzz` starts from:
//
//	T2T_FUZZ_SEEDS=1 go test -run FuzzLoadFolder ./models
package fuzzseed

import (
	"bytes"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"t2t/internal/safetensors"
)

// Add adds the seed args (each []byte or string) to f under name.
func Add(f *testing.F, name string, args ...any) {
	f.Helper()
	f.Add(args...)
	if os.Getenv("T2T_FUZZ_SEEDS") == "" {
		return
	}
	var b strings.Builder
	b.WriteString("go test fuzz v1\n")
	for _, a := range args {
		switch v := a.(type) {
		case []byte:
			fmt.Fprintf(&b, "[]byte(%q)\n", v)
		case string:
			fmt.Fprintf(&b, "string(%q)\n", v)
		default:
			f.Fatalf("fuzzseed: seed %s: %T is not []byte or string", name, a)
		}
	}
	dir := filepath.Join("testdata", "fuzz", f.Name())
	if err := os.MkdirAll(dir, 0o755); err != nil {
		f.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name), []byte(b.String()), 0o644); err != nil {
		f.Fatal(err)
	}
}

// Edits adds, for each edit, the safetensors file at path with its
// metadata edited as a seed under the edit's name: the crafted cases of a
// file format whose tensors stay valid.
func Edits(f *testing.F, path string, edits map[string]func(meta map[string]string)) {
	f.Helper()
	ts, meta, err := safetensors.Load(path)
	if err != nil {
		f.Fatal(err)
	}
	for name, edit := range edits {
		m := maps.Clone(meta)
		edit(m)
		var b bytes.Buffer
		if err := safetensors.Write(&b, ts, m); err != nil {
			f.Fatal(err)
		}
		Add(f, name, b.Bytes())
	}
}
