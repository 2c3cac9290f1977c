// Command finetune adds traffic classes to a trained t2t model, or
// refines classes it has, with a LoRA adapter: the base model stays
// frozen and only the adapter (low-rank terms on the chosen layers) and
// the new classes' prompt-token embeddings train. A folder of labelled
// captures (<class>.pcap files or <class>/ folders, as examples/train
// takes) gives the flows; a class the base does not know becomes a new
// prompt word. The adapter file (safetensors) holds the adapter, the new
// tokens' embeddings, the base model's fingerprint and the repair profile
// of its classes; examples/generate takes it with -lora file[:weight].
//
//	finetune -data newclasses/ -max-flows 100 -steps 400 -out new.safetensors
//
// Checkpoints go to -state (default <out>.state); Ctrl-C saves one and
// stops; -resume continues.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"time"

	"t2t/internal/cli"
	"t2t/lora"
	"t2t/models"
	"t2t/pipeline"
	"t2t/repair"
	"t2t/train"
	"t2t/unet"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	cli.Main("finetune", run(ctx, os.Args[1:], os.Stderr))
}

var command = cli.Command{
	Name:    "finetune",
	Does:    "finetune trains a LoRA adapter that teaches a model (the embedded one unless -model) new classes from labelled captures; generate and synthesize take it with -lora.",
	Example: []string{"-data newclasses -steps 400 -seed 1 -out novel.safetensors   (then: generate -lora novel.safetensors -prompt <class>)"},
}

func run(ctx context.Context, args []string, log io.Writer) error {
	fs := command.FlagSet(log)
	modelDir := fs.String("model", "", "base model folder (default: the embedded model)")
	data := fs.String("data", "", "`folder` of labelled captures of the classes to add (required): <class>.pcap files or <class>/ folders")
	out := fs.String("out", "", "adapter `file` to write (required, .safetensors)")
	name := fs.String("name", "", "adapter name (default: the file name without extension)")
	maxFlows := fs.Int("max-flows", 100, "flows per class at most, keeping the class's mix of transports (0: all)")
	minPackets := fs.Int("min-packets", 2, "leave out flows with fewer packets")
	steps := fs.Int("steps", 400, "training steps")
	batch := fs.Int("batch", 8, "batch size")
	lr := fs.Float64("lr", 2e-3, "peak learning rate")
	rank := fs.Int("rank", 8, "adapter rank")
	alpha := fs.Float64("alpha", 8, "adapter alpha (the adapter's output is scaled by alpha/rank)")
	targets := fs.String("targets", strings.Join(lora.DefaultTargets, ","), "comma-separated layer-name patterns the adapter attaches to (path.Match, or re:REGEXP)")
	seed := fs.Uint64("seed", 1, "seed of the adapter, the batches and the noise")
	state := fs.String("state", "", "checkpoint folder (default: <out>.state)")
	resume := fs.Bool("resume", false, "continue from the checkpoint in -state")
	every := fs.Int("checkpoint-every", 100, "steps between checkpoints")
	quiet := fs.Bool("q", false, "quiet: print nothing but errors")
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	if err := cli.First(cli.Positive("-steps", *steps), cli.Positive("-batch", *batch), cli.Positive("-checkpoint-every", *every),
		cli.Positive("-rank", *rank), cli.NonNegative("-max-flows", *maxFlows), cli.NonNegative("-min-packets", *minPackets),
		cli.PositiveFloat("-lr", *lr), cli.PositiveFloat("-alpha", *alpha), cli.Model(*modelDir), cli.InDir("-data", *data), cli.OutFile("-out", *out)); err != nil {
		return err
	}
	if *quiet {
		log = io.Discard
	}
	if *name == "" {
		*name = strings.TrimSuffix(filepath.Base(*out), filepath.Ext(*out))
	}
	if *state == "" {
		*state = *out + ".state"
	}
	folder, err := models.Load(*modelDir)
	if err != nil {
		return err
	}
	m := folder.Model
	u := m.UNet
	cfg := u.Config
	ds, err := train.LoadFlows(*data, cfg.Rows, *maxFlows, *minPackets)
	if err != nil {
		return err
	}
	lc := lora.Config{Rank: *rank, Alpha: *alpha}
	for _, t := range strings.Split(*targets, ",") {
		if t = strings.TrimSpace(t); t != "" {
			lc.Targets = append(lc.Targets, t)
		}
	}
	var known []string
	for _, c := range ds.Classes {
		tok, err := unet.NormalizeToken(c)
		if err != nil {
			return fmt.Errorf("class %q cannot be a prompt word: %w", c, err)
		}
		if _, ok := m.Vocab.ID(tok); ok {
			known = append(known, c)
		} else {
			lc.Tokens = append(lc.Tokens, tok)
		}
	}
	set, err := lora.New(u, *name, lc, *seed)
	if err != nil {
		return err
	}
	if _, err := set.AddTokens(m.Vocab); err != nil {
		return err
	}
	d, err := train.Prepare(ds, cfg, m.Vocab, train.PrepareOptions{MinPackets: *minPackets, Transport: unet.TrainedWithTransport(m.Vocab)})
	if err != nil {
		return err
	}
	ex, counts := d.Examples, d.Counts
	restore, err := set.Freeze()
	if err != nil {
		return err
	}
	if err := set.Attach(); err != nil {
		return err
	}
	tc := train.DefaultConfig()
	tc.Seed, tc.Steps, tc.Batch, tc.LR, tc.CheckpointEvery = *seed, *steps, *batch, *lr, *every
	tc.Warmup = min(tc.Warmup, *steps/10)
	// an EMA window (1/(1-decay) steps) of at most a tenth of the run
	tc.EMADecay = min(tc.EMADecay, 1-10/float64(max(*steps, 20)))
	tr, err := train.NewTrainer(u, tc, ex)
	if err != nil {
		return err
	}
	defer tr.Close()
	tr.Dir = *state
	trained := 0
	for _, p := range tr.Trained() {
		if p.Name != lora.TokensParam {
			trained += len(p.Float32s())
		}
	}
	fmt.Fprintf(log, "finetune: %d flows of %d classes (new: %s; known: %s); adapter %q rank %d on %d layers, %d weights (base %d, %.2f%%); %d steps of %d\n",
		len(ex), len(ds.Classes), listOr(lc.Tokens), listOr(known), *name, lc.Rank, len(set.Adapters), set.Count(), u.Params.Count(),
		100*float64(set.Count())/float64(u.Params.Count()), tc.Steps, tc.Batch)
	for _, c := range ds.Classes {
		fmt.Fprintf(log, "  %-12s %d flows\n", c, counts[c])
	}
	t0 := time.Now()
	done, err := cli.Train(ctx, tr, "finetune", *resume, *quiet, log)
	if err != nil || !done {
		return err
	}
	// the EMA weights, then the base rows of the token table back
	tr.UseEMA()
	restore()
	prof, err := json.Marshal(repair.BuildProfile(ds.Flows))
	if err != nil {
		return err
	}
	set.Extra = map[string]string{pipeline.ExtraProfile: string(prof), pipeline.ExtraClasses: strings.Join(ds.Classes, ",")}
	if err := set.Save(*out); err != nil {
		return err
	}
	if err := cli.LossPlot(strings.TrimSuffix(*out, filepath.Ext(*out))+".loss.png", tr.Losses); err != nil {
		return err
	}
	st, _ := os.Stat(*out)
	fmt.Fprintf(log, "finetune: wrote %s (%d bytes) in %v; generate with -lora %s\n", *out, st.Size(), time.Since(t0).Round(time.Second), *out)
	return nil
}

func listOr(s []string) string {
	if len(s) == 0 {
		return "none"
	}
	return strings.Join(s, ",")
}
