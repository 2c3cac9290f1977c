package pcapio_test

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/gopacket/pcapgo"

	"t2t/pcapio"
)

// TestAllPublic compares the readers on every capture of the public
// folders (slow; set PCAPIO_ALL=1). Files both readers reject, or that
// pcapgo misreads, are logged.
func TestAllPublic(t *testing.T) {
	if os.Getenv("PCAPIO_ALL") == "" {
		t.Skip("set PCAPIO_ALL=1")
	}
	root := "../../shared/data/public"
	var paths []string
	filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && pcapio.IsCaptureFile(p) || strings.HasSuffix(p, ".trace") {
			paths = append(paths, p)
		}
		return nil
	})
	if len(paths) == 0 {
		t.Skip("no public captures")
	}
	agree, differ := 0, 0
	for _, path := range paths {
		ours, err := pcapio.Open(path)
		if err != nil {
			t.Logf("%s: pcapio: %v", path, err)
			differ++
			continue
		}
		f, _ := os.Open(path)
		var src source
		if ours.Format() == pcapio.FormatPcapNG {
			src, err = pcapgo.NewNgReader(f, pcapgo.DefaultNgReaderOptions)
		} else {
			src, err = pcapgo.NewReader(f)
		}
		if err != nil {
			t.Logf("%s: pcapgo open: %v", path, err)
			differ++
			f.Close()
			ours.Close()
			continue
		}
		n := 0
		same := true
		for ; ; n++ {
			p, err := ours.Next()
			want, ci, werr := src.ReadPacketData()
			if err != nil || werr != nil {
				if err == io.EOF && errors.Is(werr, io.EOF) {
					break
				}
				t.Logf("%s: packet %d: pcapio %v, pcapgo %v", path, n, err, werr)
				same = false
				break
			}
			if !p.Time.Equal(ci.Timestamp) || p.OrigLen != ci.Length || !bytes.Equal(p.Data, want) {
				t.Logf("%s: packet %d: got %v len %d/%d, pcapgo %v len %d/%d", path, n, p.Time, len(p.Data), p.OrigLen, ci.Timestamp, len(want), ci.Length)
				same = false
				break
			}
		}
		if same {
			agree++
		} else {
			differ++
		}
		f.Close()
		ours.Close()
	}
	t.Logf("%d files agree, %d differ", agree, differ)
}
