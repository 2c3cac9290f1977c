package main

import (
	"bytes"
	"encoding/hex"
	"errors"
	"flag"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"t2t"
	"t2t/internal/cli"
)

const dnsPcap = "../../testdata/captures/dns-200.pcap"

// runOut runs the command and returns what it wrote on standard output.
func runOut(t *testing.T, args ...string) string {
	t.Helper()
	var out, stderr bytes.Buffer
	if err := run(args, &out, &stderr); err != nil {
		t.Fatalf("%v: %v (%s)", args, err, stderr.String())
	}
	return out.String()
}

// TestLongAndBundledOptions: nPrint's long option names (--name value and
// --name=value) and argp's short forms (-4tui, -p32) give what the short
// options give.
func TestLongAndBundledOptions(t *testing.T) {
	want := runOut(t, "-P", dnsPcap, "-4", "-t", "-u", "-i", "-p", "32", "-R", "-O", "4", "-c", "50", "-F", "0")
	if strings.Count(want, "\n") != 51 {
		t.Fatalf("%d lines, want header + 50", strings.Count(want, "\n"))
	}
	out := filepath.Join(t.TempDir(), "sub", "out.csv") // -W makes the folder, as nPrint does
	for _, args := range [][]string{
		{"--pcap_file", dnsPcap, "--ipv4", "--tcp", "--udp", "--icmp", "--payload", "32", "--relative_timestamps", "--write_index=4", "--count", "50", "--fill_int", "0"},
		{"--pcap_file=" + dnsPcap, "--ipv4=true", "--tcp", "--udp", "--icmp", "--payload=32", "--relative_timestamps", "--write_index", "4", "--count=50", "--fill_int=0"},
		{"-P" + dnsPcap, "-4tui", "-p32", "-RO4", "-c50", "-F0"},
		{"-P", dnsPcap, "-4tuip", "32", "-R", "-O4", "-c", "50", "-F", "0"},
	} {
		if got := runOut(t, args...); got != want {
			t.Errorf("%v: output differs from the short options'", args)
		}
	}
	runOut(t, "-P", dnsPcap, "-4tuip32", "-RO4", "-c50", "-F0", "--write_file", out)
	if got, err := os.ReadFile(out); err != nil || string(got) != want {
		t.Errorf("--write_file: %v, or the file differs", err)
	}
}

// TestBadFlags: bad values are usage errors (exit 2) naming the flag.
func TestBadFlags(t *testing.T) {
	hexCSV := filepath.Join(t.TempDir(), "hex.csv")
	os.WriteFile(hexCSV, []byte("a,b,c\n"), 0o644)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"-P", dnsPcap, "-4", "-x", "ipv4_(ttl"}, `-x "ipv4_(ttl": error parsing regexp`},
		{[]string{"-P", dnsPcap, "-4", "-F", "zero"}, `invalid value "zero" for flag -F: want a whole number from -128 to 127`},
		{[]string{"-P", dnsPcap, "-4", "-F", "200"}, `invalid value "200" for flag -F`},
		{[]string{"-P", dnsPcap, "-4", "--fill_int=1.5"}, `invalid value "1.5" for flag -fill_int`},
		{[]string{"-P", dnsPcap, "-4", "--payload_bytes=3"}, "flag provided but not defined: -payload_bytes"},
		{[]string{"-P", dnsPcap, "-4", "-4tuq"}, "flag provided but not defined: -4tuq"},
		{[]string{"-d", "eth0", "-4"}, "-d eth0: live capture is not supported"},
		{[]string{"-P", dnsPcap, "-4", "--radiotap"}, "-r and -w"},
		{[]string{"-P", dnsPcap, "-4", "-O", "5"}, "-O 5"},
		{[]string{"-C", hexCSV, "-4", "-R"}, "-C: -R, -A and -O need -P"},
		{[]string{"-N", hexCSV, "-f", "udp"}, `-f "udp": a BPF filter needs -P`},
		{[]string{"-P", dnsPcap, "-C", hexCSV, "-4"}, "exactly one of -P"},
		{[]string{"-P", dnsPcap, "-4", "extra"}, `unexpected argument "extra"`},
	} {
		err := run(c.args, new(bytes.Buffer), new(bytes.Buffer))
		if err == nil || !strings.Contains(err.Error(), c.want) || cli.ExitCode(err) != 2 {
			t.Errorf("%v: error %v (exit %d), want one containing %q, exit 2", c.args, err, cli.ExitCode(err), c.want)
		}
	}
}

// TestHelp: -h and --help print the usage (what the program does, an
// example, each flag with its long name) on standard error and exit 0.
func TestHelp(t *testing.T) {
	for _, h := range []string{"-h", "--help"} {
		var stderr bytes.Buffer
		err := run([]string{h}, new(bytes.Buffer), &stderr)
		if !errors.Is(err, flag.ErrHelp) || cli.ExitCode(err) != 0 {
			t.Fatalf("%s: %v, exit %d", h, err, cli.ExitCode(err))
		}
		for _, want := range []string{"usage: nprint [flags]", "bit for bit as nPrint 1.2.1", "nprint -P in.pcap -4 -6 -t -u -i -R -W out.csv",
			"(long: --pcap_file)", "(long: --nprint_filter)", "-list-columns", "--nprint_filter_help", "-snap-vacant"} {
			if !strings.Contains(stderr.String(), want) {
				t.Errorf("%s: usage lacks %q", h, want)
			}
		}
		if strings.Contains(stderr.String(), "-pcap_file") && !strings.Contains(stderr.String(), "--pcap_file") {
			t.Errorf("%s: the long names are listed as flags of their own", h)
		}
	}
	if got := runOut(t, "--version"); !strings.Contains(got, "1.2.1") {
		t.Errorf("--version: %q", got)
	}
}

// TestColumnNames: --nprint_filter_help lists nPrint's fields in nPrint's
// format (with tcp_fin, which nPrint's list leaves out); -list-columns
// prints the header -W gets, one name a line, -x applied.
func TestColumnNames(t *testing.T) {
	help := runOut(t, "--nprint_filter_help")
	for _, want := range []string{"### nPrint Regex Filter Help:", "\n# Ethernet\neth eth_dhost      48\n", "\nipv4 ipv4_ver       4\n",
		"\nipv6 ipv6_src     128\n", "\ntcp tcp_fin         1\n", "\ntcp tcp_opt       320\n", "\npayload payload_bit n\n"} {
		if !strings.Contains(help, want) {
			t.Errorf("--nprint_filter_help lacks %q:\n%s", want, help)
		}
	}
	regex := `ipv4_(ttl|id)_.*|tcp_(seq|ackn)_.*`
	cols := runOut(t, "-4", "-t", "-u", "-i", "-x", regex, "-list-columns")
	ref := gunzip(t, "../../testdata/nprint/captures/dns-200.f7.nprint.gz")
	header, _, _ := strings.Cut(string(ref), "\n")
	if want := strings.ReplaceAll(header, ",", "\n") + "\n"; cols != want {
		t.Fatalf("-list-columns: %d names, want nPrint's f7 header (%d)", strings.Count(cols, "\n"), strings.Count(want, "\n"))
	}
	all := runOut(t, "-4", "-R", "-list-columns")
	if !strings.HasPrefix(all, "src_ip\nrts\nipv4_ver_0\n") || strings.Count(all, "\n") != 2+480 {
		t.Errorf("-4 -R -list-columns: %d lines starting %q", strings.Count(all, "\n"), all[:30])
	}
}

// writeHexCSV writes the packets of pcap as nPrint's -C input: a header,
// then "src,index,hex" rows (the hex packet is the third column).
func writeHexCSV(t *testing.T, pcap, path string, extra ...string) {
	var b strings.Builder
	b.WriteString("saddr,n,data\n")
	for i, p := range readPcap(t, pcap) {
		b.WriteString("10.1.1.1," + string(rune('a'+i%26)) + "," + hex.EncodeToString(p.data) + "\n")
	}
	for _, l := range extra {
		b.WriteString(l + "\n")
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestHexCSV: -C on a CSV of a capture's packets in hex gives the rows -P
// gives on the capture, after the CSV's own columns (the hex too, as nPrint
// copies them); -F, -x, -c and -S apply; a row whose packet is not hex is
// left out with a warning.
func TestHexCSV(t *testing.T) {
	for _, c := range classes {
		in := "../../testdata/captures/" + c + "-200.pcap"
		path := filepath.Join(t.TempDir(), c+".csv")
		writeHexCSV(t, in, path, "10.1.1.1,z,0g00", "10.1.1.1,z,abc")
		flags := []string{"-4", "-6", "-t", "-u", "-i", "-e", "-p", "40", "-F", "7", "-x", "ipv4_opt_.*", "-S"}
		var pOut, pErr, cOut, cErr bytes.Buffer
		if err := run(append([]string{"-P", in}, flags...), &pOut, &pErr); err != nil {
			t.Fatal(err)
		}
		if err := run(append([]string{"-C", path}, flags...), &cOut, &cErr); err != nil {
			t.Fatal(err)
		}
		pl, cl := strings.Split(pOut.String(), "\n"), strings.Split(cOut.String(), "\n")
		if len(pl) != len(cl) || len(pl) != 202 {
			t.Fatalf("%s: -C wrote %d lines, -P %d", c, len(cl), len(pl))
		}
		hexes := strings.Split(readFile(t, path), "\n") // the header, then a packet a line
		for i := 0; i <= 200; i++ {
			_, pb, _ := strings.Cut(pl[i], ",") // -P's row after its key
			if cl[i] != hexes[i]+","+pb {
				t.Fatalf("%s line %d: -C wrote %.80q..., want the CSV's columns then -P's bits", c, i+1, cl[i])
			}
		}
		if !strings.HasSuffix(cErr.String(), pErr.String()) || !strings.HasPrefix(pErr.String(), "General Statistics\n") {
			t.Errorf("%s: -S after -C:\n%s\nafter -P:\n%s", c, cErr.String(), pErr.String())
		}
		if !strings.Contains(cErr.String(), "2 rows whose third column is not a hex packet left out (first: line 202:") {
			t.Errorf("%s: warning %q", c, cErr.String())
		}
	}
	// -c counts packets, as with -P
	path := filepath.Join(t.TempDir(), "x.csv")
	writeHexCSV(t, dnsPcap, path)
	if n := strings.Count(runOut(t, "-C", path, "-4", "-c", "5"), "\n"); n != 6 {
		t.Errorf("-C -c 5: %d lines", n)
	}
	os.WriteFile(path, []byte("a,b,c\nx,y\n"), 0o644)
	if err := run([]string{"-C", path, "-4"}, new(bytes.Buffer), new(bytes.Buffer)); err == nil || !strings.Contains(err.Error(), "x.csv:2: 2 columns") {
		t.Errorf("a row of 2 columns: %v", err)
	}
}

func readFile(t *testing.T, path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestVerbose: -V writes one line per packet encoded on standard error,
// with the packet's own source and destination (nPrint's -V prints the
// source twice), and leaves the CSV as it is.
func TestVerbose(t *testing.T) {
	var out, stderr bytes.Buffer
	if err := run([]string{"-P", dnsPcap, "-4", "-t", "-u", "-O", "4", "-V", "-c", "20"}, &out, &stderr); err != nil {
		t.Fatal(err)
	}
	if got := runOut(t, "-P", dnsPcap, "-4", "-t", "-u", "-O", "4", "-c", "20"); got != out.String() {
		t.Fatal("-V changed the CSV")
	}
	lines := strings.Split(strings.TrimSpace(stderr.String()), "\n")
	rows := strings.Split(strings.TrimSpace(out.String()), "\n")[1:]
	if len(lines) != 20 || len(rows) != 20 {
		t.Fatalf("%d -V lines, %d rows, want 20", len(lines), len(rows))
	}
	re := regexp.MustCompile(`^2026-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z (\S+):(\d+) -> (\S+):(\d+) (TCP|UDP) len \d+$`)
	for i, l := range lines {
		m := re.FindStringSubmatch(l)
		if m == nil {
			t.Fatalf("-V line %q", l)
		}
		key, _, _ := strings.Cut(rows[i], ",") // flow key: src_dst_sport_dport_PROTO
		if want := strings.Join([]string{m[1], m[3], m[2], m[4], m[5]}, "_"); key != want {
			t.Fatalf("-V line %q for the packet keyed %s", l, key)
		}
		if m[1] == m[3] {
			t.Fatalf("-V line %q: source and destination are the same", l)
		}
	}
	stderr.Reset()
	if err := run([]string{"-P", "../../testdata/captures/icmp-200.pcap", "-4", "-i", "-V", "-c", "1", "-W", os.DevNull}, new(bytes.Buffer), &stderr); err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^\S+ [0-9.]+ -> [0-9.]+ ICMP type \d+ len \d+\n$`).MatchString(stderr.String()) {
		t.Errorf("-V for ICMP: %q", stderr.String())
	}
}

// TestReverseMACs: -N gives each IP address one MAC address, whichever end
// of its flows it is: the Ethernet addresses follow the packet's own IP
// addresses, which the CSV holds (before, every destination MAC was the
// -dst default's, 02:00:0a:00:00:02).
func TestReverseMACs(t *testing.T) {
	dir := t.TempDir()
	for _, c := range classes {
		csv, back := filepath.Join(dir, c+".csv"), filepath.Join(dir, c+".pcap")
		runOut(t, "-P", "../../testdata/captures/"+c+"-200.pcap", "-4", "-t", "-u", "-i", "-W", csv)
		if err := run([]string{"-N", csv, "-W", back}, new(bytes.Buffer), new(bytes.Buffer)); err != nil {
			t.Fatal(err)
		}
		macOf := map[netip.Addr]string{}
		for i, p := range readPcap(t, back) {
			info, err := t2t.ParseInfo(t2t.LinkEthernet, p.data)
			if err != nil || info.Version != 4 {
				t.Fatalf("%s packet %d: %v", c, i+1, err)
			}
			for k, end := range []struct {
				a   netip.Addr
				mac []byte
			}{{info.Src, p.data[6:12]}, {info.Dst, p.data[0:6]}} {
				m := hex.EncodeToString(end.mac)
				if prev, ok := macOf[end.a]; ok && prev != m {
					t.Fatalf("%s packet %d: %v has MAC %s as %s, %s before", c, i+1, end.a, m, [2]string{"source", "destination"}[k], prev)
				}
				macOf[end.a] = m
			}
		}
		if len(macOf) < 2 {
			t.Fatalf("%s: %d addresses", c, len(macOf))
		}
	}
}

// TestReverseTimeWarning: -N on a CSV without time columns says on
// standard error that the times come from -base and -gap (not when they
// are given).
func TestReverseTimeWarning(t *testing.T) {
	dir := t.TempDir()
	csv, back := filepath.Join(dir, "x.csv"), filepath.Join(dir, "x.pcap")
	runOut(t, "-P", dnsPcap, "-4", "-u", "-t", "-c", "3", "-W", csv)
	var stderr bytes.Buffer
	if err := run([]string{"-N", csv, "-W", back}, new(bytes.Buffer), &stderr); err != nil {
		t.Fatal(err)
	}
	want := "nprint: warning: " + csv + " has no time columns (rts, or tv_sec,tv_usec): the packets are timed from -base 2024-01-01T00:00:00Z, -gap 1ms apart\n"
	if stderr.String() != want {
		t.Errorf("warning %q, want %q", stderr.String(), want)
	}
	stderr.Reset()
	if err := run([]string{"-N", csv, "-W", back, "-gap", "2ms"}, new(bytes.Buffer), &stderr); err != nil || stderr.Len() != 0 {
		t.Errorf("-gap given: %v, warning %q", err, stderr.String())
	}
	runOut(t, "-P", dnsPcap, "-4", "-u", "-t", "-c", "3", "-A", "-W", csv)
	stderr.Reset()
	if err := run([]string{"-N", csv, "-W", back}, new(bytes.Buffer), &stderr); err != nil || stderr.Len() != 0 {
		t.Errorf("-A times: %v, warning %q", err, stderr.String())
	}
}

// TestReverseStats: -N -S counts the rows read and the packets written
// (nPrint's -N -S prints zeros).
func TestReverseStats(t *testing.T) {
	dir := t.TempDir()
	csv := filepath.Join(dir, "x.csv")
	runOut(t, "-P", dnsPcap, "-4", "-6", "-t", "-u", "-i", "-W", csv)
	var stderr bytes.Buffer
	if err := run([]string{"-N", csv, "-W", filepath.Join(dir, "x.pcap"), "-S", "-base", "2026-01-01T00:00:00Z"}, new(bytes.Buffer), &stderr); err != nil {
		t.Fatal(err)
	}
	want := readFile(t, "../../testdata/nprint/captures/dns-200.f10.stats.txt")
	if stderr.String() != want {
		t.Errorf("-N -S:\n%s\nwant what -P -S prints:\n%s", stderr.String(), want)
	}
}
