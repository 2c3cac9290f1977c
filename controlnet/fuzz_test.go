package controlnet

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"gorgonia.org/tensor"

	"t2t"
	"t2t/internal/fuzzseed"
	"t2t/pcapio"
	"t2t/train"
	"t2t/unet"
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

// FuzzReadControlNet: any ControlNet file gives a ControlNet or an error,
// never a panic; a loaded one has a scale in (0, MaxScale] and templates
// of the base's size. Seeds: a valid file with templates and crafted ones
// (scale -5, NaN, templates of another size, bad mask indices).
func FuzzReadControlNet(f *testing.F) {
	base, err := unet.New(micro(), tensor.Float32)
	if err != nil {
		f.Fatal(err)
	}
	n, err := New(base, 1)
	if err != nil {
		f.Fatal(err)
	}
	c := base.Config
	m := t2t.NewMatrix(c.Layout.MustLayout(), 2)
	for i := range m.Bits {
		m.Bits[i] = int8(i % 2)
	}
	n.Templates, err = BuildTemplates(map[string][]train.Flow{"dns": {{Matrix: m, Transport: "udp"}}}, c.Cols, c.Rows, 1)
	if err != nil {
		f.Fatal(err)
	}
	dir := f.TempDir()
	path := filepath.Join(dir, "cn.safetensors")
	if err := n.Save(path, map[string]string{"note": "seed"}); err != nil {
		f.Fatal(err)
	}
	valid, _ := os.ReadFile(path)
	fuzzseed.Add(f, "valid", valid)
	fuzzseed.Edits(f, path, map[string]func(m map[string]string){
		"scale-minus-5": func(m map[string]string) { m[metaScale] = "-5" },
		"scale-nan":     func(m map[string]string) { m[metaScale] = "NaN" },
		"scale-1e30":    func(m map[string]string) { m[metaScale] = "1e30" },
		"rows-64": func(m map[string]string) {
			m[metaTemplates] = strings.Replace(m[metaTemplates], `"rows":4`, `"rows":64`, 1)
		},
		"mask-index": func(m map[string]string) {
			m[metaTemplates] = strings.Replace(m[metaTemplates], `"rows":[0`, `"rows":[99`, 1)
		},
		"info": func(m map[string]string) { m[metaInfo] = "[" },
	})
	f.Fuzz(func(t *testing.T, b []byte) {
		n, _, err := Read(bytes.NewReader(b), "fuzz", base)
		if err != nil {
			return
		}
		if CheckScale(n.Scale) != nil {
			t.Fatalf("loaded scale %g", n.Scale)
		}
		if tp := n.Templates; tp != nil {
			if tp.Rows != c.Rows || tp.Cols != c.Cols {
				t.Fatalf("templates of %dx%d", tp.Rows, tp.Cols)
			}
			for class, ct := range tp.Classes {
				for i := range ct.Flows {
					if _, err := tp.Control(class, i); err != nil {
						t.Fatalf("validated templates: %v", err)
					}
				}
			}
		}
	})
}
