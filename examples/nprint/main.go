// Command nprint is a drop-in for the nPrint command line (version 1.2.1)
// for the flags it covers, built on t2t, plus the reverse conversion done
// right.
//
// Forward: a pcap or pcapng file to nPrint CSV, bit for bit what nPrint
// writes:
//
//	nprint -P in.pcap -4 -6 -t -u -i [-e] [-p N] [-R|-A] [-O N] [-c N] [-W out.csv]
//
// Reverse: an nPrint CSV (nPrint's, t2t's or NetDiffusion's) to a pcap.
// Unlike nPrint's -N, every packet gets a real timestamp (from the rts or
// tv_sec,tv_usec columns when the CSV has them), valid checksums and an
// Ethernet header. A packet whose payload the CSV holds only in part (or
// not at all) keeps its lengths and is written cut short, as a capture
// with a snap length is (-lengths snap, the default); -lengths fix
// shortens such packets to the bytes held, -lengths pad fills them with
// zeros:
//
//	nprint -N in.csv -W out.pcap
//
// -W - or no -W writes to standard output.
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
	"strings"
	"time"

	"t2t"
	"t2t/pcapio"
)

type config struct {
	pcap, csv, out string
	spec           t2t.LayoutSpec
	csvOpts        t2t.CSVOptions
	count          int
	enc            t2t.EncoderOptions
	base           time.Time
	gap            time.Duration
	lengths        string
	src, dst       netip.Addr
}

func parse(args []string, stderr io.Writer) (*config, error) {
	c := &config{}
	fs := flag.NewFlagSet("nprint", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.pcap, "P", "", "pcap or pcapng `file` to encode")
	fs.StringVar(&c.csv, "N", "", "nPrint CSV `file` to turn back into a pcap")
	fs.StringVar(&c.out, "W", "-", "output `file` (- for standard output)")
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
	fs.BoolVar(&c.enc.VLAN, "vlan", false, "t2t: look through 802.1Q/802.1ad tags (nPrint does not)")
	fs.BoolVar(&c.enc.IPv6Payload, "ipv6-payload-fix", false, "t2t: take the payload of TCP over IPv6 from the right offset (nPrint does not)")
	base := fs.String("base", t2t.DefaultStart.Format(time.RFC3339), "-N: time of the first packet when the CSV holds only rts or no times (RFC 3339)")
	fs.DurationVar(&c.gap, "gap", time.Millisecond, "-N: time between packets when the CSV holds no times")
	fs.StringVar(&c.lengths, "lengths", "snap", "-N: packets whose payload the CSV does not hold in full: `snap` (keep their lengths, write them cut short as a snap length does), fix (shorten them to the bytes held) or pad (fill the payload with zeros)")
	src := fs.String("src", "", "-N: source address for layouts without address columns (default from the key or 10.0.0.1 / fd00::1)")
	dst := fs.String("dst", "", "-N: destination address likewise (default 10.0.0.2 / fd00::2)")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if (c.pcap == "") == (c.csv == "") {
		return nil, errors.New("give exactly one of -P in.pcap or -N in.csv")
	}
	if c.count < 0 {
		return nil, fmt.Errorf("-c %d: want 0 (all packets) or more", c.count)
	}
	if c.spec.Payload < 0 || c.spec.Payload > maxPayload {
		return nil, fmt.Errorf("-p %d: want 0 to %d (an IP packet's largest payload)", c.spec.Payload, maxPayload)
	}
	if in := c.pcap + c.csv; c.out != "-" && c.out != "" && sameFile(in, c.out) {
		return nil, fmt.Errorf("-W %s is the input file: writing it would destroy what is read", c.out)
	}
	if *rel && *abs {
		return nil, errors.New("-R and -A exclude each other")
	}
	if *rel {
		c.csvOpts.Time = t2t.TimeRelative
	} else if *abs {
		c.csvOpts.Time = t2t.TimeAbsolute
	}
	if *key < 0 || *key > 4 {
		return nil, fmt.Errorf("-O %d: want 0 to 4", *key)
	}
	c.csvOpts.Key = t2t.KeyKind(*key)
	t, err := time.Parse(time.RFC3339Nano, *base)
	if err != nil {
		return nil, fmt.Errorf("-base: %v", err)
	}
	c.base = t
	switch c.lengths {
	case "snap", "fix", "pad":
	default:
		return nil, fmt.Errorf("-lengths %q: want snap, fix or pad", c.lengths)
	}
	for _, a := range []struct {
		s   string
		dst *netip.Addr
	}{{*src, &c.src}, {*dst, &c.dst}} {
		if a.s == "" {
			continue
		}
		if *a.dst, err = netip.ParseAddr(a.s); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// maxPayload bounds -p: no IP packet carries more bytes.
const maxPayload = 65535

// sameFile reports whether the paths a and b name the same file: the same
// path, or, when both exist, the same file under two names.
func sameFile(a, b string) bool {
	if filepath.Clean(a) == filepath.Clean(b) {
		return true
	}
	fa, err1 := os.Stat(a)
	fb, err2 := os.Stat(b)
	return err1 == nil && err2 == nil && os.SameFile(fa, fb)
}

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "nprint:", err)
		os.Exit(1)
	}
}

func run(args []string, stdout, stderr io.Writer) error {
	c, err := parse(args, stderr)
	if err != nil {
		return err
	}
	var out io.Writer = stdout
	var f *os.File
	if c.out != "-" && c.out != "" {
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
	if c.pcap != "" {
		err = encodePcap(c, bw, stderr)
	} else {
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

// encodePcap is nPrint's forward conversion; warnings go to stderr.
func encodePcap(c *config, out io.Writer, stderr io.Writer) error {
	l, err := c.spec.Layout()
	if err != nil {
		return fmt.Errorf("no header block selected (use -4 -6 -t -u -i -e -p): %w", err)
	}
	r, err := pcapio.Open(c.pcap)
	if err != nil {
		return err
	}
	defer r.Close()
	enc := t2t.NewEncoder(l, c.enc)
	w := t2t.NewCSVWriter(out, l, c.csvOpts)
	row := make([]int8, l.Width())
	var key []byte
	for n := 0; c.count == 0 || n < c.count; n++ {
		p, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		info, err := enc.Encode(row, p.Link, p.Data)
		if errors.Is(err, t2t.ErrSkip) {
			continue
		}
		if err != nil {
			return fmt.Errorf("%s: packet at offset %d: %w", c.pcap, p.Offset, err)
		}
		key = c.csvOpts.Key.AppendKey(key[:0], &info)
		if err := w.WriteRow(key, p.Time, row); err != nil {
			return err
		}
	}
	if n := r.OverSnaplen(); n > 0 {
		fmt.Fprintf(stderr, "nprint: warning: %s: %d records longer than the file's snaplen, read whole (as libpcap does)\n", c.pcap, n)
	}
	return w.Flush()
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
	l := r.Layout()
	link := t2t.LinkEthernet
	w, err := pcapio.NewWriter(out, link, pcapio.WriterOptions{})
	if err != nil {
		return err
	}
	opts := t2t.DecodeOptions{Link: link, FixLengths: c.lengths == "fix", FixChecksums: true, PadPayload: c.lengths == "pad"}
	ts := c.base
	var frame []byte
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
	}
	if noIP > 0 {
		fmt.Fprintf(stderr, "nprint: warning: %s: %d rows hold no IP header (packets of the IP version the CSV's layout lacks, as -4 writes IPv6 packets): left out\n", c.csv, noIP)
	}
	return w.Flush()
}

// addrs chooses the addresses of a row whose layout lacks them: the -src
// and -dst flags, else what the key column says (src_ip, dst_ip or flow),
// else fixed private addresses of the row's IP version (IPv6 when the
// row, loaded in fr, holds the first bit of ipv6_ver).
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
	return src, dst
}

// mac derives a locally administered unicast MAC address from an IP
// address, so that each host keeps one MAC.
func mac(a netip.Addr) [6]byte {
	b := a.As16()
	return [6]byte{0x02, 0x00, b[12], b[13], b[14], b[15]}
}
