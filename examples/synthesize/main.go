// Command synthesize generates a labelled synthetic data set from a model:
// for every class the model knows, -n flows written (repaired) to
// <out>/<class>.pcap, so that examples/evaluate can compare it with the
// real one. It also measures the raw model output against the real data
// (-real): the share of flows whose packets all carry one transport, and
// the total variation distance between the synthetic and real TCP/UDP/ICMP
// packet mix of each class; it prints a table and writes <out>/raw.json.
//
// Flows are split over each class's real transport mix (-transport) and
// each takes the structure of a real training flow: for a masked model (the
// embedded one) from the folder's templates (-no-templates turns it off),
// for a Gaussian model from its ControlNet's templates when it has one
// (-controlnet none turns it off). LoRA adapters (-lora, repeatable) add their classes; each
// is attached only while its own classes are generated.
//
//	synthesize -real ../shared/data/captures-seed42 -n 20 -steps 20 -out synth/
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"t2t"
	"t2t/internal/cli"
	"t2t/lora"
	"t2t/models"
	"t2t/pcapio"
	"t2t/pipeline"
	"t2t/sampler"
	"t2t/unet"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	cli.Main("synthesize", run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

var command = cli.Command{
	Name:    "synthesize",
	Does:    "synthesize generates -n flows of every class a model knows (the embedded one unless -model) into <out>/<class>.pcap, a labelled synthetic data set for examples/evaluate.",
	Example: []string{"-n 30 -seed 1 -out synth   (then: evaluate -real testdata/heldout -synthetic synth)"},
}

// ClassStats compares one class's raw model output with real flows.
type ClassStats struct {
	Class      string     `json:"class"`
	Flows      int        `json:"flows"`
	Consistent float64    `json:"consistent"` // flows whose rows all carry one transport
	Synthetic  [3]float64 `json:"synthetic_mix"`
	Real       [3]float64 `json:"real_mix"`
	TV         float64    `json:"mix_tv"`
	BitsFixed  float64    `json:"repair_bits_per_flow"`
	SecPerFlow float64    `json:"seconds_per_flow"`
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := command.FlagSet(stderr)
	modelDir := fs.String("model", "", "model folder (default: the embedded model)")
	realDir := fs.String("real", "", "real labelled captures to compare the transport mix with (optional)")
	n := fs.Int("n", 20, "flows per class")
	steps := fs.Int("steps", 20, "denoising steps")
	sched := fs.String("scheduler", "dpm++2m", "ddpm, ddim or dpm++2m")
	guidance := fs.Float64("guidance", 2, "classifier-free guidance scale")
	seed := fs.Uint64("seed", 1, "seed")
	out := fs.String("out", "", "output `folder` (required): <class>.pcap per class and raw.json")
	quiet := fs.Bool("q", false, "quiet: print nothing but errors")
	device := fs.String("device", "cpu", "where the model runs: cpu, or cuda (a GPU: a build with -tags t2tcuda)")
	maxPackets := fs.Int("max-packets", pipeline.DefaultMaxPackets, "longest flow: a masked model continues each flow, window after window, to the length of the real flow whose structure it takes, at most this many packets")
	only := fs.String("classes", "", "comma-separated classes to generate (default: all the model knows)")
	transport := fs.String("transport", "mix", "transport word per flow: mix (the class's real mix), none (class prompt only), tcp, udp or icmp")
	var loras cli.Multi
	fs.Var(&loras, "lora", "LoRA adapter file[:weight] (repeatable); its classes are generated too")
	noTemplates := fs.Bool("no-templates", false, "a masked model's flows start from no real flow's structure (by default each takes the structure of a real training flow: the folder's templates.json)")
	cnPath := fs.String("controlnet", "", "ControlNet with templates (default: the model's own, if it has one; none: no ControlNet): each flow takes the structure of a real training flow of its class and transport")
	cnScale := fs.Float64("control-scale", 0, "ControlNet conditioning scale (0: the file's)")
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	if err := cli.Finite("-guidance", *guidance); err != nil {
		return &cli.UsageError{Err: err}
	}
	if err := pipeline.CheckDevice(*device); err != nil {
		return cli.Usagef("-%w", err)
	}
	if err := cli.Positive("-n", *n); err != nil {
		return err
	}
	if err := cli.Positive("-steps", *steps); err != nil {
		return err
	}
	if err := cli.Positive("-max-packets", *maxPackets); err != nil {
		return err
	}
	if err := cli.Model(*modelDir); err != nil {
		return err
	}
	if err := cli.Adapters(loras); err != nil {
		return err
	}
	if *realDir != "" {
		if err := cli.InDir("-real", *realDir); err != nil {
			return err
		}
	}
	if err := cli.OutDir("-out", *out); err != nil {
		return err
	}
	if *quiet {
		stdout, stderr = io.Discard, io.Discard
	}
	folder, err := models.Load(*modelDir)
	if err != nil {
		return err
	}
	m, profile := folder.Model, folder.Profile
	scheduler, err := sampler.New(*sched, m.Noise)
	if err != nil {
		return cli.Usagef("-scheduler: %w", err)
	}
	classes := strings.Split(m.Meta["classes"], ",")
	// each adapter is attached for its own classes only (all classes when
	// it names none), so that base classes are sampled by the base model
	var sets []*lora.Set
	for _, spec := range loras {
		var s *lora.Set
		if s, profile, err = pipeline.AttachAdapter(m, profile, spec); err != nil {
			return err
		}
		s.Detach()
		sets = append(sets, s)
		if c := s.Extra[pipeline.ExtraClasses]; c != "" {
			for _, c := range strings.Split(c, ",") {
				if !slices.Contains(classes, c) {
					classes = append(classes, c)
				}
			}
		}
	}
	var real *pcapio.Dataset
	if *realDir != "" {
		if real, err = pcapio.LoadDataset(*realDir, pcapio.FlowOptions{MaxPackets: m.UNet.Config.Rows}); err != nil {
			return err
		}
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return err
	}
	cn, err := cli.ControlNetFlag(*cnPath, folder, *cnScale)
	if err != nil {
		return err
	}
	if *only != "" {
		classes = strings.Split(*only, ",")
	}
	for _, c := range classes {
		// class names come from files made by others (the model's metadata,
		// an adapter's): each names a file in -out and must stay in it
		if _, err := unet.NormalizeToken(c); err != nil || !filepath.IsLocal(c+".pcap") {
			return fmt.Errorf("class %q cannot name a file in -out: %v", c, err)
		}
	}
	var stats []ClassStats
	fmt.Fprintf(stdout, "%-12s %5s %10s %22s %22s %6s %8s %7s\n", "class", "flows", "one-trans", "synthetic tcp/udp/icmp", "real tcp/udp/icmp", "TV", "repair", "s/flow")
	for _, c := range classes {
		t0 := time.Now()
		for _, s := range sets {
			if cs := s.Extra[pipeline.ExtraClasses]; cs == "" || slices.Contains(strings.Split(cs, ","), c) {
				if err := s.Attach(); err != nil {
					return err
				}
			}
		}
		var pred unet.Predictor
		if cn != nil && cn.Templates != nil && cn.Templates.Classes[c] != nil {
			pred = cn // real flows' structures for the classes the ControlNet has templates of
		}
		popt := pipeline.Options{Profile: profile, SampleOptions: pipeline.SampleOptions{
			N: *n, Steps: *steps, Scheduler: scheduler, Guidance: *guidance, Seed: *seed, Batch: 10, Device: *device}, Transport: *transport, Predictor: pred, MaxPackets: *maxPackets}
		if !*noTemplates {
			popt.Templates = folder.Templates
		}
		o, err := pipeline.Generate(ctx, m, c, popt)
		if err != nil {
			return err
		}
		for _, s := range sets {
			s.Detach()
		}
		if len(o.Packets) == 0 {
			return fmt.Errorf("class %s: none of the %d flows had anything usable: the model's output is noise (are its weights or -control-scale sane?)", c, len(o.Matrices))
		}
		if err := pipeline.WritePcap(filepath.Join(*out, c+".pcap"), o.Packets); err != nil {
			return err
		}
		counts, one := pipeline.Transports(o.Matrices)
		st := ClassStats{Class: c, Flows: len(o.Matrices), Synthetic: share(counts), BitsFixed: o.BitsChanged(),
			SecPerFlow: time.Since(t0).Seconds() / float64(len(o.Matrices))}
		for _, ok := range one {
			if ok {
				st.Consistent++
			}
		}
		st.Consistent /= float64(len(one))
		if real != nil {
			var ms []*t2t.Matrix
			l := m.UNet.Config.Layout.MustLayout()
			for _, f := range real.Flows[c] {
				mm, err := f.Matrix(l, m.UNet.Config.Rows)
				if err != nil {
					return err
				}
				ms = append(ms, mm)
			}
			rc, _ := pipeline.Transports(ms)
			st.Real = share(rc)
			for k := 0; k < 3; k++ {
				st.TV += math.Abs(st.Real[k]-st.Synthetic[k]) / 2
			}
		}
		stats = append(stats, st)
		fmt.Fprintf(stdout, "%-12s %5d %9.0f%% %6.2f/%6.2f/%6.2f     %6.2f/%6.2f/%6.2f     %6.3f %8.1f %7.2f\n", c, st.Flows, 100*st.Consistent,
			st.Synthetic[0], st.Synthetic[1], st.Synthetic[2], st.Real[0], st.Real[1], st.Real[2], st.TV, st.BitsFixed, st.SecPerFlow)
	}
	b, err := json.MarshalIndent(stats, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(*out, "raw.json"), b, 0o644)
}

func share(c [3]int) [3]float64 {
	t := float64(c[0] + c[1] + c[2])
	if t == 0 {
		return [3]float64{}
	}
	return [3]float64{float64(c[0]) / t, float64(c[1]) / t, float64(c[2]) / t}
}
