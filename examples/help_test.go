// Package examples_test checks what every example program shares: -h
// exits 0 with a usage line, and the README's table of examples lists
// every program and every one of its flags.
package examples_test

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
)

// programs are the example programs: every folder here with a main.go.
func programs(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob("*/main.go")
	if err != nil || len(files) == 0 {
		t.Fatalf("no example programs: %v", err)
	}
	var names []string
	for _, f := range files {
		names = append(names, filepath.Dir(f))
	}
	return names
}

var flagLine = regexp.MustCompile(`^  -([A-Za-z0-9_-]+)`)

// binaries builds every example once into a temporary folder shared by
// the tests.
var binaries = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "t2t-examples-")
	if err != nil {
		return "", err
	}
	if out, err := exec.Command("go", "build", "-o", dir+string(filepath.Separator), "./...").CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./examples/...: %v\n%s", err, out)
	}
	return dir, nil
})

func TestMain(m *testing.M) {
	code := m.Run()
	if !testing.Short() { // the tests built them
		if dir, err := binaries(); err == nil {
			os.RemoveAll(dir)
		}
	}
	os.Exit(code)
}

// TestHelp builds every example and runs it with -h: exit status 0, a
// usage line naming the program first, an example, and the flags; then
// checks that README.md's table of examples has a row for the program
// naming every flag -h lists.
func TestHelp(t *testing.T) {
	if testing.Short() {
		t.Skip("builds every example")
	}
	bin, err := binaries()
	if err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	rows := map[string]string{}
	for _, line := range strings.Split(string(readme), "\n") {
		if m := regexp.MustCompile("^\\| `([a-z0-9]+)` \\|").FindStringSubmatch(line); m != nil {
			rows[m[1]] = line
		}
	}
	for _, name := range programs(t) {
		t.Run(name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			cmd := exec.Command(filepath.Join(bin, name), "-h")
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			err := cmd.Run()
			var ee *exec.ExitError
			if errors.As(err, &ee) || err != nil {
				t.Fatalf("%s -h: %v (want exit status 0)\n%s", name, err, stderr.String())
			}
			usage := stderr.String() + stdout.String()
			if !strings.HasPrefix(usage, "usage: "+name+" ") {
				t.Fatalf("%s -h does not start with a usage line:\n%s", name, usage)
			}
			if !strings.Contains(usage, "\nexample:\n  "+name+" ") {
				t.Errorf("%s -h shows no example", name)
			}
			row, ok := rows[name]
			if !ok {
				t.Fatalf("README.md's table of examples has no row | `%s` |", name)
			}
			n := 0
			for _, line := range strings.Split(usage, "\n") {
				m := flagLine.FindStringSubmatch(line)
				if m == nil {
					continue
				}
				n++
				if !strings.Contains(row, "`-"+m[1]+"`") {
					t.Errorf("README.md's row for %s lacks its flag `-%s`", name, m[1])
				}
			}
			if n == 0 {
				t.Errorf("%s -h lists no flags", name)
			}
		})
	}
}

// TestBadFlag: an unknown flag exits 2 (a usage error), not 0 or 1.
func TestBadFlag(t *testing.T) {
	if testing.Short() {
		t.Skip("builds every example")
	}
	bin, err := binaries()
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range programs(t) {
		err := exec.Command(filepath.Join(bin, name), "-no-such-flag").Run()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 2 {
			t.Errorf("%s -no-such-flag: %v, want exit status 2", name, err)
		}
	}
}
