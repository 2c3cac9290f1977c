// Command train trains a t2t diffusion model on labelled captures: a
// folder of <class>.pcap files (or <class>/ subfolders) becomes flows, the
// first N packets of each flow a flow image, and the class name (and its
// alias type-<i>) the prompt. It writes a model folder (config.json,
// vocab.json, scheduler.json, model.safetensors with the EMA weights,
// profile.json for the repair of generated flows, loss.png, train.json) and checkpoints in <out>/state; -resume continues
// from them. Ctrl-C stops cleanly after saving a checkpoint.
//
//	train -data DIR -packets 32 -config small -steps 2000 -batch 8 -lr 1e-3 -seed 1 -out model/
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"

	"gorgonia.org/tensor"

	"t2t/controlnet"
	"t2t/internal/cli"
	"t2t/models"
	"t2t/repair"
	"t2t/sampler"
	"t2t/train"
	"t2t/unet"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	cli.Main("train", run(ctx, os.Args[1:], os.Stderr))
}

var command = cli.Command{
	Name:    "train",
	Does:    "train trains a t2t diffusion model on labelled captures (<class>.pcap files or <class>/ folders) and writes a model folder; Ctrl-C stops after a checkpoint, -resume continues.",
	Example: []string{"-data testdata/train -process mask -steps 4000 -seed 1 -out mymodel"},
}

func run(ctx context.Context, args []string, log io.Writer) error {
	fs := command.FlagSet(log)
	def := train.DefaultConfig()
	rows := func(name string) int { c, _ := unet.Preset(name); return c.Rows }
	data := fs.String("data", "", "`folder` of labelled captures (required): <class>.pcap files or <class>/ folders")
	packets := fs.Int("packets", 0, fmt.Sprintf("packets per flow image (0: the -config's rows: tiny %d, small %d, base %d)", rows("tiny"), rows("small"), rows("base")))
	preset := fs.String("config", "small", "model size: tiny, small or base")
	steps := fs.Int("steps", def.Steps, "training steps")
	batch := fs.Int("batch", def.Batch, "batch size")
	lr := fs.Float64("lr", def.LR, "peak learning rate")
	seed := fs.Uint64("seed", 1, "seed of the weights, the batches and the noise")
	out := fs.String("out", "", "model `folder` to write (required); checkpoints go to <out>/state")
	resume := fs.Bool("resume", false, "continue from the checkpoint in -out")
	maxFlows := fs.Int("max-flows", 0, "use at most N flows per class, keeping the mix of transports (0: all)")
	minPackets := fs.Int("min-packets", 2, "leave out flows with fewer packets")
	every := fs.Int("checkpoint-every", def.CheckpointEvery, "steps between checkpoints")
	quiet := fs.Bool("q", false, "quiet: print nothing but errors")
	profileOnly := fs.Bool("profile-only", false, "only write the repair profile (profile.json) of the data to -out")
	snapEvery := fs.Int("snapshot-every", 0, "also write the model (EMA weights) every N steps to <out>/snapshots/step-N, for a curve of fidelity against training time (0: none)")
	process := fs.String("process", "gaussian", "diffusion process: gaussian (noise on the planes, x0 predicted) or mask (cells masked and drawn back from the predicted categories: diverse samples)")
	maxPackets := fs.Int("max-packets", 1024, "longest flow to learn from: packets past it are left out of the continuation windows and the templates")
	windows := fs.Int("windows", 8, "continuation windows per flow longer than -packets (rows at offsets of half the window, the first half known), so that generation can continue a flow to its end (0: first windows only)")
	vocabCap := fs.Int("vocab-cap", 0, "rows of the prompt-token table (0: the config's, grown to hold the data set's classes with room for half as many again)")
	transport := fs.Bool("transport-prompts", true, "also train prompts with the flow's transport word (\"dns tcp\"), which generation uses to keep a class's mix of TCP and UDP flows")
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	cfg, err := unet.Preset(*preset)
	if err != nil {
		return &cli.UsageError{Err: fmt.Errorf("-config: %w", err)}
	}
	if err := cli.First(cli.Positive("-steps", *steps), cli.Positive("-batch", *batch), cli.Positive("-checkpoint-every", *every),
		cli.NonNegative("-packets", *packets), cli.NonNegative("-max-flows", *maxFlows), cli.NonNegative("-min-packets", *minPackets),
		cli.NonNegative("-snapshot-every", *snapEvery), cli.NonNegative("-vocab-cap", *vocabCap), cli.Positive("-max-packets", *maxPackets), cli.NonNegative("-windows", *windows), cli.PositiveFloat("-lr", *lr)); err != nil {
		return err
	}
	if err := cli.InDir("-data", *data); err != nil {
		return err
	}
	if err := cli.OutDir("-out", *out); err != nil {
		return err
	}
	if *quiet {
		log = io.Discard
	}
	cfg.Seed = *seed
	if *packets > 0 {
		cfg.Rows = *packets
	}
	tc := train.DefaultConfig()
	tc.Seed = *seed
	tc.Steps, tc.Batch, tc.CheckpointEvery, tc.LR = *steps, *batch, *every, *lr
	switch *process {
	case sampler.Gaussian:
	case sampler.Mask:
		// categories drawn at temperature 0.5: measured to keep a flow's rows to one
		// transport (80-100% against 0-90% at 1) with as many distinct shapes
		tc.Noise.Process, tc.Noise.MaskCols, tc.Noise.MaskTemperature = sampler.Mask, cfg.Cols, 0.5
	default:
		return cli.Usagef("-process %q: want gaussian or mask", *process)
	}
	fromCheckpoint := false
	if *resume {
		// the checkpoint's model config wins, so that the checkpoint fits
		c, ok, err := train.CheckpointConfig(*out)
		if err != nil {
			return err
		}
		if ok {
			if *packets > 0 && *packets != c.Rows {
				return fmt.Errorf("-packets %d, but the checkpoint in %s was made for %d packets", *packets, *out, c.Rows)
			}
			cfg, fromCheckpoint = c, true
		}
	}
	if *maxPackets < cfg.Rows {
		return cli.Usagef("-max-packets %d: want at least the %d packets of the model's window", *maxPackets, cfg.Rows)
	}
	ds, err := train.LoadFlows(*data, *maxPackets, *maxFlows, *minPackets)
	if err != nil {
		return err
	}
	if need := train.TokensNeeded(len(ds.Classes), *transport); !fromCheckpoint {
		switch {
		case *vocabCap > 0 && *vocabCap < need:
			return fmt.Errorf("-vocab-cap %d: %d classes need %d tokens", *vocabCap, len(ds.Classes), need)
		case *vocabCap > 0:
			cfg.VocabCap = *vocabCap
		default:
			cfg = cfg.FitVocab(need)
		}
	}
	if err := cfg.Validate(); err != nil {
		return err
	}
	prof := repair.BuildProfile(ds.Flows)
	if err := models.SaveProfile(*out, prof); err != nil {
		return err
	}
	if *profileOnly {
		return nil
	}
	vocab := unet.NewVocab()
	d, err := train.Prepare(ds, cfg, vocab, train.PrepareOptions{MinPackets: *minPackets, NewClasses: true, Transport: *transport, Windows: *windows})
	if err != nil {
		return err
	}
	ex, counts := d.Examples, d.Counts
	tf, err := train.Matrices(ds.Flows, cfg.Layout.MustLayout(), *maxPackets)
	if err != nil {
		return err
	}
	templates, err := controlnet.BuildTemplates(tf, cfg.Cols, *maxPackets, *minPackets)
	if err != nil {
		return err
	}
	u, err := unet.New(cfg, tensor.Float32)
	if err != nil {
		return err
	}
	fmt.Fprintf(log, "train: %d classes, %d examples (windows of %d packets); model %s, %d weights; %d steps of %d\n",
		len(ds.Classes), len(ex), cfg.Rows, cfg.Name, u.Params.Count(), tc.Steps, tc.Batch)
	for i, c := range ds.Classes {
		fmt.Fprintf(log, "  type-%d %-12s %d flows\n", i, c, counts[c])
	}
	tr, err := train.NewTrainer(u, tc, ex)
	if err != nil {
		return err
	}
	defer tr.Close()
	tr.Dir = *out
	var snapErr error
	snapshot := func(p train.Progress) {
		if *snapEvery <= 0 || p.Step%*snapEvery != 0 || p.Step == p.Steps || snapErr != nil {
			return
		}
		m := &unet.Model{UNet: u, Vocab: vocab, Noise: tc.Noise, Meta: map[string]string{"classes": strings.Join(ds.Classes, ","),
			"steps": fmt.Sprint(p.Step), "seconds": fmt.Sprintf("%.0f", p.Elapsed.Seconds())}}
		snapErr = models.Save(filepath.Join(*out, "snapshots", fmt.Sprintf("step-%d", p.Step)), &models.Folder{Model: m, Profile: prof, Templates: templates}, tr.EMA())
	}
	done, err := cli.Train(ctx, tr, "train", *resume, *quiet, log, snapshot)
	if err == nil {
		err = snapErr
	}
	if err != nil || !done {
		return err
	}
	meta := map[string]string{
		"classes": strings.Join(ds.Classes, ","),
		"steps":   fmt.Sprint(tr.Step),
		"flows":   fmt.Sprint(total(counts)),
		"data":    filepath.Base(filepath.Clean(*data)),
	}
	m := &unet.Model{UNet: u, Vocab: vocab, Noise: tc.Noise, Meta: meta}
	rec := &models.Record{Train: tc, Flows: counts, Steps: tr.Step, Losses: tr.Losses}
	if err := models.Save(*out, &models.Folder{Model: m, Profile: prof, Record: rec, Templates: templates}, tr.EMA()); err != nil {
		return err
	}
	if err := cli.LossPlot(filepath.Join(*out, "loss.png"), tr.Losses); err != nil {
		return err
	}
	fmt.Fprintf(log, "train: wrote %s\n", *out)
	return nil
}

// total is the number of flows of every class.
func total(counts map[string]int) int {
	n := 0
	for _, c := range counts {
		n += c
	}
	return n
}
