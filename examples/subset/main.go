// Command subset makes a small labelled data set from a large one: for
// each <class> capture of -data it keeps -flows flows, spread evenly over
// the capture's flows (so the mix of protocols survives), and the first
// -packets packets of each, and writes <out>/<class>.pcap in time order.
// The repository's training set testdata/train was made with
//
//	subset -data ../shared/data/captures-seed42 -flows 48 -packets 32 -out testdata/train
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"t2t/pcapio"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "subset:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("subset", flag.ContinueOnError)
	data := fs.String("data", "", "folder of <class>.pcap files or <class>/ folders")
	flows := fs.Int("flows", 48, "flows to keep per class")
	packets := fs.Int("packets", 32, "packets to keep per flow")
	minPackets := fs.Int("min-packets", 2, "leave out flows with fewer packets")
	out := fs.String("out", "", "output folder")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *data == "" || *out == "" || *flows < 1 || *packets < 1 {
		return errors.New("-data DIR, -out DIR, -flows N >= 1 and -packets N >= 1 are required")
	}
	ds, err := pcapio.LoadDataset(*data, pcapio.FlowOptions{MaxPackets: *packets})
	if err != nil {
		return err
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return err
	}
	for _, c := range ds.Classes {
		all := 0
		for _, f := range ds.Flows[c] {
			if len(f.Packets) >= *minPackets {
				all++
			}
		}
		keep := pcapio.Stratified(ds.Flows[c], *flows, *minPackets)
		var ps []pcapio.Packet
		for _, f := range keep {
			ps = append(ps, f.Packets...)
		}
		sort.SliceStable(ps, func(i, j int) bool { return ps[i].Time.Before(ps[j].Time) })
		if len(ps) == 0 {
			continue
		}
		if err := pcapio.WriteFile(filepath.Join(*out, c+".pcap"), ps[0].Link, ps, pcapio.WriterOptions{}); err != nil {
			return err
		}
		fmt.Printf("%-12s %4d of %4d flows, %5d packets\n", c, len(keep), all, len(ps))
	}
	return nil
}
