// Package fuzzseed adds seeds to a fuzz target and, when the environment
// variable T2T_FUZZ_SEEDS is set, also writes each to the target's committed
// corpus (testdata/fuzz/<FuzzName>/<name>), so that the crafted cases of a
// test stay in the corpus that `go test -fuzz` starts from:
//
//	T2T_FUZZ_SEEDS=1 go test -run FuzzLoadFolder ./models
package fuzzseed

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
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
