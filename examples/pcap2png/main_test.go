package main

import (
	"bytes"
	"errors"
	"io"
	"path/filepath"
	"strings"
	"testing"

	"t2t"
	"t2t/pcapio"
)

// TestImages writes the images of real captures and reads them back: one
// image per flow, each as tall as asked, the flow's packets on top in
// order, vacant rows below.
func TestImages(t *testing.T) {
	l := t2t.NetDiffusionSpec.MustLayout()
	for _, c := range []string{"dns", "http", "icmp", "ssh"} {
		in := "../../testdata/captures/" + c + "-200.pcap"
		dir := t.TempDir()
		var out bytes.Buffer
		if err := run([]string{"-in", in, "-out", dir, "-packets", "32"}, &out, io.Discard); err != nil {
			t.Fatal(err)
		}
		flows, _, err := pcapio.AssembleFile(in, pcapio.FlowOptions{MaxPackets: 32})
		if err != nil {
			t.Fatal(err)
		}
		files, _ := filepath.Glob(filepath.Join(dir, "*.png"))
		if len(files) != len(flows) || len(files) == 0 {
			t.Fatalf("%s: %d images for %d flows", c, len(files), len(flows))
		}
		enc := t2t.NewEncoder(l, t2t.EncoderOptions{VLAN: true, IPv6Payload: true})
		row := make([]int8, l.Width())
		for i, f := range flows {
			m, err := t2t.ReadPNGFile(files[i], l)
			if err != nil {
				t.Fatal(err)
			}
			if m.Rows != 32 {
				t.Fatalf("%s: image of %d rows, want 32", files[i], m.Rows)
			}
			n := 0
			for _, p := range f.Packets {
				if _, err := enc.Encode(row, p.Link, p.Data); errors.Is(err, t2t.ErrSkip) {
					continue
				}
				if !bytes.Equal(i8(m.Row(n)), i8(row)) {
					t.Fatalf("%s: row %d differs from the flow's packet", files[i], n)
				}
				n++
			}
			for r := n; r < m.Rows; r++ {
				for _, v := range m.Row(r) {
					if v != -1 {
						t.Fatalf("%s: padding row %d not vacant", files[i], r)
					}
				}
			}
		}
		if !strings.Contains(out.String(), "1088x32") {
			t.Errorf("summary %q", out.String())
		}
	}
}

func i8(v []int8) []byte {
	b := make([]byte, len(v))
	for i, x := range v {
		b[i] = byte(x)
	}
	return b
}

func TestBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{},
		{"-in", "../../testdata/captures/dns-200.pcap", "-layout", "x"},
		{"-in", "../../testdata/captures/dns-200.pcap", "-packets", "0"},
		{"-in", "../../testdata/captures/dns-200.pcap", "-packets", "100000000"},
		{"-in", "../../testdata/captures/dns-200.pcap", "-p", "100000000"},
		{"-in", "missing.pcap"},
	} {
		if err := run(args, io.Discard, io.Discard); err == nil {
			t.Errorf("%v: no error", args)
		}
	}
}
