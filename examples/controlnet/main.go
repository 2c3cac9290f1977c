// Command controlnet trains a ControlNet for a t2t model on labelled
// captures, and measures how well generated flows follow their controls.
//
// Training: every flow of -data (first N packets, as examples/train takes
// them) becomes an example whose control image is its own structure map
// (which bits are present, which vacant: its headers, options and packet
// count); the base model stays frozen and only the ControlNet (a copy of
// the base's encoder, a hint encoder and zero-initialised output layers)
// trains. Checkpoints go to -state (default <out>.state); Ctrl-C saves one
// and stops; -resume continues.
//
//	controlnet -data testdata/train -steps 600 -out controlnet.safetensors
//
// Evaluation (-eval DIR): for -n flows per class of DIR that are not in
// -data (held out), generate one flow with the flow's structure map as
// control and one without, with the same prompt and seed, and report the
// share of bits whose presence matches the control and how often the
// packet count matches; -cross also prompts each class with controls from
// the other classes and reports what the samples follow.
//
//	controlnet -eval ../shared/data/captures-seed42 -data testdata/train -controlnet controlnet.safetensors -n 10 -json out.json
//
// Generation with a ControlNet: examples/generate -controlnet FILE -control
// image.png | -control-from flow.pcap[:index] [-control-scale X].
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"time"

	"t2t/controlnet"
	"t2t/internal/cli"
	"t2t/models"
	"t2t/train"
	"t2t/unet"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	cli.Main("controlnet", run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

var command = cli.Command{
	Name: "controlnet",
	Does: "controlnet trains a ControlNet on a model (the embedded one unless -model) so that generation follows a flow's structure, or with -eval measures how well one does.",
	Example: []string{
		"-data testdata/train -steps 600 -seed 1 -out cn.safetensors",
		"-eval testdata/heldout -controlnet cn.safetensors -n 10",
	},
}

type options struct {
	model, data, out, state, eval, net, jsonOut string
	steps, batch, maxFlows, minPackets, every   int
	n, sampleSteps                              int
	lr, guidance, scale                         float64
	seed                                        uint64
	resume, quiet, cross, f16                   bool
}

func run(ctx context.Context, args []string, stdout, log io.Writer) error {
	var o options
	fs := command.FlagSet(log)
	fs.SetOutput(log)
	fs.StringVar(&o.model, "model", "", "base model folder (default: the embedded model)")
	fs.StringVar(&o.data, "data", "", "labelled captures to train on (<class>.pcap files or <class>/ folders); with -eval, the training flows to leave out (with -max-flows as in training)")
	fs.StringVar(&o.out, "out", "", "ControlNet file to write (.safetensors)")
	fs.StringVar(&o.state, "state", "", "checkpoint folder (default: <out>.state)")
	fs.IntVar(&o.steps, "steps", 600, "training steps")
	fs.IntVar(&o.batch, "batch", 8, "batch size")
	fs.Float64Var(&o.lr, "lr", 1e-3, "peak learning rate")
	fs.IntVar(&o.maxFlows, "max-flows", 0, "flows per class at most, keeping the mix of transports (0: all)")
	fs.IntVar(&o.minPackets, "min-packets", 2, "leave out flows with fewer packets")
	fs.IntVar(&o.every, "checkpoint-every", 100, "steps between checkpoints")
	fs.Uint64Var(&o.seed, "seed", 1, "seed")
	fs.BoolVar(&o.resume, "resume", false, "continue from the checkpoint in -state")
	fs.BoolVar(&o.quiet, "q", false, "quiet: print nothing but errors (with -eval: the report still goes to standard output)")
	fs.StringVar(&o.eval, "eval", "", "evaluate instead of training: labelled captures whose flows (those not in -data) serve as controls")
	fs.StringVar(&o.net, "controlnet", "", "with -eval: the ControlNet file (default: the model's own, if it has one)")
	fs.IntVar(&o.n, "n", 10, "with -eval: control flows per class")
	fs.IntVar(&o.sampleSteps, "sample-steps", 20, "with -eval: denoising steps")
	fs.Float64Var(&o.guidance, "guidance", 2, "with -eval: classifier-free guidance")
	fs.Float64Var(&o.scale, "control-scale", 0, "with -eval: conditioning scale (0: the file's)")
	fs.BoolVar(&o.cross, "cross", false, "with -eval: also prompt each class with the controls of the others")
	fs.StringVar(&o.jsonOut, "json", "", "with -eval: write the figures as JSON")
	fs.BoolVar(&o.f16, "f16", false, "store the weights in half precision (half the file)")
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	if err := cli.First(cli.Finite("-guidance", o.guidance), cli.Positive("-steps", o.steps), cli.Positive("-batch", o.batch),
		cli.Positive("-checkpoint-every", o.every), cli.NonNegative("-max-flows", o.maxFlows), cli.NonNegative("-min-packets", o.minPackets),
		cli.Positive("-n", o.n), cli.Positive("-sample-steps", o.sampleSteps), cli.PositiveFloat("-lr", o.lr), cli.Model(o.model)); err != nil {
		return &cli.UsageError{Err: err}
	}
	if o.quiet {
		log = io.Discard
	}
	if o.eval != "" {
		err := cli.InDir("-eval", o.eval)
		if err == nil && o.data != "" {
			err = cli.InDir("-data", o.data)
		}
		if err == nil && o.net != "" && o.net != "none" {
			err = cli.InFile("-controlnet", o.net)
		}
		if err == nil && o.jsonOut != "" {
			err = cli.OutFile("-json", o.jsonOut)
		}
		if err != nil {
			return err
		}
		return evaluate(ctx, o, stdout, log)
	}
	if err := cli.First(cli.InDir("-data", o.data), cli.OutFile("-out", o.out)); err != nil {
		return fmt.Errorf("%w (or -eval DIR)", err)
	}
	return trainNet(ctx, o, log)
}

func trainNet(ctx context.Context, o options, log io.Writer) error {
	if o.state == "" {
		o.state = o.out + ".state"
	}
	folder, err := models.Load(o.model)
	if err != nil {
		return err
	}
	m := folder.Model
	cfg := m.UNet.Config
	ds, err := train.LoadFlows(o.data, cfg.Rows, o.maxFlows, o.minPackets)
	if err != nil {
		return err
	}
	d, err := train.Prepare(ds, cfg, m.Vocab, train.PrepareOptions{MinPackets: o.minPackets, Transport: unet.TrainedWithTransport(m.Vocab)})
	if err != nil {
		return fmt.Errorf("%w (the ControlNet trains on classes the base knows; add new ones with examples/finetune)", err)
	}
	ex, counts := d.Examples, d.Counts
	if err := controlnet.Examples(ex, cfg); err != nil {
		return err
	}
	n, err := controlnet.New(m.UNet, o.seed)
	if err != nil {
		return err
	}
	n.Freeze()
	tc := train.DefaultConfig()
	tc.Seed, tc.Steps, tc.Batch, tc.LR, tc.CheckpointEvery = o.seed, o.steps, o.batch, o.lr, o.every
	tc.Warmup = min(tc.Warmup, o.steps/10)
	tc.EMADecay = min(tc.EMADecay, 1-10/float64(max(o.steps, 20)))
	tr, err := train.NewTrainer(n, tc, ex)
	if err != nil {
		return err
	}
	defer tr.Close()
	tr.Dir = o.state
	fmt.Fprintf(log, "controlnet: %d flows of %d classes; ControlNet %d weights (base %d, frozen); %d steps of %d\n",
		len(ex), len(ds.Classes), n.Count(), m.UNet.Params.Count(), tc.Steps, tc.Batch)
	for _, c := range ds.Classes {
		fmt.Fprintf(log, "  %-12s %d flows\n", c, counts[c])
	}
	t0 := time.Now()
	done, err := cli.Train(ctx, tr, "controlnet", o.resume, o.quiet, log)
	if err != nil || !done {
		return err
	}
	tr.UseEMA()
	tf, err := train.Matrices(ds.Flows, cfg.Layout.MustLayout(), cfg.Rows)
	if err != nil {
		return err
	}
	if n.Templates, err = controlnet.BuildTemplates(tf, cfg.Cols, cfg.Rows, o.minPackets); err != nil {
		return err
	}
	info := map[string]string{"steps": fmt.Sprint(tr.Step), "flows": fmt.Sprint(len(ex)), "data": filepath.Base(filepath.Clean(o.data)),
		"seconds": fmt.Sprintf("%.0f", time.Since(t0).Seconds())}
	dtype := "F32"
	if o.f16 {
		dtype = "F16"
	}
	if err := n.SaveAs(o.out, info, dtype); err != nil {
		return err
	}
	if err := cli.LossPlot(strings.TrimSuffix(o.out, filepath.Ext(o.out))+".loss.png", tr.Losses); err != nil {
		return err
	}
	fmt.Fprintf(log, "controlnet: wrote %s in %v\n", o.out, time.Since(t0).Round(time.Second))
	return nil
}
