// Command pcap2png writes one paletted PNG per flow of a capture: the
// flow's first N packets as nPrint rows (red = 1, green = 0, blue = -1),
// first packet on top, padded with vacant rows to N, in NetDiffusion's
// 1088-column layout unless told otherwise.
//
//	pcap2png -in in.pcap -out outdir [-packets 1024] [-layout netdiffusion|nprint] [-p N] [-max-flows N]
package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"t2t"
	"t2t/internal/cli"
	"t2t/pcapio"
)

func main() {
	cli.Main("pcap2png", run(os.Args[1:], os.Stdout, os.Stderr))
}

var command = cli.Command{
	Name:    "pcap2png",
	Does:    "pcap2png writes one PNG per flow of a capture: its packets as nPrint rows, red 1, green 0, blue vacant, first packet on top, padded with vacant rows (NetDiffusion's images).",
	Example: []string{"-in testdata/captures/dns-200.pcap -out dns-png -packets 32"},
}

// maxPackets bounds -packets: an image of 65536 packet rows of 1088 bits
// is 71 MB as a Matrix.
const maxPackets = 1 << 16

func run(args []string, stdout, stderr io.Writer) error {
	fs := command.FlagSet(stderr)
	in := fs.String("in", "", "pcap or pcapng `file` (required)")
	outDir := fs.String("out", ".", "output `folder`: <capture>-00000.png ...")
	packets := fs.Int("packets", 1024, "image height: first `N` packets of each flow, padded with vacant rows")
	layoutName := fs.String("layout", "netdiffusion", "columns: netdiffusion (1088) or nprint (1408)")
	payload := fs.Int("p", 0, "payload bytes to add to the layout")
	maxFlows := fs.Int("max-flows", 0, "write at most `N` flows (0: all)")
	minPackets := fs.Int("min-packets", 1, "skip flows with fewer packets")
	vlan := fs.Bool("vlan", true, "look through 802.1Q/802.1ad tags")
	scale := fs.Int("png-scale", 1, "pixel rows per packet (above 1 for viewing; png2pcap reads images of 1)")
	quiet := fs.Bool("q", false, "quiet: print nothing but errors")
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	if *packets < 1 || *packets > maxPackets {
		return cli.Usagef("-packets %d: want 1 to %d", *packets, maxPackets)
	}
	if *payload < 0 || *payload > 65535 {
		return cli.Usagef("-p %d: want 0 to 65535 (an IP packet's largest payload)", *payload)
	}
	if *scale < 1 || *scale > t2t.MaxRowScale {
		return cli.Usagef("-png-scale %d: want 1 to %d", *scale, t2t.MaxRowScale)
	}
	if err := cli.First(cli.NonNegative("-max-flows", *maxFlows), cli.NonNegative("-min-packets", *minPackets), cli.InFile("-in", *in)); err != nil {
		return err
	}
	if err := cli.OutDir("-out", *outDir); err != nil {
		return err
	}
	if *quiet {
		stdout = io.Discard
	}
	var spec t2t.LayoutSpec
	switch *layoutName {
	case "netdiffusion":
		spec = t2t.NetDiffusionSpec
	case "nprint":
		spec = t2t.NPrintSpec
	default:
		return cli.Usagef("-layout %q: want netdiffusion or nprint", *layoutName)
	}
	spec.Payload = *payload
	l, err := spec.Layout()
	if err != nil {
		return err
	}
	flows, stats, err := pcapio.AssembleFile(*in, pcapio.FlowOptions{MaxPackets: *packets})
	if err != nil {
		return err
	}
	enc := t2t.NewEncoder(l, t2t.EncoderOptions{VLAN: *vlan, IPv6Payload: true})
	base := strings.TrimSuffix(filepath.Base(*in), filepath.Ext(*in))
	written := 0
	for i, f := range flows {
		if *maxFlows > 0 && written >= *maxFlows {
			break
		}
		if len(f.Packets) < *minPackets {
			continue
		}
		m := t2t.NewMatrix(l, 0)
		for _, p := range f.Packets {
			if _, err := enc.Append(m, p.Link, p.Data, p.Time); err != nil && !errors.Is(err, t2t.ErrSkip) {
				return fmt.Errorf("%s: packet at offset %d: %w", *in, p.Offset, err)
			}
		}
		name := filepath.Join(*outDir, fmt.Sprintf("%s-%05d.png", base, i))
		if err := (t2t.PNGOptions{RowScale: *scale}).WriteFile(name, m.Resize(*packets)); err != nil {
			return err
		}
		written++
	}
	fmt.Fprintf(stdout, "%s: %d packets, %d flows, %d images of %dx%d (%v) in %s\n",
		*in, stats.Packets, len(flows), written, l.Width(), *packets, l, *outDir)
	return nil
}
