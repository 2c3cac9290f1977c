package repair

import (
	"bytes"
	"encoding/json"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"

	"t2t"
	"t2t/pcapio"
)

// udpSpec describes the packets of crafted one-way UDP flows.
type udpSpec struct {
	src, dst     string
	sport, dport int
	ttl          uint8
	df           bool
	ids          func(flow, i int) uint16
}

// udpFlows makes flows of n packets each, one every second, from s; flows
// are 200 s apart, so that flows of one 5-tuple stay apart.
func udpFlows(t *testing.T, s udpSpec, flows, n int) []*pcapio.Flow {
	t.Helper()
	var buf bytes.Buffer
	var ps []pcapio.Packet
	at := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	for f := range flows {
		for i := range n {
			eth := &layers.Ethernet{SrcMAC: net.HardwareAddr{2, 0, 0, 0, 0, 9}, DstMAC: net.HardwareAddr{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, EthernetType: layers.EthernetTypeIPv4}
			ip := &layers.IPv4{Version: 4, TTL: s.ttl, Protocol: layers.IPProtocolUDP, SrcIP: net.ParseIP(s.src), DstIP: net.ParseIP(s.dst), Id: s.ids(f, i)}
			if s.df {
				ip.Flags = layers.IPv4DontFragment
			}
			udp := &layers.UDP{SrcPort: layers.UDPPort(s.sport), DstPort: layers.UDPPort(s.dport)}
			udp.SetNetworkLayerForChecksum(ip)
			sb := gopacket.NewSerializeBuffer()
			if err := gopacket.SerializeLayers(sb, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, eth, ip, udp, gopacket.Payload(make([]byte, 240+8*(i%2)))); err != nil {
				t.Fatal(err)
			}
			d := append([]byte(nil), sb.Bytes()...)
			ps = append(ps, pcapio.Packet{Time: at.Add(time.Duration(f)*200*time.Second + time.Duration(i)*time.Second), Data: d, OrigLen: len(d), Link: t2t.LinkEthernet})
		}
	}
	w, err := pcapio.NewWriter(&buf, t2t.LinkEthernet, pcapio.WriterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range ps {
		if err := w.Write(p); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	r, err := pcapio.NewReader(&buf)
	if err != nil {
		t.Fatal(err)
	}
	fl, _, err := pcapio.Assemble(r, pcapio.FlowOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(fl) != flows {
		t.Fatalf("%d flows assembled, want %d", len(fl), flows)
	}
	return fl
}

var dhcpSpec = udpSpec{src: "0.0.0.0", dst: "255.255.255.255", sport: 68, dport: 67, ttl: 255,
	ids: func(f, i int) uint16 { return uint16(i) }}

// device is a class of real device traffic: DNS over UDP (TTL 64,
// ephemeral client ports, from the committed captures) and DHCP discovers
// (0.0.0.0:68 to 255.255.255.255:67, TTL 255, DF clear, IDs 0, 1, 2, ...,
// one way).
func device(t *testing.T) []*pcapio.Flow {
	t.Helper()
	var fl []*pcapio.Flow
	for _, f := range committed(t)["dns"] {
		if f.Key.Proto == t2t.ProtoUDP {
			fl = append(fl, f)
		}
	}
	return append(fl, udpFlows(t, dhcpSpec, 6, 4)...)
}

// TestKindsLearned: a class that mixes DNS and DHCP learns each kind's
// ports, addresses, TTL, DF, IP ID habit and one-wayness on its own, and
// the profile round-trips through JSON and validates.
func TestKindsLearned(t *testing.T) {
	prof := BuildProfile(map[string][]*pcapio.Flow{"device": device(t)})
	cp := prof.Classes["device"]
	k := cp.Kinds["udp/67"]
	if k == nil {
		t.Fatalf("no udp/67 kind; kinds %v", keys(cp.Kinds))
	}
	if k.Flows != 6 || k.OneWay != 6 || k.UnspecSrc != 6 {
		t.Fatalf("udp/67: %d flows, %d one way, %d from 0.0.0.0", k.Flows, k.OneWay, k.UnspecSrc)
	}
	if len(k.TTL[0]) != 1 || k.TTL[0][0].Value != 255 || k.DF[0][1] != 0 {
		t.Fatalf("udp/67: TTL %v, DF %v", k.TTL[0], k.DF[0])
	}
	if len(k.Dests) != 1 || k.Dests[0].Addr != "255.255.255.255" || k.IPID[0][pcapio.IDCounter] != 6 {
		t.Fatalf("udp/67: dests %v, ip ids %v", k.Dests, k.IPID[0])
	}
	if fixed, share := k.fixedClientPorts(); len(fixed) != 1 || fixed[0].Value != 68 || share != 1 {
		t.Fatalf("udp/67: fixed client ports %v (%.2f)", fixed, share)
	}
	if d := cp.Kinds["udp/53"]; d == nil || contains(d.TTL[0], 255) || d.OneWay == d.Flows {
		t.Fatalf("udp/53: %+v", d)
	}
	// the class as a whole blends them: what repair used to draw from
	if !contains(cp.TTL[0], 255) || !contains(cp.TTL[0], 64) {
		t.Fatalf("class TTLs %v", cp.TTL[0])
	}
	b, err := json.Marshal(prof)
	if err != nil {
		t.Fatal(err)
	}
	back, err := ParseProfile(b)
	if err != nil {
		t.Fatal(err)
	}
	if back.Classes["device"].Kinds["udp/67"].Dests[0].Addr != "255.255.255.255" {
		t.Fatal("kinds lost in JSON")
	}
}

func keys(m map[string]*ClassProfile) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// TestKindsRepair: a generated DHCP flow that came out as the model drew
// it on real device data (ephemeral client port, TTL 64, DF set, random
// IDs, unicast addresses) is repaired to what the class's DHCP flows are,
// while the same class's DNS flows keep TTL 64 and ephemeral ports.
func TestKindsRepair(t *testing.T) {
	prof := BuildProfile(map[string][]*pcapio.Flow{"device": device(t)})
	bad := udpSpec{src: "10.1.2.3", dst: "10.1.2.1", sport: 9088, dport: 67, ttl: 64, df: true,
		ids: func(f, i int) uint16 { return uint16(7919*i*i + 13) }}
	gen := udpFlows(t, bad, 1, 4)[0]
	res, err := Flow(encode(t, gen), "device", prof, Options{}, newRand(1))
	if err != nil {
		t.Fatal(err)
	}
	if res.Client != netip.MustParseAddrPort("0.0.0.0:68") || res.Server != netip.MustParseAddrPort("255.255.255.255:67") {
		t.Fatalf("endpoints %v -> %v", res.Client, res.Server)
	}
	var last uint16
	for i, p := range res.Packets {
		info, err := t2t.ParseInfo(p.Link, p.Data)
		if err != nil {
			t.Fatal(err)
		}
		id, _ := ipv4ID(p.Data, info)
		if info.Src != res.Client.Addr() || info.TTL != 255 || info.DF {
			t.Fatalf("packet %d: from %v, TTL %d, DF %v", i, info.Src, info.TTL, info.DF)
		}
		if i > 0 && id != last+1 {
			t.Fatalf("packet %d: IP ID %d after %d: not a counter", i, id, last)
		}
		last = id
		if !bytes.Equal(p.Data[:6], []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}) {
			t.Fatalf("packet %d: Ethernet destination % x for a broadcast", i, p.Data[:6])
		}
	}
	if fs := res.Log.Fields; fs["ipv4_ttl"] == 0 || fs["udp_sport"] == 0 {
		t.Fatalf("the log does not say what changed: %v", fs)
	}
	// a DNS flow of the same class: its own kind's values
	for _, f := range device(t)[:3] {
		res, err := Flow(encode(t, f), "device", prof, Options{}, newRand(2))
		if err != nil {
			t.Fatal(err)
		}
		if res.Server.Port() != 53 || res.Client.Port() < 1024 || strings.HasPrefix(res.Server.Addr().String(), "255.") {
			t.Fatalf("dns flow: %v -> %v", res.Client, res.Server)
		}
		for _, p := range res.Packets {
			info, _ := t2t.ParseInfo(p.Link, p.Data)
			if info.TTL == 255 {
				t.Fatalf("dns flow %v: TTL 255 of the DHCP kind", f.Key)
			}
		}
		if res.Log.BitsChanged > 0 && res.Log.Fields["ipv4_ttl"] > 0 {
			t.Fatalf("dns flow: real TTLs changed: %v", res.Log.Fields)
		}
	}
}

// TestKindsValidate: kinds that are not kinds, or that nest, are refused.
func TestKindsValidate(t *testing.T) {
	for _, c := range []struct {
		name string
		mod  func(*ClassProfile)
		want string
	}{
		{"bad key", func(c *ClassProfile) { c.Kinds["sctp/1"] = c.Kinds["udp/67"] }, `kind "sctp/1"`},
		{"nested", func(c *ClassProfile) { c.Kinds["udp/67"].Kinds = map[string]*ClassProfile{"udp/1": {}} }, "holds kinds"},
		{"nil", func(c *ClassProfile) { c.Kinds["udp/68"] = nil }, "missing"},
		{"dest", func(c *ClassProfile) { c.Kinds["udp/67"].Dests[0].Addr = "10.0.0.1" }, "dest"},
		{"one way", func(c *ClassProfile) { c.Kinds["udp/67"].OneWay = 1 << 40 }, "one_way"},
		{"ip id", func(c *ClassProfile) { c.IPID[1][pcapio.IDZero] = -1 }, "ip_id"},
	} {
		prof := BuildProfile(map[string][]*pcapio.Flow{"device": device(t)})
		c.mod(prof.Classes["device"])
		b, _ := json.Marshal(prof)
		if _, err := ParseProfile(b); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want an error naming %q", c.name, err, c.want)
		}
	}
}
