//go:build libpcap

package main

import (
	"fmt"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/pcap"

	"t2t"
	"t2t/internal/cli"
)

// bpfFilter is -f: a pcap-filter expression compiled by libpcap, once per
// link type, and run on each packet as libpcap runs a capture's filter.
type bpfFilter struct {
	expr  string
	progs map[t2t.LinkType]*pcap.BPF
}

// snapLen is the capture length the filter is compiled for: libpcap's
// largest.
const snapLen = 262144

// newFilter compiles expr for Ethernet, so that a bad expression is an
// error before any packet is read.
func newFilter(expr string) (packetFilter, error) {
	f := &bpfFilter{expr: expr, progs: map[t2t.LinkType]*pcap.BPF{}}
	if _, err := f.prog(t2t.LinkEthernet); err != nil {
		return nil, cli.Usagef("%v", err)
	}
	return f, nil
}

// dltRaw is libpcap's DLT_RAW on Linux (and most systems), which a pcap
// file writes as LINKTYPE_RAW 101; pcap_open_dead takes the DLT_ value.
const dltRaw = layers.LinkType(12)

// dlt maps a pcap file's LINKTYPE_ value to libpcap's DLT_ value.
func dlt(link t2t.LinkType) (layers.LinkType, error) {
	switch {
	case link == t2t.LinkRaw:
		return dltRaw, nil
	case link > 255:
		return 0, fmt.Errorf("-f: link type %v: gopacket's libpcap binding takes link types below 256", link)
	}
	return layers.LinkType(link), nil
}

func (f *bpfFilter) prog(link t2t.LinkType) (*pcap.BPF, error) {
	if b, ok := f.progs[link]; ok {
		return b, nil
	}
	d, err := dlt(link)
	if err != nil {
		return nil, err
	}
	b, err := pcap.NewBPF(d, snapLen, f.expr)
	if err != nil {
		return nil, fmt.Errorf("-f %q (link type %v): %v", f.expr, link, err)
	}
	f.progs[link] = b
	return b, nil
}

// Match runs the filter on one packet.
func (f *bpfFilter) Match(link t2t.LinkType, data []byte, origLen int) (bool, error) {
	b, err := f.prog(link)
	if err != nil {
		return false, err
	}
	ci := gopacket.CaptureInfo{CaptureLength: len(data), Length: origLen}
	if len(data) == 0 {
		data = []byte{0} // the binding takes the address of data[0]; caplen stays 0
	}
	return b.Matches(ci, data), nil
}
