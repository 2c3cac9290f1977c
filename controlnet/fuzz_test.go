package controlnet

import (
	"bytes"
	"slices"
	"testing"

	"t2t"
	"t2t/pcapio"
)

// FuzzDecodePNG: any bytes give a control of the asked size or an error,
// never a panic; a decoded control re-encodes to a PNG that decodes to
// itself.
func FuzzDecodePNG(f *testing.F) {
	l := t2t.NetDiffusionSpec.MustLayout()
	flows, _, err := pcapio.AssembleFile("../testdata/captures/ssh-200.pcap", pcapio.FlowOptions{MaxPackets: 8})
	if err != nil {
		f.Fatal(err)
	}
	m, err := flows[0].Matrix(l, 8)
	if err != nil {
		f.Fatal(err)
	}
	var buf bytes.Buffer
	FromMatrix(m, 8).WritePNG(&buf)
	f.Add(buf.Bytes())
	buf.Reset()
	t2t.EncodePNG(&buf, m)
	f.Add(buf.Bytes())
	f.Add([]byte("\x89PNG\r\n\x1a\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := DecodePNG(bytes.NewReader(b), l.Width(), 8)
		if err != nil {
			return
		}
		if c.Rows != 8 || c.Cols != l.Width() || len(c.Present) != 8*l.Width() {
			t.Fatalf("control of %dx%d with %d bits", c.Rows, c.Cols, len(c.Present))
		}
		var out bytes.Buffer
		if err := c.WritePNG(&out); err != nil {
			t.Fatal(err)
		}
		back, err := DecodePNG(&out, l.Width(), 8)
		if err != nil || !slices.Equal(back.Present, c.Present) {
			t.Fatalf("round trip: %v", err)
		}
	})
}
