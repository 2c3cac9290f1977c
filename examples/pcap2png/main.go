// Command pcap2png writes one paletted PNG per flow of a capture: the
// flow's first N packets as nPrint rows (red = 1, green = 0, blue = -1),
// first packet on top, padded with vacant rows to N, in NetDiffusion's
// 1088-column layout unless told otherwise.
//
//	pcap2png -P in.pcap -o outdir [-packets 1024] [-layout netdiffusion|nprint] [-p N] [-max-flows N]
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"t2t"
	"t2t/pcapio"
)

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "pcap2png:", err)
		os.Exit(1)
	}
}

// maxPackets bounds -packets: an image of 65536 packet rows of 1088 bits
// is 71 MB as a Matrix.
const maxPackets = 1 << 16

func run(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("pcap2png", flag.ContinueOnError)
	fs.SetOutput(stderr)
	in := fs.String("P", "", "pcap or pcapng `file`")
	outDir := fs.String("o", ".", "output `dir`ectory")
	packets := fs.Int("packets", 1024, "image height: first `N` packets of each flow, padded with vacant rows")
	layoutName := fs.String("layout", "netdiffusion", "columns: netdiffusion (1088) or nprint (1408)")
	payload := fs.Int("p", 0, "payload bytes to add to the layout")
	maxFlows := fs.Int("max-flows", 0, "write at most `N` flows (0: all)")
	minPackets := fs.Int("min-packets", 1, "skip flows with fewer packets")
	vlan := fs.Bool("vlan", true, "look through 802.1Q/802.1ad tags")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *in == "" {
		return errors.New("-P in.pcap is required")
	}
	if *packets < 1 || *packets > maxPackets {
		return fmt.Errorf("-packets %d: want 1 to %d", *packets, maxPackets)
	}
	if *payload < 0 || *payload > 65535 {
		return fmt.Errorf("-p %d: want 0 to 65535 (an IP packet's largest payload)", *payload)
	}
	var spec t2t.LayoutSpec
	switch *layoutName {
	case "netdiffusion":
		spec = t2t.NetDiffusionSpec
	case "nprint":
		spec = t2t.NPrintSpec
	default:
		return fmt.Errorf("-layout %q: want netdiffusion or nprint", *layoutName)
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
	if err := os.MkdirAll(*outDir, 0o755); err != nil {
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
		if err := t2t.WritePNGFile(name, m.Resize(*packets)); err != nil {
			return err
		}
		written++
	}
	fmt.Fprintf(stdout, "%s: %d packets, %d flows, %d images of %dx%d (%v) in %s\n",
		*in, stats.Packets, len(flows), written, l.Width(), *packets, l, *outDir)
	return nil
}
