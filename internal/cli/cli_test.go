package cli

import (
	"slices"
	"testing"

	"t2t"
	"t2t/controlnet"
	"t2t/pcapio"
)

// TestControlFromPcap: -control-from file.pcap:i gives the structure map of
// the i-th flow of a real capture; an index past the flows is an error
// naming the file.
func TestControlFromPcap(t *testing.T) {
	l := t2t.NetDiffusionSpec.MustLayout()
	const path = "../../testdata/captures/dns-200.pcap"
	flows, _, err := pcapio.AssembleFile(path, pcapio.FlowOptions{MaxPackets: 8})
	if err != nil {
		t.Fatal(err)
	}
	m, err := flows[1].Matrix(l, 8)
	if err != nil {
		t.Fatal(err)
	}
	want := controlnet.FromMatrix(m, 8)
	for _, spec := range []string{path + ":1"} {
		got, err := ControlFromPcap(spec, l, 8)
		if err != nil || !slices.Equal(got.Present, want.Present) {
			t.Fatalf("%s: not the flow's structure map (%v)", spec, err)
		}
	}
	first, err := ControlFromPcap(path, l, 8)
	if err != nil || first.Packets() == 0 {
		t.Fatalf("no index: %v", err)
	}
	if _, err := ControlFromPcap(path+":100000", l, 8); err == nil {
		t.Fatal("flow index out of range: no error")
	}
}
