package t2t_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/gopacket/pcapgo"

	"t2t"
)

type frame struct {
	link t2t.LinkType
	data []byte
}

// readFrames reads every frame of a pcap or pcapng file with gopacket.
func readFrames(t testing.TB, path string) []frame {
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []frame
	if r, err := pcapgo.NewReader(f); err == nil {
		for {
			d, _, err := r.ReadPacketData()
			if err == io.EOF {
				return out
			}
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, frame{t2t.LinkType(r.LinkType()), d})
		}
	}
	f.Seek(0, 0)
	r, err := pcapgo.NewNgReader(f, pcapgo.DefaultNgReaderOptions)
	if err != nil {
		t.Fatal(err)
	}
	for {
		d, _, err := r.ReadPacketData()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, frame{t2t.LinkType(r.LinkType()), d})
	}
}

// roundTripFiles are the pcaps of the nPrint fixtures: the committed
// captures and, when ../shared is present, the public ones.
func roundTripFiles(t *testing.T) []string {
	files, _ := filepath.Glob("testdata/captures/*.pcap")
	b, err := os.ReadFile("../shared/fixtures/nprint/public/FILES.tsv")
	if err == nil {
		for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
			_, p, _ := strings.Cut(line, "\t")
			files = append(files, filepath.Join("../shared/data/public", p))
		}
	}
	if len(files) < 7 {
		t.Fatalf("found %d fixture pcaps", len(files))
	}
	return files
}

// ipBytes is the IP packet a frame carries: from the IP header to the end
// of the capture, without link-layer padding past the IP total length.
func ipBytes(info t2t.PacketInfo, d []byte) []byte {
	ip := d[info.NetOff:]
	var tot int
	if info.Version == 4 {
		tot = int(binary.BigEndian.Uint16(ip[2:4]))
	} else {
		tot = int(binary.BigEndian.Uint16(ip[4:6])) + 40
	}
	if tot < len(ip) {
		ip = ip[:tot]
	}
	return ip
}

func TestRoundTripExact(t *testing.T) {
	total := 0
	for _, path := range roundTripFiles(t) {
		frames := readFrames(t, path)
		maxLen := 0
		for _, fr := range frames {
			maxLen = max(maxLen, len(fr.data))
		}
		// enough payload bytes for the longest frame
		full := t2t.LayoutSpec{IPv4: true, IPv6: true, TCP: true, UDP: true, ICMP: true, Payload: maxLen}.MustLayout()
		enc := t2t.NewEncoder(full, t2t.EncoderOptions{VLAN: true, IPv6Payload: true})
		dec := t2t.NewDecoder(full, t2t.DecodeOptions{})
		row := make([]int8, full.Width())
		n := 0
		for i, fr := range frames {
			info, err := enc.Encode(row, fr.link, fr.data)
			if errors.Is(err, t2t.ErrSkip) {
				continue
			}
			if err != nil {
				t.Fatalf("%s packet %d: %v", path, i+1, err)
			}
			want := ipBytes(info, fr.data)
			got, err := dec.Decode(row)
			if err != nil {
				t.Fatalf("%s packet %d: decode: %v", path, i+1, err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("%s packet %d: decoded\n%x\nwant\n%x", path, i+1, got, want)
			}
			n++
		}
		if n == 0 && !strings.Contains(path, "erspan") && !strings.Contains(path, "gre") {
			t.Errorf("%s: no packet encoded", path)
		}
		total += n
	}
	t.Logf("%d packets round-tripped byte for byte", total)
}

// TestRoundTripHeaders encodes without payload and decodes with lengths
// and checksums fixed: the headers must come back as they were, apart
// from the length and checksum fields, and the checksums must be valid.
func TestRoundTripHeaders(t *testing.T) {
	for _, spec := range []t2t.LayoutSpec{t2t.NPrintSpec, t2t.NetDiffusionSpec} {
		l := spec.MustLayout()
		enc := t2t.NewEncoder(l, t2t.EncoderOptions{VLAN: true})
		row := make([]int8, l.Width())
		total := 0
		for _, path := range roundTripFiles(t) {
			for i, fr := range readFrames(t, path) {
				info, err := enc.Encode(row, fr.link, fr.data)
				if errors.Is(err, t2t.ErrSkip) {
					continue
				}
				if err != nil {
					t.Fatal(err)
				}
				dec := t2t.NewDecoder(l, t2t.DecodeOptions{FixLengths: true, FixChecksums: true, Src: info.Src, Dst: info.Dst})
				orig := ipBytes(info, fr.data)
				got, err := dec.Decode(row)
				if err != nil {
					t.Fatalf("%s packet %d: %v", path, i+1, err)
				}
				hl := info.TransOff - info.NetOff
				tl := 8
				if info.Proto == t2t.ProtoTCP {
					tl = int(orig[hl+12]>>4) * 4
				}
				if len(got) != hl+tl || len(orig) < hl+tl {
					if len(orig) < hl+tl { // transport header cut by the capture
						continue
					}
					t.Fatalf("%s packet %d: %d bytes, want headers of %d", path, i+1, len(got), hl+tl)
				}
				want := append([]byte(nil), orig[:hl+tl]...)
				clearLenSum(want, hl, info)
				cmp := append([]byte(nil), got...)
				clearLenSum(cmp, hl, info)
				if !bytes.Equal(cmp, want) {
					t.Fatalf("%s packet %d: headers\n%x\nwant\n%x", path, i+1, cmp, want)
				}
				if !t2t.ChecksumsValid(got) {
					t.Fatalf("%s packet %d: checksums invalid in %x", path, i+1, got)
				}
				total++
			}
		}
		t.Logf("%v: %d packets", l, total)
	}
}

// clearLenSum zeroes the length and checksum fields of an IP packet's
// network and transport headers.
func clearLenSum(p []byte, hl int, info t2t.PacketInfo) {
	if info.Version == 4 {
		p[2], p[3], p[10], p[11] = 0, 0, 0, 0
	} else {
		p[4], p[5] = 0, 0
	}
	switch info.Proto {
	case t2t.ProtoTCP:
		p[hl+16], p[hl+17] = 0, 0
	case t2t.ProtoUDP:
		p[hl+4], p[hl+5], p[hl+6], p[hl+7] = 0, 0, 0, 0
	case t2t.ProtoICMP:
		p[hl+2], p[hl+3] = 0, 0
	}
}
