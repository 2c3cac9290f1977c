package main

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// TestWriteSpecial: -W naming a pipe (or a device, /dev/null) is written
// in place. Renaming a finished temporary file over it, as -W does for a
// plain file, would replace it: as root, nprint -W /dev/null once left a
// plain file where /dev/null was.
func TestWriteSpecial(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "rows")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skipf("no FIFO here: %v", err)
	}
	got := make(chan []byte, 1)
	go func() {
		b, _ := os.ReadFile(fifo)
		got <- b
	}()
	var want bytes.Buffer
	if err := run([]string{"-P", dnsPcap, "-4"}, &want, io.Discard); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- run([]string{"-P", dnsPcap, "-4", "-W", fifo}, io.Discard, io.Discard) }()
	select {
	case b := <-got:
		if !bytes.Equal(b, want.Bytes()) {
			t.Fatalf("the pipe got %d bytes, want the %d of stdout", len(b), want.Len())
		}
	case <-time.After(20 * time.Second):
		t.Fatal("nothing was written to the pipe")
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	st, err := os.Lstat(fifo)
	if err != nil || st.Mode()&os.ModeNamedPipe == 0 {
		t.Fatalf("-W replaced the pipe: %v, %v", st.Mode(), err)
	}
}
