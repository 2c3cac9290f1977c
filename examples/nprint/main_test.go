package main

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"t2t"
	"t2t/pcapio"
)

var classes = []string{"dns", "http", "icmp", "ntp", "redis", "sip", "ssh"}

// flagSets reads nPrint's command lines of FLAGS.tsv, without the input
// and output files (the tests name them) and without f10's redirection.
func flagSets(t *testing.T) map[string][]string {
	b, err := os.ReadFile("../../testdata/nprint/captures/FLAGS.tsv")
	if err != nil {
		t.Fatal(err)
	}
	m := map[string][]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		name, cmd, _ := strings.Cut(line, "\t")
		cmd, _, _ = strings.Cut(cmd, " > ") // f10: what -S prints
		var args []string
		f := shellWords(cmd)[1:] // drop "nprint"
		for i := 0; i < len(f); i++ {
			switch {
			case f[i] == "-P" || f[i] == "-W":
				i++
			case strings.HasPrefix(f[i], "--pcap_file=") || strings.HasPrefix(f[i], "--write_file="):
			default:
				args = append(args, f[i])
			}
		}
		m[name] = args
	}
	return m
}

// shellWords splits a command line at spaces, as a shell does with
// single quotes.
func shellWords(s string) []string {
	var words []string
	var w strings.Builder
	in, quoted := false, false
	for _, r := range s {
		switch {
		case r == '\'':
			quoted, in = !quoted, true
		case r == ' ' && !quoted:
			if in {
				words = append(words, w.String())
				w.Reset()
			}
			in = false
		default:
			w.WriteRune(r)
			in = true
		}
	}
	if in {
		words = append(words, w.String())
	}
	return words
}

func gunzip(t *testing.T, path string) []byte {
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	z, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(z)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestSameAsNPrint runs the command with nPrint's own flag sets on the
// committed captures and compares with nPrint 1.2.1's output: the CSV
// byte for byte (f1 to f8), what -S prints (f10), and for f9 (-p 300 on
// captures with a snap length) the CSV byte for byte but where nPrint
// read payload bytes past the end of the captured packet: there nprint
// writes 0 (compareSnapped).
func TestSameAsNPrint(t *testing.T) {
	dir := "../../testdata/nprint/captures/"
	for name, args := range flagSets(t) {
		for _, c := range classes {
			t.Run(c+"."+name, func(t *testing.T) {
				in := "../../testdata/captures/" + c + "-200.pcap"
				var out, stderr bytes.Buffer
				a := append([]string{"-P", in}, args...)
				if name == "f10" {
					a = append(a, "-W", filepath.Join(t.TempDir(), "x.csv"))
				}
				if err := run(a, &out, &stderr); err != nil {
					t.Fatalf("%v: %v", a, err)
				}
				switch name {
				case "f10":
					want, err := os.ReadFile(dir + c + "-200.f10.stats.txt")
					if err != nil {
						t.Fatal(err)
					}
					if stderr.String() != string(want) {
						t.Fatalf("-S printed\n%s\nnPrint 1.2.1 prints\n%s", stderr.String(), want)
					}
				case "f9":
					var vacant bytes.Buffer
					if err := run(append(a, "-snap-vacant"), &vacant, io.Discard); err != nil {
						t.Fatal(err)
					}
					read, same, err := compareSnapped(out.Bytes(), vacant.Bytes(), gunzip(t, dir+c+"-200.f9.nprint.gz"))
					if err != nil {
						t.Fatal(err)
					}
					t.Logf("%d payload bytes nPrint read past the capture, %d of them 0 as nprint writes", read, same)
				default:
					if want := gunzip(t, dir+c+"-200."+name+".nprint.gz"); !bytes.Equal(out.Bytes(), want) {
						t.Fatalf("%v: output differs from nPrint 1.2.1", args)
					}
				}
			})
		}
	}
}

// compareSnapped checks a CSV that nprint wrote (zero) against nPrint's
// (want), with the same written with -snap-vacant (vacant): they are the
// same but where nPrint read a payload byte past the end of the capture,
// which vacant writes as -1, zero as 0 and nPrint as what memory held
// there. It returns how many such bytes there are and how many of them
// nPrint read as 0.
func compareSnapped(zero, vacant, want []byte) (read, same int, err error) {
	zl, vl, wl := strings.Split(string(zero), "\n"), strings.Split(string(vacant), "\n"), strings.Split(string(want), "\n")
	if len(zl) != len(wl) || len(vl) != len(wl) {
		return 0, 0, fmt.Errorf("%d and %d lines, nPrint %d", len(zl), len(vl), len(wl))
	}
	hdr := strings.Split(wl[0], ",")
	for i := range wl {
		if zl[i] == wl[i] && vl[i] == wl[i] {
			continue
		}
		zc, vc, wc := strings.Split(zl[i], ","), strings.Split(vl[i], ","), strings.Split(wl[i], ",")
		if len(zc) != len(wc) || len(vc) != len(wc) {
			return 0, 0, fmt.Errorf("line %d: column counts differ", i+1)
		}
		for j := range wc {
			if zc[j] == wc[j] && vc[j] == wc[j] {
				continue
			}
			switch {
			case !strings.HasPrefix(hdr[j], "payload_bit_"):
				return 0, 0, fmt.Errorf("line %d column %s: differs outside the payload", i+1, hdr[j])
			case vc[j] != "-1" || zc[j] != "0" || wc[j] == "-1":
				return 0, 0, fmt.Errorf("line %d column %s: %s (%s with -snap-vacant), nPrint %s: not a byte read past the capture", i+1, hdr[j], zc[j], vc[j], wc[j])
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

func TestCount(t *testing.T) {
	var out bytes.Buffer
	if err := run([]string{"-P", "../../testdata/captures/ssh-200.pcap", "-4", "-c", "7"}, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(out.String(), "\n"); n != 8 {
		t.Fatalf("-c 7 wrote %d lines, want header + 7", n)
	}
}

type pkt struct {
	ts   time.Time
	data []byte
}

func readPcap(t *testing.T, path string) []pkt {
	r, err := pcapio.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var out []pkt
	for {
		p, err := r.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, pkt{p.Time, append([]byte(nil), p.Data...)})
	}
}

// tsharkProblems counts the packets of a pcap that tshark, with checksum
// validation on, finds malformed or with a bad checksum. It skips the test
// when tshark is not installed.
func tsharkProblems(t *testing.T, path string) int {
	if _, err := exec.LookPath("tshark"); err != nil {
		t.Skip("tshark not installed")
	}
	filter := `_ws.malformed || _ws.expert.severity == error || ip.checksum.status == "Bad" || tcp.checksum.status == "Bad" || udp.checksum.status == "Bad" || icmp.checksum.status == "Bad"`
	cmd := exec.Command("tshark", "-n", "-r", path,
		"-o", "ip.check_checksum:TRUE", "-o", "tcp.check_checksum:TRUE", "-o", "udp.check_checksum:TRUE",
		"-Y", filter, "-T", "fields", "-e", "frame.number")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("tshark on %s: %v: %s", path, err, stderr.String())
	}
	if strings.Contains(stderr.String(), "appears to have been cut short") || strings.Contains(stderr.String(), "isn't a capture file") {
		t.Fatalf("tshark on %s: %s", path, stderr.String())
	}
	return len(strings.Fields(string(out)))
}

// TestTsharkCatchesBadChecksum is the negative control of the tshark
// checks: a packet with a wrong TCP checksum is counted.
func TestTsharkCatchesBadChecksum(t *testing.T) {
	p := readPcap(t, "../../testdata/captures/http-200.pcap")[0]
	p.data[14+20+16] ^= 0xff
	path := filepath.Join(t.TempDir(), "bad.pcap")
	f, _ := os.Create(path)
	w, err := pcapio.NewWriter(f, t2t.LinkEthernet, pcapio.WriterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	w.WritePacket(p.ts, p.data)
	w.Flush()
	f.Close()
	if n := tsharkProblems(t, path); n != 1 {
		t.Fatalf("tshark flagged %d packets, want 1", n)
	}
}

// TestReverse converts pcap -> CSV -> pcap with several flag sets and
// length modes and checks that tshark finds nothing wrong, that every
// encoded packet comes back with its lengths (or, with -lengths fix, with
// lengths that match its bytes), and that times survive to the
// microsecond when the CSV has them.
func TestReverse(t *testing.T) {
	dir := t.TempDir()
	for _, fl := range [][]string{
		{"-4", "-6", "-t", "-u", "-i"},
		{"-4", "-6", "-t", "-u", "-i", "-R"},
		{"-e", "-4", "-t", "-u", "-i", "-A"},
		{"-4", "-t", "-u", "-i", "-p", "32", "-O", "4", "-R"},
	} {
		for _, mode := range []string{"snap", "fix", "pad"} {
			if testing.Short() && mode != "snap" {
				continue
			}
			for _, c := range classes {
				in := "../../testdata/captures/" + c + "-200.pcap"
				csv := filepath.Join(dir, c+".csv")
				out := filepath.Join(dir, c+".pcap")
				if err := run(append([]string{"-P", in, "-W", csv}, fl...), io.Discard, io.Discard); err != nil {
					t.Fatal(err)
				}
				if err := run([]string{"-N", csv, "-W", out, "-lengths", mode}, io.Discard, io.Discard); err != nil {
					t.Fatalf("%s %v: -N: %v", c, fl, err)
				}
				what := fmt.Sprintf("%s %v -lengths %s", c, fl, mode)
				checkReverse(t, what, in, out, lines(t, csv)-1, mode, strings.Contains(strings.Join(fl, " "), "-A"), strings.Contains(strings.Join(fl, " "), "-R"))
				// a payload cut at 32 bytes (fix) or completed with zeros
				// (pad) makes some application messages malformed (DNS,
				// NTP, SIP): tshark judges snap always, fix without payload
				if mode == "pad" || (mode == "fix" && strings.Contains(what, "-p")) {
					continue
				}
				if n := tsharkProblems(t, out); n != 0 {
					t.Errorf("%s: tshark flags %d packets", what, n)
				}
			}
		}
	}
}

func checkReverse(t *testing.T, what, in, out string, rows int, mode string, abs, rel bool) {
	orig := readPcapFull(t, in)
	got := readPcapFull(t, out)
	if len(got) != rows || rows != 200 { // every packet of these captures is IP
		t.Fatalf("%s: %d packets from %d rows, want 200", what, len(got), rows)
	}
	for i := range got {
		o, g := orig[i], got[i]
		wire := 14 + ipLen(o.Data[14:])
		switch mode {
		case "fix":
			if g.OrigLen != len(g.Data) || ipLen(g.Data[14:]) != len(g.Data)-14 {
				t.Fatalf("%s packet %d: lengths do not match its %d bytes", what, i+1, len(g.Data))
			}
		case "snap", "pad":
			if g.OrigLen != wire || ipLen(g.Data[14:]) != wire-14 {
				t.Fatalf("%s packet %d: on-wire length %d, want %d", what, i+1, g.OrigLen, wire)
			}
		}
		if len(g.Data) == g.OrigLen && !t2t.ChecksumsValid(g.Data[14:]) {
			t.Fatalf("%s packet %d: bad checksum", what, i+1)
		}
		if t2t.Checksum(g.Data[14:34]) != 0 {
			t.Fatalf("%s packet %d: bad IPv4 header checksum", what, i+1)
		}
		var want, have time.Duration
		switch {
		case abs:
			want, have = time.Duration(o.Time.UnixMicro()), time.Duration(g.Time.UnixMicro())
		case rel:
			want = o.Time.Truncate(time.Microsecond).Sub(orig[0].Time.Truncate(time.Microsecond))
			have = g.Time.Sub(got[0].Time)
		default:
			want, have = time.Duration(i)*time.Millisecond, g.Time.Sub(got[0].Time)
		}
		if want != have {
			t.Fatalf("%s packet %d: time %v, want %v", what, i+1, have, want)
		}
	}
}

// ipLen is the length an IPv4 packet's header claims.
func ipLen(ip []byte) int { return int(ip[2])<<8 | int(ip[3]) }

func readPcapFull(t *testing.T, path string) []pcapio.Packet {
	r, err := pcapio.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	ps, err := r.ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	return ps
}

func lines(t *testing.T, path string) int {
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	n := 0
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<24)
	for sc.Scan() {
		n++
	}
	return n
}

func TestBadInput(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.csv")
	os.WriteFile(bad, []byte("src_ip,ipv4_ver_0\n"), 0o644)
	trunc := filepath.Join(dir, "trunc.pcap")
	b, _ := os.ReadFile("../../testdata/captures/dns-200.pcap")
	os.WriteFile(trunc, b[:1000], 0o644)
	// a capture of a link type t2t does not know (147, user-defined)
	unknown := filepath.Join(dir, "user147.pcap")
	p := readPcap(t, "../../testdata/captures/dns-200.pcap")[0]
	f, _ := os.Create(unknown)
	w, err := pcapio.NewWriter(f, t2t.LinkType(147), pcapio.WriterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	w.WritePacket(p.ts, p.data)
	w.Flush()
	f.Close()
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"-P", trunc, "-4"}, "trunc.pcap: offset 9"},
		{[]string{"-P", unknown, "-4"}, "user147.pcap: packet at offset 24: t2t: unsupported link type 147"},
		{[]string{"-N", bad}, "bad.csv"},
		{[]string{"-P", "../../testdata/captures/dns-200.pcap"}, "no header block"},
		{[]string{"-P", "x.pcap", "-N", "y.csv"}, "exactly one"},
		{[]string{"-P", "../../testdata/captures/dns-200.pcap", "-4", "-O", "7"}, "-O 7"},
	} {
		err := run(c.args, io.Discard, io.Discard)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: error %v, want one containing %q", c.args, err, c.want)
		}
	}
}

// BenchmarkEndToEnd is the whole forward conversion (read, encode, format,
// write) with nPrint's usual flags; it reports packets per second. It runs
// on the largest seed42 capture when ../shared is present.
func BenchmarkEndToEnd(b *testing.B) {
	in := "../../../shared/data/captures-seed42/iperf_tcp.pcap"
	if _, err := os.Stat(in); err != nil {
		in = "../../testdata/captures/http-200.pcap"
	}
	r, err := pcapio.Open(in)
	if err != nil {
		b.Fatal(err)
	}
	ps, _ := r.ReadAll()
	r.Close()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := run([]string{"-P", in, "-4", "-6", "-t", "-u", "-i", "-R", "-W", os.DevNull}, io.Discard, io.Discard); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(ps)*b.N)/b.Elapsed().Seconds(), "pkts/s")
}

// TestOutputSafety: an error mid-file leaves no CSV cut mid-row (the
// output goes to a temporary file renamed on success) and an old -W
// untouched; -W naming the input is refused before the input is
// truncated; -c -1 and -p 10^8 are errors (issue 17, items 3, 8 and 12).
func TestOutputSafety(t *testing.T) {
	dir := t.TempDir()
	b, err := os.ReadFile("../../testdata/captures/dns-200.pcap")
	if err != nil {
		t.Fatal(err)
	}
	trunc := filepath.Join(dir, "trunc.pcap")
	os.WriteFile(trunc, b[:len(b)-10], 0o644) // 199 whole records, then a cut one
	out := filepath.Join(dir, "out.csv")
	if err := run([]string{"-P", trunc, "-4", "-u", "-W", out}, io.Discard, io.Discard); err == nil {
		t.Fatal("truncated capture: no error")
	}
	if _, err := os.Stat(out); err == nil {
		t.Error("an error mid-file left a CSV behind")
	}
	os.WriteFile(out, []byte("old"), 0o644)
	run([]string{"-P", trunc, "-4", "-u", "-W", out}, io.Discard, io.Discard)
	if got, _ := os.ReadFile(out); string(got) != "old" {
		t.Errorf("an error mid-file changed the old -W: %q", got)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 2 {
		t.Errorf("temporary files left: %v", ents)
	}

	in := filepath.Join(dir, "in.pcap")
	os.WriteFile(in, b, 0o644)
	link := filepath.Join(dir, "link.pcap")
	os.Symlink(in, link)
	for _, w := range []string{in, filepath.Join(dir, ".", "in.pcap"), link} {
		if err := run([]string{"-P", in, "-4", "-W", w}, io.Discard, io.Discard); err == nil || !strings.Contains(err.Error(), "input") {
			t.Errorf("-W %s, the input: %v", w, err)
		}
	}
	if got, _ := os.ReadFile(in); !bytes.Equal(got, b) {
		t.Fatal("the input was changed")
	}
	for _, args := range [][]string{{"-c", "-1"}, {"-p", "100000000"}, {"-p", "-1"}} {
		if err := run(append([]string{"-P", in, "-4", "-W", out}, args...), io.Discard, io.Discard); err == nil {
			t.Errorf("%v: no error", args)
		}
	}
}

// TestReverseIPv4OnlyWithIPv6 : -N reads back what -P -4 writes for a
// capture with IPv6 packets (rows without an IP header, which nPrint
// writes for them): the IPv4 packets come back, the others are counted
// in a warning (issue 17, item 12).
func TestReverseIPv4OnlyWithIPv6(t *testing.T) {
	dir := t.TempDir()
	ps := readPcapFull(t, "../../testdata/captures/dns-200.pcap")[:4]
	// an IPv6 UDP packet: Ethernet, IPv6 (payload 12, next header 17, hop limit 64), UDP, 4 bytes
	v6 := []byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 0x86, 0xdd,
		0x60, 0, 0, 0, 0, 12, 17, 64,
		0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1,
		0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2,
		0x30, 0x39, 0, 53, 0, 12, 0, 0, 'a', 'b', 'c', 'd'}
	v6p := ps[0]
	v6p.Data, v6p.OrigLen, v6p.Time = v6, len(v6), ps[0].Time.Add(time.Millisecond)
	mixed := append([]pcapio.Packet{ps[0], v6p}, ps[1:]...)
	in := filepath.Join(dir, "mixed.pcap")
	if err := pcapio.WriteFile(in, t2t.LinkEthernet, mixed, pcapio.WriterOptions{}); err != nil {
		t.Fatal(err)
	}
	csv, back := filepath.Join(dir, "mixed.csv"), filepath.Join(dir, "back.pcap")
	if err := run([]string{"-P", in, "-4", "-u", "-t", "-i", "-W", csv}, io.Discard, io.Discard); err != nil {
		t.Fatal(err)
	}
	if n := lines(t, csv); n != 1+len(mixed) {
		t.Fatalf("%d CSV lines for %d packets", n, len(mixed))
	}
	var warn strings.Builder
	if err := run([]string{"-N", csv, "-W", back}, io.Discard, &warn); err != nil {
		t.Fatal(err)
	}
	if got := readPcap(t, back); len(got) != len(ps) || !strings.Contains(warn.String(), "1 rows hold no IP header") {
		t.Fatalf("%d packets back of %d IPv4 ones; warning %q", len(got), len(ps), warn.String())
	}
}
