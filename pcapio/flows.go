package pcapio

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"sort"
	"time"

	"t2t"
)

// FlowKey identifies a bidirectional flow: the transport protocol and its
// two endpoints in canonical order (A before B), so that both directions
// of a conversation have the same key. For ICMP the port of both endpoints
// is the echo identifier (0 for messages that carry none).
type FlowKey struct {
	Proto uint8
	A, B  netip.AddrPort
}

// MakeFlowKey returns the canonical key of a packet sent from src to dst.
// It also reports whether src is the key's A endpoint.
func MakeFlowKey(proto uint8, src, dst netip.AddrPort) (k FlowKey, srcIsA bool) {
	if lessAddrPort(dst, src) {
		return FlowKey{Proto: proto, A: dst, B: src}, false
	}
	return FlowKey{Proto: proto, A: src, B: dst}, true
}

func lessAddrPort(a, b netip.AddrPort) bool {
	if c := a.Addr().Compare(b.Addr()); c != 0 {
		return c < 0
	}
	return a.Port() < b.Port()
}

func (k FlowKey) String() string {
	p := t2t.TransportName(k.Proto)
	if p == "" {
		p = fmt.Sprintf("proto%d", k.Proto)
	}
	return p + " " + k.A.String() + " <-> " + k.B.String()
}

// Flow is the packets of one bidirectional conversation, in file order.
type Flow struct {
	Key  FlowKey
	Link t2t.LinkType
	// Src is the initiator: the sender of the flow's first packet.
	Src netip.AddrPort
	// Packets holds the flow's packets (Data copied), at most
	// FlowOptions.MaxPackets of them.
	Packets []Packet
	// Seen counts all the flow's packets, including those dropped beyond
	// MaxPackets; LastSeen is the time of the last of them.
	Seen     int
	LastSeen time.Time

	fwd     []bool // fwd[i]: Packets[i] was sent by Src
	tcpDone bool   // a FIN or RST has been seen
}

// First returns the time of the flow's first packet.
func (f *Flow) First() time.Time {
	if len(f.Packets) == 0 {
		return time.Time{}
	}
	return f.Packets[0].Time
}

// Last returns the time of the flow's last kept packet.
func (f *Flow) Last() time.Time {
	if len(f.Packets) == 0 {
		return time.Time{}
	}
	return f.Packets[len(f.Packets)-1].Time
}

// Forward reports whether packet i was sent by the initiator (Src).
func (f *Flow) Forward(i int) bool { return f.fwd[i] }

// FlowOptions configures flow assembly. The zero value gives a 120 s idle
// timeout and keeps every packet.
type FlowOptions struct {
	// IdleTimeout ends a flow after a silence longer than this; the next
	// packet with the same key starts a new flow. Zero means
	// DefaultIdleTimeout, a negative value no timeout.
	IdleTimeout time.Duration
	// MaxPackets keeps only the first MaxPackets packets of each flow;
	// later ones are dropped (and counted in Stats.Dropped). 0 keeps all.
	MaxPackets int
	// NewFlowOnSYN starts a new flow when a TCP SYN without ACK arrives on
	// a flow that has seen a FIN or RST (port reuse).
	NewFlowOnSYN bool
}

// DefaultIdleTimeout is the idle timeout used when FlowOptions.IdleTimeout
// is zero.
const DefaultIdleTimeout = 120 * time.Second

// Stats counts what flow assembly did with the packets it read.
type Stats struct {
	Packets int // packets read
	Flowed  int // packets assigned to a flow (kept or dropped)
	Skipped int // packets not encodable by nPrint (non-IP, ARP, IPv6 extension headers, other transports, truncated headers)
	// Fragments counts IPv4 fragments other than the first: they carry no
	// transport header (what t2t.ParseInfo reads as one is payload), so
	// they are left out of flows.
	Fragments int
	Dropped   int // packets beyond FlowOptions.MaxPackets
	Flows     int // flows made
	// OverSnaplen counts records longer than their file's snaplen, read
	// whole (see Reader.OverSnaplen).
	OverSnaplen int
}

func (s *Stats) add(o Stats) {
	s.Packets += o.Packets
	s.Flowed += o.Flowed
	s.Skipped += o.Skipped
	s.OverSnaplen += o.OverSnaplen
	s.Dropped += o.Dropped
	s.Fragments += o.Fragments
	s.Flows += o.Flows
}

// arena hands out copies of packet data from large shared chunks, so that
// assembling a flow does not allocate per packet.
type arena struct{ chunk []byte }

func (a *arena) copy(b []byte) []byte {
	if len(b) > cap(a.chunk)-len(a.chunk) {
		a.chunk = make([]byte, 0, max(1<<20, len(b)))
	}
	n := len(a.chunk)
	a.chunk = append(a.chunk, b...)
	return a.chunk[n : n+len(b) : n+len(b)]
}

// Assemble reads every packet of r and groups the encodable ones (IP
// carrying TCP, UDP or ICMP, as t2t.ParseInfo decides) into bidirectional
// flows, returned in the order of their first packet (file order for
// equal times). Packets of a link type t2t cannot decode give an error
// naming the file and offset.
func Assemble(r *Reader, opts FlowOptions) ([]*Flow, Stats, error) {
	idle := opts.IdleTimeout
	if idle == 0 {
		idle = DefaultIdleTimeout
	}
	var (
		st     Stats
		flows  []*Flow
		active = make(map[FlowKey]*Flow)
		mem    arena
	)
	for {
		p, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return flows, st, err
		}
		st.Packets++
		info, err := t2t.ParseInfo(p.Link, p.Data)
		if err != nil {
			var u *t2t.UnknownLinkTypeError
			if errors.As(err, &u) {
				return nil, st, &FormatError{File: r.File(), Offset: p.Offset, Msg: "cannot assemble flows", Err: err}
			}
			st.Skipped++ // frame shorter than its link header
			continue
		}
		if !info.Encodable() {
			st.Skipped++
			continue
		}
		if info.Version == 4 && binary.BigEndian.Uint16(p.Data[info.NetOff+6:])&0x1fff != 0 {
			st.Fragments++
			continue
		}
		sp, dp := info.SrcPort, info.DstPort
		if info.Proto == t2t.ProtoICMP {
			sp, dp = info.ICMPID, info.ICMPID
		}
		src := netip.AddrPortFrom(info.Src, sp)
		key, _ := MakeFlowKey(info.Proto, src, netip.AddrPortFrom(info.Dst, dp))
		f := active[key]
		var synOnly, finRst bool
		if info.Proto == t2t.ProtoTCP && info.TransOff+14 <= len(p.Data) {
			fl := p.Data[info.TransOff+13]
			synOnly = fl&0x12 == 0x02
			finRst = fl&0x05 != 0
		}
		if f != nil {
			if idle > 0 && p.Time.Sub(f.LastSeen) > idle {
				f = nil
			} else if opts.NewFlowOnSYN && synOnly && f.tcpDone {
				f = nil
			}
		}
		if f == nil {
			f = &Flow{Key: key, Link: p.Link, Src: src}
			active[key] = f
			flows = append(flows, f)
		}
		st.Flowed++
		f.Seen++
		f.LastSeen = p.Time
		if finRst {
			f.tcpDone = true
		}
		if opts.MaxPackets > 0 && len(f.Packets) >= opts.MaxPackets {
			st.Dropped++
			continue
		}
		p.Data = mem.copy(p.Data)
		f.Packets = append(f.Packets, p)
		f.fwd = append(f.fwd, src == f.Src)
	}
	sort.SliceStable(flows, func(i, j int) bool { return flows[i].First().Before(flows[j].First()) })
	st.Flows = len(flows)
	st.OverSnaplen = r.OverSnaplen()
	return flows, st, nil
}

// AssembleFile opens the capture at path and assembles its flows.
func AssembleFile(path string, opts FlowOptions) ([]*Flow, Stats, error) {
	r, err := Open(path)
	if err != nil {
		return nil, Stats{}, err
	}
	defer r.Close()
	return Assemble(r, opts)
}
