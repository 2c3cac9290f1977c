package t2t_test

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/google/gopacket/pcapgo"

	"t2t"
)

// fixtureFlags parses an nPrint command line of FLAGS.tsv.
func fixtureFlags(t *testing.T, cmd string) (t2t.LayoutSpec, t2t.CSVOptions) {
	var s t2t.LayoutSpec
	var o t2t.CSVOptions
	f := strings.Fields(cmd)
	for i := 0; i < len(f); i++ {
		switch f[i] {
		case "-e":
			s.Eth = true
		case "-4":
			s.IPv4 = true
		case "-6":
			s.IPv6 = true
		case "-t":
			s.TCP = true
		case "-u":
			s.UDP = true
		case "-i":
			s.ICMP = true
		case "-R":
			o.Time = t2t.TimeRelative
		case "-A":
			o.Time = t2t.TimeAbsolute
		case "-p", "-O":
			n, err := strconv.Atoi(f[i+1])
			if err != nil {
				t.Fatal(err)
			}
			if f[i] == "-p" {
				s.Payload = n
			} else {
				o.Key = t2t.KeyKind(n)
			}
			i++
		case "-P", "-W":
			i++
		}
	}
	return s, o
}

func readFlags(t *testing.T, path string) map[string]string {
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		k, v, _ := strings.Cut(line, "\t")
		m[k] = v
	}
	return m
}

// encodePcapGo encodes a pcap with gopacket's reader (an independent
// oracle for pcapio) and returns the CSV.
func encodePcapGo(t *testing.T, path string, spec t2t.LayoutSpec, o t2t.CSVOptions) []byte {
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var next func() ([]byte, t2t.LinkType, error)
	var ts func() int64
	_ = ts
	r, err := pcapgo.NewReader(f)
	var times []int64
	if err == nil {
		next = func() ([]byte, t2t.LinkType, error) {
			d, ci, err := r.ReadPacketData()
			times = append(times, ci.Timestamp.UnixMicro())
			return d, t2t.LinkType(r.LinkType()), err
		}
	} else {
		f.Seek(0, 0)
		ng, err := pcapgo.NewNgReader(f, pcapgo.DefaultNgReaderOptions)
		if err != nil {
			t.Fatal(err)
		}
		next = func() ([]byte, t2t.LinkType, error) {
			d, ci, err := ng.ReadPacketData()
			times = append(times, ci.Timestamp.UnixMicro())
			return d, t2t.LinkType(ng.LinkType()), err
		}
	}
	l := spec.MustLayout()
	enc := t2t.NewEncoder(l, t2t.EncoderOptions{})
	var out bytes.Buffer
	w := t2t.NewCSVWriter(&out, l, o)
	row := make([]int8, l.Width())
	var key []byte
	for {
		d, link, err := next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		info, err := enc.Encode(row, link, d)
		if errors.Is(err, t2t.ErrSkip) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		key = o.Key.AppendKey(key[:0], &info)
		_ = key
		if err := w.WriteRow(key, unixMicro(times[len(times)-1]), row); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

func readGz(t testing.TB, path string) []byte {
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var r io.Reader = f
	if strings.HasSuffix(path, ".gz") {
		z, err := gzip.NewReader(f)
		if err != nil {
			t.Fatal(err)
		}
		r = z
	}
	b, err := io.ReadAll(bufio.NewReader(r))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// firstDiff describes where two CSVs differ.
func firstDiff(got, want []byte) string {
	gl := strings.Split(string(got), "\n")
	wl := strings.Split(string(want), "\n")
	hdr := strings.Split(wl[0], ",")
	for i := 0; i < len(gl) && i < len(wl); i++ {
		if gl[i] != wl[i] {
			gc := strings.Split(gl[i], ",")
			wc := strings.Split(wl[i], ",")
			for j := 0; j < len(gc) && j < len(wc); j++ {
				if gc[j] != wc[j] {
					name := "?"
					if j < len(hdr) {
						name = hdr[j]
					}
					return "line " + strconv.Itoa(i+1) + " column " + strconv.Itoa(j+1) + " (" + name + "): got " + gc[j] + ", want " + wc[j] + " (key " + wc[0] + ")"
				}
			}
			return "line " + strconv.Itoa(i+1) + ": got " + strconv.Itoa(len(gc)) + " columns, want " + strconv.Itoa(len(wc))
		}
	}
	return "got " + strconv.Itoa(len(gl)) + " lines, want " + strconv.Itoa(len(wl))
}

func TestNPrintFixturesCaptures(t *testing.T) {
	dir := "testdata/nprint/captures"
	flags := readFlags(t, filepath.Join(dir, "FLAGS.tsv"))
	for _, class := range []string{"dns", "http", "icmp", "ntp", "redis", "sip", "ssh"} {
		for _, fl := range []string{"f1", "f2", "f3", "f4", "f5"} {
			t.Run(class+"."+fl, func(t *testing.T) {
				spec, o := fixtureFlags(t, flags[fl])
				got := encodePcapGo(t, "testdata/captures/"+class+"-200.pcap", spec, o)
				want := readGz(t, filepath.Join(dir, class+"-200."+fl+".nprint.gz"))
				if !bytes.Equal(got, want) {
					t.Fatalf("differs from nPrint: %s", firstDiff(got, want))
				}
			})
		}
	}
}

func TestNPrintFixturesPublic(t *testing.T) {
	dir := "../shared/fixtures/nprint/public"
	if _, err := os.Stat(dir); err != nil {
		t.Skip("public fixtures not present:", err)
	}
	flags := readFlags(t, filepath.Join(dir, "FLAGS.tsv"))
	files := readFlags(t, filepath.Join(dir, "FILES.tsv"))
	for name, pcap := range files {
		for _, fl := range []string{"f1", "f6"} {
			t.Run(name+"."+fl, func(t *testing.T) {
				spec, o := fixtureFlags(t, flags[fl])
				got := encodePcapGo(t, filepath.Join("../shared/data/public", pcap), spec, o)
				want := readGz(t, filepath.Join(dir, name+"."+fl+".nprint"))
				if n := maskOverRead(got, want); n > 0 {
					t.Logf("%d payload bytes that nPrint read past the packet (IPv6+TCP payload offset bug) ignored", n)
					got = want // maskOverRead checked every other column
				}
				if !bytes.Equal(got, want) {
					t.Fatalf("differs from nPrint: %s", firstDiff(got, want))
				}
			})
		}
	}
}

// maskOverRead compares two CSVs that have payload columns and differ only
// where nPrint 1.2.1 read an IPv6+TCP payload past the end of the packet
// (it offsets the payload by 20*doff*4 bytes): there t2t writes vacant
// bytes and nPrint whatever memory followed the packet. It returns the
// number of such bytes, or 0 when the CSVs differ anywhere else or have no
// such bytes.
func maskOverRead(got, want []byte) int {
	gl := strings.Split(string(got), "\n")
	wl := strings.Split(string(want), "\n")
	if len(gl) != len(wl) {
		return 0
	}
	hdr := strings.Split(wl[0], ",")
	p0 := -1
	for j, h := range hdr {
		if h == "payload_bit_0" {
			p0 = j
			break
		}
	}
	if p0 < 0 {
		return 0
	}
	n := 0
	for i := range gl {
		if gl[i] == wl[i] {
			continue
		}
		gc, wc := strings.Split(gl[i], ","), strings.Split(wl[i], ",")
		if len(gc) != len(wc) || !strings.Contains(wc[0], ":") || !strings.HasSuffix(wc[0], "_TCP") {
			return 0
		}
		for j := range gc {
			if gc[j] == wc[j] {
				continue
			}
			if j < p0 || gc[j] != "-1" {
				return 0
			}
			if (j-p0)%8 == 0 {
				n++
			}
		}
	}
	return n
}
