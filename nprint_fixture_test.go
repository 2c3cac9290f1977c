package t2t_test

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"os"
	"path/filepath"
	"regexp"
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
	return encodePcapGoWith(t, path, spec, o, t2t.EncoderOptions{}, nil)
}

// encodePcapGoWith is encodePcapGo with encoder options and a function
// that sets the CSV writer's fields (nil: none).
func encodePcapGoWith(t *testing.T, path string, spec t2t.LayoutSpec, o t2t.CSVOptions, eo t2t.EncoderOptions, set func(*t2t.CSVWriter)) []byte {
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
	enc := t2t.NewEncoder(l, eo)
	var out bytes.Buffer
	w := t2t.NewCSVWriter(&out, l, o)
	if set != nil {
		set(w)
	}
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

// TestNPrintFixturesOutputOptions checks the library's side of nPrint's
// -F (CSVWriter.Fill, f6), -x (CSVWriter.Omit, f7) and of the payload
// nPrint reads past a snapped packet (EncoderOptions.ZeroSnappedPayload,
// f9) against nPrint 1.2.1's output.
func TestNPrintFixturesOutputOptions(t *testing.T) {
	dir := "testdata/nprint/captures"
	v4 := t2t.LayoutSpec{IPv4: true, TCP: true, UDP: true, ICMP: true}
	f7 := regexp.MustCompile(`^(?:ipv4_(ttl|id)_.*|tcp_(seq|ackn)_.*)$`)
	snap := t2t.LayoutSpec{IPv4: true, TCP: true, UDP: true, Payload: 300}
	for _, class := range []string{"dns", "http", "icmp", "ntp", "redis", "sip", "ssh"} {
		pcap := "testdata/captures/" + class + "-200.pcap"
		want := func(fl string) []byte { return readGz(t, filepath.Join(dir, class+"-200."+fl+".nprint.gz")) }
		t.Run(class+".f6", func(t *testing.T) {
			got := encodePcapGoWith(t, pcap, t2t.NPrintSpec, t2t.CSVOptions{}, t2t.EncoderOptions{}, func(w *t2t.CSVWriter) { w.Fill = 0 })
			if w := want("f6"); !bytes.Equal(got, w) {
				t.Fatalf("Fill 0 differs from nPrint -F 0: %s", firstDiff(got, w))
			}
		})
		t.Run(class+".f7", func(t *testing.T) {
			got := encodePcapGoWith(t, pcap, v4, t2t.CSVOptions{}, t2t.EncoderOptions{}, func(w *t2t.CSVWriter) { w.Omit = f7.MatchString })
			if w := want("f7"); !bytes.Equal(got, w) {
				t.Fatalf("Omit differs from nPrint -x: %s", firstDiff(got, w))
			}
		})
		t.Run(class+".f9", func(t *testing.T) {
			vacant := encodePcapGo(t, pcap, snap, t2t.CSVOptions{})
			zero := encodePcapGoWith(t, pcap, snap, t2t.CSVOptions{}, t2t.EncoderOptions{ZeroSnappedPayload: true}, nil)
			if model := encodePcapGoWith(t, pcap, snap, t2t.CSVOptions{}, t2t.ModelEncoderOptions(), nil); !bytes.Equal(model, vacant) {
				t.Fatal("ModelEncoderOptions encode a snapped payload otherwise than the zero options (vacant)")
			}
			read, same, err := compareSnapped(zero, vacant, want("f9"))
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%d payload bytes nPrint read past the capture, %d of them 0 as ZeroSnappedPayload writes", read, same)
		})
	}
}

// compareSnapped checks a CSV encoded with ZeroSnappedPayload (zero)
// against nPrint's (want), with the same encoded without it (vacant):
// they are the same but where nPrint read a payload byte past the end of
// the capture, which vacant writes as -1, zero as 0 and nPrint as what it
// read there. It returns how many such bytes there are and how many of
// them nPrint read as 0.
func compareSnapped(zero, vacant, want []byte) (read, same int, err error) {
	zl, vl, wl := strings.Split(string(zero), "\n"), strings.Split(string(vacant), "\n"), strings.Split(string(want), "\n")
	if len(zl) != len(wl) || len(vl) != len(wl) {
		return 0, 0, errors.New("line counts differ: " + firstDiff(zero, want))
	}
	hdr := strings.Split(wl[0], ",")
	for i := range wl {
		if zl[i] == wl[i] && vl[i] == wl[i] {
			continue
		}
		zc, vc, wc := strings.Split(zl[i], ","), strings.Split(vl[i], ","), strings.Split(wl[i], ",")
		if len(zc) != len(wc) || len(vc) != len(wc) {
			return 0, 0, errors.New("line " + strconv.Itoa(i+1) + ": column counts differ")
		}
		for j := range wc {
			if zc[j] == wc[j] && vc[j] == wc[j] {
				continue
			}
			where := "line " + strconv.Itoa(i+1) + " column " + hdr[j] + ": "
			switch {
			case !strings.HasPrefix(hdr[j], "payload_bit_"):
				return 0, 0, errors.New(where + "differs outside the payload")
			case vc[j] != "-1" || zc[j] != "0" || wc[j] == "-1":
				return 0, 0, errors.New(where + "got " + zc[j] + " (" + vc[j] + " without the option), nPrint " + wc[j] + ": not a byte read past the capture")
			}
			if n, _ := strconv.Atoi(strings.TrimPrefix(hdr[j], "payload_bit_")); n%8 == 7 {
				read++
				if strings.Join(wc[j-7:j+1], "") == "00000000" {
					same++
				}
			}
		}
	}
	return read, same, nil
}

// TestZeroSnappedPayload: a UDP packet whose IP header claims 100 bytes,
// captured to 40 (12 payload bytes), in a layout of 80 payload bytes: the
// 12 bytes held, then 60 bytes of 0 up to the 72 the header claims (with
// the option) or vacant (without), then vacant to the block's end.
func TestZeroSnappedPayload(t *testing.T) {
	ip := make([]byte, 40)
	ip[0], ip[3], ip[9] = 0x45, 100, t2t.ProtoUDP
	for i := 28; i < 40; i++ {
		ip[i] = 0xff
	}
	l := t2t.LayoutSpec{UDP: true, Payload: 80}.MustLayout()
	p0, _, _ := l.Field("payload_bit")
	for _, on := range []bool{false, true} {
		row := make([]int8, l.Width())
		if _, err := t2t.NewEncoder(l, t2t.EncoderOptions{ZeroSnappedPayload: on}).Encode(row, t2t.LinkRaw, ip); err != nil {
			t.Fatal(err)
		}
		for k := 0; k < 80; k++ {
			want := int8(-1)
			switch {
			case k < 12:
				want = 1
			case k < 72 && on:
				want = 0
			}
			for _, v := range row[p0+8*k : p0+8*k+8] {
				if v != want {
					t.Fatalf("ZeroSnappedPayload %v: payload byte %d has bit %d, want %d", on, k, v, want)
				}
			}
		}
	}
}
