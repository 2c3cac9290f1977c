package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/bits"
	"os"
	"slices"
	"strings"
	"time"

	"t2t"
	"t2t/controlnet"
	"t2t/internal/cli"
	"t2t/models"
	"t2t/pcapio"
	"t2t/pipeline"
	"t2t/repair"
	"t2t/unet"
)

// Row is one line of the evaluation: samples of prompt class Prompt
// steered by the structure maps of held-out flows of class Control.
type Row struct {
	Prompt  string `json:"prompt"`
	Control string `json:"control"`
	Flows   int    `json:"flows"`
	// share of the Rows·Cols bits whose presence matches the control,
	// mean and minimum over the flows, with and without the ControlNet
	Bits        float64 `json:"bits"`
	BitsMin     float64 `json:"bits_min"`
	BaseBits    float64 `json:"base_bits"`
	BaseBitsMin float64 `json:"base_bits_min"`
	// share of flows whose packet count is the control's
	Packets     float64 `json:"packets"`
	BasePackets float64 `json:"base_packets"`
	// share of flows with the control's transport
	Transport     float64 `json:"transport"`
	BaseTransport float64 `json:"base_transport"`
	// share of flows whose ports (raw model output, which repair snaps to
	// the nearest server port of the class profile) are within 2 bits of
	// a server port of the prompt's class, and of the control's class
	PromptPort  float64 `json:"prompt_port"`
	ControlPort float64 `json:"control_port"`
}

// Report is what -json writes.
type Report struct {
	Model      string  `json:"model"`
	ControlNet string  `json:"controlnet"`
	Scale      float64 `json:"scale"`
	Steps      int     `json:"steps"`
	Guidance   float64 `json:"guidance"`
	Rows       []Row   `json:"rows"`        // one per class, controls of that class
	Cross      []Row   `json:"cross"`       // prompt of one class, controls of another
	Overall    Row     `json:"overall"`     // over every flow of Rows
	AtLeast99  float64 `json:"at_least_99"` // share of flows with >= 99% of bits matching
	Base99     float64 `json:"base_at_least_99"`
	SecPerFlow float64 `json:"sec_per_flow"` // with the ControlNet
	BaseSec    float64 `json:"base_sec_per_flow"`
}

type control struct {
	class  string
	flow   *pcapio.Flow
	c      *controlnet.Control
	prompt string
	trans  string
}

func evaluate(ctx context.Context, o options, stdout, log io.Writer) error {
	folder, err := models.Load(o.model)
	if err != nil {
		return err
	}
	m, prof := folder.Model, folder.Profile
	cn, err := cli.ControlNetFlag(o.net, folder, o.scale)
	if err != nil {
		return err
	}
	if cn == nil {
		return errors.New("-eval needs -controlnet FILE (the model has no ControlNet)")
	}
	cfg := m.UNet.Config
	l := cfg.Layout.MustLayout()
	ds, err := pcapio.LoadDataset(o.eval, pcapio.FlowOptions{MaxPackets: cfg.Rows})
	if err != nil {
		return err
	}
	seen := map[string]bool{}
	if o.data != "" {
		tr, err := pcapio.LoadDataset(o.data, pcapio.FlowOptions{MaxPackets: cfg.Rows})
		if err != nil {
			return err
		}
		for _, fl := range tr.Flows {
			if o.maxFlows > 0 { // as training picked them
				fl = pcapio.Stratified(fl, o.maxFlows, o.minPackets)
			}
			for _, f := range fl {
				seen[flowID(f)] = true
			}
		}
	}
	classes := strings.Split(m.Meta["classes"], ",")
	byClass := map[string][]control{}
	for _, c := range classes {
		var held []*pcapio.Flow
		for _, f := range ds.Flows[c] {
			if !seen[flowID(f)] {
				held = append(held, f)
			}
		}
		for _, f := range pcapio.Stratified(held, o.n, max(o.minPackets, 1)) {
			fm, err := f.Matrix(l, cfg.Rows)
			if err != nil {
				return err
			}
			byClass[c] = append(byClass[c], control{class: c, flow: f, c: controlnet.FromMatrix(fm, cfg.Rows), trans: unet.TransportWord(f.Key.Proto)})
		}
	}
	rep := Report{Model: o.model, ControlNet: o.net, Scale: cn.Scale, Steps: o.sampleSteps, Guidance: o.guidance}
	var withT, baseT time.Duration
	var all []result
	for i, c := range classes {
		if len(byClass[c]) == 0 {
			continue
		}
		rs, wt, bt, err := sample(ctx, m, cn, prof, c, byClass[c], true, true, o)
		if err != nil {
			return err
		}
		withT += wt
		baseT += bt
		all = append(all, rs...)
		rep.Rows = append(rep.Rows, summarize(c, c, rs))
		if o.cross {
			other := classes[(i+1)%len(classes)]
			if len(byClass[other]) > 0 {
				rs, _, _, err := sample(ctx, m, cn, prof, c, byClass[other], false, false, o)
				if err != nil {
					return err
				}
				rep.Cross = append(rep.Cross, summarize(c, other, rs))
			}
		}
		fmt.Fprintf(log, "\r%d/%d classes", i+1, len(classes))
	}
	fmt.Fprintln(log)
	rep.Overall = summarize("all", "all", all)
	for _, r := range all {
		if r.bits >= 0.99 {
			rep.AtLeast99++
		}
		if r.baseBits >= 0.99 {
			rep.Base99++
		}
	}
	rep.AtLeast99 /= float64(max(len(all), 1))
	rep.Base99 /= float64(max(len(all), 1))
	rep.SecPerFlow = withT.Seconds() / float64(max(len(all), 1))
	rep.BaseSec = baseT.Seconds() / float64(max(len(all), 1))
	printReport(stdout, &rep)
	if o.jsonOut != "" {
		b, err := json.MarshalIndent(rep, "", "  ")
		if err != nil {
			return err
		}
		return os.WriteFile(o.jsonOut, b, 0o644)
	}
	return nil
}

// flowID names a flow by its key and first packet time, to tell the
// training flows apart in a larger capture of the same traffic.
func flowID(f *pcapio.Flow) string {
	if len(f.Packets) == 0 {
		return fmt.Sprint(f.Key)
	}
	return fmt.Sprint(f.Key, f.Packets[0].Time.UnixNano())
}

type result struct {
	bits, baseBits          float64
	packets, basePackets    bool
	trans, baseTrans        bool
	promptPort, controlPort bool
}

// sample generates, for prompt class p, one flow per control with and
// without the ControlNet (same prompt, same seed) and compares each with
// its control.
// With transport, the prompt also names the control flow's transport
// (for a model trained with transport prompts); with base, the model is
// also sampled without the ControlNet.
func sample(ctx context.Context, m *unet.Model, cn *controlnet.ControlNet, prof *repair.Profile, p string, ctls []control, transport, withBase bool, o options) ([]result, time.Duration, time.Duration, error) {
	groups := map[string][]int{}
	var order []string
	for i, c := range ctls {
		prompt := p
		if transport && unet.TrainedWithTransport(m.Vocab) && c.trans != "" {
			prompt += " " + c.trans
		}
		if _, ok := groups[prompt]; !ok {
			order = append(order, prompt)
		}
		groups[prompt] = append(groups[prompt], i)
	}
	out := make([]result, len(ctls))
	var wt, bt time.Duration
	serverPorts := func(class string) []int {
		var ps []int
		if cp := prof.Class(class); cp != nil {
			for _, sp := range cp.ServerPorts {
				ps = append(ps, sp.Value)
			}
		}
		return ps
	}
	for gi, prompt := range order {
		idx := groups[prompt]
		var vals [][]float32
		for _, i := range idx {
			vals = append(vals, ctls[i].c.Values())
		}
		so := pipeline.SampleOptions{N: len(idx), Steps: o.sampleSteps, Guidance: o.guidance, Seed: o.seed + uint64(gi), Batch: 10, Control: vals}
		t0 := time.Now()
		with, err := pipeline.Sample(ctx, cn, m.Vocab, m.Noise, prompt, so)
		if err != nil {
			return nil, 0, 0, err
		}
		wt += time.Since(t0)
		base := with
		if withBase {
			so.Control = nil
			t0 = time.Now()
			if base, err = pipeline.Sample(ctx, m.UNet, m.Vocab, m.Noise, prompt, so); err != nil {
				return nil, 0, 0, err
			}
			bt += time.Since(t0)
		}
		for k, i := range idx {
			c := ctls[i]
			r := &out[i]
			var got, want int
			r.bits, got, want = c.c.Match(with[k])
			r.packets = got == want
			r.baseBits, got, _ = c.c.Match(base[k])
			r.basePackets = got == want
			r.trans = transportOf(with[k]) == c.trans
			r.baseTrans = transportOf(base[k]) == c.trans
			ports := portsOf(with[k])
			r.promptPort = near(ports, serverPorts(p), 2)
			r.controlPort = near(ports, serverPorts(c.class), 2)
		}
	}
	return out, wt, bt, nil
}

// transportOf is the transport of the majority of a matrix's rows.
func transportOf(m *t2t.Matrix) string {
	return controlnet.FromMatrix(m, m.Rows).Transport(m.Layout)
}

// portsOf reads the source and destination ports of a matrix's first
// packet with a TCP or UDP header.
func portsOf(m *t2t.Matrix) []int {
	for r := 0; r < m.Rows; r++ {
		for _, pair := range [][2]string{{"tcp_sprt", "tcp_dprt"}, {"udp_sport", "udp_dport"}} {
			var ps []int
			for _, f := range pair {
				c, w, ok := m.Layout.Field(f)
				if !ok {
					continue
				}
				v, valid := 0, true
				for _, b := range m.Row(r)[c : c+w] {
					if b == -1 {
						valid = false
						break
					}
					v = v<<1 | int(b)
				}
				if valid {
					ps = append(ps, v)
				}
			}
			if len(ps) == 2 {
				return ps
			}
		}
	}
	return nil
}

// near reports whether a port is within maxBits bit flips of a target.
func near(ports, targets []int, maxBits int) bool {
	for _, p := range ports {
		for _, t := range targets {
			if bits.OnesCount16(uint16(p^t)) <= maxBits {
				return true
			}
		}
	}
	return false
}

func summarize(prompt, ctl string, rs []result) Row {
	r := Row{Prompt: prompt, Control: ctl, Flows: len(rs), BitsMin: 1, BaseBitsMin: 1}
	if len(rs) == 0 {
		return r
	}
	for _, x := range rs {
		r.Bits += x.bits
		r.BaseBits += x.baseBits
		r.BitsMin = math.Min(r.BitsMin, x.bits)
		r.BaseBitsMin = math.Min(r.BaseBitsMin, x.baseBits)
		for _, f := range []struct {
			ok  bool
			dst *float64
		}{{x.packets, &r.Packets}, {x.basePackets, &r.BasePackets}, {x.trans, &r.Transport}, {x.baseTrans, &r.BaseTransport},
			{x.promptPort, &r.PromptPort}, {x.controlPort, &r.ControlPort}} {
			if f.ok {
				*f.dst++
			}
		}
	}
	n := float64(len(rs))
	for _, p := range []*float64{&r.Bits, &r.BaseBits, &r.Packets, &r.BasePackets, &r.Transport, &r.BaseTransport, &r.PromptPort, &r.ControlPort} {
		*p /= n
	}
	return r
}

func printReport(w io.Writer, rep *Report) {
	fmt.Fprintf(w, "| control class | flows | bits matching, ControlNet (min) | bits matching, no control (min) | packet count right, ControlNet | no control |\n|---|---|---|---|---|---|\n")
	for _, r := range append(slices.Clone(rep.Rows), rep.Overall) {
		fmt.Fprintf(w, "| %s | %d | %.4f (%.4f) | %.4f (%.4f) | %.2f | %.2f |\n", r.Control, r.Flows, r.Bits, r.BitsMin, r.BaseBits, r.BaseBitsMin, r.Packets, r.BasePackets)
	}
	fmt.Fprintf(w, "\nflows with >= 99%% of bits matching: %.2f with the ControlNet, %.2f without; %.2f s/flow with, %.2f without (scale %g, %d steps, guidance %g)\n",
		rep.AtLeast99, rep.Base99, rep.SecPerFlow, rep.BaseSec, rep.Scale, rep.Steps, rep.Guidance)
	if len(rep.Cross) > 0 {
		fmt.Fprintf(w, "\n| prompt | control from | bits matching control | packets right | control's transport | port near prompt class's server port | near control class's |\n|---|---|---|---|---|---|---|\n")
		for _, r := range rep.Cross {
			fmt.Fprintf(w, "| %s | %s | %.4f | %.2f | %.2f | %.2f | %.2f |\n", r.Prompt, r.Control, r.Bits, r.Packets, r.Transport, r.PromptPort, r.ControlPort)
		}
	}
}
