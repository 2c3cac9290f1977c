package trace

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"net/netip"
	"sort"
	"strconv"
)

// Topology says which hosts a trace's flows run between: a pool of client
// hosts, each flow drawing one, and one server per class. Its zero value
// is the default topology; as JSON (ParseTopology) a field left out keeps
// its default:
//
//	{"client_subnet": "10.1.0.0/24", "clients": 50,
//	 "server_subnet": "10.2.0.0/24", "servers": {"http": "10.2.0.80:8080"}}
type Topology struct {
	// ClientSubnet and Clients: the clients are the first Clients hosts
	// of the subnet (its network address left out): 10.1.0.1 to
	// 10.1.0.50 by default.
	ClientSubnet netip.Prefix `json:"client_subnet"`
	Clients      int          `json:"clients"`
	// ServerSubnet holds the servers of the classes Servers does not
	// name: the k-th class of a trace in name order (k from 1) is its
	// k-th host, 10.2.0.k by default.
	ServerSubnet netip.Prefix `json:"server_subnet"`
	// Servers gives classes a server of their own: an address, with a
	// port ("10.2.0.80:8080", "[fd00:2::1]:53") when every flow of the
	// class goes to that port; without one, repair keeps the model's
	// server port when the class's profile knows it and otherwise draws one
	// of the profile's.
	Servers map[string]Endpoint `json:"servers,omitempty"`
}

// The default topology (a zero Topology).
var (
	DefaultClientSubnet = netip.MustParsePrefix("10.1.0.0/24")
	DefaultServerSubnet = netip.MustParsePrefix("10.2.0.0/24")
)

// DefaultClients is the size of the default client pool.
const DefaultClients = 50

// MaxClients bounds a topology's client pool.
const MaxClients = 1 << 16

// Endpoint is a server: an address and a port (0: any of the class's).
// As text it is the address, or address:port.
type Endpoint struct {
	Addr netip.Addr
	Port uint16
}

func (e Endpoint) String() string {
	if e.Port == 0 {
		return e.Addr.String()
	}
	return netip.AddrPortFrom(e.Addr, e.Port).String()
}

// MarshalText writes the endpoint as String does.
func (e Endpoint) MarshalText() ([]byte, error) { return []byte(e.String()), nil }

// UnmarshalText reads an address or an address:port.
func (e *Endpoint) UnmarshalText(b []byte) error {
	s := string(b)
	if a, err := netip.ParseAddr(s); err == nil {
		*e = Endpoint{Addr: a}
		return nil
	}
	ap, err := netip.ParseAddrPort(s)
	if err != nil {
		return fmt.Errorf("server %s: want an address or an address:port", strconv.Quote(s))
	}
	*e = Endpoint{Addr: ap.Addr(), Port: ap.Port()}
	return nil
}

// ParseTopology reads a topology from JSON (unknown fields are errors, so
// that a misspelt one is not silently dropped), fills in the defaults and
// validates it.
func ParseTopology(data []byte) (*Topology, error) {
	var j struct {
		ClientSubnet string            `json:"client_subnet"`
		Clients      int               `json:"clients"`
		ServerSubnet string            `json:"server_subnet"`
		Servers      map[string]string `json:"servers"`
	}
	d := json.NewDecoder(bytes.NewReader(data))
	d.DisallowUnknownFields()
	if err := d.Decode(&j); err != nil {
		return nil, fmt.Errorf("trace: topology: %w", err)
	}
	if d.More() {
		return nil, errors.New("trace: topology: more than one JSON value")
	}
	t := Topology{Clients: j.Clients}
	for _, f := range []struct {
		name, v string
		p       *netip.Prefix
	}{{"client_subnet", j.ClientSubnet, &t.ClientSubnet}, {"server_subnet", j.ServerSubnet, &t.ServerSubnet}} {
		if f.v == "" {
			continue
		}
		p, err := netip.ParsePrefix(f.v)
		if err != nil {
			return nil, fmt.Errorf("trace: topology: %s %q: want a subnet such as 10.1.0.0/24", f.name, f.v)
		}
		*f.p = p
	}
	for name, v := range j.Servers {
		var e Endpoint
		if err := e.UnmarshalText([]byte(v)); err != nil {
			return nil, fmt.Errorf("trace: topology: servers: %s: %w", name, err)
		}
		if t.Servers == nil {
			t.Servers = map[string]Endpoint{}
		}
		t.Servers[name] = e
	}
	t = t.withDefaults()
	if err := t.Validate(); err != nil {
		return nil, err
	}
	return &t, nil
}

// withDefaults returns t with its zero fields set to the defaults.
func (t Topology) withDefaults() Topology {
	if !t.ClientSubnet.IsValid() {
		t.ClientSubnet = DefaultClientSubnet
	}
	if t.Clients == 0 {
		t.Clients = DefaultClients
	}
	if !t.ServerSubnet.IsValid() {
		t.ServerSubnet = DefaultServerSubnet
	}
	return t
}

// hostsIn is the number of hosts of p after its network address (IPv4:
// before its broadcast address too), at most MaxClients+1.
func hostsIn(p netip.Prefix) int {
	free := p.Addr().BitLen() - p.Bits()
	if free > 20 {
		return MaxClients + 1
	}
	n := 1<<free - 1
	if p.Addr().Is4() && free >= 2 {
		n--
	}
	return n
}

// nth is host k (from 1) of p.
func nth(p netip.Prefix, k int) netip.Addr {
	a := p.Masked().Addr().As16()
	v := binary.BigEndian.Uint64(a[8:]) + uint64(k)
	binary.BigEndian.PutUint64(a[8:], v)
	out := netip.AddrFrom16(a)
	if p.Addr().Is4() {
		return out.Unmap()
	}
	return out
}

// Validate says what is wrong with a topology (after defaults): a pool
// that does not fit its subnet, subnets or servers of different IP
// versions, a server that is one of the clients, two hosts with one MAC.
func (t *Topology) Validate() error {
	bad := func(format string, a ...any) error { return fmt.Errorf("trace: topology: "+format, a...) }
	c, s := t.ClientSubnet, t.ServerSubnet
	switch {
	case !c.IsValid() || !s.IsValid():
		return bad("client subnet %v, server subnet %v: want subnets such as 10.1.0.0/24", c, s)
	case c.Addr().Is4() != s.Addr().Is4():
		return bad("client subnet %v and server subnet %v are of different IP versions", c, s)
	case c.Addr().Is4In6() || s.Addr().Is4In6() || c.Addr().Zone() != "" || s.Addr().Zone() != "":
		return bad("subnets %v, %v: want plain IPv4 or IPv6 subnets (no mapped addresses or zones)", c, s)
	case t.Clients < 1 || t.Clients > MaxClients:
		return bad("%d clients: want 1 to %d", t.Clients, MaxClients)
	case t.Clients > hostsIn(c):
		return bad("%d clients do not fit in %v (%d hosts)", t.Clients, c, hostsIn(c))
	}
	names := make([]string, 0, len(t.Servers))
	for name := range t.Servers {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		e := t.Servers[name]
		switch {
		case name == "":
			return bad("a server for a class without a name")
		case !e.Addr.IsValid() || e.Addr.Is4() != c.Addr().Is4() || e.Addr.Is4In6() || e.Addr.Zone() != "":
			return bad("server %v of %s: want an address of the clients' IP version", e.Addr, name)
		case t.isClient(e.Addr):
			return bad("server %v of %s is one of the clients (%v, %d hosts)", e.Addr, name, c, t.Clients)
		}
	}
	return nil
}

// isClient reports whether a is in the client pool.
func (t *Topology) isClient(a netip.Addr) bool {
	if !t.ClientSubnet.Contains(a) {
		return false
	}
	for k := 1; k <= t.Clients; k++ {
		if nth(t.ClientSubnet, k) == a {
			return true
		}
	}
	return false
}

// ClientHosts returns the client pool.
func (t *Topology) ClientHosts() []netip.Addr {
	out := make([]netip.Addr, t.Clients)
	for k := range out {
		out[k] = nth(t.ClientSubnet, k+1)
	}
	return out
}

// servers assigns a server to each class (sorted names): Servers', else
// the next host of ServerSubnet not taken. Two classes may share a
// server only when Servers says so.
func (t *Topology) servers(classes []string) (map[string]Endpoint, error) {
	taken := map[netip.Addr]bool{}
	for _, e := range t.Servers {
		taken[e.Addr] = true
	}
	out := map[string]Endpoint{}
	k := 0
	for _, name := range classes {
		if e, ok := t.Servers[name]; ok {
			out[name] = e
			continue
		}
		var a netip.Addr
		for {
			k++
			if k > hostsIn(t.ServerSubnet) {
				return nil, fmt.Errorf("trace: topology: server subnet %v has no host left for class %s", t.ServerSubnet, name)
			}
			if a = nth(t.ServerSubnet, k); !taken[a] && !t.isClient(a) {
				break
			}
		}
		taken[a] = true
		out[name] = Endpoint{Addr: a}
	}
	return out, nil
}

// MAC is the Ethernet address of a host of a trace, derived from its IP
// address so that a host keeps one MAC throughout: 02:00 and the four
// bytes of an IPv4 address, 06 and five bytes of a hash of an IPv6 one
// (locally administered unicast addresses both). NewPlan checks that no
// two hosts of a plan share one.
func MAC(a netip.Addr) [6]byte {
	if a.Is4() {
		b := a.As4()
		return [6]byte{0x02, 0, b[0], b[1], b[2], b[3]}
	}
	h := fnv.New64a()
	b := a.As16()
	h.Write(b[:])
	var s [8]byte
	binary.BigEndian.PutUint64(s[:], h.Sum64())
	return [6]byte{0x06, s[3], s[4], s[5], s[6], s[7]}
}
