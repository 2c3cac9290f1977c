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
//	         [-json out.json] [-out report.md] [-png DIR]
//
// Each DIR holds one capture per class, <class>.pcap (or a <class>/
// folder of captures). Without -synthetic only real/real recognition and
// the compliance of the real set are run. The Markdown report goes to
// standard output unless -out names a file. -png DIR writes into the
// folder DIR: accuracy.png (per-class recognition accuracy) and, with
// -synthetic, fidelity.png (per-class mean JSD/TV), for each class
// fields-<class>.png (real in blue and synthetic in orange distributions
// of ip_len, tcp_flags, tcp_wsize, udp_len, flow_iat and flow_packets, one
// panel each, top to bottom: evaluate.FieldChart) and flows-<class>.png (a
// typical real flow, left, beside a typical synthetic one, right:
// evaluate.SideBySide).
package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"t2t/evaluate"
	"t2t/internal/cli"
	"t2t/pcapio"
)

var command = cli.Command{
	Name: "evaluate",
	Does: "evaluate measures how close synthetic captures are to real ones (recognition as in the paper's Table 2, detectability, diversity, memorisation, field distances, protocol compliance) and writes a Markdown report.",
	Example: []string{
		"-real testdata/heldout -synthetic synth -train testdata/train -held-out -groups ../shared/capture/groups.tsv -png report-png",
	},
}

type options struct {
	realDir, synthDir, trainDir, groups, jsonOut, out, png, drop string
	packets, trees, mPackets, folds, sidePackets                 int
	seed                                                         uint64
	noCheck, heldOut, quiet                                      bool
}

func main() {
	cli.Main("evaluate", run(os.Args[1:], os.Stdout, os.Stderr))
}

func parse(args []string, stderr io.Writer) (*options, error) {
	o := &options{}
	fs := command.FlagSet(stderr)
	fs.StringVar(&o.realDir, "real", "", "`folder` of real captures, one <class>.pcap per class (required)")
	fs.StringVar(&o.synthDir, "synthetic", "", "`folder` of synthetic captures, same layout (optional)")
	fs.IntVar(&o.packets, "packets", 10, "`K`: packets per flow the forest sees")
	fs.IntVar(&o.trees, "trees", 100, "trees in the random forest")
	fs.Uint64Var(&o.seed, "seed", 42, "seed of the split and the forests")
	fs.StringVar(&o.groups, "groups", "", "class-to-group table (`file` of class<TAB>group lines) for macro accuracy")
	fs.StringVar(&o.jsonOut, "json", "", "write the report as JSON to this `file`")
	fs.StringVar(&o.out, "out", "-", "write the Markdown report to this `file` (-: standard output)")
	fs.StringVar(&o.png, "png", "", "`folder` for the pictures: accuracy.png; with -synthetic also fidelity.png, fields-<class>.png and flows-<class>.png (a real flow beside a synthetic one)")
	fs.IntVar(&o.sidePackets, "png-packets", 32, "with -png: packets of each flow in flows-<class>.png (each drawn 4 pixel rows tall)")
	fs.BoolVar(&o.noCheck, "no-compliance", false, "skip the protocol checks of the capture files")
	fs.StringVar(&o.trainDir, "train", "", "`folder` of the generator's training captures, same layout, for memorisation (optional)")
	fs.BoolVar(&o.heldOut, "held-out", false, "with -train: leave the training flows out of the real side of detectability and diversity")
	fs.IntVar(&o.mPackets, "measure-packets", evaluate.MeasurePackets, "`K`: packets per flow for detectability, diversity and memorisation")
	fs.IntVar(&o.folds, "detect-folds", 5, "folds of the detectability cross-validation")
	fs.StringVar(&o.drop, "drop", "", "comma-separated nPrint fields the forest does not see besides addresses, ports and checksums (e.g. ipv4_id,tcp_seq,tcp_ackn,tcp_opt: values a capture's hosts and clock set, not the service)")
	fs.BoolVar(&o.quiet, "q", false, "quiet: print nothing but errors (the report still goes to -out)")
	if err := cli.Parse(fs, args); err != nil {
		return nil, err
	}
	for _, k := range []struct {
		flag string
		v    int
	}{{"-packets", o.packets}, {"-measure-packets", o.mPackets}, {"-png-packets", o.sidePackets}} {
		if k.v < 1 || k.v > maxPackets {
			return nil, cli.Usagef("%s %d: want 1 to %d", k.flag, k.v, maxPackets)
		}
	}
	if err := cli.First(cli.Positive("-trees", o.trees), cli.Positive("-detect-folds", o.folds)); err != nil {
		return nil, err
	}
	if err := cli.InDir("-real", o.realDir); err != nil {
		return nil, err
	}
	for _, d := range []struct{ flag, dir string }{{"-synthetic", o.synthDir}, {"-train", o.trainDir}} {
		if d.dir != "" {
			if err := cli.InDir(d.flag, d.dir); err != nil {
				return nil, err
			}
		}
	}
	if o.groups != "" {
		if err := cli.InFile("-groups", o.groups); err != nil {
			return nil, err
		}
	}
	if err := cli.OutFile("-out", o.out); err != nil {
		return nil, err
	}
	if o.jsonOut != "" {
		if err := cli.OutFile("-json", o.jsonOut); err != nil {
			return nil, err
		}
	}
	if o.png != "" {
		if err := cli.OutDir("-png", o.png); err != nil {
			return nil, err
		}
	}
	return o, nil
}

// maxPackets bounds -packets and -measure-packets: the forest's features
// grow with packets x bits per flow.
const maxPackets = 1024

func run(args []string, stdout, stderr io.Writer) error {
	o, err := parse(args, stderr)
	if err != nil {
		return err
	}
	// Flows of the recognition features need only K packets, but fidelity
	// and compliance look at whole flows: load everything.
	opts := pcapio.FlowOptions{}
	real, err := pcapio.LoadDataset(o.realDir, opts)
	if err != nil {
		return err
	}
	var synth, train *pcapio.Dataset
	if o.synthDir != "" {
		if synth, err = pcapio.LoadDataset(o.synthDir, opts); err != nil {
			return err
		}
	}
	if o.trainDir != "" {
		if train, err = pcapio.LoadDataset(o.trainDir, opts); err != nil {
			return err
		}
	}
	cfg := evaluate.Config{
		Recognition: evaluate.RecognitionConfig{
			Features: evaluate.FeatureOptions{Packets: o.packets, Drop: splitList(o.drop)},
			Forest:   evaluate.ForestConfig{Trees: o.trees},
			Seed:     o.seed,
		},
		NoCompliance: o.noCheck,
		Measures: evaluate.MeasureConfig{Packets: o.mPackets, Folds: o.folds,
			Forest: evaluate.ForestConfig{Trees: o.trees}, Seed: o.seed},
		Train:       train,
		HeldOutOnly: o.heldOut,
	}
	if o.groups != "" {
		if cfg.Recognition.Groups, err = evaluate.ReadGroupsFile(o.groups); err != nil {
			return err
		}
	}
	rep, err := evaluate.Evaluate(real, synth, cfg)
	if err != nil {
		return err
	}
	if o.jsonOut != "" {
		if err := writeFile(o.jsonOut, rep.WriteJSON); err != nil {
			return err
		}
	}
	if o.png != "" {
		if err := writePNGs(o, rep, real, synth); err != nil {
			return err
		}
	}
	if o.out == "-" {
		if o.quiet {
			stdout = io.Discard
		}
		return rep.WriteMarkdown(stdout)
	}
	return writeFile(o.out, rep.WriteMarkdown)
}

// writePNGs writes the pictures into o.png.
func writePNGs(o *options, rep *evaluate.Report, real, synth *pcapio.Dataset) error {
	if err := writeFile(filepath.Join(o.png, "accuracy.png"), rep.WritePNG); err != nil {
		return err
	}
	if synth == nil {
		return nil
	}
	if err := writeFile(filepath.Join(o.png, "fidelity.png"), rep.WriteFidelityPNG); err != nil {
		return err
	}
	for _, c := range real.Classes {
		err := writeFile(filepath.Join(o.png, "fields-"+c+".png"), func(w io.Writer) error {
			return evaluate.WriteFieldsPNG(w, real.Flows[c], synth.Flows[c])
		})
		if err != nil {
			return err
		}
		if len(synth.Flows[c]) == 0 || len(real.Flows[c]) == 0 {
			continue
		}
		err = writeFile(filepath.Join(o.png, "flows-"+c+".png"), func(w io.Writer) error {
			return evaluate.WriteSideBySidePNG(w, real.Flows[c], synth.Flows[c], o.sidePackets, 4)
		})
		if err != nil {
			return err
		}
	}
	return nil
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
