// Command evaluate measures how close synthetic traffic is to real traffic,
// as in the paper's Table 2 and beyond: service recognition by a random
// forest on the nPrint bits of each flow's first K packets (addresses,
// ports and checksums removed) in the scenarios real/real, real/synthetic
// and synthetic/real at class (micro) and group (macro) level; per-class
// distances (Jensen-Shannon, total variation) of header field
// distributions; protocol compliance of the capture files (decode errors,
// checksums, TCP state machine); and class balance. With a synthetic set
// it also judges the generator on the first -measure-packets packets of
// each flow: detectability (the cross-validated accuracy of a forest
// telling real from synthetic flows, 0.5 when it cannot), diversity (the
// share of distinct flow shapes, synthetic vs real at equal n) and, with
// -train, memorisation (distance of synthetic and of held-out real flows
// to their closest training flow, and the share of exact copies).
//
//	evaluate -real DIR [-synthetic DIR] [-train DIR [-held-out]] [-packets K] [-trees N]
//	         [-measure-packets K] [-detect-folds N] [-seed N] [-groups FILE]
//	         [-json out.json] [-report out.md] [-png out.png]
//
// Each DIR holds one capture per class, <class>.pcap (or a <class>/
// folder of captures). Without -synthetic only real/real recognition and
// the compliance of the real set are run. The Markdown report goes to
// standard output unless -report names a file. -png out.png writes the
// per-class recognition accuracy to out.png and, with -synthetic, the
// per-class mean JSD/TV to out-fidelity.png and for each class
// out-<class>.png: real (blue) and synthetic (orange) distributions of
// ip_len, tcp_flags, tcp_wsize, udp_len, flow_iat and flow_packets, one
// panel each, top to bottom (evaluate.FieldChart).
package main

import (
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"strings"

	"t2t/evaluate"
	"t2t/pcapio"
)

var (
	realDir   = flag.String("real", "", "folder of real captures, one `<class>.pcap` per class (required)")
	synthDir  = flag.String("synthetic", "", "folder of synthetic captures, same layout (optional)")
	packets   = flag.Int("packets", 10, "`K`: packets per flow the forest sees")
	trees     = flag.Int("trees", 100, "trees in the random forest")
	seed      = flag.Uint64("seed", 42, "seed of the split and the forests")
	groups    = flag.String("groups", "", "class-to-group table (`class<TAB>group` lines) for macro accuracy")
	jsonOut   = flag.String("json", "", "write the report as JSON to this `file`")
	reportOut = flag.String("report", "", "write the Markdown report to this `file` (default: standard output)")
	pngOut    = flag.String("png", "", "write a bar chart of per-class accuracy (PNG) to this `file`; with -synthetic, per-class fidelity goes to <file>-fidelity.png and each class's field histograms to <file>-<class>.png")
	noCheck   = flag.Bool("no-compliance", false, "skip the protocol checks of the capture files")
	trainDir  = flag.String("train", "", "folder of the generator's training captures, same layout, for memorisation (optional)")
	heldOut   = flag.Bool("held-out", false, "with -train: leave the training flows out of the real side of detectability and diversity")
	mPackets  = flag.Int("measure-packets", evaluate.MeasurePackets, "`K`: packets per flow for detectability, diversity and memorisation")
	folds     = flag.Int("detect-folds", 5, "folds of the detectability cross-validation")
	drop      = flag.String("drop", "", "comma-separated nPrint fields the forest does not see besides addresses, ports and checksums (e.g. ipv4_id,tcp_seq,tcp_ackn,tcp_opt: values a capture's hosts and clock set, not the service)")
)

func main() {
	log.SetFlags(0)
	log.SetPrefix("evaluate: ")
	flag.Parse()
	if *realDir == "" || flag.NArg() > 0 {
		flag.Usage()
		os.Exit(2)
	}
	if err := run(); err != nil {
		log.Fatal(err)
	}
}

// maxPackets bounds -packets and -measure-packets: the forest's features
// grow with packets x bits per flow.
const maxPackets = 1024

func run() error {
	for _, k := range []struct {
		flag string
		v    int
	}{{"-packets", *packets}, {"-measure-packets", *mPackets}} {
		if k.v < 1 || k.v > maxPackets {
			return fmt.Errorf("%s %d: want 1 to %d", k.flag, k.v, maxPackets)
		}
	}
	// Flows of the recognition features need only K packets, but fidelity
	// and compliance look at whole flows: load everything.
	opts := pcapio.FlowOptions{}
	real, err := pcapio.LoadDataset(*realDir, opts)
	if err != nil {
		return err
	}
	var synth, train *pcapio.Dataset
	if *synthDir != "" {
		if synth, err = pcapio.LoadDataset(*synthDir, opts); err != nil {
			return err
		}
	}
	if *trainDir != "" {
		if train, err = pcapio.LoadDataset(*trainDir, opts); err != nil {
			return err
		}
	}
	cfg := evaluate.Config{
		Recognition: evaluate.RecognitionConfig{
			Features: evaluate.FeatureOptions{Packets: *packets, Drop: splitList(*drop)},
			Forest:   evaluate.ForestConfig{Trees: *trees},
			Seed:     *seed,
		},
		NoCompliance: *noCheck,
		Measures: evaluate.MeasureConfig{Packets: *mPackets, Folds: *folds,
			Forest: evaluate.ForestConfig{Trees: *trees}, Seed: *seed},
		Train:       train,
		HeldOutOnly: *heldOut,
	}
	if *groups != "" {
		if cfg.Recognition.Groups, err = evaluate.ReadGroupsFile(*groups); err != nil {
			return err
		}
	}
	rep, err := evaluate.Evaluate(real, synth, cfg)
	if err != nil {
		return err
	}
	if *jsonOut != "" {
		if err := writeFile(*jsonOut, rep.WriteJSON); err != nil {
			return err
		}
	}
	if *pngOut != "" {
		if err := writeFile(*pngOut, rep.WritePNG); err != nil {
			return err
		}
		if synth != nil {
			name := strings.TrimSuffix(*pngOut, ".png") + "-fidelity.png"
			if err := writeFile(name, rep.WriteFidelityPNG); err != nil {
				return err
			}
			for _, c := range real.Classes {
				name := strings.TrimSuffix(*pngOut, ".png") + "-" + c + ".png"
				err := writeFile(name, func(w io.Writer) error {
					return evaluate.WriteFieldsPNG(w, real.Flows[c], synth.Flows[c])
				})
				if err != nil {
					return err
				}
			}
		}
	}
	if *reportOut == "" {
		return rep.WriteMarkdown(os.Stdout)
	}
	return writeFile(*reportOut, rep.WriteMarkdown)
}

func writeFile(path string, write func(io.Writer) error) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := write(f); err != nil {
		f.Close()
		return fmt.Errorf("%s: %w", path, err)
	}
	return f.Close()
}

func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}
