package pcapio_test

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/gopacket"
	"github.com/google/gopacket/pcapgo"

	"t2t/pcapio"
)

// files lists the captures to compare: the committed test data, and when
// present the 14 captures-seed42 files and the public files of
// fixtures/nprint/public/FILES.tsv.
func files(t *testing.T) []string {
	fs, _ := filepath.Glob("../testdata/captures/*.pcap")
	if len(fs) == 0 {
		t.Fatal("no test captures")
	}
	seed, _ := filepath.Glob("../../shared/data/captures-seed42/*.pcap")
	fs = append(fs, seed...)
	if b, err := os.ReadFile("../../shared/fixtures/nprint/public/FILES.tsv"); err == nil {
		sc := bufio.NewScanner(bytes.NewReader(b))
		for sc.Scan() {
			f := strings.Split(sc.Text(), "\t")
			if len(f) == 2 {
				p := filepath.Join("../../shared/data/public", f[1])
				if _, err := os.Stat(p); err == nil {
					fs = append(fs, p)
				}
			}
		}
	}
	return fs
}

type source interface {
	ReadPacketData() ([]byte, gopacket.CaptureInfo, error)
}

func TestReaderMatchesPcapgo(t *testing.T) {
	for _, path := range files(t) {
		t.Run(filepath.Base(path), func(t *testing.T) {
			ours, err := pcapio.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer ours.Close()
			f, err := os.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			var src source
			if ours.Format() == pcapio.FormatPcapNG {
				src, err = pcapgo.NewNgReader(f, pcapgo.DefaultNgReaderOptions)
			} else {
				src, err = pcapgo.NewReader(f)
			}
			if err != nil {
				t.Fatal(err)
			}
			n := 0
			for ; ; n++ {
				p, err := ours.Next()
				want, ci, werr := src.ReadPacketData()
				if errors.Is(werr, io.EOF) {
					if err != io.EOF {
						t.Fatalf("packet %d: pcapgo ends, pcapio gives %v", n, err)
					}
					break
				}
				if werr != nil {
					t.Fatalf("packet %d: pcapgo: %v", n, werr)
				}
				if err != nil {
					t.Fatalf("packet %d: %v", n, err)
				}
				if !p.Time.Equal(ci.Timestamp) || p.OrigLen != ci.Length || !bytes.Equal(p.Data, want) {
					t.Fatalf("packet %d: got %v len %d/%d, pcapgo %v len %d/%d", n, p.Time, len(p.Data), p.OrigLen, ci.Timestamp, len(want), ci.Length)
				}
			}
			if n == 0 {
				t.Fatal("no packets")
			}
			t.Logf("%d packets equal", n)
		})
	}
}
