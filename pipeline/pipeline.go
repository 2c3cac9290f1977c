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
	"os"
	"strings"
	"time"

	"t2t"
	"t2t/pcapio"
	"t2t/repair"
	"t2t/unet"
)

// Options of a generation.
type Options struct {
	unet.SampleOptions
	// Predictor overrides the model's UNet (adapters, ControlNet).
	Predictor unet.Predictor
	// Profile is the repair profile (nil: repair's defaults).
	Profile *repair.Profile
	// Payload: "snap" (default: packets cut after their headers, full
	// length on the wire), "zeros" or "random".
	Payload string
	// Start is the time of the first flow (zero: 2024-01-01 UTC); flows
	// start FlowGap apart (zero: 50 ms).
	Start   time.Time
	FlowGap time.Duration
}

// Output of a generation.
type Output struct {
	Class    string           // the class whose profile repaired the flows
	Matrices []*t2t.Matrix    // raw model output, one per flow
	Results  []*repair.Result // repaired flows (flows with nothing usable are left out)
	Empty    int              // flows repair found nothing usable in
	Packets  []pcapio.Packet  // all flows' packets in time order, as written
	Sampling time.Duration    // time spent denoising
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

// Generate samples opt.N flows for a prompt and repairs them.
func Generate(ctx context.Context, m *unet.Model, prompt string, opt Options) (*Output, error) {
	var p unet.Predictor = m.UNet
	if opt.Predictor != nil {
		p = opt.Predictor
	}
	switch opt.Payload {
	case "", "snap", "zeros", "random":
	default:
		return nil, fmt.Errorf("pipeline: payload %q: want snap, zeros or random", opt.Payload)
	}
	out := &Output{Class: ClassOf(m, prompt)}
	t0 := time.Now()
	var err error
	out.Matrices, err = unet.Sample(ctx, p, m.Vocab, m.Noise, prompt, opt.SampleOptions)
	if err != nil {
		return nil, err
	}
	out.Sampling = time.Since(t0)
	start, gap := opt.Start, opt.FlowGap
	if start.IsZero() {
		start = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	}
	if gap == 0 {
		gap = 50 * time.Millisecond
	}
	rng := rand.New(rand.NewPCG(opt.Seed, 0x726570616972))
	for i, f := range out.Matrices {
		ro := repair.Options{FlowIndex: i, Start: start.Add(time.Duration(i) * gap)}
		if opt.Payload == "random" {
			ro.Payload = repair.PayloadRandom
		}
		r, err := repair.Flow(f, out.Class, opt.Profile, ro, rng)
		if errors.Is(err, repair.ErrEmpty) {
			out.Empty++
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("pipeline: flow %d: %w", i, err)
		}
		out.Results = append(out.Results, r)
	}
	out.Packets = repair.Merge(out.Results)
	if opt.Payload == "" || opt.Payload == "snap" {
		for i := range out.Packets {
			out.Packets[i] = repair.CutPayload(out.Packets[i])
		}
	}
	return out, nil
}

// WritePcap writes packets to an Ethernet pcap.
func WritePcap(path string, ps []pcapio.Packet) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	w, err := pcapio.NewWriter(f, t2t.LinkEthernet, pcapio.WriterOptions{})
	if err != nil {
		return err
	}
	for _, p := range ps {
		if err := w.Write(p); err != nil {
			return fmt.Errorf("pipeline: %s: %w", path, err)
		}
	}
	if err := w.Flush(); err != nil {
		return err
	}
	return f.Close()
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
