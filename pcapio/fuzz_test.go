package pcapio

import (
	"bytes"
	"errors"
	"io"
	"testing"
)

// FuzzReader feeds arbitrary bytes to the Reader: it must never panic,
// must return io.EOF or a *FormatError, and must keep its limits.
func FuzzReader(f *testing.F) {
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := NewReader(bytes.NewReader(b))
		if err != nil {
			var fe *FormatError
			if !errors.As(err, &fe) {
				t.Fatalf("NewReader: %T %v", err, err)
			}
			return
		}
		last := int64(-1)
		for {
			p, err := r.Next()
			if err == io.EOF {
				return
			}
			if err != nil {
				var fe *FormatError
				if !errors.As(err, &fe) || fe.Offset > int64(len(b)) {
					t.Fatalf("Next: %T %v", err, err)
				}
				return
			}
			if len(p.Data) > MaxCapLen || p.Offset <= last || p.Offset+int64(len(p.Data)) > int64(len(b)) {
				t.Fatalf("packet at %d (previous %d) of %d bytes in a %d-byte file", p.Offset, last, len(p.Data), len(b))
			}
			last = p.Offset
		}
	})
}
