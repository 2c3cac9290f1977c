// Command evaluate computes, with Apache Beam, the per-field part of the
// fidelity report (the distance between real and synthetic distributions
// of every header field, JSD and TV, class by class) over labelled data
// sets of any size: each file's flows are counted into histograms and the
// histograms combined, so no worker holds more than one file's flows.
//
//	evaluate --real testdata/heldout --synthetic synth --output fidelity.json
package main

import (
	"context"
	"flag"
	"fmt"
	"os"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"

	t2tbeam "t2t/beam"
)

func main() {
	var o t2tbeam.EvaluateOptions
	flag.StringVar(&o.Real, "real", "", "real labelled captures: <class>.pcap files or <class>/ folders (required)")
	flag.StringVar(&o.Synthetic, "synthetic", "", "synthetic labelled captures, likewise (required)")
	flag.StringVar(&o.Out, "output", "", "output JSON file (required)")
	flag.IntVar(&o.MaxPackets, "packets", 0, "count only the first `N` packets of each flow (0: all)")
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), "evaluate: per-field fidelity of synthetic against real captures, class by class, on Apache Beam.\n"+
			"Example: evaluate --real testdata/heldout --synthetic synth --output fidelity.json\n\nFlags (Beam's included):\n")
		flag.PrintDefaults()
	}
	flag.Parse()
	beam.Init()
	if o.Real == "" || o.Synthetic == "" || o.Out == "" {
		fmt.Fprintln(os.Stderr, "evaluate: --real, --synthetic and --output are required")
		os.Exit(2)
	}
	if o.MaxPackets < 0 {
		fmt.Fprintf(os.Stderr, "evaluate: --packets %d: want 0 or more\n", o.MaxPackets)
		os.Exit(2)
	}
	for _, d := range []string{o.Real, o.Synthetic} {
		if st, err := os.Stat(d); err != nil || !st.IsDir() {
			fmt.Fprintf(os.Stderr, "evaluate: %s: not a folder\n", d)
			os.Exit(2)
		}
	}
	if _, _, err := t2tbeam.Run(context.Background(), func(s beam.Scope) error { return t2tbeam.Evaluate(s, o) }); err != nil {
		fmt.Fprintln(os.Stderr, "evaluate:", err)
		os.Exit(1)
	}
}
