// Command generate samples flows from a t2t model for a prompt and writes
// them as a pcap (and, with -png, as flow images). Without -model it uses
// the model embedded in the binary (t2t/models), so it needs no files.
//
// Each generated flow is repaired (t2t/repair) into packets that obey the
// protocols: one pair of endpoints per flow, a TCP handshake, coherent
// sequence numbers, legal flags, lengths and checksums, timestamps drawn
// from the class's inter-arrival times. The model generates headers, not
// payload: by default each packet is written cut short after its headers
// with its full length on the wire (-payload snap), as a capture with a
// snap length is; -payload zeros or random writes whole packets.
//
//	generate -prompt type-3 -n 4 -steps 20 -scheduler dpm++2m -guidance 2 -seed 1 -out flows.pcap -png pngs/
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"time"

	"t2t"
	"t2t/controlnet"
	"t2t/internal/cli"
	"t2t/lora"
	"t2t/models"
	"t2t/pcapio"
	"t2t/pipeline"
	"t2t/unet"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "generate:", err)
		os.Exit(1)
	}
}

type options struct {
	model, prompt, scheduler, out, png string
	n, steps, batch                    int
	guidance                           float64
	seed                               uint64
	quiet, raw                         bool
	payload, transport                 string
	loras                              cli.Multi
	controlNet, control, controlFrom   string
	controlScale                       float64
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var o options
	fs := flag.NewFlagSet("generate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.model, "model", "", "model folder (default: the embedded model)")
	fs.StringVar(&o.prompt, "prompt", "", "prompt, e.g. type-3 or a class name (empty: list the model's prompts)")
	fs.IntVar(&o.n, "n", 4, "flows to generate")
	fs.IntVar(&o.steps, "steps", 20, "denoising steps")
	fs.StringVar(&o.scheduler, "scheduler", "dpm++2m", "ddpm, ddim or dpm++2m")
	fs.Float64Var(&o.guidance, "guidance", 2, "classifier-free guidance scale (1: none)")
	fs.Uint64Var(&o.seed, "seed", 1, "seed: the same seed gives the same flows")
	fs.IntVar(&o.batch, "batch", 8, "flows denoised together")
	fs.StringVar(&o.out, "out", "generated.pcap", "pcap to write")
	fs.StringVar(&o.png, "png", "", "folder for one PNG per flow")
	fs.BoolVar(&o.quiet, "q", false, "no progress")
	fs.BoolVar(&o.raw, "raw", false, "write the rows as decoded, without repair (lengths and checksums fixed only)")
	fs.StringVar(&o.payload, "payload", "snap", "payload of repaired packets: snap (cut after the headers), zeros or random")
	fs.StringVar(&o.transport, "transport", "mix", "transport word added to the prompt per flow: mix (the class's real mix of TCP/UDP/ICMP flows), tcp, udp, icmp or none")
	fs.Var(&o.loras, "lora", "LoRA adapter file[:weight] made by examples/finetune (repeatable; weight 1 by default)")
	fs.StringVar(&o.controlNet, "controlnet", "", "ControlNet file made by examples/controlnet (default: the model's own, "+models.ControlNetFile+" in -model or the embedded one; none: no ControlNet). Without -control or -control-from each flow takes the structure of a real flow of the class (the file's templates)")
	fs.StringVar(&o.control, "control", "", "control image: a structure map PNG (white present, black vacant; or a flow image), one row per packet")
	fs.StringVar(&o.controlFrom, "control-from", "", "control from a real flow: file.pcap[:index] (flows in order of their first packet)")
	fs.Float64Var(&o.controlScale, "control-scale", 0, "ControlNet conditioning scale (0: the file's, 1 when trained)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	m, prof, err := models.Load(o.model)
	if err != nil {
		return err
	}
	for _, spec := range o.loras {
		var s *lora.Set
		if s, prof, err = pipeline.AttachAdapter(m, prof, spec); err != nil {
			return err
		}
		fmt.Fprintf(stderr, "adapter %s: %d layers, new prompts: %s\n", s.Name, len(s.Adapters), strings.Join(s.Config.Tokens, " "))
	}
	switch o.payload {
	case "snap", "zeros", "random":
	default:
		return fmt.Errorf("-payload %q: want snap, zeros or random", o.payload)
	}
	if o.prompt == "" {
		fmt.Fprintf(stdout, "prompts of this model: %s\n", strings.Join(m.Vocab.Tokens()[2:], " "))
		return errors.New("-prompt is required")
	}
	cn, err := models.ControlNetFlag(o.controlNet, o.model, m, o.controlScale)
	if err != nil {
		return err
	}
	var pred unet.Predictor = m.UNet
	var ctlVals [][]float32
	if o.control != "" || o.controlFrom != "" {
		if cn == nil {
			return errors.New("a control needs a ControlNet: -controlnet FILE (the model folder has no " + models.ControlNetFile + ")")
		}
		ctl, err := loadControl(m, o)
		if err != nil {
			return err
		}
		pred = cn
		if w := ctl.Transport(m.UNet.Config.Layout.MustLayout()); w != "" && o.transport == "mix" && unet.TrainedWithTransport(m.Vocab) {
			o.transport = w // the control's transport, not the class's mix
		}
		fmt.Fprintf(stderr, "control: %d packets (%s), scale %g\n", ctl.Packets(), orNone(ctl.Transport(m.UNet.Config.Layout.MustLayout())), cn.Scale)
		ctlVals = [][]float32{ctl.Values()}
	} else if cn != nil {
		if cn.Templates == nil {
			return errors.New("the ControlNet has no templates: give -control or -control-from, or -controlnet none")
		}
		if cn.Templates.Classes[pipeline.ClassOf(m, o.prompt)] != nil {
			pred = cn
			fmt.Fprintf(stderr, "controlnet: each flow takes the structure of a real %s flow (the ControlNet's templates), scale %g\n", pipeline.ClassOf(m, o.prompt), cn.Scale)
		}
	}
	sopt := unet.SampleOptions{N: o.n, Control: ctlVals, Steps: o.steps, Scheduler: o.scheduler, Guidance: o.guidance, Seed: o.seed, Batch: o.batch,
		Progress: func(done, total int) {
			if !o.quiet {
				fmt.Fprintf(stderr, "\rdenoising %d/%d", done, total)
				if done == total {
					fmt.Fprintln(stderr)
				}
			}
		}}
	out, err := pipeline.Generate(ctx, m, o.prompt, pipeline.Options{SampleOptions: sopt, Profile: prof, Payload: o.payload, Transport: o.transport, Predictor: pred})
	if err != nil {
		return err
	}
	if err := writeImages(o.png, out.Matrices); err != nil {
		return err
	}
	if o.raw {
		n, skipped, err := writePcap(o.out, out.Matrices)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%d flows for %q: %d packets in %s (%d rows not decodable, no repair), %.2fs per flow\n",
			len(out.Matrices), o.prompt, n, o.out, skipped, out.Sampling.Seconds()/float64(len(out.Matrices)))
		return nil
	}
	if err := pipeline.WritePcap(o.out, out.Packets); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%d flows for %q (class %s): %d packets in %s; repair changed %.1f bits per flow, %d flows had nothing usable; %.2fs per flow\n",
		len(out.Results), o.prompt, out.Class, len(out.Packets), o.out, out.BitsChanged(), out.Empty, out.Sampling.Seconds()/float64(len(out.Matrices)))
	return nil
}

// loadControl reads the control image -control or -control-from names.
func loadControl(m *unet.Model, o options) (*controlnet.Control, error) {
	if o.control != "" && o.controlFrom != "" {
		return nil, errors.New("-control and -control-from: give one")
	}
	c := m.UNet.Config
	var ctl *controlnet.Control
	var err error
	if o.control != "" {
		ctl, err = controlnet.ReadPNGFile(o.control, c.Cols, c.Rows)
	} else {
		ctl, err = controlnet.FromPcap(o.controlFrom, c.Layout.MustLayout(), c.Rows)
	}
	if err != nil {
		return nil, err
	}
	if ctl.Packets() == 0 {
		return nil, errors.New("the control image has no packet (every bit vacant)")
	}
	return ctl, nil
}

func orNone(s string) string {
	if s == "" {
		return "no transport header"
	}
	return s
}

// writeImages writes one PNG per flow into dir (nothing when dir is "").
func writeImages(dir string, flows []*t2t.Matrix) error {
	if dir == "" {
		return nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for i, f := range flows {
		if err := t2t.WritePNGFile(filepath.Join(dir, fmt.Sprintf("flow-%03d.png", i)), f); err != nil {
			return err
		}
	}
	return nil
}

// writePcap decodes each flow's rows into packets with lengths and
// checksums fixed, each flow on its own address pair (10.1.i.1 <->
// 10.2.i.1, fd00:1::i <-> fd00:2::i), packets 1 ms apart. Rows that are
// vacant or that no decoder can read (two transports, no IP header) are
// skipped and counted.
func writePcap(path string, flows []*t2t.Matrix) (packets, skipped int, err error) {
	f, err := os.Create(path)
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	w, err := pcapio.NewWriter(f, t2t.LinkEthernet, pcapio.WriterOptions{})
	if err != nil {
		return 0, 0, err
	}
	ts := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	for i, m := range flows {
		a4 := netip.AddrFrom4([4]byte{10, 1, byte(i >> 8), byte(i)})
		b4 := netip.AddrFrom4([4]byte{10, 2, byte(i >> 8), byte(i)})
		a6 := netip.AddrFrom16([16]byte{0xfd, 0, 0, 1, 14: byte(i >> 8), 15: byte(i)})
		b6 := netip.AddrFrom16([16]byte{0xfd, 0, 0, 2, 14: byte(i >> 8), 15: byte(i)})
		var first uint16 // the first packet's source port: the client's
		for r := 0; r < m.Rows; r++ {
			if m.RowVacant(r) {
				continue
			}
			row := m.Row(r)
			src, dst := a4, b4
			if v6(m.Layout, row) {
				src, dst = a6, b6
			}
			dec := t2t.NewDecoder(m.Layout, t2t.DecodeOptions{Link: t2t.LinkEthernet, FixLengths: true, FixChecksums: true, Src: src, Dst: dst,
				SrcMAC: [6]byte{2, 0, 0, 0, 1, byte(i)}, DstMAC: [6]byte{2, 0, 0, 0, 2, byte(i)}})
			frame, err := dec.Decode(row)
			if err != nil {
				skipped++
				continue
			}
			// a packet sent by the server goes the other way
			info, _ := t2t.ParseInfo(t2t.LinkEthernet, frame)
			if first == 0 {
				first = info.SrcPort
			} else if info.SrcPort != first && info.DstPort == first {
				dec = t2t.NewDecoder(m.Layout, t2t.DecodeOptions{Link: t2t.LinkEthernet, FixLengths: true, FixChecksums: true, Src: dst, Dst: src,
					SrcMAC: [6]byte{2, 0, 0, 0, 2, byte(i)}, DstMAC: [6]byte{2, 0, 0, 0, 1, byte(i)}})
				if frame, err = dec.Decode(row); err != nil {
					skipped++
					continue
				}
			}
			ts = ts.Add(time.Millisecond)
			if err := w.WritePacket(ts, frame); err != nil {
				return packets, skipped, err
			}
			packets++
		}
		ts = ts.Add(100 * time.Millisecond)
	}
	if err := w.Flush(); err != nil {
		return packets, skipped, err
	}
	return packets, skipped, f.Close()
}

// v6 reports whether a row's IPv6 block is present and its IPv4 block not.
func v6(l *t2t.Layout, row []int8) bool {
	c4, _, ok4 := l.Field("ipv4_ver")
	c6, _, ok6 := l.Field("ipv6_ver")
	return ok6 && row[c6] != -1 && (!ok4 || row[c4] == -1)
}
