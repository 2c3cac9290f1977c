//go:build !libpcap

package main

import "t2t/internal/cli"

// newFilter is -f in a build without libpcap, which compiles pcap-filter
// expressions: it refuses the flag.
func newFilter(expr string) (packetFilter, error) {
	return nil, cli.Usagef("-f %q: BPF filters need libpcap: build nprint with -tags libpcap (and libpcap-dev installed)", expr)
}
