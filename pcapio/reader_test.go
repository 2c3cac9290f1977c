package pcapio

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"t2t"
)

const (
	sharedDir = "../../shared"
	seedDir   = sharedDir + "/data/captures-seed42"
	publicDir = sharedDir + "/data/public"
)

// testCaptures returns the committed Ethernet test captures.
func testCaptures(t testing.TB) []string {
	fs, _ := filepath.Glob("../testdata/captures/*.pcap")
	if len(fs) == 0 {
		t.Fatal("no captures in ../testdata/captures")
	}
	return fs
}

// seedCaptures returns the 14 captures-seed42 files, skipping when absent.
func seedCaptures(t testing.TB) []string {
	fs, _ := filepath.Glob(seedDir + "/*.pcap")
	if len(fs) == 0 {
		t.Skip("no " + seedDir)
	}
	return fs
}

// publicCaptures returns the public files listed in
// fixtures/nprint/public/FILES.tsv that are present.
func publicCaptures(t testing.TB) []string {
	b, err := os.ReadFile(sharedDir + "/fixtures/nprint/public/FILES.tsv")
	if err != nil {
		return nil
	}
	var fs []string
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		f := strings.Split(sc.Text(), "\t")
		if len(f) == 2 {
			p := filepath.Join(publicDir, f[1])
			if _, err := os.Stat(p); err == nil {
				fs = append(fs, p)
			}
		}
	}
	return fs
}

func needTool(t testing.TB, name string) string {
	p, err := exec.LookPath(name)
	if err != nil {
		t.Skip(name + " not on PATH")
	}
	return p
}

func readAll(t testing.TB, name string, b []byte) []Packet {
	t.Helper()
	r, err := NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	ps, err := r.ReadAll()
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return ps
}

func readFile(t testing.TB, path string) []Packet {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return readAll(t, path, b)
}

// samePackets compares time, data and lengths (and link unless ignoreLink).
func samePackets(t testing.TB, what string, got, want []Packet) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d packets, want %d", what, len(got), len(want))
	}
	for i := range got {
		g, w := got[i], want[i]
		if !g.Time.Equal(w.Time) || g.OrigLen != w.OrigLen || !bytes.Equal(g.Data, w.Data) || g.Link != w.Link {
			t.Fatalf("%s: packet %d: got %v %d/%d %v, want %v %d/%d %v", what, i,
				g.Time.UTC(), len(g.Data), g.OrigLen, g.Link, w.Time.UTC(), len(w.Data), w.OrigLen, w.Link)
		}
	}
}

// TestReaderMatchesTshark compares every packet's time and lengths with
// tshark's on all the test captures. (Data is compared with gopacket's
// pcapgo by the separate module in ./oracle, which t2t does not depend on.)
func TestReaderMatchesTshark(t *testing.T) {
	needTool(t, "tshark")
	files := testCaptures(t)
	if !testing.Short() {
		if fs, _ := filepath.Glob(seedDir + "/*.pcap"); len(fs) > 0 {
			files = append(files, fs...)
		}
	}
	files = append(files, publicCaptures(t)...)
	for _, path := range files {
		t.Run(filepath.Base(path), func(t *testing.T) {
			t.Parallel() // tshark takes seconds to start
			out, err := exec.Command("tshark", "-n", "-r", path, "-T", "fields",
				"-e", "frame.time_epoch", "-e", "frame.len", "-e", "frame.cap_len", "-e", "frame.interface_id").Output()
			if err != nil {
				t.Fatalf("tshark: %v", err)
			}
			r, err := Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			lines := strings.Split(strings.TrimSpace(string(out)), "\n")
			for i, line := range lines {
				f := strings.Split(line, "\t")
				p, err := r.Next()
				if err != nil {
					t.Fatalf("packet %d: %v", i, err)
				}
				sec, frac, _ := strings.Cut(f[0], ".")
				s, _ := strconv.ParseInt(sec, 10, 64)
				ns, _ := strconv.ParseInt((frac + "000000000")[:9], 10, 64)
				want := time.Unix(s, ns)
				orig, _ := strconv.Atoi(f[1])
				capl, _ := strconv.Atoi(f[2])
				iface := 0
				if len(f) > 3 && f[3] != "" {
					iface, _ = strconv.Atoi(f[3])
				}
				if !p.Time.Equal(want) || p.OrigLen != orig || len(p.Data) != capl || p.Interface != iface {
					t.Fatalf("packet %d: got %v %d/%d if %d, tshark %s", i, p.Time.UTC(), len(p.Data), p.OrigLen, p.Interface, line)
				}
			}
			if _, err := r.Next(); err != io.EOF {
				t.Fatalf("after %d packets: %v, want io.EOF", len(lines), err)
			}
		})
	}
}

// swapPcap rewrites a little-endian microsecond pcap as big-endian, and
// as nanosecond when nano is set.
func swapPcap(t testing.TB, le []byte, nano bool) []byte {
	t.Helper()
	L, B := binary.LittleEndian, binary.BigEndian
	if L.Uint32(le) != magicMicro {
		t.Fatal("not a little-endian microsecond pcap")
	}
	b := append([]byte(nil), le...)
	magic := uint32(magicMicro)
	if nano {
		magic = magicNano
	}
	B.PutUint32(b[0:], magic)
	B.PutUint16(b[4:], L.Uint16(le[4:]))
	B.PutUint16(b[6:], L.Uint16(le[6:]))
	for o := 8; o < 24; o += 4 {
		B.PutUint32(b[o:], L.Uint32(le[o:]))
	}
	for o := 24; o < len(le); {
		for k := 0; k < 16; k += 4 {
			B.PutUint32(b[o+k:], L.Uint32(le[o+k:]))
		}
		if nano {
			B.PutUint32(b[o+4:], L.Uint32(le[o+4:])*1000)
		}
		o += 16 + int(L.Uint32(le[o+8:]))
	}
	return b
}

func TestBigEndianAndNanosecond(t *testing.T) {
	for _, path := range testCaptures(t) {
		le, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		want := readAll(t, path, le)
		for _, nano := range []bool{false, true} {
			b := swapPcap(t, le, nano)
			got := readAll(t, path, b)
			samePackets(t, fmt.Sprintf("%s big-endian nano=%v", path, nano), got, want)
			// The rewritten file is valid for tshark too.
			if _, err := exec.LookPath("tshark"); err == nil && nano {
				tmp := filepath.Join(t.TempDir(), "be.pcap")
				os.WriteFile(tmp, b, 0o644)
				out, err := exec.Command("tshark", "-n", "-r", tmp, "-T", "fields", "-e", "frame.time_epoch").CombinedOutput()
				if err != nil || !strings.Contains(string(out), strconv.FormatInt(want[0].Time.Unix(), 10)) {
					t.Fatalf("tshark on big-endian nano file: %v\n%s", err, out)
				}
			}
		}
	}
}

// TestEditcapFormats converts real captures with editcap to pcapng and to
// nanosecond pcap and reads back the same packets.
func TestEditcapFormats(t *testing.T) {
	needTool(t, "editcap")
	files := testCaptures(t)
	dir := t.TempDir()
	for _, path := range files {
		want := readFile(t, path)
		for _, format := range []string{"pcapng", "nsecpcap", "pcap"} {
			out := filepath.Join(dir, format+"-"+filepath.Base(path))
			if b, err := exec.Command("editcap", "-F", format, path, out).CombinedOutput(); err != nil {
				t.Fatalf("editcap: %v\n%s", err, b)
			}
			r, err := Open(out)
			if err != nil {
				t.Fatal(err)
			}
			wantFormat := FormatPcap
			if format == "pcapng" {
				wantFormat = FormatPcapNG
			}
			if r.Format() != wantFormat || r.LinkType() != t2t.LinkEthernet {
				t.Fatalf("%s: format %v link %v", out, r.Format(), r.LinkType())
			}
			got, err := r.ReadAll()
			r.Close()
			if err != nil {
				t.Fatal(err)
			}
			samePackets(t, out, got, want)
		}
	}
}

// ng builds pcapng blocks in a byte order.
type ng struct {
	o interface {
		binary.ByteOrder
		binary.AppendByteOrder
	}
	b []byte
}

func (n *ng) u16(v uint16) { n.b = n.o.AppendUint16(n.b, v) }
func (n *ng) u32(v uint32) { n.b = n.o.AppendUint32(n.b, v) }

// block appends a block of type typ around body (padded to 4 bytes).
func (n *ng) block(typ uint32, body []byte) {
	for len(body)%4 != 0 {
		body = append(body, 0)
	}
	total := uint32(12 + len(body))
	n.u32(typ)
	n.u32(total)
	n.b = append(n.b, body...)
	n.u32(total)
}

func (n *ng) shb() {
	var b []byte
	b = n.o.AppendUint32(b, ngByteOrderMagic)
	b = n.o.AppendUint16(b, 1)
	b = n.o.AppendUint16(b, 0)
	b = n.o.AppendUint64(b, ^uint64(0))
	n.block(magicNG, b)
}

func (n *ng) opt(b []byte, code uint16, v []byte) []byte {
	b = n.o.AppendUint16(b, code)
	b = n.o.AppendUint16(b, uint16(len(v)))
	b = append(b, v...)
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	return b
}

func (n *ng) idb(link t2t.LinkType, snaplen uint32, tsresol int, tsoffset int64) {
	var b []byte
	b = n.o.AppendUint16(b, uint16(link))
	b = n.o.AppendUint16(b, 0)
	b = n.o.AppendUint32(b, snaplen)
	b = n.opt(b, 2, []byte("eth0")) // if_name, ignored
	if tsresol >= 0 {
		b = n.opt(b, 9, []byte{byte(tsresol)})
	}
	if tsoffset != 0 {
		b = n.opt(b, 14, n.o.AppendUint64(nil, uint64(tsoffset)))
	}
	b = n.opt(b, 0, nil)
	n.block(blockIDB, b)
}

func (n *ng) epb(id uint32, ts uint64, data []byte, orig int) {
	var b []byte
	b = n.o.AppendUint32(b, id)
	b = n.o.AppendUint32(b, uint32(ts>>32))
	b = n.o.AppendUint32(b, uint32(ts))
	b = n.o.AppendUint32(b, uint32(len(data)))
	b = n.o.AppendUint32(b, uint32(orig))
	b = append(b, data...)
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	b = n.opt(b, 1, []byte("comment")) // opt_comment, ignored
	n.block(blockEPB, b)
}

func (n *ng) opb(id uint16, ts uint64, data []byte) {
	var b []byte
	b = n.o.AppendUint16(b, id)
	b = n.o.AppendUint16(b, 0)
	b = n.o.AppendUint32(b, uint32(ts>>32))
	b = n.o.AppendUint32(b, uint32(ts))
	b = n.o.AppendUint32(b, uint32(len(data)))
	b = n.o.AppendUint32(b, uint32(len(data)))
	b = append(b, data...)
	n.block(blockOPB, b)
}

func (n *ng) spb(data []byte, orig int) {
	b := n.o.AppendUint32(nil, uint32(orig))
	b = append(b, data...)
	n.block(blockSPB, b)
}

// handBuiltNG returns a pcapng file of two sections (little- then
// big-endian) whose interfaces have different link types, resolutions and
// offsets, with the packets it must read as.
func handBuiltNG(t testing.TB) ([]byte, []Packet) {
	src := readFile(t, "../testdata/captures/dns-200.pcap")
	eth := src[0].Data
	raw := src[1].Data[14:] // the IPv4 packet of an Ethernet frame
	var want []Packet
	add := func(p Packet) { want = append(want, p) }

	n := &ng{o: binary.LittleEndian}
	n.shb()
	n.idb(t2t.LinkEthernet, 0, 9, 0)                       // nanoseconds
	n.block(0x00000005, make([]byte, 12))                  // interface statistics: skipped
	n.idb(t2t.LinkRaw, 1500, 0x80|10, 1000)                // 2^-10 s, +1000 s
	n.epb(1, 1_700_000_000<<10|512, raw, len(raw))         // half a second
	n.epb(0, 1_700_000_000_123_456_789, eth, len(eth)+100) // orig longer than captured
	n.block(0x40000BAD, []byte("custom block, skipped"))   // custom block
	n.opb(1, 1_700_000_001<<10|1, raw)                     // 1/1024 s
	n.spb(eth, len(eth))                                   // SPB: interface 0, no time
	off2 := len(n.b)
	n.o = binary.BigEndian
	n.shb()
	n.idb(t2t.LinkIPv4, 0, -1, 0) // default microseconds
	n.idb(t2t.LinkEthernet, 0, 3, -5)
	n.epb(1, 1_700_000_002_250, eth, len(eth))
	n.epb(0, 1_700_000_003_000_001, raw, len(raw))

	add(Packet{Time: time.Unix(1_700_001_000, 500_000_000), Data: raw, OrigLen: len(raw), Link: t2t.LinkRaw, Interface: 1})
	add(Packet{Time: time.Unix(1_700_000_000, 123_456_789), Data: eth, OrigLen: len(eth) + 100, Link: t2t.LinkEthernet})
	add(Packet{Time: time.Unix(1_700_001_001, 976_562), Data: raw, OrigLen: len(raw), Link: t2t.LinkRaw, Interface: 1})
	add(Packet{Data: eth, OrigLen: len(eth), Link: t2t.LinkEthernet})
	add(Packet{Time: time.Unix(1_700_000_002-5, 250_000_000), Data: eth, OrigLen: len(eth), Link: t2t.LinkEthernet, Interface: 1})
	add(Packet{Time: time.Unix(1_700_000_003, 1000), Data: raw, OrigLen: len(raw), Link: t2t.LinkIPv4})
	_ = off2
	return n.b, want
}

func TestPcapNGHandBuilt(t *testing.T) {
	b, want := handBuiltNG(t)
	r, err := NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	if r.Format() != FormatPcapNG || r.LinkType() != t2t.LinkEthernet {
		t.Fatalf("format %v link %v", r.Format(), r.LinkType())
	}
	got, err := r.ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	samePackets(t, "hand-built pcapng", got, want)
	for i := range got {
		if got[i].Interface != want[i].Interface {
			t.Errorf("packet %d: interface %d, want %d", i, got[i].Interface, want[i].Interface)
		}
		// Offset points at the block: its type word is a packet block type.
		typ := binary.LittleEndian.Uint32(b[got[i].Offset:])
		if i >= 4 {
			typ = binary.BigEndian.Uint32(b[got[i].Offset:])
		}
		if typ != blockEPB && typ != blockOPB && typ != blockSPB {
			t.Errorf("packet %d: offset %d holds block type %#x", i, got[i].Offset, typ)
		}
	}
	// tshark agrees on the times and interfaces.
	if _, err := exec.LookPath("tshark"); err == nil {
		tmp := filepath.Join(t.TempDir(), "hand.pcapng")
		os.WriteFile(tmp, b, 0o644)
		out, err := exec.Command("tshark", "-n", "-r", tmp, "-T", "fields", "-e", "frame.time_epoch", "-e", "frame.interface_id").CombinedOutput()
		if err != nil {
			t.Fatalf("tshark: %v\n%s", err, out)
		}
		lines := strings.Split(strings.TrimSpace(string(out)), "\n")
		var tl []string
		for _, l := range lines {
			// tshark shows the custom block as a record with no fields
			if !strings.HasPrefix(l, "Running as") && strings.TrimSpace(l) != "" {
				tl = append(tl, l)
			}
		}
		if len(tl) != len(want) {
			t.Fatalf("tshark reads %d packets, want %d:\n%s", len(tl), len(want), out)
		}
		for i, l := range tl {
			if i == 3 {
				continue // SPB: no timestamp
			}
			ts := fmt.Sprintf("%d.%09d\t%d", want[i].Time.Unix(), want[i].Time.Nanosecond(), want[i].Interface)
			if l != ts {
				t.Errorf("packet %d: tshark %q, want %q", i, l, ts)
			}
		}
	}
}

// blockEnds returns the offsets at which a file may end cleanly: after the
// file header or a section header, and after each record or block. b is
// a little-endian pcap or a pcapng file.
func blockEnds(b []byte) map[int]bool {
	ends := map[int]bool{}
	if binary.LittleEndian.Uint32(b) != magicNG {
		for off := 24; off <= len(b); {
			ends[off] = true
			if off+16 > len(b) {
				break
			}
			off += 16 + int(binary.LittleEndian.Uint32(b[off+8:]))
		}
		return ends
	}
	var o binary.ByteOrder = binary.LittleEndian
	for off := 0; off+12 <= len(b); {
		if binary.LittleEndian.Uint32(b[off:]) == magicNG {
			o = binary.LittleEndian
			if binary.LittleEndian.Uint32(b[off+8:]) != ngByteOrderMagic {
				o = binary.BigEndian
			}
		}
		off += int(o.Uint32(b[off+4:]))
		ends[off] = true
	}
	return ends
}

// TestTruncated cuts files at every offset: each prefix must read as the
// packets it holds whole, then io.EOF exactly at a record or block
// boundary, and otherwise a *FormatError wrapping io.ErrUnexpectedEOF
// whose message names its offset. None may panic.
func TestTruncated(t *testing.T) {
	pcapFull, _ := os.ReadFile("../testdata/captures/dns-200.pcap")
	// the header and the first 6 records
	n := 24
	for range 6 {
		n += 16 + int(binary.LittleEndian.Uint32(pcapFull[n+8:]))
	}
	ngFile, _ := handBuiltNG(t)
	cases := []struct {
		name string
		b    []byte
		ends map[int]bool
	}{
		{"pcap", pcapFull[:n], blockEnds(pcapFull[:n])},
		{"be-nano", swapPcap(t, pcapFull[:n], true), blockEnds(pcapFull[:n])},
		{"pcapng", ngFile, blockEnds(ngFile)},
	}
	for _, c := range cases {
		full := readAll(t, c.name, c.b)
		if !c.ends[len(c.b)] || len(c.ends) < 7 {
			t.Fatalf("%s: bad boundaries %v", c.name, c.ends)
		}
		for cut := 0; cut < len(c.b); cut++ {
			r, err := NewReader(bytes.NewReader(c.b[:cut]))
			var k int
			for err == nil {
				var p Packet
				p, err = r.Next()
				if err == nil {
					if k >= len(full) || !bytes.Equal(p.Data, full[k].Data) || p.Offset != full[k].Offset {
						t.Fatalf("%s cut %d: packet %d differs", c.name, cut, k)
					}
					k++
				}
			}
			whole := 0 // packets that lie wholly in the prefix
			for _, p := range full {
				if int(p.Offset) < cut {
					whole++
				}
			}
			if err == io.EOF {
				if !c.ends[cut] {
					t.Fatalf("%s cut %d: clean EOF after %d packets, not at a boundary", c.name, cut, k)
				}
				if k != whole {
					t.Fatalf("%s cut %d: %d packets, want %d", c.name, cut, k, whole)
				}
				continue
			}
			if c.ends[cut] {
				t.Fatalf("%s cut %d: %v at a block boundary", c.name, cut, err)
			}
			var fe *FormatError
			if !errors.As(err, &fe) || !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Fatalf("%s cut %d: %v, want a FormatError wrapping io.ErrUnexpectedEOF", c.name, cut, err)
			}
			if fe.Offset > int64(cut) || !strings.Contains(err.Error(), fmt.Sprintf("offset %d: truncated", fe.Offset)) {
				t.Fatalf("%s cut %d: error %q", c.name, cut, err)
			}
		}
	}
}

func TestCorrupt(t *testing.T) {
	pcapFull, _ := os.ReadFile("../testdata/captures/dns-200.pcap")
	first := 24 + 16 + int(binary.LittleEndian.Uint32(pcapFull[24+8:]))
	mod := func(b []byte, f func([]byte)) []byte {
		c := append([]byte(nil), b...)
		f(c)
		return c
	}
	L := binary.LittleEndian
	ngFile, _ := handBuiltNG(t)
	idb := 28 // offset of the first IDB in the hand-built file
	idbLen := int(L.Uint32(ngFile[idb+4:]))
	cases := []struct {
		name string
		b    []byte
		want string
	}{
		{"bad magic", mod(pcapFull, func(b []byte) { copy(b, "GIF8") }), "offset 0: unknown magic number 0x47494638"},
		{"second record", mod(pcapFull, func(b []byte) { L.PutUint32(b[first+8:], 270000) }), fmt.Sprintf("offset %d: record length 270000 exceeds the 262144-byte limit", first)},
		{"huge caplen", mod(pcapFull, func(b []byte) { L.PutUint32(b[16:], 0); L.PutUint32(b[24+8:], 0xfffffff0) }), "offset 24: record length 4294967280 exceeds the 262144-byte limit"},
		{"pcap version", mod(pcapFull, func(b []byte) { L.PutUint16(b[4:], 3) }), "offset 0: unsupported pcap version 3.4"},
		{"ng length not multiple of 4", mod(ngFile, func(b []byte) { L.PutUint32(b[idb+4:], uint32(idbLen+2)) }), fmt.Sprintf("offset %d: pcapng block length %d is not a multiple of 4", idb, idbLen+2)},
		{"ng trailing length", mod(ngFile, func(b []byte) { L.PutUint32(b[idb+idbLen-4:], 8) }), fmt.Sprintf("offset %d: pcapng trailing block length 8 does not match leading length %d", idb, idbLen)},
		{"ng huge block", mod(ngFile, func(b []byte) { L.PutUint32(b[idb+4:], 0x7ffffff0) }), fmt.Sprintf("offset %d: pcapng block length 2147483632 exceeds", idb)},
		{"ng short block", mod(ngFile, func(b []byte) { L.PutUint32(b[idb+4:], 8) }), fmt.Sprintf("offset %d: pcapng block length 8 is shorter", idb)},
		{"ng byte-order magic", mod(ngFile, func(b []byte) { L.PutUint32(b[8:], 0x12345678) }), "offset 0: bad pcapng byte-order magic 0x78563412"},
		{"ng unknown interface", mod(ngFile, func(b []byte) {
			// the first EPB follows the IDB, the ISB and the second IDB
			o := idb + idbLen
			o += int(L.Uint32(b[o+4:]))
			o += int(L.Uint32(b[o+4:]))
			L.PutUint32(b[o+8:], 7)
		}), "refers to interface 7, but the section describes 2"},
	}
	for _, c := range cases {
		path := filepath.Join(t.TempDir(), "bad.pcap")
		if err := os.WriteFile(path, c.b, 0o644); err != nil {
			t.Fatal(err)
		}
		r, err := Open(path)
		if err == nil {
			_, err = r.ReadAll()
			r.Close()
		}
		var fe *FormatError
		if !errors.As(err, &fe) {
			t.Errorf("%s: %v, want a *FormatError", c.name, err)
			continue
		}
		if msg := err.Error(); !strings.HasPrefix(msg, "pcapio: "+path+": offset ") || !strings.Contains(msg, c.want) {
			t.Errorf("%s: error %q, want it to name the file and contain %q", c.name, msg, c.want)
		}
	}
}

// TestReaderZeroAlloc checks that Next does not allocate in steady state.
func TestReaderZeroAlloc(t *testing.T) {
	for _, path := range []string{"../testdata/captures/http-200.pcap", "ng"} {
		var b []byte
		if path != "ng" {
			b, _ = os.ReadFile(path)
		}
		if path == "ng" {
			// one interface, many packets
			src := readFile(t, "../testdata/captures/http-200.pcap")
			n := &ng{o: binary.LittleEndian}
			n.shb()
			n.idb(t2t.LinkEthernet, 0, 9, 0)
			for i, p := range src {
				n.epb(0, uint64(i), p.Data, p.OrigLen)
			}
			b = n.b
		}
		br := bytes.NewReader(b)
		r, err := NewReader(br)
		if err != nil {
			t.Fatal(err)
		}
		allocs := testing.AllocsPerRun(1000, func() {
			if _, err := r.Next(); err == io.EOF {
				br.Reset(b)
				r, _ = NewReader(br) // restarting allocates; rare
			}
		})
		if allocs > 0.05 {
			t.Errorf("%s: %.2f allocations per packet", path, allocs)
		}
	}
}

// TestOverSnaplen: records longer than the file's snaplen (zeek's
// krb/smb2_krb.pcap, trunc/trunc-hdr.pcap) are read whole, as libpcap and
// tshark read them, and counted (issue 17, item 7).
func TestOverSnaplen(t *testing.T) {
	b, err := os.ReadFile("../testdata/captures/dns-200.pcap")
	if err != nil {
		t.Fatal(err)
	}
	b = append([]byte(nil), b...)
	binary.LittleEndian.PutUint32(b[16:], 64) // snaplen 64
	want := 0
	for o := 24; o < len(b); {
		n := int(binary.LittleEndian.Uint32(b[o+8:]))
		if n > 64 {
			want++
		}
		o += 16 + n
	}
	path := filepath.Join(t.TempDir(), "short-snaplen.pcap")
	os.WriteFile(path, b, 0o644)
	r, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	ps, err := r.ReadAll()
	r.Close()
	if err != nil || len(ps) != 200 || want == 0 || r.OverSnaplen() != want {
		t.Fatalf("%d packets, %d over the snaplen (want %d): %v", len(ps), r.OverSnaplen(), want, err)
	}
	_, st, err := AssembleFile(path, FlowOptions{})
	if err != nil || st.OverSnaplen != want || st.Packets != 200 {
		t.Fatalf("stats %+v: %v", st, err)
	}

	n := &ng{o: binary.LittleEndian}
	n.shb()
	n.idb(t2t.LinkEthernet, 16, -1, 0)
	n.epb(0, 1e6, make([]byte, 40), 40)
	r, err = NewReader(bytes.NewReader(n.b))
	if err != nil {
		t.Fatal(err)
	}
	if ps, err := r.ReadAll(); err != nil || len(ps) != 1 || len(ps[0].Data) != 40 || r.OverSnaplen() != 1 {
		t.Fatalf("pcapng packet over its interface's snaplen: %v", err)
	}
}

// TestTSOffsetOverflow: an if_tsoffset that overflows the seconds is an
// error, not a time with negative seconds (issue 17, item 12).
func TestTSOffsetOverflow(t *testing.T) {
	for _, off := range []int64{math.MaxInt64, math.MaxInt64 - 10} {
		n := &ng{o: binary.LittleEndian}
		n.shb()
		n.idb(t2t.LinkEthernet, 0, 0, off) // resolution 1 s
		n.epb(0, 1000, make([]byte, 40), 40)
		r, err := NewReader(bytes.NewReader(n.b))
		if err != nil {
			t.Fatal(err)
		}
		ps, err := r.ReadAll()
		if err == nil || !strings.Contains(err.Error(), "out of range") {
			t.Errorf("if_tsoffset %d: %v, times %v", off, err, ps)
		}
	}
	n := &ng{o: binary.LittleEndian}
	n.shb()
	n.idb(t2t.LinkEthernet, 0, 0, -100)
	n.epb(0, 1000, make([]byte, 40), 40)
	r, _ := NewReader(bytes.NewReader(n.b))
	if ps, err := r.ReadAll(); err != nil || ps[0].Time.Unix() != 900 {
		t.Errorf("negative if_tsoffset: %v", err)
	}
}
