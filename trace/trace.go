package trace

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"net/netip"
	"slices"
	"sort"
	"time"

	"t2t"
	"t2t/pcapio"
	"t2t/pipeline"
	"t2t/repair"
	"t2t/unet"
)

// Class asks for the flows of one class in a trace.
type Class struct {
	Name  string // the class: a prompt of the model and a class of the arrivals
	Flows int    // flows of the class (0: as many as its learned rate brings over Options.Span)
}

// Options of a trace.
type Options struct {
	// Span is the time over which flows start. With a class's Flows
	// given, its gaps are scaled so that they fill it; 0: the learned rate,
	// as long as the flows need.
	Span time.Duration
	// Start is the time of the trace's start (zero: t2t.DefaultStart).
	Start time.Time
	Seed  uint64
	// Arrivals are the classes' arrival processes (nil: Default()).
	Arrivals *Arrivals
	// Topology gives the hosts (nil: the default topology).
	Topology *Topology
	// Margin is how long a flow's 5-tuple stays taken after its last
	// packet (0: DefaultMargin; negative: none, taken only while the flow
	// runs). With a margin, a TCP flow that ends without FIN or RST holds
	// it to the end of the trace: a reader would take a later flow on it
	// for more of the same connection.
	Margin time.Duration
	// Sample says how flows are sampled and repaired: pipeline.Generate's
	// options (steps, scheduler, guidance, batch, transport mix, templates,
	// predictor, repair profile, payload). N, Seed and Progress are set
	// per class; Start and FlowGap are not used (the plan gives the
	// times).
	Sample pipeline.Options
	// Progress, when set, is called after every denoising step with the
	// class being sampled, the steps done and the class's steps in all.
	Progress func(class string, done, total int)
}

// DefaultMargin is the time a 5-tuple stays taken after its flow's last
// packet: pcapio's idle timeout, so that pcapio.Assemble with its default
// options reads every flow of a trace apart, as a capture of hosts that do
// not reuse a connection's ports within two minutes would hold them.
const DefaultMargin = pcapio.DefaultIdleTimeout

// Plan says when and between which hosts the flows of a trace run,
// before they are sampled.
type Plan struct {
	Start   time.Time
	Span    time.Duration // the span asked for, or the time to the last start
	Slots   []Slot        // one per flow, in start order
	Clients []netip.Addr  // the client pool
	Servers map[string]Endpoint
}

// Slot is one planned flow.
type Slot struct {
	Class  string
	Index  int // the flow's index among its class's flows (in start order)
	Start  time.Time
	Client netip.Addr
	Server Endpoint
}

// NewPlan draws the start times of each class's flows from its arrival
// process (ClassArrivals.Starts) and gives each flow a client drawn from
// the pool and its class's server. Classes are taken in name order and
// each draws from a stream of its own, so that a class's flows are the
// same whichever other classes share the trace.
func NewPlan(classes []Class, opt Options) (*Plan, error) {
	if len(classes) == 0 {
		return nil, errors.New("trace: no classes")
	}
	arr := opt.Arrivals
	if arr == nil {
		arr = Default()
	}
	if err := arr.Validate(); err != nil {
		return nil, err
	}
	topo := Topology{}
	if opt.Topology != nil {
		topo = *opt.Topology
	}
	topo = topo.withDefaults()
	if err := topo.Validate(); err != nil {
		return nil, err
	}
	cs := slices.Clone(classes)
	sort.Slice(cs, func(i, j int) bool { return cs[i].Name < cs[j].Name })
	var names []string
	total := 0
	for i, c := range cs {
		if i > 0 && c.Name == cs[i-1].Name {
			return nil, fmt.Errorf("trace: class %q given twice", c.Name)
		}
		if arr.Class(c.Name) == nil {
			return nil, fmt.Errorf("trace: no arrival process for class %q (the arrivals have %v)", c.Name, arr.Names())
		}
		if c.Flows < 0 || c.Flows == 0 && opt.Span <= 0 {
			return nil, fmt.Errorf("trace: class %s: %d flows over %v: give flows, a span or both", c.Name, c.Flows, opt.Span)
		}
		total += c.Flows
		names = append(names, c.Name)
	}
	if total > MaxFlows {
		return nil, fmt.Errorf("trace: %d flows: at most %d", total, MaxFlows)
	}
	servers, err := topo.servers(names)
	if err != nil {
		return nil, err
	}
	p := &Plan{Start: opt.Start, Span: opt.Span, Clients: topo.ClientHosts(), Servers: servers}
	if p.Start.IsZero() {
		p.Start = t2t.DefaultStart
	}
	if err := p.checkMACs(); err != nil {
		return nil, err
	}
	for _, c := range cs {
		rng := classRand(opt.Seed, c.Name, "plan")
		starts, err := arr.Classes[c.Name].Starts(c.Flows, opt.Span, rng)
		if err != nil {
			return nil, fmt.Errorf("trace: class %s: %w", c.Name, err)
		}
		if len(p.Slots)+len(starts) > MaxFlows {
			return nil, fmt.Errorf("trace: more than %d flows", MaxFlows)
		}
		for k, s := range starts {
			p.Slots = append(p.Slots, Slot{Class: c.Name, Index: k, Start: p.Start.Add(s),
				Client: p.Clients[rng.IntN(len(p.Clients))], Server: servers[c.Name]})
		}
	}
	sort.SliceStable(p.Slots, func(i, j int) bool { return p.Slots[i].Start.Before(p.Slots[j].Start) })
	if p.Span <= 0 && len(p.Slots) > 0 {
		p.Span = p.Slots[len(p.Slots)-1].Start.Sub(p.Start) + time.Microsecond
	}
	return p, nil
}

// checkMACs refuses a plan two of whose hosts would share a MAC.
func (p *Plan) checkMACs() error {
	seen := map[[6]byte]netip.Addr{}
	hosts := slices.Clone(p.Clients)
	for _, e := range p.Servers {
		hosts = append(hosts, e.Addr)
	}
	for _, a := range hosts {
		m := MAC(a)
		if b, ok := seen[m]; ok && b != a {
			return fmt.Errorf("trace: topology: hosts %v and %v would share the MAC %x", a, b, m)
		}
		seen[m] = a
	}
	return nil
}

// Count returns the flows the plan gives each class.
func (p *Plan) Count() map[string]int {
	n := map[string]int{}
	for _, s := range p.Slots {
		n[s.Class]++
	}
	return n
}

// classRand is the random stream of one class and one purpose.
func classRand(seed uint64, class, purpose string) *rand.Rand {
	h := fnv.New64a()
	h.Write([]byte(purpose + "\x00" + class))
	return rand.New(rand.NewPCG(seed, h.Sum64()))
}

// slotRand is the random stream of one slot and one purpose.
func slotRand(seed uint64, s Slot, purpose string) *rand.Rand {
	h := fnv.New64a()
	h.Write([]byte(purpose + "\x00" + s.Class))
	return rand.New(rand.NewPCG(seed^h.Sum64(), uint64(s.Index)))
}

// Trace is a generated trace: flows of several classes between the hosts
// of a topology, each at the time its plan gave it.
type Trace struct {
	Plan  *Plan
	Flows []Flow // flows placed, in start order
	// Packets are all flows' packets in time order, as written (cut
	// after their headers unless the payload is zeros or random).
	Packets []pcapio.Packet
	// Empty counts flows left out because repair found nothing usable in
	// them (repair.ErrEmpty); Redrawn the client ports (ICMP: echo
	// identifiers) drawn again because a flow's 5-tuple was taken.
	Empty, Redrawn int
	Sampling       time.Duration // time spent denoising
}

// Flow is one flow of a trace.
type Flow struct {
	Slot
	// Key is the flow's 5-tuple as pcapio reads it (ICMP: the echo
	// identifier as both ports).
	Key pcapio.FlowKey
	// End is the time of its last packet.
	End    time.Time
	Result *repair.Result
	Prompt string // the prompt its matrix was sampled with
}

// Endpoints returns the flow's client and server as its Key holds them
// (ICMP: the echo identifier as both ports).
func (f *Flow) Endpoints() (client, server netip.AddrPort) {
	if f.Key.A.Addr() == f.Client { // a server is never a client (Topology.Validate)
		return f.Key.A, f.Key.B
	}
	return f.Key.B, f.Key.A
}

// Generate samples the flows of a plan with the model and places them
// (Place). Each class's flows are sampled as pipeline.Generate samples
// them (pipeline.SampleFlows, with opt.Sample), from a seed of the class's
// own.
func Generate(ctx context.Context, m *unet.Model, plan *Plan, opt Options) (*Trace, error) {
	count := plan.Count()
	var names []string
	for name := range count {
		if _, ok := m.Vocab.ID(name); !ok {
			return nil, fmt.Errorf("trace: class %q is not a prompt of the model", name)
		}
		names = append(names, name)
	}
	sort.Strings(names)
	mats := map[string][]*t2t.Matrix{}
	prompts := map[string][]string{}
	var sampling time.Duration
	for _, name := range names {
		so := opt.Sample
		so.N = count[name]
		so.Seed = classRand(opt.Seed, name, "sample").Uint64()
		so.Progress = nil
		if opt.Progress != nil {
			so.Progress = func(done, total int) { opt.Progress(name, done, total) }
		}
		out, err := pipeline.SampleFlows(ctx, m, name, so)
		if err != nil {
			return nil, fmt.Errorf("trace: class %s: %w", name, err)
		}
		mats[name], prompts[name] = out.Matrices, out.Prompts
		sampling += out.Sampling
	}
	tr, err := Place(plan, mats, opt)
	if err != nil {
		return nil, err
	}
	for i := range tr.Flows {
		f := &tr.Flows[i]
		f.Prompt = prompts[f.Class][f.Index]
	}
	tr.Sampling = sampling
	return tr, nil
}

// maxDraws bounds the client ports drawn for one flow.
const maxDraws = 64

// Place repairs the sampled flows of each class (flows[class][k] is the
// class's k-th flow of the plan) into the plan's slots, in start order:
// each between its slot's client and server, with their MACs (MAC),
// starting at its slot's time, with repair's options otherwise (the
// server port: the slot's, else the model's when the class's profile knows
// it, else one of the profile's). A TCP or UDP flow takes a client port
// drawn from the class's real range (the profile's ClientPortMin/Max,
// Linux's without one), an ICMP flow the model's echo identifier; when the
// flow's 5-tuple is still taken by an earlier flow (see
// Options.Margin), or the port is the server's, another is drawn. The
// packets are merged in time order and, unless opt.Sample.Payload is zeros
// or random, cut after their headers.
func Place(plan *Plan, flows map[string][]*t2t.Matrix, opt Options) (*Trace, error) {
	so := opt.Sample
	switch so.Payload {
	case "", "snap", "zeros", "random":
	default:
		return nil, fmt.Errorf("trace: payload %q: want snap, zeros or random", so.Payload)
	}
	for name, n := range plan.Count() {
		if len(flows[name]) < n {
			return nil, fmt.Errorf("trace: class %s: %d flows sampled for %d slots", name, len(flows[name]), n)
		}
	}
	margin := opt.Margin
	if margin == 0 {
		margin = DefaultMargin
	}
	forever := time.Unix(1<<62, 0)
	busy := map[pcapio.FlowKey]time.Time{} // taken until
	tr := &Trace{Plan: plan}
	var results []*repair.Result
	for _, s := range plan.Slots {
		m := flows[s.Class][s.Index]
		f, draws, err := place(s, m, opt.Seed, so, busy)
		tr.Redrawn += draws
		if errors.Is(err, repair.ErrEmpty) {
			tr.Empty++
			continue
		}
		if err != nil {
			return nil, err
		}
		until := f.End.Add(margin)
		if f.Key.Proto == t2t.ProtoTCP && !closed(f.Result) {
			until = forever
		}
		if margin < 0 {
			until = f.End
		}
		busy[f.Key] = until
		tr.Flows = append(tr.Flows, f)
		results = append(results, f.Result)
	}
	tr.Packets = repair.Merge(results)
	if so.Payload == "" || so.Payload == "snap" {
		for i := range tr.Packets {
			tr.Packets[i] = repair.CutPayload(tr.Packets[i])
		}
	}
	return tr, nil
}

// place repairs one slot's matrix, drawing client ports until its 5-tuple
// is free; draws counts the ports drawn again.
func place(s Slot, m *t2t.Matrix, seed uint64, so pipeline.Options, busy map[pcapio.FlowKey]time.Time) (Flow, int, error) {
	cp := so.Profile.Class(s.Class)
	lo, hi := 32768, 60999
	if cp != nil && cp.ClientPortMax > 0 && cp.ClientPortMin <= cp.ClientPortMax {
		lo, hi = max(cp.ClientPortMin, 1), cp.ClientPortMax
	}
	// the slot's own streams: its ports, and the repair (the same for
	// every draw, so that a port drawn again changes nothing else)
	prng := slotRand(seed, s, "ports")
	counts, _ := pipeline.Transports([]*t2t.Matrix{m})
	icmp := counts[2] > counts[0] && counts[2] > counts[1]
	ro := repair.Options{Client: s.Client, Server: s.Server.Addr, ServerPort: s.Server.Port,
		ClientMAC: MAC(s.Client), ServerMAC: MAC(s.Server.Addr), Start: s.Start}
	if so.Payload == "random" {
		ro.Payload = repair.PayloadRandom
	}
	if !icmp {
		ro.ClientPort = uint16(lo + prng.IntN(hi-lo+1))
	}
	for draw := 0; ; draw++ {
		r, err := repair.Flow(m, s.Class, so.Profile, ro, slotRand(seed, s, "repair"))
		if err != nil {
			if errors.Is(err, repair.ErrEmpty) {
				return Flow{}, draw, err
			}
			return Flow{}, draw, fmt.Errorf("trace: %s flow %d: %w", s.Class, s.Index, err)
		}
		key, ok := flowKey(r)
		if !ok {
			return Flow{}, draw, fmt.Errorf("trace: %s flow %d: repaired packets unreadable", s.Class, s.Index)
		}
		first := r.Packets[0].Time
		taken, used := busy[key]
		if (!used || taken.Before(first)) && (r.Proto == t2t.ProtoICMP || r.Client.Port() != r.Server.Port()) {
			return Flow{Slot: s, Key: key, End: r.Packets[len(r.Packets)-1].Time, Result: r}, draw, nil
		}
		if draw+1 == maxDraws {
			return Flow{}, draw, fmt.Errorf("trace: %s flow %d at %v: its 5-tuple is still taken after %d client ports drawn: too many flows at once between %v and %v", s.Class, s.Index, s.Start, maxDraws, s.Client, s.Server.Addr)
		}
		if r.Proto == t2t.ProtoICMP {
			ro.ClientPort = uint16(1 + prng.IntN(65535))
		} else {
			ro.ClientPort = uint16(lo + prng.IntN(hi-lo+1))
		}
	}
}

// flowKey is the 5-tuple of a repaired flow as pcapio.Assemble keys it.
func flowKey(r *repair.Result) (pcapio.FlowKey, bool) {
	if len(r.Packets) == 0 {
		return pcapio.FlowKey{}, false
	}
	c, s := r.Client, r.Server
	if r.Proto == t2t.ProtoICMP {
		p := r.Packets[0]
		info, err := t2t.ParseInfo(p.Link, p.Data)
		if err != nil {
			return pcapio.FlowKey{}, false
		}
		c, s = netip.AddrPortFrom(c.Addr(), info.ICMPID), netip.AddrPortFrom(s.Addr(), info.ICMPID)
	}
	k, _ := pcapio.MakeFlowKey(r.Proto, c, s)
	return k, true
}

// closed reports whether a TCP flow carries a FIN or an RST.
func closed(r *repair.Result) bool {
	for _, p := range r.Packets {
		info, err := t2t.ParseInfo(p.Link, p.Data)
		if err == nil && info.Proto == t2t.ProtoTCP && info.TransOff+14 <= len(p.Data) && p.Data[info.TransOff+13]&0x05 != 0 {
			return true
		}
	}
	return false
}

// WriteFile writes the trace's packets to an Ethernet pcap.
func (t *Trace) WriteFile(path string) error {
	if err := pcapio.WriteFile(path, t2t.LinkEthernet, t.Packets, pcapio.WriterOptions{}); err != nil {
		return fmt.Errorf("trace: %w", err)
	}
	return nil
}

// Count returns the flows placed of each class.
func (t *Trace) Count() map[string]int {
	n := map[string]int{}
	for _, f := range t.Flows {
		n[f.Class]++
	}
	return n
}

// Hosts returns the distinct client hosts the flows use.
func (t *Trace) Hosts() int {
	seen := map[netip.Addr]bool{}
	for _, f := range t.Flows {
		seen[f.Client] = true
	}
	return len(seen)
}

// GapJSD is the Jensen-Shannon divergence (base 2, in [0, 1]) between two
// samples of inter-arrival gaps, each divided by its mean so that their
// shapes are compared whatever their rates, over log-spaced bins: four
// per decade, centred on 10^(k/4) times the mean for k from -12 to 12
// (the mean itself at a centre, not on an edge where rounding would
// decide), with gaps below and above them in the end bins and zero gaps
// in one of their own. Empty or all-zero samples are at 1 from any
// other.
func GapJSD(a, b []float64) float64 {
	ha, hb := gapHist(a), gapHist(b)
	if ha == nil || hb == nil {
		if ha == nil && hb == nil {
			return 0
		}
		return 1
	}
	d := 0.0
	for i := range ha {
		x, y := ha[i], hb[i]
		if x == y {
			continue
		}
		m := (x + y) / 2
		if x > 0 {
			d += x * math.Log2(x/m)
		}
		if y > 0 {
			d += y * math.Log2(y/m)
		}
	}
	return min(max(d/2, 0), 1)
}

// gapBins is the number of bins of gapHist.
const gapBins = 1 + 25

// gapHist is the normalised histogram of gaps over their mean (nil for
// no gaps or all zero).
func gapHist(g []float64) []float64 {
	mean := 0.0
	for _, x := range g {
		mean += x
	}
	if len(g) == 0 || !(mean > 0) {
		return nil
	}
	mean /= float64(len(g))
	h := make([]float64, gapBins)
	for _, x := range g {
		b := 0
		if r := x / mean; r > 0 {
			b = 1 + int(math.Floor((math.Log10(r)+3)*4+0.5))
			b = min(max(b, 1), gapBins-1)
		}
		h[b] += 1 / float64(len(g))
	}
	return h
}
