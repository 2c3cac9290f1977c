package cli

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

func TestSpecial(t *testing.T) {
	dir := t.TempDir()
	plain := filepath.Join(dir, "plain")
	if err := os.WriteFile(plain, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skipf("no FIFO here: %v", err)
	}
	for path, want := range map[string]bool{plain: false, dir: false, filepath.Join(dir, "none"): false, fifo: true, "/dev/null": true} {
		if got := Special(path); got != want {
			t.Errorf("Special(%s) = %v, want %v", path, got, want)
		}
	}
}
