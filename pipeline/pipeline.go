// Package pipeline wires t2t's components into the text-to-traffic job: a
// model samples flow images for a prompt (unet, sampler), repair turns
// each into the packets of a valid flow, and the packets are written as a
// pcap. Swapping the scheduler, the repair profile or the predictor (a
// UNet with adapters or a ControlNet) is a field of Options.
package pipeline

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"t2t"
	"t2t/controlnet"
	"t2t/pcapio"
	"t2t/repair"
	"t2t/sampler"
	"t2t/unet"
)

// Options of a generation.
type Options struct {
	SampleOptions
	// Predictor overrides the model's UNet (adapters, ControlNet). A
	// ControlSource (a *controlnet.ControlNet with Templates) and no
	// SampleOptions.Control steers each flow with the structure map of a real flow of the
	// prompt's class and transport (drawn without replacement while they
	// last), so that flows take real shapes in real proportions.
	Predictor unet.Predictor
	// Templates, for a masked model (sampler.Mask) and a predictor that
	// supplies no controls, give each flow the structure of a real flow of
	// the prompt's class and transport (drawn as a ControlSource's): its
	// vacant cells start known (StructureStart), so that the flow has that
	// flow's packets and headers and the model draws their values. A class
	// the templates lack is sampled without.
	Templates *controlnet.Templates
	// Profile is the repair profile (nil: repair's defaults).
	Profile *repair.Profile
	// Payload: "snap" (default: packets cut after their headers, full
	// length on the wire), "zeros" or "random".
	Payload string
	// Start is the time of the first flow (zero: t2t.DefaultStart); flows
	// start FlowGap apart (zero: 50 ms).
	Start   time.Time
	FlowGap time.Duration
	// Transport picks the transport word appended to the prompt of each
	// flow, for models trained with transport prompts
	// (unet.TrainedWithTransport):
	//   "" or "mix": the class's mix in the profile — N flows are split
	//       over tcp/udp/icmp by the class's share of real flows (largest
	//       remainders: a class with 17% TCP flows gets round(0.17·N) "tcp"
	//       flows), and shuffled with the seed;
	//   "tcp", "udp", "icmp": every flow;
	//   "none": the prompt as given.
	// A prompt that names a transport itself is used as given, as is
	// every prompt when the model or the profile has no transports.
	Transport string
	// MaxPackets caps the length of flows whose template is longer than
	// the model's window (0: DefaultMaxPackets). A masked model continues
	// such a flow window after window to its template's length.
	MaxPackets int
}

// Output of a generation.
type Output struct {
	Class    string           // the class whose profile repaired the flows
	Matrices []*t2t.Matrix    // raw model output, one per flow
	Results  []*repair.Result // repaired flows (flows with nothing usable are left out)
	Empty    int              // flows repair found nothing usable in
	Packets  []pcapio.Packet  // all flows' packets in time order, as written
	Sampling time.Duration    // time spent denoising
	// Prompts is the prompt each matrix was sampled with (the prompt and
	// its transport word, see Options.Transport).
	Prompts []string
	// Controls are the structure maps drawn from a ControlNet's or the
	// model's templates that steered each matrix, one per matrix (nil
	// entries for flows drawn without a template; all nil, or a nil
	// slice, when no templates were used).
	Controls []*controlnet.Control
	// Ends says, for each matrix, whether it holds its flow's end: its
	// template's flow ends within the template and within MaxPackets, so
	// that repair gives a TCP flow a real ending (repair.Options.End).
	Ends []bool
}

// BitsChanged is the mean number of bits repair changed per flow.
func (o *Output) BitsChanged() float64 {
	n := 0
	for _, r := range o.Results {
		n += r.Log.BitsChanged
	}
	return float64(n) / float64(max(len(o.Results), 1))
}

// ClassOf maps a prompt to the class whose profile repairs it: its first
// word, with type-<i> aliases resolved through the model's class list.
func ClassOf(m *unet.Model, prompt string) string {
	f := strings.Fields(strings.ToLower(prompt))
	if len(f) == 0 {
		return ""
	}
	classes := strings.Split(m.Meta["classes"], ",")
	var i int
	if _, err := fmt.Sscanf(f[0], "type-%d", &i); err == nil && i >= 0 && i < len(classes) {
		return classes[i]
	}
	return f[0]
}

// ControlSource is a predictor that supplies the control images of the
// flows it generates when SampleOptions.Control gives none: a ControlNet
// with the templates of real flows (*controlnet.ControlNet).
type ControlSource interface {
	unet.Predictor
	// Draw returns the structure maps of n real flows of class and
	// transport ("" any), drawn with rng.
	Draw(class, transport string, n int, rng *rand.Rand) ([]*controlnet.Control, error)
}

// Generate samples opt.N flows for a prompt and repairs them.
func Generate(ctx context.Context, m *unet.Model, prompt string, opt Options) (*Output, error) {
	out, err := SampleFlows(ctx, m, prompt, opt)
	if err != nil {
		return nil, err
	}
	if err := out.repair(opt); err != nil {
		return nil, err
	}
	return out, nil
}

// SampleFlows samples opt.N flows for a prompt as Generate does (the same
// transport split, templates and seeds, so the same matrices) and leaves
// them unrepaired: the Output has its Class, Matrices, Prompts, Controls
// and Sampling, and no Results or Packets. It serves a caller that repairs
// the flows itself, with endpoints and times of its own (package trace
// places them in a trace of many hosts).
func SampleFlows(ctx context.Context, m *unet.Model, prompt string, opt Options) (*Output, error) {
	var p unet.Predictor = m.UNet
	if opt.Predictor != nil {
		p = opt.Predictor
	}
	switch opt.Payload {
	case "", "snap", "zeros", "random":
	default:
		return nil, fmt.Errorf("pipeline: payload %q: want snap, zeros or random", opt.Payload)
	}
	if opt.Scheduler == nil {
		s, err := sampler.New("dpm++2m", m.Noise)
		if err != nil {
			return nil, err
		}
		opt.Scheduler = s
	}
	out := &Output{Class: ClassOf(m, prompt)}
	groups, err := transportGroups(m, prompt, out.Class, opt)
	if err != nil {
		return nil, err
	}
	t0 := time.Now()
	if err := out.sample(ctx, p, m, groups, opt); err != nil {
		return nil, err
	}
	out.Sampling = time.Since(t0)
	if len(groups) > 1 {
		out.shuffle(rand.New(rand.NewPCG(opt.Seed, 0x6d6978)))
	}
	return out, nil
}

// steps is the number of denoising steps of sampling n flows.
func steps(n int, opt Options) int {
	b := opt.Batch
	if b <= 0 || b > n {
		b = n
	}
	return (n + b - 1) / b * opt.Steps
}

// sample samples each group's flows with its prompt, steered by the
// predictor's own controls when it supplies them and the caller gives none.
func (out *Output) sample(ctx context.Context, p unet.Predictor, m *unet.Model, groups []group, opt Options) error {
	total, done := 0, 0
	for _, g := range groups {
		total += steps(g.n, opt)
	}
	trng := rand.New(rand.NewPCG(opt.Seed, 0x74656d706c))
	gen := opt.gen
	if gen == nil {
		var err error
		if gen, err = newDenoiser(p, opt.Device); err != nil {
			return err
		}
		defer gen.Close()
	}
	for i, g := range groups {
		so := opt.SampleOptions
		so.gen = gen
		so.N = g.n
		so.Seed = opt.Seed + uint64(i)*0x9e3779b97f4a7c15
		var ctls []*controlnet.Control
		cs, steered := p.(ControlSource)
		switch {
		case steered && len(so.Control) == 0:
			var err error
			if ctls, err = cs.Draw(out.Class, g.transport, g.n, trng); err != nil {
				return fmt.Errorf("pipeline: %w", err)
			}
			for _, c := range ctls {
				so.Control = append(so.Control, c.Values())
			}
		case !steered && len(so.Start) == 0 && opt.Templates != nil && opt.Templates.Classes[out.Class] != nil &&
			opt.Scheduler.Config().Process == sampler.Mask:
			var err error
			if ctls, err = opt.Templates.DrawTrimmed(out.Class, g.transport, g.n, trng); err != nil {
				ctls = nil // no template of this transport: the model alone
			}
			c := m.UNet.Config
			for _, ctl := range ctls {
				x, err := StructureStart(Window(ctl, 0, c.Rows), c.Rows, c.Cols)
				if err != nil {
					return err
				}
				so.Start = append(so.Start, x)
			}
		}
		if opt.Progress != nil {
			base := done
			so.Progress = func(d, _ int) { opt.Progress(base+d, total) }
		}
		ms, err := Sample(ctx, p, m.Vocab, m.Noise, g.prompt, so)
		if err != nil {
			return err
		}
		ends := make([]bool, len(ms))
		if len(so.Start) > 0 && len(ctls) == len(ms) {
			maxRows := opt.MaxPackets
			if maxRows <= 0 {
				maxRows = DefaultMaxPackets
			}
			if ms, err = continueFlows(ctx, p, m, g.prompt, so, ms, ctls, maxRows); err != nil {
				return err
			}
			for i, c := range ctls {
				n := Length(c)
				ends[i] = n < c.Rows && n <= maxRows // not cut by the template or the cap
			}
		}
		out.Ends = append(out.Ends, ends...)
		done += steps(g.n, opt)
		out.Matrices = append(out.Matrices, ms...)
		// one control per matrix: a group drawn without templates (none of
		// its transport, say) has nil controls beside flows of a group
		// with them
		if len(ctls) == len(ms) {
			out.Controls = append(out.Controls, ctls...)
		} else {
			out.Controls = append(out.Controls, make([]*controlnet.Control, len(ms))...)
		}
		for range ms {
			out.Prompts = append(out.Prompts, g.prompt)
		}
	}
	if !slices.ContainsFunc(out.Controls, func(c *controlnet.Control) bool { return c != nil }) {
		out.Controls = nil
	}
	return nil
}

// shuffle mixes the flows of the transport groups.
func (out *Output) shuffle(rng *rand.Rand) {
	rng.Shuffle(len(out.Matrices), func(i, j int) {
		out.Matrices[i], out.Matrices[j] = out.Matrices[j], out.Matrices[i]
		out.Prompts[i], out.Prompts[j] = out.Prompts[j], out.Prompts[i]
		if len(out.Controls) == len(out.Matrices) {
			out.Controls[i], out.Controls[j] = out.Controls[j], out.Controls[i]
		}
		out.Ends[i], out.Ends[j] = out.Ends[j], out.Ends[i]
	})
}

// repair repairs every matrix into a flow starting opt.FlowGap after the
// previous one, and merges their packets in time order.
func (out *Output) repair(opt Options) error {
	start, gap := opt.Start, opt.FlowGap
	if start.IsZero() {
		start = t2t.DefaultStart
	}
	if gap == 0 {
		gap = 50 * time.Millisecond
	}
	rng := rand.New(rand.NewPCG(opt.Seed, 0x726570616972))
	for i, f := range out.Matrices {
		ro := repair.Options{FlowIndex: i, Start: start.Add(time.Duration(i) * gap), End: i < len(out.Ends) && out.Ends[i]}
		if opt.Payload == "random" {
			ro.Payload = repair.PayloadRandom
		}
		r, err := repair.Flow(f, out.Class, opt.Profile, ro, rng)
		if errors.Is(err, repair.ErrEmpty) {
			out.Empty++
			continue
		}
		if err != nil {
			return fmt.Errorf("pipeline: flow %d: %w", i, err)
		}
		out.Results = append(out.Results, r)
	}
	out.Packets = repair.Merge(out.Results)
	if opt.Payload == "" || opt.Payload == "snap" {
		for i := range out.Packets {
			out.Packets[i] = repair.CutPayload(out.Packets[i])
		}
	}
	return nil
}

type group struct {
	prompt    string
	n         int
	transport string // the transport word the prompt names, or ""
}

// transportGroups splits the opt.N flows of a prompt into prompts with
// their transport word (see Options.Transport).
func transportGroups(m *unet.Model, prompt, class string, opt Options) ([]group, error) {
	if opt.N < 1 {
		return nil, fmt.Errorf("pipeline: %d flows: want at least 1", opt.N)
	}
	plain := []group{{prompt, opt.N, ""}}
	switch opt.Transport {
	case "none":
		return plain, nil
	case "", "mix", "tcp", "udp", "icmp":
	default:
		return nil, fmt.Errorf("pipeline: transport %q: want mix, none, tcp, udp or icmp", opt.Transport)
	}
	trained := unet.TrainedWithTransport(m.Vocab)
	for _, w := range strings.Fields(strings.ToLower(prompt)) {
		if slices.Contains(unet.TransportWords, w) {
			return []group{{prompt, opt.N, w}}, nil // the prompt names its transport
		}
	}
	if opt.Transport != "" && opt.Transport != "mix" {
		if !trained {
			return nil, fmt.Errorf("pipeline: transport %q: the model was not trained with transport prompts", opt.Transport)
		}
		return []group{{prompt + " " + opt.Transport, opt.N, opt.Transport}}, nil
	}
	cp := opt.Profile.Class(class)
	if !trained || cp == nil {
		return plain, nil
	}
	split := SplitByMix(cp.Transport, opt.N)
	var gs []group
	for k, w := range unet.TransportWords {
		if split[k] > 0 {
			gs = append(gs, group{prompt + " " + w, split[k], w})
		}
	}
	if len(gs) == 0 {
		return plain, nil
	}
	return gs, nil
}

// SplitByMix splits n flows over unet.TransportWords (tcp, udp, icmp) in
// proportion to mix (flows per transport word, as a repair profile counts
// them) by largest remainders, ties to the earlier word: the counts sum to
// n and each is within one of its exact share. An empty mix gives zeros.
func SplitByMix(mix map[string]int, n int) [3]int {
	var out [3]int
	total := 0
	for _, w := range unet.TransportWords {
		total += max(mix[w], 0)
	}
	if total == 0 || n <= 0 {
		return out
	}
	var rem [3]float64
	given := 0
	for k, w := range unet.TransportWords {
		exact := float64(n) * float64(max(mix[w], 0)) / float64(total)
		out[k] = int(exact)
		rem[k] = exact - float64(out[k])
		given += out[k]
	}
	for given < n {
		best := -1
		for k := range rem {
			if best < 0 || rem[k] > rem[best] {
				best = k
			}
		}
		out[best]++
		rem[best] = -1
		given++
	}
	return out
}

// WritePcap writes packets to an Ethernet pcap (pcapio.WriteFile).
func WritePcap(path string, ps []pcapio.Packet) error {
	return pcapio.WriteFile(path, t2t.LinkEthernet, ps, pcapio.WriterOptions{})
}

// Transports counts, over the non-vacant rows of raw model output, the
// rows whose TCP, UDP or ICMP block is present (index 0, 1, 2; a row may
// count in several, or none), and reports whether every row of each flow
// carries one and the same transport.
func Transports(ms []*t2t.Matrix) (counts [3]int, consistent []bool) {
	for _, m := range ms {
		l := m.Layout
		cols := [3]int{-1, -1, -1}
		for k, f := range []string{"tcp_sprt", "udp_sport", "icmp_type"} {
			if c, _, ok := l.Field(f); ok {
				cols[k] = c
			}
		}
		one, kind := true, -1
		for r := 0; r < m.Rows; r++ {
			if m.RowVacant(r) {
				continue
			}
			row := m.Row(r)
			n, which := 0, -1
			for k, c := range cols {
				if c >= 0 && row[c] != -1 {
					counts[k]++
					n++
					which = k
				}
			}
			if n != 1 || (kind >= 0 && which != kind) {
				one = false
			}
			if n == 1 && kind < 0 {
				kind = which
			}
		}
		consistent = append(consistent, one && kind >= 0)
	}
	return counts, consistent
}
