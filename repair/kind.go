package repair

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"sort"
	"strconv"
	"strings"

	"t2t"
	"t2t/pcapio"
)

// A class of real traffic (a device, an app, a user) is a mixture of kinds
// of flows: DHCP to broadcast, DNS, NTP, mDNS and SSDP to multicast, TLS
// to its cloud, each with its own ports, TTL, DF, IP ID habit, lengths and
// timing. Statistics of the class as a whole blend them. A profile
// therefore also learns each kind of flow on its own
// (ClassProfile.Kinds), and repair draws a flow's values from its kind's
// statistics.
//
// A kind is the flow's transport, its IP version and its server port
// (the destination port of its first packet): "udp/67", "tcp6/443",
// "icmp". Kinds with fewer than MinKindFlows flows, and those past the
// MaxKinds most frequent, are pooled per transport into "<transport>/*".

// MinKindFlows is the fewest flows a kind needs for statistics of its own.
const MinKindFlows = 3

// MaxKinds bounds the kinds of a class (the most frequent are kept).
const MaxKinds = 32

// Kind returns the statistics of the flows of kind key (KindKey) of the
// class: the kind's own, else its transport's pool, else c itself. c may
// be nil (nil is returned).
func (c *ClassProfile) Kind(key string) *ClassProfile {
	if c == nil {
		return nil
	}
	if k := c.Kinds[key]; k != nil {
		return k
	}
	if k := c.Kinds[pcapio.PooledKind(key)]; k != nil {
		return k
	}
	return c
}

// buildKinds learns the kinds of flows of one class.
func buildKinds(fl []*pcapio.Flow) map[string]*ClassProfile {
	byKind := map[string][]*pcapio.Flow{}
	for _, f := range fl {
		if k := pcapio.FlowKind(f); k != "" {
			byKind[k] = append(byKind[k], f)
		}
	}
	keys := make([]string, 0, len(byKind))
	for k := range byKind {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if a, b := len(byKind[keys[i]]), len(byKind[keys[j]]); a != b {
			return a > b
		}
		return keys[i] < keys[j]
	})
	groups := map[string][]*pcapio.Flow{}
	for i, k := range keys {
		if len(byKind[k]) >= MinKindFlows && i < MaxKinds {
			groups[k] = byKind[k]
		} else if p := pcapio.PooledKind(k); p != k {
			groups[p] = append(groups[p], byKind[k]...)
		}
	}
	if len(groups) <= 1 && len(keys) <= 1 {
		return nil // one kind: the class's own statistics are its
	}
	out := map[string]*ClassProfile{}
	for k, fs := range groups {
		if len(fs) < MinKindFlows {
			continue
		}
		b := newClassBuilder()
		for _, f := range fs {
			b.flow(f)
		}
		out[k] = b.profile()
	}
	return out
}

// ipv4ID reads the IPv4 identification of a frame (ok false when it is
// not IPv4 or is cut before it).
func ipv4ID(data []byte, info t2t.PacketInfo) (uint16, bool) {
	if info.Version != 4 || info.NetOff+6 > len(data) {
		return 0, false
	}
	return binary.BigEndian.Uint16(data[info.NetOff+4:]), true
}

// special is whether a is an address a class's flows keep as they are:
// broadcast, multicast, or unspecified (a DHCP client's 0.0.0.0).
func special(a netip.Addr) bool {
	a = a.Unmap()
	return a.IsMulticast() || a.IsUnspecified() || a == netip.AddrFrom4([4]byte{255, 255, 255, 255})
}

// AddrCount is an address and how many flows used it.
type AddrCount struct {
	Addr string `json:"addr"`
	N    int    `json:"n"`
}

// addrCounter counts addresses.
type addrCounter map[netip.Addr]int

func (c addrCounter) list() []AddrCount {
	out := make([]AddrCount, 0, len(c))
	for a, n := range c {
		out = append(out, AddrCount{a.String(), n})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].N != out[j].N {
			return out[i].N > out[j].N
		}
		return out[i].Addr < out[j].Addr
	})
	if len(out) > MaxCounts {
		out = out[:MaxCounts]
	}
	return out
}

// validateKinds checks the kinds of c: keys that are kinds, profiles
// that are valid and hold no kinds of their own.
func (c *ClassProfile) validateKinds(bad func(string, ...any) error) error {
	if len(c.Kinds) > MaxKinds+6 {
		return bad("%d kinds, at most %d", len(c.Kinds), MaxKinds+6)
	}
	for k, kp := range c.Kinds {
		kbad := func(format string, args ...any) error {
			return bad("kind %q: %s", k, fmt.Sprintf(format, args...))
		}
		if !validKindKey(k) {
			return kbad("not a kind (want tcp/443, udp6/5353, icmp, udp/*)")
		}
		if kp == nil {
			return kbad("missing")
		}
		if len(kp.Kinds) > 0 {
			return kbad("holds kinds of its own")
		}
		if err := kp.validateCounts(kbad); err != nil {
			return err
		}
		if err := kp.validateShapes(kbad); err != nil {
			return err
		}
		if err := kp.validateAddrs(kbad); err != nil {
			return err
		}
	}
	return nil
}

func validKindKey(k string) bool {
	tr, port, ok := strings.Cut(k, "/")
	switch tr {
	case "icmp", "icmp6":
		return !ok
	case "tcp", "udp", "tcp6", "udp6":
	default:
		return false
	}
	if !ok {
		return false
	}
	if port == "*" {
		return true
	}
	n, err := strconv.Atoi(port)
	return err == nil && n >= 0 && n <= 65535 && strconv.Itoa(n) == port
}

// validateAddrs checks c's address counts.
func (c *ClassProfile) validateAddrs(bad func(string, ...any) error) error {
	if len(c.Dests) > MaxCounts {
		return bad("%d dests, at most %d", len(c.Dests), MaxCounts)
	}
	for _, a := range c.Dests {
		ip, err := netip.ParseAddr(a.Addr)
		if err != nil || !special(ip) || a.N < 0 || a.N > c.Flows {
			return bad("dest %q count %d: want a broadcast, multicast or unspecified address seen by at most the class's %d flows", a.Addr, a.N, c.Flows)
		}
	}
	if c.UnspecSrc < 0 || c.UnspecSrc > c.Flows || c.OneWay < 0 || c.OneWay > c.Flows {
		return bad("unspec_src %d, one_way %d of %d flows", c.UnspecSrc, c.OneWay, c.Flows)
	}
	if err := checkCounts(bad, "client_ports", c.ClientPorts, 0, 65535); err != nil {
		return err
	}
	if len(c.ClientPorts) > MaxCounts {
		return bad("%d client ports, at most %d", len(c.ClientPorts), MaxCounts)
	}
	for d := 0; d < 2; d++ {
		for h := range c.IPID[d] {
			if c.IPID[d][h] < 0 || c.IPID[d][h] > c.Flows {
				return bad("ip_id[%d][%d] = %d of %d flows", d, h, c.IPID[d][h], c.Flows)
			}
		}
	}
	return nil
}

// fixedClientPorts are the client ports that a kind's clients use again
// and again (DHCP's 68, NTP's 123, mDNS's 5353: at least two flows and a
// fifth of them each), and the share of flows they cover.
func (c *ClassProfile) fixedClientPorts() ([]Count, float64) {
	if c == nil || c.Flows == 0 {
		return nil, 0
	}
	var out []Count
	n := 0
	for _, p := range c.ClientPorts {
		if p.N >= 2 && p.N*5 >= c.Flows {
			out = append(out, p)
			n += p.N
		}
	}
	return out, float64(n) / float64(c.Flows)
}

// idHabit is the IP ID habit of direction d that at least 90% of the
// kind's flows share (-1: none).
func (c *ClassProfile) idHabit(d int) int {
	if c == nil {
		return -1
	}
	n, best, bestN := 0, -1, 0
	for h, k := range c.IPID[d] {
		n += k
		if k > bestN {
			best, bestN = h, k
		}
	}
	if n == 0 || bestN*10 < 9*n {
		return -1
	}
	return best
}
