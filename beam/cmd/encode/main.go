// Command encode turns a corpus of captures into nPrint CSV shards (or
// one PNG per flow) with Apache Beam: each capture file is an element, its
// packets grouped into bidirectional flows (pcapio's rules) and encoded as
// examples/nprint -P encodes them, bit for bit; a flow's rows stay
// together in one shard. Bad files are listed in <output>/manifest.json
// with the byte offset at fault; the others are encoded whole. A flow
// that spans two input files is two flows.
//
//	encode --input 'captures/*.pcap' --output rows -4 -6 -t -u -i -R -O 4 --shards 8
//	encode --input zeek/ --output pngs --format png --packets 32
//
// Beam's flags choose the runner: Prism in process by default;
// --runner=universal --endpoint=localhost:8099 --environment_type=LOOPBACK
// for a Flink or Spark job server (see the README).
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"

	"t2t"
	t2tbeam "t2t/beam"
)

func main() {
	var o t2tbeam.EncodeOptions
	input := flag.String("input", "", "capture files: comma-separated globs; a local folder stands for every file under it (required)")
	flag.StringVar(&o.Out, "output", "", "output folder: rows-SSSSS-of-NNNNN.csv or <file>-<id>-<flow>.png, and manifest.json (required)")
	format := flag.String("format", "csv", "csv (nPrint rows) or png (one image per flow, as examples/pcap2png)")
	flag.IntVar(&o.Shards, "shards", 1, "CSV shards")
	flag.BoolVar(&o.Spec.Eth, "e", false, "nPrint: Ethernet headers")
	flag.BoolVar(&o.Spec.IPv4, "4", false, "nPrint: IPv4 headers")
	flag.BoolVar(&o.Spec.IPv6, "6", false, "nPrint: IPv6 headers")
	flag.BoolVar(&o.Spec.TCP, "t", false, "nPrint: TCP headers")
	flag.BoolVar(&o.Spec.UDP, "u", false, "nPrint: UDP headers")
	flag.BoolVar(&o.Spec.ICMP, "i", false, "nPrint: ICMP headers")
	flag.IntVar(&o.Spec.Payload, "p", 0, "nPrint: `N` payload bytes (png: added to the layout)")
	rel := flag.Bool("R", false, "nPrint: rts column (microseconds since the previous row of the file)")
	abs := flag.Bool("A", false, "nPrint: tv_sec,tv_usec columns")
	key := flag.Int("O", 0, "nPrint: key column: 0 src_ip, 1 dst_ip, 2 src_prt, 3 dst_prt, 4 flow")
	flag.IntVar(&o.Count, "c", 0, "nPrint: read at most `N` packets of each file (0: all)")
	fill := flag.Int("F", -1, "nPrint: value (-128 to 127) written for vacant bits")
	flag.StringVar(&o.Omit, "x", "", "nPrint: leave out the bit columns whose whole name matches `regex`")
	flag.BoolVar(&o.Enc.VLAN, "vlan", false, "look through 802.1Q/802.1ad tags (csv; png always does unless --no_vlan)")
	flag.BoolVar(&o.NoVLAN, "no_vlan", false, "png: do not look through VLAN tags")
	flag.BoolVar(&o.Enc.IPv6Payload, "ipv6_payload_fix", false, "take the payload of TCP over IPv6 from the right offset (nPrint does not)")
	snapVacant := flag.Bool("snap_vacant", false, "write payload bytes a snap length cut off as vacant (-1), not 0")
	flag.StringVar(&o.Layout, "layout", "netdiffusion", "png: netdiffusion (1088 columns) or nprint")
	flag.IntVar(&o.Packets, "packets", 1024, "png: image height, the first `N` packets of each flow")
	flag.IntVar(&o.MinPackets, "min_packets", 1, "png: skip flows with fewer packets")
	flag.IntVar(&o.RowScale, "png_scale", 1, "png: pixel rows per packet")
	quiet := flag.Bool("q", false, "quiet: no line per file")
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), "encode: capture files -> flows -> nPrint CSV shards or flow PNGs, on Apache Beam.\n"+
			"Example: encode --input 'captures/*.pcap' --output rows -4 -6 -t -u -i -R -O 4 --shards 8\n\nFlags (Beam's included):\n")
		flag.PrintDefaults()
	}
	flag.Parse()
	beam.Init() // a worker started by a runner stops here and serves
	if *input == "" {
		usage("--input is required")
	}
	o.Inputs = strings.Split(*input, ",")
	switch *format {
	case "csv":
	case "png":
		o.PNG = true
	default:
		usage(fmt.Sprintf("--format %q: want csv or png", *format))
	}
	if *rel && *abs {
		usage("-R and -A exclude each other")
	}
	if *rel {
		o.CSV.Time = t2t.TimeRelative
	} else if *abs {
		o.CSV.Time = t2t.TimeAbsolute
	}
	o.CSV.Key = t2t.KeyKind(*key)
	if *fill < -128 || *fill > 127 {
		usage(fmt.Sprintf("-F %d: want -128 to 127", *fill))
	}
	o.Fill, o.FillOK = int8(*fill), true
	o.Enc.ZeroSnappedPayload = !*snapVacant
	o.Progress = !*quiet
	if err := o.Validate(); err != nil {
		usage(err.Error())
	}
	counts, took, err := t2tbeam.Run(context.Background(), func(s beam.Scope) error { return t2tbeam.Encode(s, o) })
	if err != nil {
		fmt.Fprintln(os.Stderr, "encode:", err)
		os.Exit(1)
	}
	if !*quiet {
		fmt.Printf("encode: %d files in %d bundles, %d packets, %d bad files in %v (%.0f packets/s); see %s\n", counts["files"], counts["bundles"], counts["packets"], counts["bad_files"],
			took.Round(1e6), float64(counts["packets"])/took.Seconds(), t2tbeam.ManifestPath(o.Out))
	}
}

func usage(msg string) {
	fmt.Fprintln(os.Stderr, "encode:", msg)
	os.Exit(2)
}
