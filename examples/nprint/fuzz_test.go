package main

import (
	"bytes"
	"encoding/hex"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// FuzzHexCSV feeds arbitrary files to -C (nPrint's hex packet CSV): the
// command returns an error or writes rows, and never panics; every row it
// writes has the columns of its header.
//
//	go test -run XXX -fuzz FuzzHexCSV -fuzztime 60s ./examples/nprint/
func FuzzHexCSV(f *testing.F) {
	frame, err := os.ReadFile("../../testdata/captures/dns-200.pcap")
	if err != nil {
		f.Fatal(err)
	}
	pkt := hex.EncodeToString(frame[40:100]) // the first packet's first bytes
	f.Add([]byte("src,dst,hex\n1,2," + pkt + "\n"))
	f.Add([]byte("a,b,c\n1,2,4500001c\n"))
	f.Add([]byte("a,b,c\n1,2,zz\n\n1\n"))
	f.Add([]byte("x\n"))
	f.Add([]byte(""))
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(dir, "in.csv")
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		var out bytes.Buffer
		if err := run([]string{"-C", path, "-4", "-6", "-t", "-u", "-i", "-p", "4"}, &out, io.Discard); err != nil {
			return
		}
		lines := bytes.Split(bytes.TrimSuffix(out.Bytes(), []byte("\n")), []byte("\n"))
		if out.Len() == 0 {
			return
		}
		want := bytes.Count(lines[0], []byte(","))
		for i, l := range lines {
			if got := bytes.Count(l, []byte(",")); got != want {
				t.Fatalf("row %d has %d commas, the header %d", i, got, want)
			}
		}
	})
}
