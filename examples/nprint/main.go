// Command nprint is a drop-in for the nPrint 1.2.1 command line, built on
// t2t, plus the reverse conversion done right.
//
// Forward: a pcap or pcapng file (-P), or a CSV of hex packets (-C), to
// nPrint CSV, bit for bit what nPrint writes:
//
//	nprint -P in.pcap -4 -6 -t -u -i [-e] [-p N] [-R|-A] [-O N] [-c N] [-W out.csv]
//
// Reverse: an nPrint CSV (nPrint's, t2t's or NetDiffusion's) to a pcap.
// Unlike nPrint's -N, every packet gets a real timestamp (from the rts or
// tv_sec,tv_usec columns when the CSV has them; without them, from -base
// and -gap, which a warning names), valid checksums and an Ethernet header
// whose addresses follow the packet's IP addresses. A packet whose payload
// the CSV holds only in part (or not at all) keeps its lengths and is
// written cut short, as a capture with a snap length is (-lengths snap,
// the default); -lengths fix shortens such packets to the bytes held,
// -lengths pad fills them with zeros:
//
//	nprint -N in.csv -W out.pcap
//
// nPrint's options, each with its short and its long name (-x and --x are
// the same flag; a value follows as "-p 32", "-p32", "--payload 32" or
// "--payload=32"; single-letter options bundle: -46tui):
//
//	-P, --pcap_file FILE        pcap or pcapng input
//	-C, --csv_file FILE         CSV of hex packets: a header line, then one packet a row, the
//	                            third column the packet (Ethernet frame or IP packet) in hex;
//	                            every header column is copied in front of the bits (the hex too)
//	-N, --nPrint_file FILE      nPrint CSV input, turned back into a pcap
//	-W, --write_file FILE       output (default, or -: standard output); folders are made
//	-e, --eth                   Ethernet header bits
//	-4, --ipv4                  IPv4 header bits
//	-6, --ipv6                  IPv6 header bits
//	-t, --tcp                   TCP header bits
//	-u, --udp                   UDP header bits
//	-i, --icmp                  ICMP header bits
//	-p, --payload N             N payload bytes
//	-R, --relative_timestamps   rts column: microseconds since the previous packet
//	-A, --absolute_timestamps   tv_sec,tv_usec columns
//	-O, --write_index N         key column: 0 src_ip, 1 dst_ip, 2 src_prt, 3 dst_prt, 4 flow
//	-c, --count N               read at most N packets
//	-F, --fill_int N            value written for vacant bits (default -1)
//	-x, --nprint_filter REGEX   leave out the bit columns whose whole name matches REGEX
//	-f, --filter EXPR           BPF (pcap-filter) expression; needs a build with -tags libpcap
//	-S, --stats                 nPrint's statistics on standard error at the end
//	-V, --verbose               one line per packet on standard error (see below)
//	--nprint_filter_help        nPrint's list of fields (nPrint's -h)
//	--version                   the version
//
// nPrint's -d (live capture), -r (radiotap), -w (802.11) and -O 5 are
// refused with an error. -h prints this program's usage (nPrint's -h, its
// field list, is --nprint_filter_help). -list-columns prints the name of
// every column the options choose, one per line: the names -x matches.
//
// -V writes, for each packet encoded, "TIME SRC -> DST PROTO len N": the
// capture time (UTC, "-" for -C), the addresses with their ports
// ([v6]:port for IPv6; no port for ICMP), TCP, UDP or ICMP (with its type)
// and the length the IP header claims. (nPrint's -V prints the packet's
// headers, with the source address written in place of the destination.)
//
// -S writes what nPrint 1.2.1 writes, to standard error as nPrint does:
// packets processed (read, and kept by -f), skipped (not IP carrying TCP,
// UDP or ICMP) and encoded, then by IP version and transport.
//
// Where a capture's snap length cut a packet short, nPrint encodes the
// payload bytes its IP header claims (up to -p) past the stored end,
// reading past libpcap's buffer; nprint writes those bytes as 0, so that
// a row holds as many payload bytes as nPrint's (t2t.EncoderOptions
// ZeroSnappedPayload). -snap-vacant writes them vacant (-1) instead, as
// the t2t library does by default.
//
// t2t's own options are single-dash words: -vlan, -ipv6-payload-fix,
// -snap-vacant, -list-columns, and for -N -base, -gap, -lengths, -src,
// -dst (see -h).
package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"t2t"
	"t2t/internal/cli"
	"t2t/pcapio"
)

var command = cli.Command{
	Name: "nprint",
	Does: "nprint turns a pcap into nPrint CSV bit for bit as nPrint 1.2.1 does, and an nPrint CSV back into a pcap\n" +
		"with real times and valid checksums. nPrint's flags keep their short and long names (-P, --pcap_file).\n" +
		"Column names: -list-columns prints those the flags choose (what -x matches); --nprint_filter_help\n" +
		"prints nPrint's field list (nPrint's -h).",
	Example: []string{
		"-P in.pcap -4 -6 -t -u -i -R -W out.csv",
		"-N out.csv -W back.pcap",
	},
}

// nPrint's long option names, by short name (nPrint 1.2.1's argp table).
var longNames = [][2]string{
	{"P", "pcap_file"}, {"N", "nPrint_file"}, {"C", "csv_file"}, {"W", "write_file"},
	{"e", "eth"}, {"4", "ipv4"}, {"6", "ipv6"}, {"t", "tcp"}, {"u", "udp"}, {"i", "icmp"},
	{"p", "payload"}, {"R", "relative_timestamps"}, {"A", "absolute_timestamps"},
	{"O", "write_index"}, {"c", "count"}, {"F", "fill_int"}, {"x", "nprint_filter"},
	{"f", "filter"}, {"S", "stats"}, {"V", "verbose"},
	{"d", "device"}, {"r", "radiotap"}, {"w", "wlan"},
}

type config struct {
	pcap, csv, hex, out string
	spec                t2t.LayoutSpec
	csvOpts             t2t.CSVOptions
	count               int
	enc                 t2t.EncoderOptions
	fill                int8
	omit                *regexp.Regexp
	filter              packetFilter
	stats, verbose      bool
	// what to print instead of converting (-list-columns, ...)
	listColumns, fieldHelp, version bool
	base                            time.Time
	gap                             time.Duration
	timesSet                        bool // -base or -gap given
	lengths                         string
	src, dst                        netip.Addr
}

// int8Flag is -F: an integer that fits nPrint's int8_t.
type int8Flag struct{ v *int8 }

func (f int8Flag) String() string {
	if f.v == nil {
		return "0"
	}
	return strconv.Itoa(int(*f.v))
}

func (f int8Flag) Set(s string) error {
	v, err := strconv.ParseInt(s, 10, 8)
	if err != nil {
		return errors.New("want a whole number from -128 to 127")
	}
	*f.v = int8(v)
	return nil
}

func parse(args []string, stderr io.Writer) (*config, error) {
	c := &config{fill: -1}
	fs := command.FlagSet(stderr)
	fs.StringVar(&c.pcap, "P", "", "pcap or pcapng `file` to encode")
	fs.StringVar(&c.hex, "C", "", "CSV `file` of hex packets to encode (third column: the packet in hex; every header column is copied before the bits)")
	fs.StringVar(&c.csv, "N", "", "nPrint CSV `file` to turn back into a pcap")
	fs.StringVar(&c.out, "W", "-", "output `file` (- for standard output; missing folders are made)")
	fs.BoolVar(&c.spec.Eth, "e", false, "include Ethernet headers")
	fs.BoolVar(&c.spec.IPv4, "4", false, "include IPv4 headers")
	fs.BoolVar(&c.spec.IPv6, "6", false, "include IPv6 headers")
	fs.BoolVar(&c.spec.TCP, "t", false, "include TCP headers")
	fs.BoolVar(&c.spec.UDP, "u", false, "include UDP headers")
	fs.BoolVar(&c.spec.ICMP, "i", false, "include ICMP headers")
	fs.IntVar(&c.spec.Payload, "p", 0, "include `N` payload bytes")
	rel := fs.Bool("R", false, "add relative timestamps (rts, microseconds since the previous row)")
	abs := fs.Bool("A", false, "add absolute timestamps (tv_sec, tv_usec)")
	key := fs.Int("O", 0, "key column: 0 src_ip, 1 dst_ip, 2 src_prt, 3 dst_prt, 4 flow")
	fs.IntVar(&c.count, "c", 0, "read at most `N` packets (0: all)")
	fs.Var(int8Flag{&c.fill}, "F", "write `N` (-128 to 127) for vacant bits")
	regex := fs.String("x", "", "leave out the bit columns whose whole name matches `regex` (Go syntax; see -list-columns)")
	filter := fs.String("f", "", "keep only the packets that the BPF `expression` accepts (pcap-filter syntax; needs a build with -tags libpcap)")
	fs.BoolVar(&c.stats, "S", false, "print nPrint's statistics on standard error at the end")
	fs.BoolVar(&c.verbose, "V", false, "print one line per packet encoded on standard error: time, src -> dst, protocol, IP length")
	device := fs.String("d", "", "nPrint's live capture `device`: not supported (capture to a file and give it to -P)")
	radiotap := fs.Bool("r", false, "nPrint's radiotap headers: not supported")
	wlan := fs.Bool("w", false, "nPrint's 802.11 headers: not supported")
	fs.BoolVar(&c.fieldHelp, "nprint_filter_help", false, "print nPrint's field list (nPrint's -h) and exit")
	fs.BoolVar(&c.version, "version", false, "print the version and exit")
	fs.BoolVar(&c.listColumns, "list-columns", false, "t2t: print the name of every column the flags choose, one per line, and exit (the names -x matches)")
	fs.BoolVar(&c.enc.VLAN, "vlan", false, "t2t: look through 802.1Q/802.1ad tags (nPrint does not)")
	fs.BoolVar(&c.enc.IPv6Payload, "ipv6-payload-fix", false, "t2t: take the payload of TCP over IPv6 from the right offset (nPrint does not)")
	snapVacant := fs.Bool("snap-vacant", false, "t2t: write payload bytes that the capture's snap length cut off as vacant (-1), not 0 (nPrint reads them past its buffer)")
	base := fs.String("base", t2t.DefaultStart.Format(time.RFC3339), "-N: time of the first packet when the CSV holds only rts or no times (RFC 3339)")
	fs.DurationVar(&c.gap, "gap", time.Millisecond, "-N: time between packets when the CSV holds no times")
	fs.StringVar(&c.lengths, "lengths", "snap", "-N: packets whose payload the CSV does not hold in full: `snap` (keep their lengths, write them cut short as a snap length does), fix (shorten them to the bytes held) or pad (fill the payload with zeros)")
	src := fs.String("src", "", "-N: source address for layouts without address columns (default from the key or 10.0.0.1 / fd00::1)")
	dst := fs.String("dst", "", "-N: destination address likewise (default 10.0.0.2 / fd00::2)")

	// the usage lists each flag once, with its long name
	show := flag.NewFlagSet(command.Name, flag.ContinueOnError)
	show.SetOutput(stderr)
	long := map[string]string{}
	for _, n := range longNames {
		long[n[0]] = n[1]
	}
	fs.VisitAll(func(f *flag.Flag) {
		u := f.Usage
		if l, ok := long[f.Name]; ok {
			u += " (long: --" + l + ")"
		}
		show.Var(f.Value, f.Name, u)
	})
	fs.Usage = func() { command.PrintUsage(show) }
	for _, n := range longNames {
		f := fs.Lookup(n[0])
		fs.Var(f.Value, n[1], "same as -"+n[0])
	}

	if err := cli.Parse(fs, expandShort(fs, args)); err != nil {
		return nil, err
	}
	if c.fieldHelp || c.version {
		return c, nil
	}
	switch {
	case *device != "":
		return nil, cli.Usagef("-d %s: live capture is not supported: capture to a file (tcpdump -w) and give it to -P", *device)
	case *radiotap, *wlan:
		return nil, cli.Usagef("-r and -w: radiotap and 802.11 headers are not supported")
	}
	inputs := 0
	for _, s := range []string{c.pcap, c.hex, c.csv} {
		if s != "" {
			inputs++
		}
	}
	if inputs != 1 && !c.listColumns {
		return nil, cli.Usagef("give exactly one of -P in.pcap, -C hex.csv or -N in.csv")
	}
	if c.count < 0 {
		return nil, cli.Usagef("-c %d: want 0 (all packets) or more", c.count)
	}
	if c.spec.Payload < 0 || c.spec.Payload > maxPayload {
		return nil, cli.Usagef("-p %d: want 0 to %d (an IP packet's largest payload)", c.spec.Payload, maxPayload)
	}
	if in := c.pcap + c.hex + c.csv; c.out != "-" && c.out != "" && in != "" && cli.SameFile(in, c.out) {
		return nil, cli.Usagef("-W %s is the input file: writing it would destroy what is read", c.out)
	}
	if *rel && *abs {
		return nil, cli.Usagef("-R and -A exclude each other")
	}
	if *rel {
		c.csvOpts.Time = t2t.TimeRelative
	} else if *abs {
		c.csvOpts.Time = t2t.TimeAbsolute
	}
	switch {
	case *key == 5:
		return nil, cli.Usagef("-O 5: the 802.11 transmitter key needs 802.11 headers, which are not supported")
	case *key < 0 || *key > 4:
		return nil, cli.Usagef("-O %d: want 0 to 4", *key)
	}
	c.csvOpts.Key = t2t.KeyKind(*key)
	if c.hex != "" && (*rel || *abs || *key != 0) {
		return nil, cli.Usagef("-C: -R, -A and -O need -P (a hex CSV's rows carry no times, and nPrint copies its columns in place of the key)")
	}
	if *regex != "" {
		re, err := regexp.Compile("^(?:" + *regex + ")$")
		if err != nil {
			return nil, cli.Usagef("-x %q: %v", *regex, err)
		}
		c.omit = re
	}
	if *filter != "" {
		if c.pcap == "" && !c.listColumns {
			return nil, cli.Usagef("-f %q: a BPF filter needs -P (nPrint applies it to pcaps only)", *filter)
		}
		f, err := newFilter(*filter)
		if err != nil {
			return nil, err
		}
		c.filter = f
	}
	c.enc.ZeroSnappedPayload = !*snapVacant
	t, err := time.Parse(time.RFC3339Nano, *base)
	if err != nil {
		return nil, cli.Usagef("-base: %v", err)
	}
	c.base = t
	fs.Visit(func(f *flag.Flag) {
		if f.Name == "base" || f.Name == "gap" {
			c.timesSet = true
		}
	})
	switch c.lengths {
	case "snap", "fix", "pad":
	default:
		return nil, cli.Usagef("-lengths %q: want snap, fix or pad", c.lengths)
	}
	for _, a := range []struct {
		name, s string
		dst     *netip.Addr
	}{{"-src", *src, &c.src}, {"-dst", *dst, &c.dst}} {
		if a.s == "" {
			continue
		}
		if *a.dst, err = netip.ParseAddr(a.s); err != nil {
			return nil, cli.Usagef("%s: %v", a.name, err)
		}
	}
	return c, nil
}

// expandShort rewrites argp's short-option forms that Go's flag package
// does not read: a bundle of single-letter options (-46tui) and a value
// attached to its letter (-p32, -46tup32). An argument that names a flag
// (-vlan, --payload=32) is left as it is, and so is the value after it.
func expandShort(fs *flag.FlagSet, args []string) []string {
	isBool := func(f *flag.Flag) bool {
		b, ok := f.Value.(interface{ IsBoolFlag() bool })
		return ok && b.IsBoolFlag()
	}
	var out []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" || len(a) < 2 || a[0] != '-' {
			out = append(out, args[i:]...) // the flag package stops here
			break
		}
		name, _, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if f := fs.Lookup(name); f != nil || strings.HasPrefix(a, "--") || len(name) < 2 {
			out = append(out, a)
			if f != nil && !hasValue && !isBool(f) && i+1 < len(args) {
				out = append(out, args[i+1])
				i++
			}
			continue
		}
		var exp []string
		takesNext := false
		s := a[1:]
		for j := 0; j < len(s); j++ {
			f := fs.Lookup(s[j : j+1])
			if f == nil {
				exp = nil // not a bundle: the flag package says what is wrong
				break
			}
			exp = append(exp, "-"+s[j:j+1])
			if !isBool(f) {
				if j+1 < len(s) {
					exp = append(exp, s[j+1:])
				} else {
					takesNext = true
				}
				break
			}
		}
		if exp == nil {
			out = append(out, a)
			continue
		}
		out = append(out, exp...)
		if takesNext && i+1 < len(args) {
			out = append(out, args[i+1])
			i++
		}
	}
	return out
}

// maxPayload bounds -p: no IP packet carries more bytes.
const maxPayload = 65535

func main() {
	cli.Main(command.Name, run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) error {
	c, err := parse(args, stderr)
	if err != nil {
		return err
	}
	switch {
	case c.version:
		_, err := fmt.Fprintln(stdout, "nprint 1.2.1 (t2t)")
		return err
	case c.fieldHelp:
		return fieldHelp(stdout)
	case c.listColumns:
		return listColumns(c, stdout)
	}
	var out io.Writer = stdout
	var f *os.File
	switch {
	case c.out != "-" && c.out != "" && cli.Special(c.out):
		// a device or a pipe (-W /dev/null): written in place
		d, err := os.OpenFile(c.out, os.O_WRONLY, 0)
		if err != nil {
			return fmt.Errorf("-W %s: %w", c.out, err)
		}
		defer d.Close()
		out = d
	case c.out != "-" && c.out != "":
		// as nPrint does, make the folders of -W
		if err := os.MkdirAll(filepath.Dir(c.out), 0o755); err != nil {
			return fmt.Errorf("-W %s: %w", c.out, err)
		}
		// a temporary file beside -W, renamed over it once complete: an
		// error leaves -W as it was, not cut mid-row
		if f, err = os.CreateTemp(filepath.Dir(c.out), "."+filepath.Base(c.out)+".tmp*"); err != nil {
			return err
		}
		defer func() {
			if f != nil {
				f.Close()
				os.Remove(f.Name())
			}
		}()
		out = f
	}
	bw := bufio.NewWriterSize(out, 1<<20)
	switch {
	case c.pcap != "":
		err = encodePcap(c, bw, stderr)
	case c.hex != "":
		err = encodeHexCSV(c, bw, stderr)
	default:
		err = decodeCSV(c, bw, stderr)
	}
	if err != nil {
		return err
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	if f == nil {
		return nil
	}
	if err := f.Chmod(0o644); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(f.Name(), c.out); err != nil {
		return err
	}
	f = nil
	return nil
}

// layout compiles the header blocks the flags choose.
func (c *config) layout() (*t2t.Layout, error) {
	l, err := c.spec.Layout()
	if err != nil {
		return nil, cli.Usagef("no header block selected (use -4 -6 -t -u -i -e -p): %v", err)
	}
	return l, nil
}

// csvWriter returns the writer of the CSV the flags choose: their key and
// time columns, -F and -x.
func (c *config) csvWriter(out io.Writer, l *t2t.Layout) *t2t.CSVWriter {
	w := t2t.NewCSVWriter(out, l, c.csvOpts)
	w.Fill = c.fill
	if c.omit != nil {
		w.Omit = c.omit.MatchString
	}
	return w
}

// listColumns prints the columns of the CSV the flags choose, one per line.
func listColumns(c *config, stdout io.Writer) error {
	l, err := c.layout()
	if err != nil {
		return err
	}
	var b strings.Builder
	w := c.csvWriter(&b, l)
	if err := w.Flush(); err != nil {
		return err
	}
	_, err = io.WriteString(stdout, strings.ReplaceAll(b.String(), ",", "\n"))
	return err
}

// fieldHelp prints nPrint's field list (nPrint's -h): each block's fields
// with their widths in bits.
func fieldHelp(w io.Writer) error {
	l := t2t.LayoutSpec{Eth: true, IPv4: true, IPv6: true, TCP: true, UDP: true, ICMP: true}.MustLayout()
	var b strings.Builder
	b.WriteString("\n################################################################################\n" +
		"### nPrint Regex Filter Help:\n### All field names follow syntax: proto_field_bit\n" +
		"### Each protocol in help follow syntax: proto field numbits\n")
	titles := map[t2t.Block]string{t2t.BlockEth: "Ethernet", t2t.BlockIPv4: "IPv4", t2t.BlockIPv6: "IPv6",
		t2t.BlockTCP: "TCP", t2t.BlockUDP: "UDP", t2t.BlockICMP: "ICMP"}
	prev := t2t.Block(255)
	line := func(block, name, bits string) {
		s := block + " " + name
		fmt.Fprintf(&b, "%s%*s\n", s, 21-len(s), bits)
	}
	for _, f := range l.Fields() {
		if f.Block != prev {
			fmt.Fprintf(&b, "\n# %s\n", titles[f.Block])
			prev = f.Block
		}
		line(f.Block.String(), f.Name, fmt.Sprint(f.Bits))
	}
	b.WriteString("\n# Payload\n")
	line("payload", "payload_bit", "n")
	b.WriteString("\n\n### End of nPrint regex filter help, exiting\n" +
		"################################################################################\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// packetFilter is -f: filter_libpcap.go or filter_nolibpcap.go make one.
type packetFilter interface {
	// Match reports whether the filter keeps a packet of link type link
	// whose captured bytes are data and whose length on the wire is
	// origLen.
	Match(link t2t.LinkType, data []byte, origLen int) (bool, error)
}

// encoder is what -P and -C share: it encodes packets into rows, writes
// them, counts them for -S and describes them for -V.
type encoder struct {
	c      *config
	enc    *t2t.Encoder
	w      *t2t.CSVWriter
	row    []int8
	key    []byte
	stats  stats
	stderr io.Writer
}

func newEncoder(c *config, out, stderr io.Writer) (*encoder, error) {
	l, err := c.layout()
	if err != nil {
		return nil, err
	}
	return &encoder{c: c, enc: t2t.NewEncoder(l, c.enc), w: c.csvWriter(out, l), row: make([]int8, l.Width()), stderr: stderr}, nil
}

// add encodes one packet; key, when not nil, replaces the -O key. The
// error is nil for a packet nPrint skips.
func (e *encoder) add(link t2t.LinkType, data []byte, ts time.Time, key []byte) error {
	info, err := e.enc.Encode(e.row, link, data)
	skip := errors.Is(err, t2t.ErrSkip)
	if err != nil && !skip {
		return err
	}
	e.stats.add(&info, !skip)
	if skip {
		return nil
	}
	if e.c.verbose {
		verbose(e.stderr, ts, &info)
	}
	if key == nil {
		e.key = e.c.csvOpts.Key.AppendKey(e.key[:0], &info)
		key = e.key
	}
	return e.w.WriteRow(key, ts, e.row)
}

// finish flushes the CSV and prints -S.
func (e *encoder) finish() error {
	if err := e.w.Flush(); err != nil {
		return err
	}
	if e.c.stats {
		e.stats.print(e.stderr)
	}
	return nil
}

// encodePcap is nPrint's forward conversion; warnings go to stderr.
func encodePcap(c *config, out io.Writer, stderr io.Writer) error {
	e, err := newEncoder(c, out, stderr)
	if err != nil {
		return err
	}
	r, err := pcapio.Open(c.pcap)
	if err != nil {
		return err
	}
	defer r.Close()
	for n := 0; c.count == 0 || n < c.count; {
		p, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		if c.filter != nil {
			ok, err := c.filter.Match(p.Link, p.Data, p.OrigLen)
			if err != nil {
				return fmt.Errorf("%s: packet at offset %d: %w", c.pcap, p.Offset, err)
			}
			if !ok {
				continue // as libpcap's filter does, before nPrint counts it
			}
		}
		n++
		if err := e.add(p.Link, p.Data, p.Time, nil); err != nil {
			return fmt.Errorf("%s: packet at offset %d: %w", c.pcap, p.Offset, err)
		}
	}
	if n := r.OverSnaplen(); n > 0 {
		fmt.Fprintf(stderr, "nprint: warning: %s: %d records longer than the file's snaplen, read whole (as libpcap does)\n", c.pcap, n)
	}
	return e.finish()
}

// verbose writes -V's line for one packet.
func verbose(w io.Writer, ts time.Time, p *t2t.PacketInfo) {
	when := "-"
	if !ts.IsZero() {
		when = ts.UTC().Format("2006-01-02T15:04:05.000000Z")
	}
	src, dst := p.Src.String(), p.Dst.String()
	proto := fmt.Sprintf("proto %d", p.Proto)
	switch p.Proto {
	case t2t.ProtoTCP, t2t.ProtoUDP:
		src = netip.AddrPortFrom(p.Src, p.SrcPort).String()
		dst = netip.AddrPortFrom(p.Dst, p.DstPort).String()
		proto = "TCP"
		if p.Proto == t2t.ProtoUDP {
			proto = "UDP"
		}
	case t2t.ProtoICMP:
		proto = fmt.Sprintf("ICMP type %d", p.ICMPType)
	}
	fmt.Fprintf(w, "%s %s -> %s %s len %d\n", when, src, dst, proto, p.IPLen)
}

// decodeCSV is the reverse conversion; warnings go to stderr.
func decodeCSV(c *config, out io.Writer, stderr io.Writer) error {
	in, err := os.Open(c.csv)
	if err != nil {
		return err
	}
	defer in.Close()
	r, err := t2t.NewCSVReader(bufio.NewReaderSize(in, 1<<20), c.csv)
	if err != nil {
		return err
	}
	r.Base = c.base
	if !c.timesSet {
		switch r.Time() {
		case t2t.TimeNone:
			fmt.Fprintf(stderr, "nprint: warning: %s has no time columns (rts, or tv_sec,tv_usec): the packets are timed from -base %s, -gap %v apart\n", c.csv, c.base.Format(time.RFC3339Nano), c.gap)
		case t2t.TimeRelative:
			fmt.Fprintf(stderr, "nprint: warning: %s holds relative times (rts) only: the first packet is timed at -base %s\n", c.csv, c.base.Format(time.RFC3339Nano))
		}
	}
	l := r.Layout()
	link := t2t.LinkEthernet
	w, err := pcapio.NewWriter(out, link, pcapio.WriterOptions{})
	if err != nil {
		return err
	}
	opts := t2t.DecodeOptions{Link: link, FixLengths: c.lengths == "fix", FixChecksums: true, PadPayload: c.lengths == "pad"}
	ts := c.base
	var frame []byte
	var st stats
	fr := t2t.NewFieldReader(l)
	noIP := 0 // rows of packets of the IP version the layout lacks
	for line := 2; ; line++ {
		row, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		if r.Time() != t2t.TimeNone {
			ts = row.Time
		} else if line > 2 {
			ts = ts.Add(c.gap)
		}
		o := opts
		fr.Load(row.Bits) // a bad value is the Decoder's error below
		if !l.Has(t2t.BlockIPv4) || !l.Has(t2t.BlockIPv6) {
			if !(l.Has(t2t.BlockIPv4) && fr.Present(t2t.BlockIPv4, 20)) && !(l.Has(t2t.BlockIPv6) && fr.Present(t2t.BlockIPv6, 40)) {
				// nPrint -4 writes an IPv6 packet (and -6 an IPv4 one) as a
				// row without its IP header: there is no packet to rebuild
				noIP++
				st.add(&t2t.PacketInfo{}, false)
				continue
			}
		}
		o.Src, o.Dst = addrs(c, row.Key, r.KeyName(), fr)
		o.SrcMAC, o.DstMAC = mac(o.Src), mac(o.Dst)
		dec := t2t.NewDecoder(l, o)
		if frame, err = dec.Append(frame[:0], row.Bits); err != nil {
			return fmt.Errorf("%s:%d: %w", c.csv, line, err)
		}
		if err := w.Write(pcapio.Packet{Time: ts, Data: frame, OrigLen: dec.OrigLen, Link: link}); err != nil {
			return fmt.Errorf("%s:%d: %w", c.csv, line, err)
		}
		info, _ := t2t.ParseInfo(link, frame)
		st.add(&info, true)
	}
	if noIP > 0 {
		fmt.Fprintf(stderr, "nprint: warning: %s: %d rows hold no IP header (packets of the IP version the CSV's layout lacks, as -4 writes IPv6 packets): left out\n", c.csv, noIP)
	}
	if err := w.Flush(); err != nil {
		return err
	}
	if c.stats {
		st.print(stderr)
	}
	return nil
}

// addrs chooses the addresses of a row's packet: those its address
// columns hold (the decoder writes them into the packet), and where the
// layout lacks them the -src and -dst flags, else what the key column
// says (src_ip, dst_ip or flow), else fixed private addresses of the
// row's IP version (IPv6 when the row, loaded in fr, holds the first bit
// of ipv6_ver).
func addrs(c *config, key, keyName string, fr *t2t.FieldReader) (src, dst netip.Addr) {
	_, vacant := fr.Bits(t2t.BlockIPv6, 0, 1) // ipv6_ver_0
	v6 := vacant == 0
	src, dst = netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("10.0.0.2")
	if v6 {
		src, dst = netip.MustParseAddr("fd00::1"), netip.MustParseAddr("fd00::2")
	}
	fits := func(a netip.Addr) bool { return a.IsValid() && a.Is6() == v6 }
	switch keyName {
	case "src_ip":
		if a, err := netip.ParseAddr(key); err == nil && fits(a) {
			src = a
		}
	case "dst_ip":
		if a, err := netip.ParseAddr(key); err == nil && fits(a) {
			dst = a
		}
	case "flow":
		parts := strings.Split(key, "_")
		if len(parts) == 5 {
			if a, err := netip.ParseAddr(parts[0]); err == nil && fits(a) {
				src = a
			}
			if a, err := netip.ParseAddr(parts[1]); err == nil && fits(a) {
				dst = a
			}
		}
	}
	if fits(c.src) {
		src = c.src
	}
	if fits(c.dst) {
		dst = c.dst
	}
	if a, ok := heldAddr(fr, v6, "src"); ok {
		src = a
	}
	if a, ok := heldAddr(fr, v6, "dst"); ok {
		dst = a
	}
	return src, dst
}

// heldAddr returns the address that the row loaded in fr holds in its
// ipv4_<which> (ipv6_<which> when v6) field: the address the decoder
// writes, vacant bits read as 0. ok is false when the layout lacks the
// field.
func heldAddr(fr *t2t.FieldReader, v6 bool, which string) (netip.Addr, bool) {
	name, n := "ipv4_"+which, 4
	if v6 {
		name, n = "ipv6_"+which, 16
	}
	if _, _, ok := fr.Layout().Field(name); !ok {
		return netip.Addr{}, false
	}
	b, _ := fr.FieldBytes(nil, name, n)
	a, _ := netip.AddrFromSlice(b)
	return a, true
}

// mac derives a locally administered unicast MAC address from an IP
// address, so that each host keeps one MAC.
func mac(a netip.Addr) [6]byte {
	b := a.As16()
	return [6]byte{0x02, 0x00, b[12], b[13], b[14], b[15]}
}
