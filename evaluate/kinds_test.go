package evaluate

import (
	"math"
	"testing"

	"t2t/pcapio"
)

func kindFlows(t *testing.T, names ...string) []*pcapio.Flow {
	t.Helper()
	var out []*pcapio.Flow
	for _, n := range names {
		fl, _, err := pcapio.AssembleFile("../testdata/captures/"+n+"-200.pcap", pcapio.FlowOptions{})
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, fl...)
	}
	return out
}

// TestCompareKinds: a set against itself is at distance 0 in every field
// and mix; a synthetic set that lacks a kind shows in the mix, not in the
// kinds both hold; one whose TTLs are all one value shows in ttl.
func TestCompareKinds(t *testing.T) {
	mix := kindFlows(t, "dns", "ntp")
	real := map[string][]*pcapio.Flow{"mix": mix}
	same := CompareKinds(real, real)
	if len(same.Kinds) < 2 {
		t.Fatalf("%d kinds in dns+ntp", len(same.Kinds))
	}
	for _, k := range same.Kinds {
		for f, v := range k.TV {
			if v != 0 {
				t.Fatalf("%s %s: %s at %.3f against itself", k.Class, k.Kind, f, v)
			}
		}
	}
	if same.Mix["mix"] != 0 {
		t.Fatalf("mix %.3f against itself", same.Mix["mix"])
	}
	dnsOnly := CompareKinds(real, map[string][]*pcapio.Flow{"mix": kindFlows(t, "dns")})
	var ntpShare float64
	for _, f := range mix {
		if pcapio.FlowKind(f) == "udp/123" {
			ntpShare++
		}
	}
	ntpShare /= float64(len(mix))
	if d := dnsOnly.Mix["mix"]; math.Abs(d-ntpShare) > 1e-9 || ntpShare == 0 {
		t.Fatalf("mix without ntp %.3f, want the ntp share %.3f", d, ntpShare)
	}
	for _, k := range dnsOnly.Kinds {
		if k.Kind == "udp/123" {
			t.Fatal("a kind the synthetic side lacks was compared")
		}
		if k.TV["ttl"] != 0 {
			t.Fatalf("%s: ttl %.3f on the same flows", k.Kind, k.TV["ttl"])
		}
	}
	// TTL of every synthetic packet rewritten to 1: ttl distance 1
	var bent []*pcapio.Flow
	for _, f := range kindFlows(t, "dns", "ntp") {
		for _, p := range f.Packets {
			p.Data[14+8] = 1 // the IPv4 TTL of an Ethernet frame
		}
		bent = append(bent, f)
	}
	ttl := CompareKinds(real, map[string][]*pcapio.Flow{"mix": bent})
	for _, k := range ttl.Kinds {
		if k.TV["ttl"] != 1 || k.TV["iplen"] != 0 {
			t.Fatalf("%s: ttl %.3f, iplen %.3f with every TTL set to 1", k.Kind, k.TV["ttl"], k.TV["iplen"])
		}
	}
	if ttl.Median["ttl"] != 1 {
		t.Fatalf("median ttl %.3f", ttl.Median["ttl"])
	}
}
