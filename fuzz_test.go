package t2t_test

import (
	"bytes"
	"errors"
	"io"
	"testing"

	"t2t"
)

// FuzzCSVReader: any input gives rows or an error, never a panic, and
// every row read is a legal nPrint row of the file's layout.
func FuzzCSVReader(f *testing.F) {
	f.Add([]byte("src_ip,udp_sport_0,udp_sport_1"))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := t2t.NewCSVReader(bytes.NewReader(data), "fuzz.csv")
		if err != nil {
			return
		}
		w := r.Layout().Width()
		for i := 0; i < 1000; i++ {
			row, err := r.Read()
			if err != nil {
				if err != io.EOF && err.Error() == "" {
					t.Fatal("empty error")
				}
				return
			}
			if len(row.Bits) != w {
				t.Fatalf("row of %d values, layout %d", len(row.Bits), w)
			}
			for _, v := range row.Bits {
				if v < -1 || v > 1 {
					t.Fatalf("value %d", v)
				}
			}
		}
	})
}

// FuzzEncoder: any frame of any link type encodes or is refused, never a
// panic; encoded rows hold only 1/0/-1, and decoding them never panics.
// With VLAN and the IPv6 payload fix, a frame that encodes with all its
// bytes and decodes must give back its IP bytes up to the capture end.
func FuzzEncoder(f *testing.F) {
	f.Add(uint32(1), []byte{})
	layouts := []*t2t.Layout{
		t2t.NPrintSpec.MustLayout(),
		t2t.NetDiffusionSpec.MustLayout(),
		t2t.LayoutSpec{Eth: true, IPv4: true, IPv6: true, TCP: true, UDP: true, ICMP: true, Payload: 64}.MustLayout(),
	}
	f.Fuzz(func(t *testing.T, link uint32, frame []byte) {
		for i, l := range layouts {
			enc := t2t.NewEncoder(l, t2t.EncoderOptions{VLAN: i == 2, IPv6Payload: i == 2})
			row := make([]int8, l.Width())
			info, err := enc.Encode(row, t2t.LinkType(link), frame)
			if err != nil {
				if errors.Is(err, t2t.ErrSkip) || err.Error() != "" {
					continue
				}
				t.Fatal("empty error")
			}
			if info.Version != 4 && info.Version != 6 {
				t.Fatalf("encoded a packet of IP version %d", info.Version)
			}
			for c, v := range row {
				if v < -1 || v > 1 {
					t.Fatalf("column %d value %d", c, v)
				}
			}
			dec := t2t.NewDecoder(l, t2t.DecodeOptions{FixLengths: true, FixChecksums: true, Src: info.Src, Dst: info.Dst, Link: t2t.LinkEthernet})
			if out, err := dec.Decode(row); err == nil {
				if _, err := t2t.ParseInfo(t2t.LinkEthernet, out); err != nil {
					t.Fatalf("decoded frame does not parse: %v", err)
				}
			}
		}
	})
}
