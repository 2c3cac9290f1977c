package cli

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCommandHelpAndExitCodes(t *testing.T) {
	var buf bytes.Buffer
	c := Command{Name: "demo", Does: "demo does a thing.", Example: []string{"-n 3"}}
	fs := c.FlagSet(&buf)
	n := fs.Int("n", 7, "how many")
	err := Parse(fs, []string{"-h"})
	if !errors.Is(err, flag.ErrHelp) || ExitCode(err) != 0 {
		t.Fatalf("-h: err %v, exit %d; want flag.ErrHelp and 0", err, ExitCode(err))
	}
	for _, want := range []string{"usage: demo [flags]", "demo does a thing.", "demo -n 3", "-n int", "(default 7)"} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("usage lacks %q:\n%s", want, buf.String())
		}
	}
	if err := Parse(c.FlagSet(&buf), []string{"-bogus"}); ExitCode(err) != 2 {
		t.Errorf("unknown flag: exit %d, want 2 (%v)", ExitCode(err), err)
	}
	if err := Parse(fs, []string{"extra"}); ExitCode(err) != 2 || !strings.Contains(err.Error(), `"extra"`) {
		t.Errorf("left-over argument: exit %d, err %v", ExitCode(err), err)
	}
	if err := Positive("-n", 0); ExitCode(err) != 2 || !strings.HasPrefix(err.Error(), "-n 0") {
		t.Errorf("Positive: %v", err)
	}
	if ExitCode(errors.New("disk full")) != 1 || ExitCode(nil) != 0 {
		t.Error("plain error must exit 1, nil 0")
	}
	_ = n
}

func TestPathChecks(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "f.pcap")
	if err := os.WriteFile(file, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := InFile("-in", file); err != nil {
		t.Errorf("InFile on a file: %v", err)
	}
	for _, c := range []struct {
		name string
		err  error
		want string
	}{
		{"missing input", InFile("-in", filepath.Join(dir, "nope")), "-in "},
		{"folder as input file", InFile("-in", dir), "is a folder"},
		{"file as input folder", InDir("-real", file), "is a file"},
		{"out in missing folder", OutFile("-out", filepath.Join(dir, "no", "x.pcap")), "-out: folder"},
		{"out is a folder", OutFile("-out", dir), "is a folder"},
		{"out dir is a file", OutDir("-png", file), "is a file"},
	} {
		if c.err == nil || !strings.Contains(c.err.Error(), c.want) {
			t.Errorf("%s: err %v, want it to contain %q", c.name, c.err, c.want)
		}
	}
	if err := OutFile("-out", filepath.Join(dir, "new.pcap")); err != nil {
		t.Errorf("OutFile in a writable folder: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "new.pcap")); !os.IsNotExist(err) {
		t.Error("OutFile must not create the file")
	}
	sub := filepath.Join(dir, "a", "b")
	if err := OutDir("-png", sub); err != nil {
		t.Errorf("OutDir: %v", err)
	}
	if st, err := os.Stat(sub); err != nil || !st.IsDir() {
		t.Error("OutDir must create the folder")
	}
	if os.Getuid() != 0 {
		ro := filepath.Join(dir, "ro")
		os.Mkdir(ro, 0o555)
		if err := OutFile("-out", filepath.Join(ro, "x")); err == nil || !strings.Contains(err.Error(), "takes no new files") {
			t.Errorf("read-only folder: %v", err)
		}
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".t2t-write-check") {
			t.Errorf("check file left behind: %s", e.Name())
		}
	}
}
