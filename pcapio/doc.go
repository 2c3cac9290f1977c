// Package pcapio reads and writes packet captures and groups their packets
// into bidirectional flows, the first step of t2t's data path.
//
// # Reading
//
// Open (or NewReader) sniffs the format from the magic number: classic
// pcap in either byte order with microsecond or nanosecond timestamps, or
// pcapng with any number of sections and interfaces, each interface with
// its own link type, timestamp resolution (if_tsresol, power of 10 or of 2)
// and offset (if_tsoffset). Enhanced, simple and obsolete packet blocks
// are read; other blocks are skipped.
//
//	r, err := pcapio.Open("dns.pcap")
//	if err != nil {
//		return err
//	}
//	defer r.Close()
//	for {
//		p, err := r.Next()
//		if err == io.EOF {
//			break
//		}
//		if err != nil {
//			return err // e.g. pcapio: dns.pcap: offset 1234: truncated record ...: unexpected EOF
//		}
//		use(p.Time, p.Link, p.Data) // p.Data is valid until the next call to Next
//	}
//
// Next does not allocate: Packet.Data aliases the Reader's buffer. Keep a
// packet with Packet.Clone, or read the whole file with Reader.ReadAll.
//
// Malformed input gives a *FormatError naming the file and the byte offset
// of the record or block at fault; truncated input wraps
// io.ErrUnexpectedEOF. Lengths are checked before anything is allocated: a
// record may hold at most MaxCapLen bytes. A record longer than the file's
// snaplen breaks the format's rule but is read whole, as libpcap and tshark
// read it, and counted (Reader.OverSnaplen, Stats.OverSnaplen) so that a
// command can warn.
//
// # Writing
//
// Writer writes classic pcap, with microsecond timestamps unless
// WriterOptions.Nanosecond is set. WritePacket refuses, and says why,
// packets without a timestamp, longer than the snaplen, or empty:
//
//	w, err := pcapio.NewWriter(f, t2t.LinkEthernet, pcapio.WriterOptions{})
//	...
//	if err := w.WritePacket(ts, frame); err != nil {
//		return err
//	}
//	return w.Flush()
//
// # Flows
//
// Assemble groups the packets that nPrint encodes (IP carrying TCP, UDP or
// ICMP, as t2t.ParseInfo reads them) into bidirectional flows keyed by a
// canonical FlowKey; ICMP messages are keyed by their echo identifier. The
// flows come out in the order of their first packet, each packet's data
// copied:
//
//	flows, stats, err := pcapio.AssembleFile("dns.pcap", pcapio.FlowOptions{MaxPackets: 32})
//	for _, f := range flows {
//		fmt.Println(f.Key, len(f.Packets), f.Forward(0))
//	}
//
// FlowOptions sets the idle timeout that ends a flow (DefaultIdleTimeout
// when zero), caps the packets kept per flow, and can start a new flow when
// a TCP SYN reuses the ports of a closed connection. Stats counts the
// packets skipped as not encodable and the IPv4 non-first fragments, which
// carry no transport header and so belong to no flow.
//
// # Labelled data sets
//
// LoadDataset reads a folder of <class>.pcap files and <class>/ folders of
// captures into flows per class, in a deterministic order.
package pcapio
