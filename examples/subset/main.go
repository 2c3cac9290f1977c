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
package main

import (
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"

	"t2t/internal/cli"
	"t2t/pcapio"
)

func main() {
	cli.Main("subset", run(os.Args[1:], os.Stdout, os.Stderr))
}

var command = cli.Command{
	Name:    "subset",
	Does:    "subset makes a smaller labelled data set from one: per class, -flows flows (or a -share of them) spread over the capture, cut to -packets packets; -rest keeps the others.",
	Example: []string{"-data ../shared/data/captures-seed42 -share 0.8 -packets 32 -out train -rest heldout"},
}

func run(args []string, stdout, stderr io.Writer) error {
	fs := command.FlagSet(stderr)
	data := fs.String("data", "", "`folder` of <class>.pcap files or <class>/ folders (required)")
	flows := fs.Int("flows", 48, "flows to keep per class")
	packets := fs.Int("packets", 32, "packets to keep per flow")
	minPackets := fs.Int("min-packets", 2, "leave out flows with fewer packets")
	out := fs.String("out", "", "output `folder` (required)")
	share := fs.Float64("share", 0, "keep this share of each class's flows instead of -flows (0 < share <= 1)")
	rest := fs.String("rest", "", "folder for the flows not kept (a held-out set), same layout (optional)")
	quiet := fs.Bool("q", false, "quiet: print nothing but errors")
	if err := cli.Parse(fs, args); err != nil {
		return err
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
