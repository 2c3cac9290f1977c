package repair

import (
	"fmt"
	"os"
	"sort"

	"t2t"
	"t2t/pcapio"
)

// Merge returns the packets of the results interleaved by time, as a
// capture of the flows running side by side would hold them (packets of
// equal time keep the order of results, then of each flow).
func Merge(results []*Result) []pcapio.Packet {
	var all []pcapio.Packet
	for _, r := range results {
		all = append(all, r.Packets...)
	}
	sort.SliceStable(all, func(i, j int) bool { return all[i].Time.Before(all[j].Time) })
	return all
}

// WritePcap writes the results to a pcap file (Ethernet, microsecond
// timestamps) with their packets interleaved by time (see Merge). Give the
// flows distinct endpoints (Options.FlowIndex) so that a reader separates
// them again.
func WritePcap(path string, results []*Result) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("repair: %w", err)
	}
	w, err := pcapio.NewWriter(f, t2t.LinkEthernet, pcapio.WriterOptions{})
	if err != nil {
		f.Close()
		return err
	}
	for _, p := range Merge(results) {
		if err := w.Write(p); err != nil {
			f.Close()
			return err
		}
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
