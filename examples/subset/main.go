// Command subset makes a small labelled data set from a large one: for
// each <class> capture of -data it keeps -flows flows, spread evenly over
// the capture's flows (so the mix of protocols survives), and the first
// -packets packets of each, and writes <out>/<class>.pcap in time order.
// With -share it keeps that share of each class's flows instead, and -rest
// writes the others, a held-out set. The repository's training set
// testdata/train (80% of the flows of every class of captures-seed42, 1,839
// flows of up to 32 packets) and its held-out set testdata/heldout (the
// other 472) were made with
//
//	subset -data ../shared/data/captures-seed42 -share 0.8 -packets 32 -out testdata/train -rest testdata/heldout
//
// With -labels it lays out flow-labelled captures instead (nDPI's test
// captures and their FLOW_LABELS.tsv; see dataset.Layout): the flows of
// each label of the -label column found in the -captures folder go to
// <out>/train/<class>/<capture>.pcap and <out>/test/<class>/<capture>.pcap,
// whole captures to one split, about -share (0.75) of each class's flows in
// train, drawn from -seed; -min-flows, -classes, -drop and -max-flows choose
// and cap the classes, -packets cuts flows (all packets unless set):
//
//	subset -labels ../shared/data/public/ntop+nDPI/FLOW_LABELS.tsv -captures ../shared/data/public/ntop+nDPI/tests/cfgs/default/pcap -classes 12 -drop Unknown -out ndpi12
package main

import (
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"t2t/dataset"
	"t2t/internal/cli"
	"t2t/pcapio"
)

func main() {
	cli.Main("subset", run(os.Args[1:], os.Stdout, os.Stderr))
}

var command = cli.Command{
	Name: "subset",
	Does: "subset makes a smaller labelled data set from one: per class, -flows flows (or a -share of them) spread over the capture, cut to -packets packets; -rest keeps the others.\nWith -labels it lays out flow-labelled captures (nDPI's) instead: <out>/train/<class>/ and <out>/test/<class>/, each capture's flows of a class wholly in one split.",
	Example: []string{
		"-data ../shared/data/captures-seed42 -share 0.8 -packets 32 -out train -rest heldout",
		"-labels ../shared/data/public/ntop+nDPI/FLOW_LABELS.tsv -captures ../shared/data/public/ntop+nDPI/tests/cfgs/default/pcap -classes 12 -drop Unknown -out ndpi12",
	},
}

// labelFlags are the flags of -labels only; dataFlags those of -data only.
var (
	labelFlags = []string{"captures", "label", "min-flows", "classes", "drop", "max-flows", "seed", "strict"}
	dataFlags  = []string{"data", "flows", "min-packets", "rest"}
)

func run(args []string, stdout, stderr io.Writer) error {
	fs := command.FlagSet(stderr)
	data := fs.String("data", "", "`folder` of <class>.pcap files or <class>/ folders (required, unless -labels)")
	flows := fs.Int("flows", 48, "flows to keep per class")
	packets := fs.Int("packets", 32, "packets to keep per flow (with -labels: all unless set)")
	minPackets := fs.Int("min-packets", 2, "leave out flows with fewer packets")
	out := fs.String("out", "", "output `folder` (required)")
	share := fs.Float64("share", 0, "keep this share of each class's flows instead of -flows (0 < share <= 1); with -labels: the share of each class's flows to aim for in train (0 < share < 1; 0.75 unless set)")
	rest := fs.String("rest", "", "folder for the flows not kept (a held-out set), same layout (optional)")
	quiet := fs.Bool("q", false, "quiet: print nothing but errors")
	labels := fs.String("labels", "", "flow-label `file` (tab-separated: pcap, l4, src, dst, app, ...; nDPI's FLOW_LABELS.tsv): lay out -captures by it instead of subsetting -data")
	var lo labelOptions
	fs.StringVar(&lo.captures, "captures", "", "with -labels: `folder` the labels' capture names are relative to (required)")
	fs.StringVar(&lo.label, "label", "app", "with -labels: label `column` naming the class: app, ndpi_proto or category")
	fs.IntVar(&lo.minFlows, "min-flows", 10, "with -labels: leave out classes with fewer flows found")
	fs.IntVar(&lo.classes, "classes", 0, "with -labels: keep the `K` classes with the most flows found (0: all)")
	fs.Var(&lo.drop, "drop", "with -labels: leave out the flows of this `label` (any case; repeatable, or comma-separated), e.g. Unknown")
	fs.IntVar(&lo.maxFlows, "max-flows", 0, "with -labels: at most this many flows per class, each split its share (0: no cap)")
	fs.Uint64Var(&lo.seed, "seed", 1, "with -labels: seed of the split by capture")
	fs.BoolVar(&lo.strict, "strict", false, "with -labels: stop at a malformed label row instead of skipping it")
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if set["labels"] {
		for _, n := range dataFlags {
			if set[n] {
				return cli.Usagef("-%s is for subsetting -data; with -labels name the captures with -captures", n)
			}
		}
		if *quiet {
			stdout = io.Discard
		}
		lo.labels, lo.out, lo.share, lo.packets = *labels, *out, *share, *packets
		return layout(lo, set, stdout)
	}
	for _, n := range labelFlags {
		if set[n] {
			return cli.Usagef("-%s works with -labels only", n)
		}
	}
	if err := cli.First(cli.Positive("-flows", *flows), cli.Positive("-packets", *packets), cli.NonNegative("-min-packets", *minPackets), cli.InDir("-data", *data)); err != nil {
		return err
	}
	if *share < 0 || *share > 1 || math.IsNaN(*share) {
		return cli.Usagef("-share %g: want 0 < share <= 1", *share)
	}
	if *out == "" {
		return cli.Usagef("-out is required")
	}
	for _, d := range []struct{ flag, dir string }{{"-out", *out}, {"-rest", *rest}} {
		if d.dir != "" {
			if err := cli.OutDir(d.flag, d.dir); err != nil {
				return err
			}
		}
	}
	if *quiet {
		stdout = io.Discard
	}
	ds, err := pcapio.LoadDataset(*data, pcapio.FlowOptions{MaxPackets: *packets})
	if err != nil {
		return err
	}
	for _, d := range []string{*out, *rest} {
		if d == "" {
			continue
		}
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	for _, c := range ds.Classes {
		var all []*pcapio.Flow
		for _, f := range ds.Flows[c] {
			if len(f.Packets) >= *minPackets {
				all = append(all, f)
			}
		}
		n := *flows
		if *share > 0 {
			n = max(int(math.Round(*share*float64(len(all)))), 1)
		}
		keep := pcapio.Stratified(ds.Flows[c], n, *minPackets)
		kept, err := writeFlows(filepath.Join(*out, c+".pcap"), keep)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%-12s %4d of %4d flows, %5d packets\n", c, len(keep), len(all), kept)
		if *rest == "" {
			continue
		}
		in := map[*pcapio.Flow]bool{}
		for _, f := range keep {
			in[f] = true
		}
		var others []*pcapio.Flow
		for _, f := range all {
			if !in[f] {
				others = append(others, f)
			}
		}
		if _, err := writeFlows(filepath.Join(*rest, c+".pcap"), others); err != nil {
			return err
		}
	}
	return nil
}

type labelOptions struct {
	labels, captures, label, out string
	minFlows, classes, maxFlows  int
	packets                      int
	share                        float64
	drop                         cli.Multi
	seed                         uint64
	strict                       bool
}

// layout runs the -labels mode: dataset.Layout, then its table.
// set holds the flags given: -packets and -share have defaults of their
// own here (all packets, 0.75).
func layout(o labelOptions, set map[string]bool, stdout io.Writer) error {
	if err := cli.First(cli.InFile("-labels", o.labels), cli.InDir("-captures", o.captures), cli.NonNegative("-min-flows", o.minFlows), cli.NonNegative("-classes", o.classes), cli.NonNegative("-max-flows", o.maxFlows)); err != nil {
		return err
	}
	if !set["packets"] {
		o.packets = 0
	} else if err := cli.Positive("-packets", o.packets); err != nil {
		return err
	}
	if o.maxFlows == 1 {
		return cli.Usagef("-max-flows 1: want 0 (no cap) or 2 or more, a flow for each split")
	}
	if !set["share"] {
		o.share = 0
	} else if !(o.share > 0 && o.share < 1) {
		return cli.Usagef("-share %g: with -labels, the train share: want 0 < share < 1", o.share)
	}
	switch o.label {
	case "app", "ndpi_proto", "category":
	default:
		return cli.Usagef("-label %q: want app, ndpi_proto or category", o.label)
	}
	if o.out == "" {
		return cli.Usagef("-out is required")
	}
	if err := dataset.CheckOut(o.out, o.captures); err != nil {
		return fmt.Errorf("-out: %w", err)
	}
	var drop []string
	for _, d := range o.drop {
		for _, l := range strings.Split(d, ",") {
			if l = strings.TrimSpace(l); l != "" {
				drop = append(drop, l)
			}
		}
	}
	sum, err := dataset.Layout(dataset.LayoutOptions{
		Labels:     o.labels,
		Captures:   o.captures,
		Out:        o.out,
		Label:      o.label,
		MinFlows:   o.minFlows,
		Classes:    o.classes,
		Drop:       drop,
		MaxFlows:   o.maxFlows,
		MaxPackets: o.packets,
		TrainShare: o.share,
		Seed:       o.seed,
		Strict:     o.strict,
	})
	if err != nil {
		return err
	}
	return sum.WriteTable(stdout)
}

// writeFlows writes the packets of flows to path in time order (nothing
// for no packets) and returns how many it wrote.
func writeFlows(path string, flows []*pcapio.Flow) (int, error) {
	var ps []pcapio.Packet
	for _, f := range flows {
		ps = append(ps, f.Packets...)
	}
	sort.SliceStable(ps, func(i, j int) bool { return ps[i].Time.Before(ps[j].Time) })
	if len(ps) == 0 {
		return 0, nil
	}
	return len(ps), pcapio.WriteFile(path, ps[0].Link, ps, pcapio.WriterOptions{})
}
