// Command generate makes a labelled synthetic data set with Apache Beam:
// (class, flows) requests are dealt into work elements, workers each load
// the model once and sample and repair their flows, each seeded from
// (seed, class, index), so that the output does not depend on how the
// work was split; the flows go into <output>/<class>/<class>-SSSSS.pcap
// shards, with manifest.json and manifest.csv (class, flows, packets,
// seed).
//
//	generate --classes dns,ssh --flows 100 --seed 1 --output synth
//	generate --requests dns=1000000,ssh=500000 --output synth --runner=universal --endpoint=localhost:8099 ...
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"

	t2tbeam "t2t/beam"
)

func main() {
	var o t2tbeam.GenerateOptions
	classes := flag.String("classes", "", "comma-separated classes, --flows each")
	flows := flag.Int("flows", 20, "flows per class of --classes")
	requests := flag.String("requests", "", "class=flows,... (instead of --classes and --flows)")
	flag.StringVar(&o.Out, "output", "", "output folder (required)")
	flag.Uint64Var(&o.Seed, "seed", 1, "seed: flow i of class c is seeded from (seed, c, i)")
	flag.StringVar(&o.Model, "model", "", "model folder, readable by every worker (default: the embedded model)")
	flag.IntVar(&o.Steps, "steps", 20, "denoising steps")
	flag.StringVar(&o.Scheduler, "scheduler", "dpm++2m", "ddpm, ddim or dpm++2m (a masked model has its own)")
	flag.Float64Var(&o.Guidance, "guidance", 2, "classifier-free guidance scale")
	flag.StringVar(&o.Transport, "transport", "mix", "mix (each flow's word drawn from the class's real mix), none, tcp, udp or icmp")
	flag.IntVar(&o.MaxPackets, "max_packets", 1024, "longest flow")
	flag.StringVar(&o.Payload, "payload", "snap", "snap, zeros or random")
	flag.BoolVar(&o.NoTemplates, "no_templates", false, "a masked model's flows take no real flow's structure")
	flag.IntVar(&o.Batch, "batch", 10, "flows a worker denoises together")
	flag.IntVar(&o.Split, "split", 0, "work elements (0: one per --batch flows); never changes the flows")
	flag.IntVar(&o.FlowsPerShard, "flows_per_shard", 1000, "flows per pcap shard")
	quiet := flag.Bool("q", false, "quiet: no line per work element")
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), "generate: flows of many classes from a model, sampled by Apache Beam workers, into pcap shards per class.\n"+
			"Example: generate --classes dns,ssh --flows 100 --seed 1 --output synth\n\nFlags (Beam's included):\n")
		flag.PrintDefaults()
	}
	flag.Parse()
	beam.Init() // a worker started by a runner stops here and serves
	switch {
	case *requests != "" && *classes != "":
		usage("give --requests or --classes, not both")
	case *requests != "":
		for _, r := range strings.Split(*requests, ",") {
			c, n, ok := strings.Cut(r, "=")
			k, err := strconv.Atoi(n)
			if !ok || err != nil || k < 1 {
				usage(fmt.Sprintf("--requests %q: want class=flows with flows 1 or more", r))
			}
			o.Requests = append(o.Requests, t2tbeam.Request{Class: c, Flows: k})
		}
	case *classes != "":
		if *flows < 1 {
			usage(fmt.Sprintf("--flows %d: want 1 or more", *flows))
		}
		for _, c := range strings.Split(*classes, ",") {
			o.Requests = append(o.Requests, t2tbeam.Request{Class: c, Flows: *flows})
		}
	default:
		usage("give --classes (with --flows) or --requests")
	}
	o.Progress = !*quiet
	if err := o.Validate(); err != nil {
		usage(err.Error())
	}
	counts, took, err := t2tbeam.Run(context.Background(), func(s beam.Scope) error { return t2tbeam.Generate(s, o) })
	if err != nil {
		fmt.Fprintln(os.Stderr, "generate:", err)
		os.Exit(1)
	}
	if !*quiet {
		fmt.Printf("generate: %d flows in %v (%.2f flows/s); see %s\n", counts["flows"], took.Round(1e6), float64(counts["flows"])/took.Seconds(), t2tbeam.ManifestPath(o.Out))
	}
}

func usage(msg string) {
	fmt.Fprintln(os.Stderr, "generate:", msg)
	os.Exit(2)
}
