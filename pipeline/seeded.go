package pipeline

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"t2t"
	"t2t/controlnet"
	"t2t/pcapio"
	"t2t/repair"
	"t2t/sampler"
	"t2t/train"
	"t2t/unet"
)

// FlowRef names one flow of a seeded generation: flow Index of Class.
type FlowRef struct {
	Class string
	Index int
}

// SeededFlow is one flow of GenerateSeeded.
type SeededFlow struct {
	FlowRef
	Seed    uint64      // FlowSeed(opt.Seed, Class, Index)
	Prompt  string      // the prompt sampled: the class and its transport word, if any
	Matrix  *t2t.Matrix // raw model output
	Control *controlnet.Control
	// Result is the repaired flow; nil when repair found nothing usable
	// (repair.ErrEmpty).
	Result *repair.Result
	// Packets are the flow's packets as written (cut after their headers
	// for payload "snap").
	Packets []pcapio.Packet
}

// FlowSeed is the seed of flow index of class in a seeded generation
// with seed: FNV-1a of the class name mixed with seed and index
// (SplitMix64 finaliser), so that neighbouring indices and classes get
// unrelated streams.
func FlowSeed(seed uint64, class string, index int) uint64 {
	h := fnv.New64a()
	h.Write([]byte(class))
	return mix64(mix64(seed^h.Sum64()) + uint64(index))
}

func mix64(z uint64) uint64 {
	z += 0x9e3779b97f4a7c15
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// The random streams of one flow, each its own PCG stream of the flow's
// seed.
const (
	streamDraw   = 0x647261 // transport word and template
	streamNoise  = 0x6e6f69 // x_T and the scheduler's draws, window 0
	streamRepair = 0x726570 // repair
	// window k's draws: streamNoise + k
)

// GenerateSeeded samples and repairs the flows refs names. Unlike
// Generate, which draws every flow of a batch from one generator, each
// flow here depends only on (opt.Seed, its class, its index) and the
// options, never on which other flows are generated with it, in what
// order or in batches of what size (opt.Batch: flows denoised together):
// the model is evaluated on a batch, but every flow has its own random
// streams (FlowSeed) and its own scheduler, and steps alone. So the flows
// of a big generation can be split over any number of workers and come
// out bit for bit the same.
//
// The prompt of flow (class, i) is class; with a model trained with
// transport prompts and opt.Transport "" or "mix", its transport word is
// drawn from the class's real mix with the flow's own stream (so the mix
// holds on average, not by largest remainders as in Generate). A masked
// model's flow takes the structure of one real flow of its class and
// transport drawn from opt.Templates with the same stream, and is
// continued window after window to that flow's length (at most
// opt.MaxPackets). Flow i starts at opt.Start + i·opt.FlowGap and gets
// repair's endpoints of FlowIndex i. opt.Predictor may be a UNet with
// adapters; controlled predictors (ControlNets) and SampleOptions.Control
// and Start are refused. opt.Progress counts flows done.
func GenerateSeeded(ctx context.Context, m *unet.Model, refs []FlowRef, opt Options) ([]*SeededFlow, error) {
	var p unet.Predictor = m.UNet
	if opt.Predictor != nil {
		p = opt.Predictor
	}
	if _, ok := p.(unet.Controlled); ok {
		return nil, errors.New("pipeline: seeded generation takes no controlled predictor (ControlNet)")
	}
	if len(opt.Control) > 0 || len(opt.SampleOptions.Start) > 0 {
		return nil, errors.New("pipeline: seeded generation takes no Control or Start")
	}
	switch opt.Payload {
	case "", "snap", "zeros", "random":
	default:
		return nil, fmt.Errorf("pipeline: payload %q: want snap, zeros or random", opt.Payload)
	}
	switch opt.Transport {
	case "", "mix", "none", "tcp", "udp", "icmp":
	default:
		return nil, fmt.Errorf("pipeline: transport %q: want mix, none, tcp, udp or icmp", opt.Transport)
	}
	if opt.Steps < 1 {
		return nil, fmt.Errorf("pipeline: steps %d: want 1 or more", opt.Steps)
	}
	if opt.Scheduler == nil {
		s, err := sampler.New("dpm++2m", m.Noise)
		if err != nil {
			return nil, err
		}
		opt.Scheduler = s
	}
	if _, err := cloneScheduler(opt.Scheduler); err != nil {
		return nil, err
	}
	c := m.UNet.Config
	masked := opt.Scheduler.Config().Process == sampler.Mask
	trained := unet.TrainedWithTransport(m.Vocab)
	maxRows := opt.MaxPackets
	if maxRows <= 0 {
		maxRows = DefaultMaxPackets
	}

	// each flow's prompt and structure, from its own draw stream
	flows := make([]*SeededFlow, len(refs))
	starts := make([][]float32, len(refs))
	for i, r := range refs {
		if r.Index < 0 {
			return nil, fmt.Errorf("pipeline: flow %s/%d: negative index", r.Class, r.Index)
		}
		f := &SeededFlow{FlowRef: r, Seed: FlowSeed(opt.Seed, r.Class, r.Index)}
		rng := rand.New(rand.NewPCG(f.Seed, streamDraw))
		class := ClassOf(m, r.Class)
		f.Class = class
		f.Prompt, _ = seededPrompt(r.Class, class, trained, opt, rng)
		transport := ""
		for _, w := range strings.Fields(f.Prompt) {
			if slices.Contains(unet.TransportWords, w) {
				transport = w
			}
		}
		if masked && opt.Templates != nil && opt.Templates.Classes[class] != nil {
			if ctls, err := opt.Templates.DrawTrimmed(class, transport, 1, rng); err == nil {
				f.Control = ctls[0]
				x, err := StructureStart(Window(f.Control, 0, c.Rows), c.Rows, c.Cols)
				if err != nil {
					return nil, err
				}
				starts[i] = x
			}
		}
		flows[i] = f
	}

	// window 0 of every flow, then the continuation windows, with one
	// compiled graph per batch size
	gen, err := newDenoiser(p, opt.Device)
	if err != nil {
		return nil, err
	}
	defer gen.Close()
	ms, err := sampleEach(ctx, gen, p, m, flows, starts, 0, opt)
	if err != nil {
		return nil, err
	}
	for i, f := range flows {
		f.Matrix = ms[i]
	}
	ends := make([]bool, len(flows))
	if err := continueEach(ctx, gen, p, m, flows, ends, maxRows, opt); err != nil {
		return nil, err
	}

	// repair, each flow from its own stream
	start, gap := opt.Start, opt.FlowGap
	if start.IsZero() {
		start = t2t.DefaultStart
	}
	if gap == 0 {
		gap = 50 * time.Millisecond
	}
	for i, f := range flows {
		ro := repair.Options{FlowIndex: f.Index, Start: start.Add(time.Duration(f.Index) * gap), End: ends[i]}
		if opt.Payload == "random" {
			ro.Payload = repair.PayloadRandom
		}
		r, err := repair.Flow(f.Matrix, f.Class, opt.Profile, ro, rand.New(rand.NewPCG(f.Seed, streamRepair)))
		if errors.Is(err, repair.ErrEmpty) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("pipeline: flow %s/%d: %w", f.Class, f.Index, err)
		}
		f.Result = r
		f.Packets = r.Packets
		if opt.Payload == "" || opt.Payload == "snap" {
			f.Packets = make([]pcapio.Packet, len(r.Packets))
			for k, pk := range r.Packets {
				f.Packets[k] = repair.CutPayload(pk)
			}
		}
	}
	return flows, nil
}

// seededPrompt is the prompt of one flow and its transport word.
func seededPrompt(prompt, class string, trained bool, opt Options, rng *rand.Rand) (string, string) {
	for _, w := range strings.Fields(strings.ToLower(prompt)) {
		if slices.Contains(unet.TransportWords, w) {
			return prompt, w
		}
	}
	switch opt.Transport {
	case "none":
		return prompt, ""
	case "tcp", "udp", "icmp":
		return prompt + " " + opt.Transport, opt.Transport
	}
	cp := opt.Profile.Class(class)
	if !trained || cp == nil {
		return prompt, ""
	}
	total := 0
	for _, w := range unet.TransportWords {
		total += max(cp.Transport[w], 0)
	}
	if total == 0 {
		return prompt, ""
	}
	u := rng.IntN(total)
	for _, w := range unet.TransportWords {
		if u < max(cp.Transport[w], 0) {
			return prompt + " " + w, w
		}
		u -= max(cp.Transport[w], 0)
	}
	return prompt, ""
}

// cloneScheduler returns a new scheduler of s's kind and configuration:
// every flow steps its own (DPM-Solver++ keeps a history per loop).
func cloneScheduler(s sampler.Scheduler) (sampler.Scheduler, error) {
	name := ""
	switch s.(type) {
	case *sampler.Masked:
		name = sampler.NameMask
	case *sampler.DDPM:
		name = sampler.NameDDPM
	case *sampler.DDIM:
		name = sampler.NameDDIM
	case *sampler.DPMSolver:
		name = sampler.NameDPMSolver2M
	default:
		return nil, fmt.Errorf("pipeline: seeded generation: scheduler %T: want one of package sampler's", s)
	}
	return sampler.New(name, s.Config())
}

// sampleEach samples window k of the flows: the model sees them in
// batches of opt.Batch, and each flow starts from starts[i] (nil: masked
// or noise from its stream) and steps its own scheduler with its own
// stream, so that no flow's bits depend on the others of its batch.
func sampleEach(ctx context.Context, gen denoiser, p unet.Predictor, m *unet.Model, flows []*SeededFlow, starts [][]float32, k int, opt Options) ([]*t2t.Matrix, error) {
	c := p.Base().Config
	l, err := c.Layout.Layout()
	if err != nil {
		return nil, err
	}
	n := c.InputSize()
	bs := opt.Batch
	if bs <= 0 || bs > len(flows) {
		bs = len(flows)
	}
	need := sampler.Cond
	if opt.Guidance != 0 && opt.Guidance != 1 {
		need = sampler.Cond | sampler.Uncond
	}
	cfg := opt.Scheduler.Config()
	out := make([]*t2t.Matrix, 0, len(flows))
	for b0 := 0; b0 < len(flows); b0 += bs {
		batch := flows[b0:min(b0+bs, len(flows))]
		var tk []int
		x := make([]float32, len(batch)*n)
		scheds := make([]sampler.Scheduler, len(batch))
		rngs := make([]*rand.Rand, len(batch))
		for i, f := range batch {
			toks, err := m.Vocab.Tokenize(f.Prompt, c.MaxTokens, false)
			if err != nil {
				return nil, err
			}
			tk = append(tk, toks...)
			if scheds[i], err = cloneScheduler(opt.Scheduler); err != nil {
				return nil, err
			}
			if err := scheds[i].SetTimesteps(opt.Steps); err != nil {
				return nil, err
			}
			rngs[i] = rand.New(rand.NewPCG(f.Seed, streamNoise+uint64(k)))
			xi := x[i*n : (i+1)*n]
			if s := starts[b0+i]; s != nil {
				copy(xi, s)
			} else {
				sigma := scheds[i].InitNoiseSigma()
				for j := range xi {
					xi[j] = float32(sigma * rngs[i].NormFloat64())
				}
			}
		}
		denoise, err := gen.DenoiseFuncControl(tk, nil)
		if err != nil {
			return nil, err
		}
		if cfg.Process == sampler.Mask {
			denoise = maskedView(denoise, cfg.MaskCols)
		}
		for _, t := range scheds[0].Timesteps() {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			cond, uncond, err := denoise(x, t, need)
			if err != nil {
				return nil, fmt.Errorf("pipeline: denoise at t=%d: %w", t, err)
			}
			o := cond
			if need != sampler.Cond {
				o = sampler.Guide(cond, uncond, opt.Guidance)
			}
			if len(o) != len(x) {
				return nil, fmt.Errorf("pipeline: the model gave %d values for %d", len(o), len(x))
			}
			for i := range batch {
				st, err := scheds[i].Step(o[i*n:(i+1)*n], x[i*n:(i+1)*n], t, rngs[i])
				if err != nil {
					return nil, err
				}
				copy(x[i*n:(i+1)*n], st.Prev)
			}
		}
		for i := range batch {
			mm, err := t2t.MatrixFromRowPlanes(x[i*n:(i+1)*n], c.Rows, l)
			if err != nil {
				return nil, fmt.Errorf("pipeline: sample: the model's output is not a number (%w): its weights, or a scale or guidance, are out of range", err)
			}
			out = append(out, mm)
		}
		if opt.Progress != nil && k == 0 {
			opt.Progress(b0+len(batch), len(flows))
		}
	}
	return out, nil
}

// continueEach makes each flow as long as its structure map says (at most
// maxRows), as continueFlows does, window k of every flow from its own
// stream; ends[i] reports whether flow i holds its flow's end.
func continueEach(ctx context.Context, gen denoiser, p unet.Predictor, m *unet.Model, flows []*SeededFlow, ends []bool, maxRows int, opt Options) error {
	c := m.UNet.Config
	R, st := c.Rows, train.Stride(c.Rows)
	length := make([]int, len(flows))
	for i, f := range flows {
		if f.Control == nil {
			continue
		}
		n := Length(f.Control)
		ends[i] = n < f.Control.Rows && n <= maxRows
		length[i] = min(n, maxRows)
		if length[i] > R {
			full := t2t.NewMatrix(f.Matrix.Layout, length[i])
			copy(full.Bits, f.Matrix.Bits)
			f.Matrix = full
		}
	}
	for k := 1; ; k++ {
		o := k * st
		var idx []int
		var sub []*SeededFlow
		var starts [][]float32
		for i, f := range flows {
			if length[i] <= R || o+st >= length[i] {
				continue
			}
			x, err := StructureStart(Window(f.Control, o, R), R, c.Cols)
			if err != nil {
				return err
			}
			knownRows(x, f.Matrix, o, st, c.Cols)
			idx = append(idx, i)
			sub = append(sub, f)
			starts = append(starts, x)
		}
		if len(idx) == 0 {
			return nil
		}
		ws, err := sampleEach(ctx, gen, p, m, sub, starts, k, opt)
		if err != nil {
			return fmt.Errorf("pipeline: window %d: %w", k, err)
		}
		for j, i := range idx {
			f := flows[i].Matrix
			end := min(o+R, length[i])
			copy(f.Bits[(o+st)*f.Cols:end*f.Cols], ws[j].Bits[st*f.Cols:(end-o)*f.Cols])
		}
	}
}
