package main

import (
	"fmt"
	"io"
	"strconv"

	"t2t"
)

// stats are what nPrint's -S counts: packets processed, skipped (nPrint
// writes no row for them) and parsed, and the parsed ones by IP version and
// transport protocol.
type stats struct {
	processed, skipped, parsed uint64
	ipv4, ipv6                 uint64
	tcp, udp, icmp             uint64
}

// add counts one packet; parsed says whether it was encoded.
func (s *stats) add(p *t2t.PacketInfo, parsed bool) {
	s.processed++
	if !parsed {
		s.skipped++
		return
	}
	s.parsed++
	switch p.Version {
	case 4:
		s.ipv4++
	case 6:
		s.ipv6++
	}
	switch p.Proto {
	case t2t.ProtoTCP:
		s.tcp++
	case t2t.ProtoUDP:
		s.udp++
	case t2t.ProtoICMP:
		s.icmp++
	}
}

// print writes the counts as nPrint 1.2.1 does (stats.cpp).
func (s *stats) print(w io.Writer) {
	line := func(name string, n, of uint64) {
		fmt.Fprintf(w, "  %-19s%10d (%s%%)\n", name, n, percent(n, of))
	}
	fmt.Fprintf(w, "General Statistics\n")
	fmt.Fprintf(w, "  %-19s%10d\n", "Packets processed:", s.processed)
	line("Packets skipped:", s.skipped, s.processed)
	line("Packets parsed:", s.parsed, s.processed)
	fmt.Fprintf(w, "Network Layer Statistics (of packets parsed)\n")
	line("IPv4:", s.ipv4, s.parsed)
	line("IPv6:", s.ipv6, s.parsed)
	fmt.Fprintf(w, "Transport Layer Statistics (of packets parsed)\n")
	line("TCP:", s.tcp, s.parsed)
	line("UDP:", s.udp, s.parsed)
	line("ICMP:", s.icmp, s.parsed)
}

// percent is C's printf("%.2f", 100.0 * (double(n) / of)): glibc writes
// the NaN of 0/0 on x86 as "-nan".
func percent(n, of uint64) string {
	if of == 0 {
		return "-nan"
	}
	return strconv.FormatFloat(100.0*(float64(n)/float64(of)), 'f', 2, 64)
}
