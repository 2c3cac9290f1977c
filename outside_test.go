package t2t_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"t2t/evaluate"
)

// TestOutsideModule proves the README's recipe for using t2t from another
// module: a program in a new module outside the checkout
// (testdata/outside/main.go.txt) imports t2t/sampler, t2t/pipeline and
// t2t/models, builds against this checkout and writes a valid pcap. Both
// recipes are run: require + replace + go mod tidy, and a go.work. The
// test skips only when the Go module cache or proxy cannot be reached.
func TestOutsideModule(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a program in a new module")
	}
	checkout, err := filepath.Abs(".")
	if err != nil {
		t.Fatal(err)
	}
	src, err := os.ReadFile("testdata/outside/main.go.txt")
	if err != nil {
		t.Fatal(err)
	}
	for _, recipe := range []string{"replace", "work"} {
		t.Run(recipe, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, "main.go"), src, 0o644); err != nil {
				t.Fatal(err)
			}
			goCmd := func(args ...string) (string, error) {
				cmd := exec.Command("go", args...)
				cmd.Dir = dir
				work := "off" // no workspace a parent folder may hold
				if recipe == "work" && args[0] != "work" {
					work = filepath.Join(dir, "go.work")
				}
				cmd.Env = append(os.Environ(), "GOWORK="+work)
				out, err := cmd.CombinedOutput()
				return string(out), err
			}
			steps := [][]string{{"mod", "init", "example.com/user"}}
			if recipe == "replace" {
				// README: go mod edit -require t2t@v0.0.0 -replace t2t=../t2t && go mod tidy
				steps = append(steps, []string{"mod", "edit", "-require", "t2t@v0.0.0", "-replace", "t2t=" + checkout}, []string{"mod", "tidy"})
			} else {
				// README: go work init . ../t2t
				steps = append(steps, []string{"work", "init", ".", checkout})
			}
			steps = append(steps, []string{"build", "-o", "gen", "."})
			for _, s := range steps {
				if out, err := goCmd(s...); err != nil {
					if unreachable(out) {
						t.Skipf("go %s: the module proxy or cache cannot be reached:\n%s", strings.Join(s, " "), out)
					}
					t.Fatalf("go %s: %v\n%s", strings.Join(s, " "), err, out)
				}
			}
			pcap := filepath.Join(dir, "dns.pcap")
			cmd := exec.Command(filepath.Join(dir, "gen"), pcap)
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("the outside program: %v\n%s", err, out)
			}
			c, err := evaluate.CheckFile(pcap)
			if err != nil {
				t.Fatal(err)
			}
			if c.Packets == 0 || c.Errors() != 0 {
				t.Fatalf("the outside program's pcap: %d packets, %d problems: %v", c.Packets, c.Errors(), c.Problems)
			}
		})
	}
}

// unreachable reports whether go's output says a module could not be
// fetched: no network, no proxy, or GOFLAGS=-mod=readonly/GOPROXY=off
// with an empty cache.
func unreachable(out string) bool {
	for _, s := range []string{"dial tcp", "lookup ", "GOPROXY=off", "no such host", "connection refused", "i/o timeout", "module lookup disabled", "TLS handshake"} {
		if strings.Contains(out, s) {
			return true
		}
	}
	return false
}
