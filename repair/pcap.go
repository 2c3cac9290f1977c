package repair

import (
	"fmt"
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
	if err := pcapio.WriteFile(path, t2t.LinkEthernet, Merge(results), pcapio.WriterOptions{}); err != nil {
		return fmt.Errorf("repair: %w", err)
	}
	return nil
}

// CutPayload returns p as a capture cut short after its headers (link,
// IP and transport), with OrigLen keeping its length on the wire. The
// model generates no payload bytes: a cut capture says so honestly, tshark
// dissects headers only (no application dissector reads invented bytes),
// and the checksums, computed over zero payload bytes, stay right for a
// replay tool that pads the packet with zeros.
func CutPayload(p pcapio.Packet) pcapio.Packet {
	info, err := t2t.ParseInfo(p.Link, p.Data)
	if err != nil || info.TransOff < 0 {
		return p
	}
	end := info.TransOff + 8
	if info.Proto == t2t.ProtoTCP && len(p.Data) >= info.TransOff+13 { // the data offset is held
		end = info.TransOff + info.TCPDataOff
	}
	if end >= len(p.Data) {
		return p
	}
	if p.OrigLen < len(p.Data) {
		p.OrigLen = len(p.Data)
	}
	p.Data = p.Data[:end]
	return p
}
