package pcapio

import (
	"net/netip"
	"strconv"
	"strings"

	"t2t"
)

// A kind of flow is its transport, its IP version and its server port
// (the destination port of its first packet): "udp/67", "tcp6/443",
// "icmp". A class of real traffic (a device, an app) mixes kinds, each
// with its own ports, TTL, DF, IP ID habit, lengths and timing; repair
// learns and draws values per kind, and evaluate compares them per kind.

// KindKey is the kind of flow of transport proto ("tcp", "udp", "icmp"),
// IP version 6 or not, and server port.
func KindKey(proto string, v6 bool, server uint16) string {
	if v6 {
		proto += "6"
	}
	if proto == "icmp" || proto == "icmp6" {
		return proto
	}
	return proto + "/" + strconv.Itoa(int(server))
}

// PooledKind is the kind that pools the rare kinds of key's transport and
// version ("udp/*").
func PooledKind(key string) string {
	if i := strings.IndexByte(key, '/'); i >= 0 {
		return key[:i] + "/*"
	}
	return key
}

// FlowKind is the kind of a real flow (KindKey), "" for a flow with no
// packet or a transport nPrint does not encode.
func FlowKind(f *Flow) string {
	if len(f.Packets) == 0 {
		return ""
	}
	name := t2t.TransportName(f.Key.Proto)
	if name == "" {
		return ""
	}
	v6 := f.Src.Addr().Is6() && !f.Src.Addr().Is4In6()
	return KindKey(name, v6, f.Dst().Port())
}

// flowDst is the responder's address and port (the first packet's
// destination).
func (f *Flow) Dst() netip.AddrPort {
	if f.Key.A == f.Src {
		return f.Key.B
	}
	return f.Key.A
}

// IP ID habits of one direction of a flow (repair.ClassProfile.IPID): a counter
// (each packet's ID a small step after the previous one), all zero, or
// anything else (random, or per-destination counters interleaved).
const (
	IDCounter = iota
	IDZero
	IDRandom
	IDHabits // the number of habits
)

// IDHabitNames name the IP ID habits.
var IDHabitNames = [IDHabits]string{"counter", "zero", "random"}

// IDHabit classifies the IPv4 IDs of one direction of a flow (IDCounter,
// IDZero, IDRandom; -1 for fewer than 2 packets).
func IDHabit(ids []uint16) int {
	if len(ids) < 2 {
		return -1
	}
	zero, counter := true, true
	for i, id := range ids {
		if id != 0 {
			zero = false
		}
		if i > 0 {
			if step := id - ids[i-1]; step == 0 || step > MaxIDStep {
				counter = false
			}
		}
	}
	switch {
	case zero:
		return IDZero
	case counter:
		return IDCounter
	}
	return IDRandom
}

// MaxIDStep is the largest step between successive IDs of a counter: a
// host's other flows advance a per-host counter between a flow's packets.
const MaxIDStep = 4096
