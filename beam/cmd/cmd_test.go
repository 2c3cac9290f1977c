package cmd_test

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// build compiles a command of beam/cmd into dir.
func build(t *testing.T, name, dir string) string {
	t.Helper()
	bin := filepath.Join(dir, name)
	if out, err := exec.Command("go", "build", "-o", bin, "./"+name).CombinedOutput(); err != nil {
		t.Fatalf("go build %s: %v\n%s", name, err, out)
	}
	return bin
}

// run runs bin with args and returns its exit status and standard error.
func run(t *testing.T, bin string, args ...string) (int, string) {
	t.Helper()
	var stderr strings.Builder
	cmd := exec.Command(bin, args...)
	cmd.Stderr = &stderr
	err := cmd.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode(), stderr.String()
	}
	if err != nil {
		t.Fatal(err)
	}
	return 0, stderr.String()
}

// TestCommands: a bad command line exits 2 naming the flag; a good one
// runs on Prism and writes its manifest.
func TestCommands(t *testing.T) {
	dir := t.TempDir()
	enc, gen, ev := build(t, "encode", dir), build(t, "generate", dir), build(t, "evaluate", dir)
	for _, c := range []struct {
		bin  string
		args []string
		want string
	}{
		{enc, []string{"--output", dir}, "--input"},
		{enc, []string{"--input", "../../testdata/captures", "--output", dir, "--format", "jpg"}, "--format"},
		{enc, []string{"--input", "../../testdata/captures", "--output", dir, "-R", "-A"}, "-R and -A"},
		{enc, []string{"--input", "../../testdata/captures", "--output", dir, "-4", "-O", "7"}, "-O 7"},
		{gen, []string{"--output", dir}, "--classes"},
		{gen, []string{"--classes", "dns", "--flows", "0", "--output", dir}, "--flows 0"},
		{gen, []string{"--requests", "dns=x", "--output", dir}, "--requests"},
		{ev, []string{"--real", "../../testdata/heldout", "--output", "x.json"}, "--synthetic"},
		{ev, []string{"--real", "../../testdata/heldout", "--synthetic", "nowhere", "--output", "x.json"}, "nowhere"},
	} {
		code, stderr := run(t, c.bin, c.args...)
		if code != 2 || !strings.Contains(stderr, c.want) {
			t.Errorf("%s %v: exit %d, %q; want 2 and %q", filepath.Base(c.bin), c.args, code, stderr, c.want)
		}
	}
	out := filepath.Join(dir, "rows")
	if code, stderr := run(t, enc, "--input", "../../testdata/captures/dns-200.pcap", "--output", out, "-4", "-u", "-q"); code != 0 {
		t.Fatalf("encode: exit %d: %s", code, stderr)
	}
	if _, err := os.Stat(filepath.Join(out, "rows-00000-of-00001.csv")); err != nil {
		t.Error(err)
	}
	synth := filepath.Join(dir, "synth")
	if code, stderr := run(t, gen, "--classes", "dns", "--flows", "2", "--steps", "1", "--max_packets", "8", "--output", synth, "-q"); code != 0 {
		t.Fatalf("generate: exit %d: %s", code, stderr)
	}
	fid := filepath.Join(dir, "fidelity.json")
	if code, stderr := run(t, ev, "--real", "../../testdata/heldout", "--synthetic", synth, "--output", fid); code != 0 {
		t.Fatalf("evaluate: exit %d: %s", code, stderr)
	}
	if b, err := os.ReadFile(fid); err != nil || !strings.Contains(string(b), `"class": "dns"`) {
		t.Errorf("fidelity.json: %v\n%.300s", err, b)
	}
	b, err := os.ReadFile(filepath.Join(synth, "manifest.csv"))
	if err != nil {
		t.Fatal(err)
	}
	if lines := strings.Split(strings.TrimSpace(string(b)), "\n"); len(lines) != 2 || !strings.HasPrefix(lines[1], "dns,2,") {
		t.Errorf("manifest.csv:\n%s", b)
	}
}
