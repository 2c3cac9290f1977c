package repair

import (
	"encoding/binary"
	"math/bits"
	"net/netip"

	"t2t"
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
	rp.addresses()
	if rp.proto() == t2t.ProtoICMP {
		for _, q := range ps {
			q.dir = 1
			if q.typ&0x08 != 0 {
				q.dir = 0
			}
		}
		return
	}
	genC, genS := rp.portPair(ps)
	server := rp.serverPort(genS) // drawn before the client port
	directions(ps, genC, genS, server)
	rp.port = [2]uint16{rp.clientPort(genC, server), server}
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
	if o.ClientMAC != ([6]byte{}) {
		rp.mac[0] = o.ClientMAC
	}
	if o.ServerMAC != ([6]byte{}) {
		rp.mac[1] = o.ServerMAC
	}
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
