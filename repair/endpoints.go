package repair

import (
	"encoding/binary"
	"math/bits"
	"net/netip"

	"t2t"
	"t2t/pcapio"
)

// endpoints chooses addresses, ports and MACs and sets each packet's
// direction.
//
// Direction heuristic (TCP, UDP): the two most frequent port values of the
// rows are the generated pair; the server port is the one the profile
// lists more often as a server port (or Options.ServerPort, or failing
// both the destination port of the first row holding the pair), kept when
// the profile knows it, else drawn from the profile. A row goes
// client-to-server when its destination port is closer in Hamming distance
// to the server port than its source port is (see directions). ICMP: bit 3 of the
// type (set in echo request 8, clear in echo reply 0) decides.
func (rp *repairer) endpoints(ps []*pkt) {
	defer rp.addresses()
	if rp.proto() == t2t.ProtoICMP {
		for _, q := range ps {
			q.dir = 1
			if q.typ&0x08 != 0 {
				q.dir = 0
			}
		}
		return
	}
	directions(ps, rp.genC, rp.genS, rp.server)
	if rp.oneWay() {
		for _, q := range ps {
			q.dir = 0
		}
	}
	rp.port = [2]uint16{rp.clientPort(rp.genC, rp.server), rp.server}
}

// chooseKind finds the flow's server port (TCP, UDP) and takes its kind's
// statistics (ClassProfile.Kind) for everything repair draws after.
func (rp *repairer) chooseKind(ps []*pkt) {
	rp.class = rp.cp
	name := t2t.TransportName(rp.proto())
	if rp.proto() != t2t.ProtoICMP {
		rp.genC, rp.genS = rp.portPair(ps)
		rp.server = rp.serverPort(rp.genS) // drawn before the client port
	}
	rp.cp = rp.cp.Kind(pcapio.KindKey(name, rp.v6, rp.server))
}

// oneWay is whether the flow goes one way only: UDP flows of a kind whose
// real flows (95% of them) never had an answer, such as those to a
// broadcast or multicast address (answers come from another address, so
// another flow).
func (rp *repairer) oneWay() bool {
	cp := rp.cp
	return rp.proto() == t2t.ProtoUDP && cp != nil && cp.Flows > 0 && cp.OneWay*100 >= 95*cp.Flows
}

// addresses sets the addresses and MACs: those of Options, else private
// ones derived from Options.FlowIndex.
func (rp *repairer) addresses() {
	o := rp.opts
	idx := uint32(o.FlowIndex)
	if o.Client.IsValid() && o.Server.IsValid() {
		rp.addr = [2]netip.Addr{o.Client, o.Server}
	} else if rp.v6 {
		var a [16]byte
		a[0] = 0xfd
		binary.BigEndian.PutUint32(a[10:], idx)
		a[15] = 2
		rp.addr[0] = netip.AddrFrom16(a)
		a[15] = 1
		rp.addr[1] = netip.AddrFrom16(a)
	} else {
		base := uint32(10)<<24 | (idx*4)&0xffffff
		var a [4]byte
		binary.BigEndian.PutUint32(a[:], base+2)
		rp.addr[0] = netip.AddrFrom4(a)
		binary.BigEndian.PutUint32(a[:], base+1)
		rp.addr[1] = netip.AddrFrom4(a)
	}
	for d := 0; d < 2; d++ {
		rp.mac[d] = [6]byte{0x02, 0, byte(idx >> 24), byte(idx >> 16), byte(idx >> 8), byte(idx)}
		rp.mac[d][5] = byte(idx)
		rp.mac[d][1] = byte(2 - d)
	}
	if !o.Client.IsValid() || !o.Server.IsValid() {
		rp.specialAddrs()
	}
	if o.ClientMAC != ([6]byte{}) {
		rp.mac[0] = o.ClientMAC
	}
	if o.ServerMAC != ([6]byte{}) {
		rp.mac[1] = o.ServerMAC
	}
}

// specialAddrs keeps the broadcast or multicast responder and the
// unspecified source of the flow's kind when most of its real flows have
// them (a DHCP discover goes from 0.0.0.0 to 255.255.255.255, mDNS to
// 224.0.0.251), with the Ethernet destination such an address maps to.
func (rp *repairer) specialAddrs() {
	cp := rp.cp
	if cp == nil || cp.Flows == 0 {
		return
	}
	var dests []Count
	var addrs []netip.Addr
	n := 0
	for _, a := range cp.Dests {
		ip, err := netip.ParseAddr(a.Addr)
		if err != nil || ip.Is6() != rp.v6 {
			continue
		}
		dests = append(dests, Count{len(addrs), a.N})
		addrs = append(addrs, ip)
		n += a.N
	}
	if n > 0 && 2*n >= cp.Flows {
		if i, ok := pick(dests, rp.rng); ok {
			rp.addr[1] = addrs[i]
			rp.mac[1] = groupMAC(addrs[i], rp.mac[1])
		}
	}
	if cp.UnspecSrc > 0 && 2*cp.UnspecSrc >= cp.Flows {
		if rp.v6 {
			rp.addr[0] = netip.IPv6Unspecified()
		} else {
			rp.addr[0] = netip.IPv4Unspecified()
		}
	}
}

// groupMAC is the Ethernet address a broadcast or multicast IP address
// is sent to (RFC 1112, RFC 2464), else mac.
func groupMAC(a netip.Addr, mac [6]byte) [6]byte {
	switch {
	case a.Is4() && a == netip.AddrFrom4([4]byte{255, 255, 255, 255}):
		return [6]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}
	case a.Is4() && a.IsMulticast():
		b := a.As4()
		return [6]byte{0x01, 0x00, 0x5e, b[1] & 0x7f, b[2], b[3]}
	case a.Is6() && a.IsMulticast():
		b := a.As16()
		return [6]byte{0x33, 0x33, b[12], b[13], b[14], b[15]}
	}
	return mac
}

// portPair returns the generated client and server ports: the two most
// frequent port values of the rows, ordered by Options.ServerPort, the
// profile's server ports, or the first row holding both.
func (rp *repairer) portPair(ps []*pkt) (genC, genS uint16) {
	cnt := counter{}
	for _, q := range ps {
		cnt[int(q.roh>>16)]++
		cnt[int(q.roh&0xffff)]++
	}
	top := cnt.list()
	a := uint16(top[0].Value)
	b := a
	if len(top) > 1 {
		b = uint16(top[1].Value)
	}
	cp := rp.cp
	score := func(x uint16) int {
		if cp == nil {
			return 0
		}
		for _, c := range cp.ServerPorts {
			if c.Value == int(x) {
				return c.N
			}
		}
		return 0
	}
	genS, genC = a, b
	switch want := rp.opts.ServerPort; {
	case want != 0 && (a == want || b == want):
		if b == want {
			genS, genC = b, a
		}
	case score(a) != score(b):
		if score(b) > score(a) {
			genS, genC = b, a
		}
	default:
		for _, q := range ps {
			sp, dp := uint16(q.roh>>16), uint16(q.roh)
			if sp == a && dp == b || sp == b && dp == a {
				genS, genC = dp, sp
				break
			}
		}
	}
	return genC, genS
}

func ham16(a, b uint16) int { return bits.OnesCount16(a ^ b) }

// directions sets each packet's direction. The side that carries the
// server port decides first: a row whose destination port is closer in
// Hamming distance to server than its source port goes client-to-server,
// and the reverse. Where both are equally close (a client port equal to
// the server's, or both damaged alike), the distance of the ports to
// (genC, genS) and to (genS, genC) decides; ties alternate. A model learns
// a class's server port well and its random client ports badly, so the
// server port is the surer guide.
func directions(ps []*pkt, genC, genS, server uint16) {
	prev := 1
	for _, q := range ps {
		sp, dp := uint16(q.roh>>16), uint16(q.roh)
		dc := ham16(dp, server)
		ds := ham16(sp, server)
		if dc == ds {
			dc = ham16(sp, genC) + ham16(dp, genS)
			ds = ham16(sp, genS) + ham16(dp, genC)
		}
		switch {
		case dc < ds:
			q.dir = 0
		case ds < dc:
			q.dir = 1
		default:
			q.dir = 1 - prev
		}
		prev = q.dir
	}
}

// serverPort is Options.ServerPort, else the generated server port when
// plausible (known to the profile), else one drawn from the profile.
func (rp *repairer) serverPort(genS uint16) uint16 {
	if rp.opts.ServerPort != 0 {
		return rp.opts.ServerPort
	}
	cp := rp.cp
	plausible := genS != 0
	if cp != nil && len(cp.ServerPorts) > 0 {
		plausible = contains(cp.ServerPorts, int(genS))
	}
	server := genS
	if !plausible {
		if v, ok := pick(cp.serverPorts(), rp.rng); ok {
			server = uint16(v)
		} else if server == 0 {
			server = 443
		}
	}
	return server
}

// clientPort is Options.ClientPort, else the generated client port when
// it lies in the profile's client range (Linux's by default), else one
// drawn from that range.
func (rp *repairer) clientPort(genC, server uint16) uint16 {
	if rp.opts.ClientPort != 0 {
		return rp.opts.ClientPort
	}
	cp := rp.cp
	if fixed, share := cp.fixedClientPorts(); share >= 0.5 {
		if contains(fixed, int(genC)) && genC != server {
			return genC
		}
		if v, ok := pick(fixed, rp.rng); ok && rp.rng.Float64() < share {
			return uint16(v)
		}
	}
	lo, hi := 32768, 60999
	if cp != nil && cp.ClientPortMax > 0 {
		lo, hi = cp.ClientPortMin, cp.ClientPortMax
	}
	client := genC
	if genC == 0 || genC == server || int(genC) < lo || int(genC) > hi {
		client = uint16(lo + rp.rng.IntN(hi-lo+1))
		if client == server {
			client++
		}
	}
	return client
}

func (c *ClassProfile) serverPorts() []Count {
	if c == nil {
		return nil
	}
	return c.ServerPorts
}
