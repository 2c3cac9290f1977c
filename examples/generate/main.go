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
//	generate -prompt type-3 -n 4 -steps 20 -scheduler dpm++2m -guidance 2 -seed 1 -out flows.pcap -png pngs/ -device cpu
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"

	"t2t"
	"t2t/controlnet"
	"t2t/internal/cli"
	"t2t/lora"
	"t2t/models"
	"t2t/pipeline"
	"t2t/repair"
	"t2t/sampler"
	"t2t/unet"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	cli.Main("generate", run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

var command = cli.Command{
	Name: "generate",
	Does: "generate samples flows of one class from a t2t model (the embedded one unless -model) and writes them, repaired, as a pcap.",
	Example: []string{
		"-prompt ssh -n 8 -seed 1 -out ssh.pcap -png ssh-png",
		"-prompt ''   (lists the model's prompts)",
	},
}

type options struct {
	model, prompt, scheduler, out, png string
	n, steps, batch, pngScale          int
	maxPackets                         int
	guidance                           float64
	seed                               uint64
	quiet, raw, noTemplates            bool
	payload, transport                 string
	loras                              cli.Multi
	controlNet, control, controlFrom   string
	controlScale                       float64
	device                             string
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var o options
	fs := command.FlagSet(stderr)
	fs.StringVar(&o.model, "model", "", "model folder (default: the embedded model)")
	fs.StringVar(&o.prompt, "prompt", "", "prompt, e.g. type-3 or a class name (empty: list the model's prompts)")
	fs.IntVar(&o.n, "n", 4, "flows to generate")
	fs.IntVar(&o.steps, "steps", 20, "denoising steps")
	fs.StringVar(&o.scheduler, "scheduler", "dpm++2m", "ddpm, ddim or dpm++2m")
	fs.Float64Var(&o.guidance, "guidance", 2, "classifier-free guidance scale (1: none)")
	fs.Uint64Var(&o.seed, "seed", 1, "seed: the same seed gives the same flows")
	fs.IntVar(&o.batch, "batch", 8, "flows denoised together")
	fs.StringVar(&o.out, "out", "generated.pcap", "pcap to write")
	fs.StringVar(&o.png, "png", "", "`folder` for one PNG per flow, the flow as written in the pcap (after repair), named like pcap2png's: <out>-00000.png ...; red 1, green 0, blue vacant, one row per packet (legend.txt says so)")
	fs.IntVar(&o.pngScale, "png-scale", 4, "with -png: pixel rows per packet, so that a short flow is visible (1: one pixel row per packet, readable back as a flow by png2pcap)")
	fs.IntVar(&o.maxPackets, "max-packets", pipeline.DefaultMaxPackets, "longest flow: a masked model continues each flow, window after window, to the length of the real flow whose structure it takes, at most this many packets")
	fs.BoolVar(&o.quiet, "q", false, "quiet: print nothing but errors")
	fs.BoolVar(&o.raw, "raw", false, "write the rows as decoded, without repair (lengths and checksums fixed only)")
	fs.StringVar(&o.payload, "payload", "snap", "payload of repaired packets: snap (cut after the headers), zeros or random")
	fs.StringVar(&o.transport, "transport", "mix", "transport word added to the prompt per flow: mix (the class's real mix of TCP/UDP/ICMP flows), tcp, udp, icmp or none")
	fs.Var(&o.loras, "lora", "LoRA adapter file[:weight] made by examples/finetune (repeatable; weight 1 by default)")
	fs.StringVar(&o.controlNet, "controlnet", "", "ControlNet file made by examples/controlnet (default: the model's own, "+models.ControlNetFile+" in -model or the embedded one; none: no ControlNet). Without -control or -control-from each flow takes the structure of a real flow of the class (the file's templates)")
	fs.StringVar(&o.control, "control", "", "control image: a structure map PNG (white present, black vacant; or a flow image), one row per packet")
	fs.StringVar(&o.controlFrom, "control-from", "", "control from a real flow: file.pcap[:index] (flows in order of their first packet)")
	fs.BoolVar(&o.noTemplates, "no-templates", false, "a masked model's flows start from no real flow's structure (by default each takes the structure of a real training flow of its class: the folder's templates.json)")
	fs.Float64Var(&o.controlScale, "control-scale", 0, "ControlNet conditioning scale (0: the file's, 1 when trained)")
	fs.StringVar(&o.device, "device", "cpu", "where the model runs: cpu, or cuda (a GPU: a build with -tags t2tcuda; adapters are merged into the weights)")
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	if err := o.check(); err != nil {
		return err
	}
	if o.quiet {
		stdout, stderr = io.Discard, io.Discard
	}
	folder, err := models.Load(o.model)
	if err != nil {
		return err
	}
	m, prof := folder.Model, folder.Profile
	for _, spec := range o.loras {
		var s *lora.Set
		if s, prof, err = pipeline.AttachAdapter(m, prof, spec); err != nil {
			return err
		}
		fmt.Fprintf(stderr, "adapter %s: %d layers, new prompts: %s\n", s.Name, len(s.Adapters), strings.Join(s.Config.Tokens, " "))
		if o.device == pipeline.CUDA {
			// a device program has no adapter terms: the weights carry them
			if err := s.Merge(); err != nil {
				return err
			}
		}
	}
	if o.prompt == "" {
		fmt.Fprintf(stdout, "prompts of this model: %s\n", strings.Join(m.Vocab.Tokens()[2:], " "))
		return cli.Usagef("-prompt is required")
	}
	cn, err := cli.ControlNetFlag(o.controlNet, folder, o.controlScale)
	if err != nil {
		return err
	}
	var pred unet.Predictor = m.UNet
	var ctlVals [][]float32
	if o.control != "" || o.controlFrom != "" {
		ctl, err := loadControl(m, o)
		if err != nil {
			return err
		}
		if cn == nil {
			return errors.New("a control needs a ControlNet: -controlnet FILE (the model folder has no " + models.ControlNetFile + ")")
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
	sched, err := sampler.New(o.scheduler, m.Noise)
	if err != nil {
		return cli.Usagef("-scheduler: %w", err)
	}
	sopt := pipeline.SampleOptions{N: o.n, Control: ctlVals, Steps: o.steps, Scheduler: sched, Guidance: o.guidance, Seed: o.seed, Batch: o.batch, Device: o.device,
		Progress: func(done, total int) {
			if !o.quiet {
				fmt.Fprintf(stderr, "\rdenoising %d/%d", done, total)
				if done == total {
					fmt.Fprintln(stderr)
				}
			}
		}}
	popt := pipeline.Options{SampleOptions: sopt, Profile: prof, Payload: o.payload, Transport: o.transport, Predictor: pred, MaxPackets: o.maxPackets}
	if !o.noTemplates {
		popt.Templates = folder.Templates
	}
	out, err := pipeline.Generate(ctx, m, o.prompt, popt)
	if err != nil {
		return err
	}
	if o.raw {
		ps, skipped := pipeline.Raw(out.Matrices)
		if err := pipeline.WritePcap(o.out, ps); err != nil {
			return err
		}
		if err := writeImages(o, out.Matrices); err != nil {
			return err
		}
		n := len(ps)
		fmt.Fprintf(stdout, "%d flows for %q: %d packets in %s (%d rows not decodable, no repair), %.2fs per flow\n",
			len(out.Matrices), o.prompt, n, o.out, skipped, out.Sampling.Seconds()/float64(len(out.Matrices)))
		return nil
	}
	if len(out.Packets) == 0 {
		return fmt.Errorf("none of the %d flows for %q had anything usable: the model's output is noise (are its weights or -control-scale sane?); nothing written", len(out.Matrices), o.prompt)
	}
	if err := pipeline.WritePcap(o.out, out.Packets); err != nil {
		return err
	}
	if o.png != "" {
		flows, err := written(m, out.Results)
		if err != nil {
			return err
		}
		if err := writeImages(o, flows); err != nil {
			return err
		}
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
		if ctl, err = cli.ControlFromPcap(o.controlFrom, c.Layout.MustLayout(), c.Rows); err != nil {
			return nil, fmt.Errorf("-control-from: %w", err)
		}
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

// check checks the flags' values and every path before any work, with
// errors that name the flag.
func (o *options) check() error {
	if err := cli.Finite("-guidance", o.guidance); err != nil {
		return &cli.UsageError{Err: err}
	}
	for _, c := range []struct {
		flag string
		v    int
	}{{"-n", o.n}, {"-steps", o.steps}, {"-batch", o.batch}, {"-png-scale", o.pngScale}, {"-max-packets", o.maxPackets}} {
		if err := cli.Positive(c.flag, c.v); err != nil {
			return err
		}
	}
	if err := pipeline.CheckDevice(o.device); err != nil {
		return cli.Usagef("-%w", err)
	}
	if o.pngScale > t2t.MaxRowScale {
		return cli.Usagef("-png-scale %d: want 1 to %d", o.pngScale, t2t.MaxRowScale)
	}
	switch o.payload {
	case "snap", "zeros", "random":
	default:
		return cli.Usagef("-payload %q: want snap, zeros or random", o.payload)
	}
	if err := cli.Model(o.model); err != nil {
		return err
	}
	if o.control != "" {
		if err := cli.InFile("-control", o.control); err != nil {
			return err
		}
	}
	if err := cli.Adapters(o.loras); err != nil {
		return err
	}
	if o.prompt == "" {
		return nil // lists the prompts, writes nothing
	}
	if err := cli.OutFile("-out", o.out); err != nil {
		return err
	}
	if o.png != "" {
		return cli.OutDir("-png", o.png)
	}
	return nil
}

// written turns the repaired flows back into matrices over the model's
// layout: the images of the flows as the pcap holds them.
func written(m *unet.Model, results []*repair.Result) ([]*t2t.Matrix, error) {
	l := m.UNet.Config.Layout.MustLayout()
	rows := m.UNet.Config.Rows
	enc := t2t.NewEncoder(l, t2t.ModelEncoderOptions())
	flows := make([]*t2t.Matrix, len(results))
	for i, r := range results {
		mx := t2t.NewMatrix(l, 0)
		for _, p := range r.Packets {
			if _, err := enc.Append(mx, p.Link, p.Data, p.Time); err != nil && !errors.Is(err, t2t.ErrSkip) {
				return nil, fmt.Errorf("flow %d: %w", i, err)
			}
		}
		flows[i] = mx.Resize(max(mx.Rows, rows))
	}
	return flows, nil
}

// legend is the caption written beside the images.
const legend = `Each PNG is one flow: one row of pixels per packet (-png-scale rows when
above 1), first packet on top, one column per nPrint bit (NetDiffusion's 1088
columns: ipv4, ipv6, tcp, udp, icmp headers).
  red   = bit 1
  green = bit 0
  blue  = vacant (-1): a header the packet lacks, or no packet
`

// writeImages writes one PNG per flow into o.png, named like pcap2png's
// (<base of -out>-00000.png), and legend.txt (nothing when o.png is "").
func writeImages(o options, flows []*t2t.Matrix) error {
	if o.png == "" {
		return nil
	}
	base := strings.TrimSuffix(filepath.Base(o.out), filepath.Ext(o.out))
	opt := t2t.PNGOptions{RowScale: o.pngScale}
	for i, f := range flows {
		if err := opt.WriteFile(filepath.Join(o.png, fmt.Sprintf("%s-%05d.png", base, i)), f); err != nil {
			return err
		}
	}
	return os.WriteFile(filepath.Join(o.png, "legend.txt"), []byte(legend), 0o644)
}
