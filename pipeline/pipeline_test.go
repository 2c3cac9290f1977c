package pipeline

import (
	"testing"

	"t2t"
	"t2t/pcapio"
	"t2t/unet"
)

// TestTransports counts the transports of real flows: each real flow is
// consistent, and a row carrying two transports breaks consistency.
func TestTransports(t *testing.T) {
	l := t2t.NetDiffusionSpec.MustLayout()
	var ms []*t2t.Matrix
	want := [3]int{}
	for k, c := range []string{"ssh", "dns", "icmp"} {
		flows, _, err := pcapio.AssembleFile("../testdata/captures/"+c+"-200.pcap", pcapio.FlowOptions{MaxPackets: 16})
		if err != nil {
			t.Fatal(err)
		}
		m, err := unet.FlowMatrix(flows[0], l, 16)
		if err != nil {
			t.Fatal(err)
		}
		ms = append(ms, m.Resize(16))
		want[k] = m.Rows
	}
	counts, one := Transports(ms)
	if counts != want {
		t.Fatalf("counts %v, want %v", counts, want)
	}
	for i, ok := range one {
		if !ok {
			t.Errorf("real flow %d not consistent", i)
		}
	}
	// add UDP header bits to an SSH row: two transports in one row
	c, _, _ := l.Field("udp_sport")
	ms[0].SetBit(0, c, 1)
	if _, one := Transports(ms[:1]); one[0] {
		t.Error("a row with TCP and UDP counted as consistent")
	}
}
