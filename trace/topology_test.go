package trace

import (
	"net/netip"
	"strings"
	"testing"
)

// TestTopology: defaults, JSON with defaults for what it leaves out,
// servers assigned in class order skipping taken ones, and clear errors.
func TestTopology(t *testing.T) {
	d, err := ParseTopology([]byte(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	hosts := d.ClientHosts()
	if len(hosts) != 50 || hosts[0] != netip.MustParseAddr("10.1.0.1") || hosts[49] != netip.MustParseAddr("10.1.0.50") {
		t.Fatalf("default clients %v ... %v (%d)", hosts[0], hosts[len(hosts)-1], len(hosts))
	}
	tp, err := ParseTopology([]byte(`{"clients": 254, "servers": {"http": "10.2.0.2:8080"}}`))
	if err != nil {
		t.Fatal(err)
	}
	s, err := tp.servers([]string{"dns", "http", "ssh"})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"dns": "10.2.0.1", "http": "10.2.0.2:8080", "ssh": "10.2.0.3"}
	for c, w := range want {
		if s[c].String() != w {
			t.Errorf("server of %s: %v, want %s", c, s[c], w)
		}
	}
	v6, err := ParseTopology([]byte(`{"client_subnet": "fd00:1::/64", "clients": 3000, "server_subnet": "fd00:2::/120", "servers": {"dns": "[fd00:2::53]:53"}}`))
	if err != nil {
		t.Fatal(err)
	}
	if h := v6.ClientHosts(); h[2999] != netip.MustParseAddr("fd00:1::bb8") {
		t.Errorf("client 3000 of fd00:1::/64: %v", h[2999])
	}
	for _, c := range []struct{ json, want string }{
		{`{"client": 3}`, `unknown field "client"`},
		{`{"clients": 255}`, "255 clients do not fit in 10.1.0.0/24 (254 hosts)"},
		{`{"clients": -1}`, "-1 clients"},
		{`{"client_subnet": "10.1.0.0/33"}`, "client_subnet"},
		{`{"client_subnet": "fd00::/64"}`, "different IP versions"},
		{`{"servers": {"dns": "10.1.0.7"}}`, "server 10.1.0.7 of dns is one of the clients"},
		{`{"servers": {"dns": "fd00::1"}}`, "of the clients' IP version"},
		{`{"servers": {"dns": "10.2.0.1:99999"}}`, "want an address or an address:port"},
		{`{"servers": {"": "10.2.0.1"}}`, "without a name"},
		{`{} {}`, "more than one JSON value"},
	} {
		_, err := ParseTopology([]byte(c.json))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: want an error with %q, got %v", c.json, c.want, err)
		}
	}
	small, _ := ParseTopology([]byte(`{"server_subnet": "10.2.0.0/30"}`))
	if _, err := small.servers([]string{"a", "b", "c"}); err == nil || !strings.Contains(err.Error(), "no host left for class c") {
		t.Errorf("3 servers in a /30: %v", err)
	}
}

// TestMAC: MACs are locally administered unicast, one per address.
func TestMAC(t *testing.T) {
	seen := map[[6]byte]netip.Addr{}
	for _, s := range []string{"10.1.0.1", "10.1.0.2", "10.2.0.1", "fd00:1::1", "fd00:2::1", "fd00:1::2"} {
		a := netip.MustParseAddr(s)
		m := MAC(a)
		if m[0]&0x03 != 0x02 {
			t.Errorf("%v: MAC %x is not locally administered unicast", a, m)
		}
		if b, ok := seen[m]; ok {
			t.Errorf("%v and %v share the MAC %x", a, b, m)
		}
		seen[m] = a
		if MAC(a) != m {
			t.Errorf("%v: MAC not stable", a)
		}
	}
	if m := MAC(netip.MustParseAddr("10.1.2.3")); m != [6]byte{2, 0, 10, 1, 2, 3} {
		t.Errorf("MAC of 10.1.2.3: %x", m)
	}
}
