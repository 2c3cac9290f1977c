package repair

import (
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"strings"

	"t2t"
	"t2t/pcapio"
)

// Count is one observed value and how often it was seen.
type Count struct {
	Value int `json:"v"`
	N     int `json:"n"`
}

// Template is the TCP options of a SYN or SYN+ACK as seen on the wire, with
// the timestamp values zeroed, in hex.
type Template struct {
	Options string `json:"options"`
	N       int    `json:"n"`
}

// IATBins is the number of bins of an inter-arrival histogram: bin 0 holds
// gaps under 1 µs, bin k (k >= 1) gaps in [2^(k-1), 2^k) µs.
const IATBins = 40

// IATBuckets says which histogram of ClassProfile.IAT the gap before
// packet i (i >= 1) of a flow is drawn from: packets 1, 2, 3-7, 8-31, 32+.
var IATBuckets = [...]int{1, 2, 3, 8, 32}

func iatBucket(i int) int {
	b := 0
	for k, lo := range IATBuckets {
		if i >= lo {
			b = k
		}
	}
	return b
}

// ClassProfile is what repair learns of one class from real flows.
// Directions are indexed 0 (client to server: sent by the flow's first
// packet's sender) and 1 (server to client).
type ClassProfile struct {
	Flows     int            `json:"flows"`
	Transport map[string]int `json:"transport"` // flows per transport: "tcp", "udp", "icmp"
	IPv6      int            `json:"ipv6"`      // flows over IPv6
	// ServerPorts counts the destination port of each TCP/UDP flow's first
	// packet, most frequent first.
	ServerPorts   []Count `json:"server_ports,omitempty"`
	ClientPortMin int     `json:"client_port_min,omitempty"`
	ClientPortMax int     `json:"client_port_max,omitempty"`
	// TTL counts IPv4 TTLs and IPv6 hop limits of packets per direction.
	TTL [2][]Count `json:"ttl"`
	// TOS counts IPv4 types of service and IPv6 traffic classes of
	// packets per direction. Repair keeps a packet's when the class has
	// it at the packet's position (Position.TOS) or, past the positions,
	// in that direction, else draws one of those (ssh clients mark their
	// first packets 0x10, later ones 0x08; servers 0x00).
	TOS [2][]Count `json:"tos,omitempty"`
	// DF counts IPv4 packets per direction without [0] and with [1] the
	// don't-fragment flag.
	DF [2][2]int `json:"df"`
	// Windows counts TCP window values per direction (the most frequent
	// MaxCounts values).
	Windows [2][]Count `json:"windows"`
	// SYN and SYNACK are the TCP option templates of SYNs and SYN+ACKs.
	SYN    []Template `json:"syn,omitempty"`
	SYNACK []Template `json:"synack,omitempty"`
	// ICMPTypes counts ICMP types of packets.
	ICMPTypes []Count `json:"icmp_types,omitempty"`
	// ICMPDF counts IPv4 echo requests [0] and replies [1] without [.][0]
	// and with [.][1] DF: a class whose flows mix transports and ICMP types
	// (ping, and a traceroute's UDP probes and time-exceeded messages)
	// sets DF on its echo requests alone.
	ICMPDF [2][2]int `json:"icmp_df,omitempty"`
	// EchoFirst counts the sequence number of each flow's first echo
	// request, EchoSteps the step from one request's to the next (ping
	// counts from 1, one by one).
	EchoFirst []Count `json:"echo_first,omitempty"`
	EchoSteps []Count `json:"echo_steps,omitempty"`
	// IAT holds, per bucket of IATBuckets, a histogram of IATBins bins of
	// inter-arrival times.
	IAT [len(IATBuckets)][]int `json:"iat"`
	// MaxIPLen is the longest IP packet (total length) seen.
	MaxIPLen int `json:"max_ip_len"`
	// IPLens counts the IP total lengths of packets (IPv6: 40 + payload
	// length), most frequent first, at most MaxLenCounts values. Repair
	// snaps a generated length that is not among them to the nearest one
	// within MaxLenFlips bit flips.
	IPLens []Count `json:"ip_lens,omitempty"`
	// Positions describes the first PositionPackets packets of the
	// class's flows, one entry per packet position: what real flows
	// carry there in each direction. Repair draws a generated UDP
	// datagram's length from its position's values (see PositionOdds),
	// and mixes them into the draws of TCP lengths and windows from
	// Steps, so that a flow's lengths are ones the class has, position
	// by position.
	Positions []Position `json:"positions,omitempty"`
	// Endings counts how the class's TCP flows end: the last packets
	// from the first FIN or RST among a flow's last EndPackets packets
	// (direction, flags, payload or not), and Unended the flows with no
	// FIN or RST there. Repair gives a flow whose end the matrix holds
	// (Options.End) one of these endings, as often as real flows end so.
	Endings []Ending `json:"endings,omitempty"`
	Unended int      `json:"unended,omitempty"`
	// Steps describe, for the first PositionPackets packets, the payload
	// lengths (and PSH flags) real flows send at a position and direction
	// after a given previous data packet, sorted by context (see Step).
	// Repair keeps a generated length a step has and draws any other
	// from the step and the position (SequenceWeight), so that a flow's
	// lengths follow each other as the class's do.
	Steps []Step `json:"steps,omitempty"`
	// PSH counts the TCP packets without SYN, FIN or RST per direction
	// and payload (0 none, 1 some) without [0] and with [1] the PSH flag,
	// for the packets no step describes.
	PSH [2][2][2]int `json:"psh"`

	// Kinds holds the same statistics learned from each kind of the
	// class's flows alone (see KindKey and kind.go), nil when the class
	// has one kind; repair draws a flow's values from its kind's.
	Kinds map[string]*ClassProfile `json:"kinds,omitempty"`
	// ClientPorts counts the source port of each TCP/UDP flow's first
	// packet (the most frequent MaxCounts): fixed-port protocols (DHCP
	// 68, NTP 123, mDNS 5353) keep theirs.
	ClientPorts []Count `json:"client_ports,omitempty"`
	// Dests counts the responder addresses of flows that go to a
	// broadcast or multicast address; UnspecSrc the flows sent from the
	// unspecified address (a DHCP client's 0.0.0.0). Repair keeps them:
	// every other address is made private.
	Dests     []AddrCount `json:"dests,omitempty"`
	UnspecSrc int         `json:"unspec_src,omitempty"`
	// OneWay counts the flows with no packet from the responder.
	OneWay int `json:"one_way,omitempty"`
	// IPID counts, per direction, the flows whose IPv4 IDs (two packets
	// or more) count up (pcapio.IDCounter), are all zero (pcapio.IDZero) or neither
	// (pcapio.IDRandom).
	IPID [2][pcapio.IDHabits]int `json:"ip_id"`
}

// EndPackets is how many of a TCP flow's last packets an Ending may span.
const EndPackets = 4

// Ending is the end of real TCP flows: one entry per packet, in order.
type Ending struct {
	Dirs  string `json:"dirs"`  // '0' client to server, '1' server to client
	Flags []int  `json:"flags"` // TCP flags byte
	Data  string `json:"data"`  // '1' the packet carries payload, '0' not
	N     int    `json:"n"`     // flows that end so
}

// PositionPackets is how many leading packets of a flow
// ClassProfile.Positions describes.
const PositionPackets = 32

// Position is what the real flows of a class carry at one packet
// position, per direction (0 client to server).
type Position struct {
	Payload [2][]Count `json:"payload,omitempty"` // transport payload lengths (bytes after the TCP/UDP header)
	Windows [2][]Count `json:"windows,omitempty"` // TCP windows
	TOS     [2][]Count `json:"tos,omitempty"`     // IPv4 types of service, IPv6 traffic classes
}

// MaxLenCounts bounds ClassProfile.IPLens.
const MaxLenCounts = 1024

// Profile is the per-class knowledge repair draws from. It is stored with
// a model as JSON (encoding/json round-trips it).
type Profile struct {
	Classes map[string]*ClassProfile `json:"classes"`
}

// MaxCounts bounds the length of every Count list of a profile (the most
// frequent values are kept).
const MaxCounts = 64

type counter map[int]int

func (c counter) list() []Count { return c.top(MaxCounts) }

// top lists at most k values, most frequent first.
func (c counter) top(k int) []Count {
	out := make([]Count, 0, len(c))
	for v, n := range c {
		out = append(out, Count{v, n})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].N != out[j].N {
			return out[i].N > out[j].N
		}
		return out[i].Value < out[j].Value
	})
	if len(out) > k {
		out = out[:k]
	}
	return out
}

// BuildProfile learns a profile from real flows of each class (Ethernet,
// raw IP or any link type t2t reads). Packets it cannot parse are skipped.
func BuildProfile(flows map[string][]*pcapio.Flow) *Profile {
	p := &Profile{Classes: map[string]*ClassProfile{}}
	for class, fl := range flows {
		b := newClassBuilder()
		for _, f := range fl {
			b.flow(f)
		}
		cp := b.profile()
		cp.Kinds = buildKinds(fl)
		p.Classes[class] = cp
	}
	return p
}

// classBuilder counts what BuildProfile learns of one class.
type classBuilder struct {
	cp          *ClassProfile
	ports       counter
	ttl, win    [2]counter
	tos         [2]counter
	icmp, lens  counter
	echoFirst   counter
	echoSteps   counter
	echoLast    int // the flow's last echo request's sequence number (-1: none yet)
	syn, synack map[string]int
	endings     map[string]*Ending
	posPay      [PositionPackets][2]counter
	posWin      [PositionPackets][2]counter
	posTOS      [PositionPackets][2]counter
	steps       stepCounter
	// the flow's last data packet so far (direction -1: none) and its
	// last packet (Step.Last)
	prevDir, prevLen, last int
	clientPorts            counter
	dests                  addrCounter
	ids                    [2][]uint16 // the flow's IPv4 IDs per direction
}

func newClassBuilder() *classBuilder {
	b := &classBuilder{cp: &ClassProfile{Transport: map[string]int{}}, ports: counter{},
		ttl: [2]counter{{}, {}}, win: [2]counter{{}, {}}, tos: [2]counter{{}, {}}, icmp: counter{}, lens: counter{}, echoFirst: counter{}, echoSteps: counter{},
		syn: map[string]int{}, synack: map[string]int{}, endings: map[string]*Ending{}, steps: stepCounter{},
		clientPorts: counter{}, dests: addrCounter{}}
	for k := range b.cp.IAT {
		b.cp.IAT[k] = make([]int, IATBins)
	}
	return b
}

// flow counts one flow: its transport, version and ports, then each of
// its packets.
func (b *classBuilder) flow(f *pcapio.Flow) {
	cp := b.cp
	if len(f.Packets) == 0 {
		return
	}
	cp.Flows++
	if name := t2t.TransportName(f.Key.Proto); name != "" {
		cp.Transport[name]++
	}
	if f.Src.Addr().Is6() && !f.Src.Addr().Is4In6() {
		cp.IPv6++
	}
	if f.Key.Proto != t2t.ProtoICMP {
		sp := int(f.Src.Port())
		dst := f.Key.A
		if dst == f.Src {
			dst = f.Key.B
		}
		b.ports[int(dst.Port())]++
		b.clientPorts[sp]++
		if cp.ClientPortMin == 0 || sp < cp.ClientPortMin {
			cp.ClientPortMin = sp
		}
		cp.ClientPortMax = max(cp.ClientPortMax, sp)
	}
	if f.Key.Proto == t2t.ProtoTCP {
		b.ending(f)
	}
	if dst := f.Dst().Addr(); special(dst) {
		b.dests[dst.Unmap()]++
	}
	if f.Src.Addr().IsUnspecified() || f.Src.Addr().Unmap().IsUnspecified() {
		cp.UnspecSrc++
	}
	b.prevDir, b.prevLen, b.last = -1, 0, -1
	b.echoLast = -1
	b.ids = [2][]uint16{b.ids[0][:0], b.ids[1][:0]}
	back := false
	for i, pk := range f.Packets {
		d := 1
		if f.Forward(i) {
			d = 0
		} else {
			back = true
		}
		if i > 0 {
			gap := pk.Time.Sub(f.Packets[i-1].Time).Microseconds()
			cp.IAT[iatBucket(i)][iatBin(gap)]++
		}
		b.packet(i, d, pk)
	}
	if !back {
		cp.OneWay++
	}
	for d := 0; d < 2; d++ {
		if h := pcapio.IDHabit(b.ids[d]); h >= 0 {
			cp.IPID[d][h]++
		}
	}
}

// packet counts the headers of the i-th packet of a flow, sent in
// direction d.
func (b *classBuilder) packet(i, d int, pk pcapio.Packet) {
	info, err := t2t.ParseInfo(pk.Link, pk.Data)
	if err != nil || info.Version == 0 {
		return
	}
	b.ttl[d][int(info.TTL)]++
	b.tos[d][int(info.TOS)]++
	if id, ok := ipv4ID(pk.Data, info); ok {
		b.ids[d] = append(b.ids[d], id)
	}
	if i < PositionPackets {
		if b.posTOS[i][d] == nil {
			b.posTOS[i][d] = counter{}
		}
		b.posTOS[i][d][int(info.TOS)]++
	}
	if info.Version == 4 {
		df := 0
		if info.DF {
			df = 1
		}
		b.cp.DF[d][df]++
	}
	b.cp.MaxIPLen = max(b.cp.MaxIPLen, info.IPLen)
	if info.IPLen >= 20 { // a capture of TCP segmentation offload says 0
		b.lens[info.IPLen]++
	}
	if info.TransOff < 0 {
		return
	}
	switch info.Proto {
	case t2t.ProtoICMP:
		b.icmp[int(info.ICMPType)]++
		if k := map[uint8]int{8: 0, 0: 1}; info.Version == 4 && (info.ICMPType == 8 || info.ICMPType == 0) {
			df := 0
			if info.DF {
				df = 1
			}
			b.cp.ICMPDF[k[info.ICMPType]][df]++
		}
		if at := info.TransOff + 8; info.ICMPType == 8 && at <= len(pk.Data) {
			seq := int(binary.BigEndian.Uint16(pk.Data[at-2 : at]))
			if b.echoLast < 0 {
				b.echoFirst[seq]++
			} else {
				b.echoSteps[(seq-b.echoLast)&0xffff]++
			}
			b.echoLast = seq
		}
	case t2t.ProtoUDP:
		b.position(i, d, info.IPLen-(info.TransOff-info.NetOff)-8, -1)
	case t2t.ProtoTCP:
		if !info.TCPHeader {
			return
		}
		b.win[d][int(info.TCPWindow)]++
		if info.TCPDataOff >= 20 {
			plen := info.IPLen - (info.TransOff - info.NetOff) - info.TCPDataOff
			b.position(i, d, plen, int(info.TCPWindow))
			if info.TCPFlags&(flagSYN|flagFIN|flagRST) == 0 {
				b.step(i, d, plen, info.TCPFlags&flagPSH != 0, int(info.TCPWindow))
			} else {
				b.after(d, plen)
			}
		}
		opts, ok := info.TCPOptions(pk.Data)
		if info.TCPFlags&flagSYN == 0 || !ok {
			return
		}
		o := append([]byte(nil), opts...)
		if _, ok := parseOptions(o, true); !ok {
			return
		}
		zeroTS(o)
		if info.TCPFlags&flagACK == 0 {
			b.syn[hex.EncodeToString(o)]++
		} else {
			b.synack[hex.EncodeToString(o)]++
		}
	}
}

// ending counts how TCP flow f ends (see ClassProfile.Endings).
func (b *classBuilder) ending(f *pcapio.Flow) {
	var e *Ending
	for i := max(0, len(f.Packets)-EndPackets); i < len(f.Packets); i++ {
		info, err := t2t.ParseInfo(f.Packets[i].Link, f.Packets[i].Data)
		if err != nil || !info.TCPHeader || info.TCPDataOff < 20 {
			return // not a flow whose end can be read
		}
		fl := int(info.TCPFlags)
		if e == nil && fl&(flagFIN|flagRST) == 0 {
			continue
		}
		if e == nil {
			e = &Ending{}
		}
		d, data := byte('1'), byte('0')
		if f.Forward(i) {
			d = '0'
		}
		if info.IPLen-(info.TransOff-info.NetOff)-info.TCPDataOff > 0 {
			data = '1'
		}
		e.Dirs += string(d)
		e.Data += string(data)
		e.Flags = append(e.Flags, fl)
	}
	if e == nil {
		b.cp.Unended++
		return
	}
	key := fmt.Sprint(e.Dirs, e.Flags, e.Data)
	if old, ok := b.endings[key]; ok {
		old.N++
		return
	}
	e.N = 1
	b.endings[key] = e
}

// position counts the payload length and TCP window (-1: none) of the
// i-th packet of a flow, sent in direction d.
func (b *classBuilder) position(i, d, payload, win int) {
	if i >= PositionPackets || payload < 0 {
		return
	}
	if b.posPay[i][d] == nil {
		b.posPay[i][d], b.posWin[i][d] = counter{}, counter{}
	}
	b.posPay[i][d][payload]++
	if win >= 0 {
		b.posWin[i][d][win]++
	}
}

// step counts the payload length, PSH flag and window of the i-th packet
// of a TCP flow, a segment without SYN, FIN or RST sent in direction d, in
// the context of the flow's previous packets (ClassProfile.Steps, PSH),
// then makes it the context of the next.
func (b *classBuilder) step(i, d, plen int, psh bool, win int) {
	if plen < 0 {
		return
	}
	data, flag := min(plen, 1), 0
	if psh {
		flag = 1
	}
	b.cp.PSH[d][data][flag]++
	if i < PositionPackets {
		b.steps.add(stepKey{i, d, b.prevDir, b.prevLen, b.last}, plen, psh, win)
		b.steps.add(stepKey{i, d, AnyPrev, 0, -1}, plen, psh, win)
	}
	b.after(d, plen)
}

// after makes a packet the context of the flow's next ones.
func (b *classBuilder) after(d, plen int) {
	b.last = 2 * d
	if plen > 0 {
		b.prevDir, b.prevLen, b.last = d, plen, 2*d+1
	}
}

// profile returns the class's profile from the counts.
func (b *classBuilder) profile() *ClassProfile {
	cp := b.cp
	cp.ServerPorts = b.ports.list()
	cp.ClientPorts = b.clientPorts.list()
	cp.Dests = b.dests.list()
	for d := 0; d < 2; d++ {
		cp.TTL[d] = b.ttl[d].list()
		cp.TOS[d] = b.tos[d].list()
		cp.Windows[d] = b.win[d].list()
	}
	cp.ICMPTypes = b.icmp.list()
	cp.EchoFirst = b.echoFirst.list()
	cp.EchoSteps = b.echoSteps.list()
	cp.IPLens = b.lens.top(MaxLenCounts)
	cp.SYN = templates(b.syn)
	cp.SYNACK = templates(b.synack)
	for _, e := range b.endings {
		cp.Endings = append(cp.Endings, *e)
	}
	sort.Slice(cp.Endings, func(i, j int) bool {
		a, b := cp.Endings[i], cp.Endings[j]
		if a.N != b.N {
			return a.N > b.N
		}
		return fmt.Sprint(a.Dirs, a.Flags, a.Data) < fmt.Sprint(b.Dirs, b.Flags, b.Data)
	})
	if len(cp.Endings) > MaxCounts {
		cp.Endings = cp.Endings[:MaxCounts]
	}
	cp.Steps = b.steps.steps()
	for i := range b.posPay {
		if b.posPay[i][0] == nil && b.posPay[i][1] == nil {
			break
		}
		var p Position
		for d := 0; d < 2; d++ {
			p.Payload[d], p.Windows[d], p.TOS[d] = b.posPay[i][d].list(), b.posWin[i][d].list(), b.posTOS[i][d].list()
		}
		cp.Positions = append(cp.Positions, p)
	}
	return cp
}

func templates(m map[string]int) []Template {
	var out []Template
	for o, n := range m {
		out = append(out, Template{o, n})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].N != out[j].N {
			return out[i].N > out[j].N
		}
		return out[i].Options < out[j].Options
	})
	if len(out) > MaxCounts {
		out = out[:MaxCounts]
	}
	return out
}

// iatBin is the histogram bin of a gap of us microseconds.
func iatBin(us int64) int {
	if us < 1 {
		return 0
	}
	b := 1
	for us >= 2 && b < IATBins-1 {
		us >>= 1
		b++
	}
	return b
}

// Class returns the profile of class, or nil (p may be nil).
func (p *Profile) Class(class string) *ClassProfile {
	if p == nil {
		return nil
	}
	return p.Classes[class]
}

// MarshalJSON and UnmarshalJSON are encoding/json's defaults; Load and
// Save-like helpers are not needed beyond them.

// ParseProfile decodes a profile from JSON and validates it.
func ParseProfile(data []byte) (*Profile, error) {
	var p Profile
	if err := json.Unmarshal(data, &p); err != nil {
		return nil, fmt.Errorf("repair: profile: %w", err)
	}
	if err := p.Validate(); err != nil {
		return nil, err
	}
	return &p, nil
}

// Validate says what is wrong with a profile: negative counts, ports out
// of range, histograms of the wrong size, option templates that are not
// well-formed TCP options.
func (p *Profile) Validate() error {
	if p == nil || p.Classes == nil {
		return errors.New("repair: profile: no classes")
	}
	for class, c := range p.Classes {
		bad := func(format string, args ...any) error {
			return fmt.Errorf("repair: profile: class %q: %s", class, fmt.Sprintf(format, args...))
		}
		if c == nil {
			return bad("missing")
		}
		if err := c.validateCounts(bad); err != nil {
			return err
		}
		if err := c.validateShapes(bad); err != nil {
			return err
		}
		if err := c.validateAddrs(bad); err != nil {
			return err
		}
		if err := c.validateKinds(bad); err != nil {
			return err
		}
	}
	return nil
}

// checkCounts says which count of l is negative or which value is
// outside [lo, hi].
func checkCounts(bad func(string, ...any) error, what string, l []Count, lo, hi int) error {
	for _, x := range l {
		if x.N < 0 || x.Value < lo || x.Value > hi {
			return bad("%s: value %d count %d (values in [%d, %d])", what, x.Value, x.N, lo, hi)
		}
	}
	return nil
}

// validateCounts checks the counts and value ranges of c.
func (c *ClassProfile) validateCounts(bad func(string, ...any) error) error {
	if c.Flows < 0 || c.IPv6 < 0 || c.IPv6 > c.Flows {
		return bad("flows %d, ipv6 %d", c.Flows, c.IPv6)
	}
	for k, n := range c.Transport {
		if _, ok := t2t.TransportProto(k); !ok || n < 0 {
			return bad("transport %q: %d", k, n)
		}
	}
	if err := checkCounts(bad, "server_ports", c.ServerPorts, 1, 65535); err != nil {
		return err
	}
	if c.ClientPortMin < 0 || c.ClientPortMax > 65535 || c.ClientPortMin > c.ClientPortMax {
		return bad("client ports [%d, %d]", c.ClientPortMin, c.ClientPortMax)
	}
	for d := 0; d < 2; d++ {
		if err := checkCounts(bad, "ttl", c.TTL[d], 0, 255); err != nil {
			return err
		}
		if err := checkCounts(bad, "tos", c.TOS[d], 0, 255); err != nil {
			return err
		}
		if len(c.TOS[d]) > MaxCounts {
			return bad("%d tos values, at most %d", len(c.TOS[d]), MaxCounts)
		}
		if err := checkCounts(bad, "windows", c.Windows[d], 0, 65535); err != nil {
			return err
		}
		if c.DF[d][0] < 0 || c.DF[d][1] < 0 {
			return bad("negative df count")
		}
		if c.ICMPDF[d][0] < 0 || c.ICMPDF[d][1] < 0 {
			return bad("negative icmp_df count")
		}
	}
	if err := checkCounts(bad, "icmp_types", c.ICMPTypes, 0, 255); err != nil {
		return err
	}
	for _, l := range []struct {
		name string
		l    []Count
	}{{"echo_first", c.EchoFirst}, {"echo_steps", c.EchoSteps}} {
		if len(l.l) > MaxCounts {
			return bad("%d %s values, at most %d", len(l.l), l.name, MaxCounts)
		}
		if err := checkCounts(bad, l.name, l.l, 0, 65535); err != nil {
			return err
		}
	}
	return nil
}

// validateShapes checks c's histograms, option templates and lengths.
func (c *ClassProfile) validateShapes(bad func(string, ...any) error) error {
	for b, h := range c.IAT {
		if h != nil && len(h) != IATBins {
			return bad("iat bucket %d has %d bins, want %d", b, len(h), IATBins)
		}
		for _, n := range h {
			if n < 0 {
				return bad("iat bucket %d: negative count", b)
			}
		}
	}
	for _, ts := range [][]Template{c.SYN, c.SYNACK} {
		for _, t := range ts {
			o, err := hex.DecodeString(t.Options)
			if err != nil || len(o)%4 != 0 || len(o) > 40 || t.N < 0 {
				return bad("option template %q", t.Options)
			}
			if _, ok := parseOptions(o, true); !ok {
				return bad("option template %q is not well-formed", t.Options)
			}
		}
	}
	if err := checkCounts(bad, "ip_lens", c.IPLens, 20, 65535+40); err != nil {
		return err
	}
	if len(c.IPLens) > MaxLenCounts {
		return bad("%d ip_lens, at most %d", len(c.IPLens), MaxLenCounts)
	}
	if c.MaxIPLen < 0 || c.MaxIPLen > 65535+40 {
		return bad("max_ip_len %d", c.MaxIPLen)
	}
	if len(c.Endings) > MaxCounts || c.Unended < 0 {
		return bad("%d endings (at most %d), %d unended", len(c.Endings), MaxCounts, c.Unended)
	}
	for i, e := range c.Endings {
		n := len(e.Flags)
		if n == 0 || n > EndPackets || len(e.Dirs) != n || len(e.Data) != n || strings.Trim(e.Dirs, "01") != "" || strings.Trim(e.Data, "01") != "" || e.N < 0 {
			return bad("endings[%d]: %d packets, directions %q, data %q, count %d (want 1 to %d packets, one 0 or 1 each)", i, n, e.Dirs, e.Data, e.N, EndPackets)
		}
		for _, f := range e.Flags {
			if f < 0 || f > 255 {
				return bad("endings[%d]: flags %d", i, f)
			}
		}
	}
	for d := range c.PSH {
		for data := range c.PSH[d] {
			if c.PSH[d][data][0] < 0 || c.PSH[d][data][1] < 0 {
				return bad("psh[%d][%d]: negative count", d, data)
			}
		}
	}
	if err := c.validateSteps(bad); err != nil {
		return err
	}
	if len(c.Positions) > PositionPackets {
		return bad("%d positions, at most %d", len(c.Positions), PositionPackets)
	}
	for i, p := range c.Positions {
		for d := 0; d < 2; d++ {
			if err := checkCounts(bad, fmt.Sprintf("positions[%d].payload", i), p.Payload[d], 0, 65535); err != nil {
				return err
			}
			if err := checkCounts(bad, fmt.Sprintf("positions[%d].windows", i), p.Windows[d], 0, 65535); err != nil {
				return err
			}
			if err := checkCounts(bad, fmt.Sprintf("positions[%d].tos", i), p.TOS[d], 0, 255); err != nil {
				return err
			}
		}
	}
	return nil
}

// pick draws a value of l in proportion to its count; ok is false when l
// holds no count.
func pick(l []Count, rng *rand.Rand) (int, bool) {
	tot := 0
	for _, c := range l {
		tot += c.N
	}
	if tot == 0 {
		return 0, false
	}
	k := rng.IntN(tot)
	for _, c := range l {
		if k < c.N {
			return c.Value, true
		}
		k -= c.N
	}
	return l[len(l)-1].Value, true
}

func mode(l []Count) (int, bool) {
	if len(l) == 0 {
		return 0, false
	}
	return l[0].Value, true // lists are sorted by count
}

func contains(l []Count, v int) bool {
	for _, c := range l {
		if c.Value == v && c.N > 0 {
			return true
		}
	}
	return false
}

// DefaultIAT is the gap drawn when a class has no timing: uniform in
// log space between 100 µs and 10 ms.
func defaultIAT(rng *rand.Rand) int64 {
	return int64(math.Exp(math.Log(100) + rng.Float64()*math.Log(100)))
}

// sampleIAT draws the gap in microseconds before packet i (i >= 1).
func (c *ClassProfile) sampleIAT(i int, rng *rand.Rand) int64 {
	if c == nil {
		return defaultIAT(rng)
	}
	h := c.IAT[iatBucket(i)]
	tot := 0
	for _, n := range h {
		tot += n
	}
	if tot == 0 { // fall back to all buckets together
		h = make([]int, IATBins)
		for _, hb := range c.IAT {
			for k, n := range hb {
				h[k] += n
				tot += n
			}
		}
	}
	if tot == 0 {
		return defaultIAT(rng)
	}
	k := rng.IntN(tot)
	bin := 0
	for b, n := range h {
		if k < n {
			bin = b
			break
		}
		k -= n
	}
	if bin == 0 {
		return 0
	}
	lo := math.Exp2(float64(bin - 1))
	return int64(lo * math.Exp2(rng.Float64()))
}
