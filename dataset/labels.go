package dataset

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path"
	"strconv"
	"strings"

	"t2t"
)

// Columns are the columns of a flow-label file, in the order
// WriteFlowLabels writes them. A file read by ReadFlowLabels names every
// one of them in its header line, in any order; other columns are ignored.
var Columns = []string{"pcap", "flow_no", "l4", "src", "dst", "ndpi_proto", "app", "category", "pkts_c2s", "bytes_c2s", "pkts_s2c", "bytes_s2c"}

// LabelColumns are the columns a flow's class may be taken from.
var LabelColumns = []string{"app", "ndpi_proto", "category"}

// FlowLabel is one row of a flow-label file: a flow of a capture, its
// 5-tuple and its labels, as nDPI's ndpiReader reports them.
type FlowLabel struct {
	Pcap   string // capture file, relative to the captures folder (slash-separated)
	FlowNo int    // the flow's number in the capture (nDPI's)
	L4     string // transport as written: TCP, UDP, ICMP, ICMPV6, ... or a protocol number
	// Proto is L4's IP protocol number.
	Proto    uint8
	Src, Dst netip.AddrPort // initiator and responder; port 0 for ICMP
	// NDPIProto, App and Category are the labels: nDPI's full protocol
	// ("HTTP.1kxun"), the application ("1kxun") and its category
	// ("Streaming"); any may be empty.
	NDPIProto, App, Category string
	PktsC2S, BytesC2S        int64 // client to server packets and bytes
	PktsS2C, BytesS2C        int64 // server to client packets and bytes
	Line                     int   // line of the file the row was read from (1 is the header); 0 when not read
}

// Label returns the value of the label column col ("app", "ndpi_proto" or
// "category"); ok is false for any other column.
func (l *FlowLabel) Label(col string) (v string, ok bool) {
	switch col {
	case "app":
		return l.App, true
	case "ndpi_proto":
		return l.NDPIProto, true
	case "category":
		return l.Category, true
	}
	return "", false
}

// Encodable reports whether t2t encodes the flow's transport (TCP, UDP
// or ICMP), so that pcapio can find its packets; the others (ICMPv6,
// IGMP, SCTP, ESP, ...) are never looked for.
func (l *FlowLabel) Encodable() bool { return t2t.TransportName(l.Proto) != "" }

// LabelError is a malformed line of a flow-label file.
type LabelError struct {
	File   string // the file, "" when read from a reader
	Line   int    // 1-based line number (1 is the header)
	Column string // column name, "" when the error is about the whole line
	Index  int    // 1-based column number, 0 with Column ""
	Value  string // the field at fault, when there is one
	Msg    string
}

func (e *LabelError) Error() string {
	s := "dataset: "
	if e.File != "" {
		s += e.File + ": "
	}
	s += fmt.Sprintf("line %d", e.Line)
	if e.Column != "" {
		s += fmt.Sprintf(", column %s (%d)", e.Column, e.Index)
	}
	if e.Value != "" || e.Column != "" {
		s += fmt.Sprintf(": %q", e.Value)
	}
	return s + ": " + e.Msg
}

// maxLine bounds a line of a flow-label file.
const maxLine = 1 << 20

// ReadFlowLabels reads a tab-separated flow-label file: a header line
// naming every one of Columns (any order; other columns are ignored), then
// one flow per line. Blank lines are skipped and a trailing carriage
// return is dropped. Addresses are ip:port, IPv6 bracketed
// ([2001:db8::1]:443) or not (2001:db8::1:443, the port after the last
// colon); zones are dropped. l4 is a protocol name (TCP, UDP, ICMP, ICMPV6,
// IGMP, SCTP, ...) or number. Labels may be empty. A malformed line gives
// a *LabelError naming the line and column.
func ReadFlowLabels(r io.Reader) ([]FlowLabel, error) {
	var lr LabelReader
	return lr.Read(r)
}

// ReadFlowLabelsFile reads the flow-label file at path (see
// ReadFlowLabels); errors name the file.
func ReadFlowLabelsFile(path string) ([]FlowLabel, error) {
	lr := LabelReader{File: path}
	return lr.ReadFile()
}

// LabelReader reads flow-label files as ReadFlowLabels does, and can skip
// malformed rows instead of stopping at the first: nDPI's own captures
// hold a few rows it wrote wrongly (IPv6 addresses with two "::").
type LabelReader struct {
	File string // named in errors; ReadFile reads it
	// SkipMalformed skips each malformed row, keeping its error in
	// Skipped. A bad header, an over-long line or a read error still
	// stops the reading.
	SkipMalformed bool
	Skipped       []*LabelError
}

// ReadFile reads the file lr.File.
func (lr *LabelReader) ReadFile() ([]FlowLabel, error) {
	f, err := os.Open(lr.File)
	if err != nil {
		return nil, fmt.Errorf("dataset: %w", err)
	}
	defer f.Close()
	return lr.Read(f)
}

// Read reads a flow-label file from r.
func (lr *LabelReader) Read(r io.Reader) ([]FlowLabel, error) {
	file := lr.File
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), maxLine)
	var (
		labels []FlowLabel
		idx    map[string]int // column name -> field index
		nf     int            // fields per line
		line   int
	)
	for sc.Scan() {
		line++
		text := strings.TrimSuffix(sc.Text(), "\r")
		if strings.TrimSpace(text) == "" {
			if idx == nil && line == 1 {
				return nil, &LabelError{File: file, Line: line, Msg: "empty header line (want " + strings.Join(Columns, ", ") + ")"}
			}
			continue
		}
		fields := strings.Split(text, "\t")
		if idx == nil {
			var err error
			if idx, err = header(fields); err != nil {
				return nil, &LabelError{File: file, Line: line, Msg: err.Error()}
			}
			nf = len(fields)
			continue
		}
		var (
			l   FlowLabel
			err *LabelError
		)
		if len(fields) != nf {
			err = &LabelError{Msg: fmt.Sprintf("%d tab-separated fields, want %d as in the header", len(fields), nf)}
		} else if strings.ContainsRune(text, '\r') {
			err = &LabelError{Msg: "a carriage return inside the line"}
		} else {
			l, err = parseRow(fields, idx)
		}
		if err != nil {
			err.File, err.Line = file, line
			if !lr.SkipMalformed {
				return nil, err
			}
			lr.Skipped = append(lr.Skipped, err)
			continue
		}
		l.Line = line
		labels = append(labels, l)
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return nil, &LabelError{File: file, Line: line + 1, Msg: fmt.Sprintf("line longer than %d bytes", maxLine)}
		}
		if file != "" {
			return nil, fmt.Errorf("dataset: %s: %w", file, err)
		}
		return nil, fmt.Errorf("dataset: %w", err)
	}
	if idx == nil {
		return nil, &LabelError{File: file, Line: 1, Msg: "no header line (want " + strings.Join(Columns, ", ") + ")"}
	}
	return labels, nil
}

// header maps each of Columns to its field index.
func header(fields []string) (map[string]int, error) {
	idx := make(map[string]int, len(Columns))
	for i, f := range fields {
		f = strings.TrimSpace(f)
		if _, dup := idx[f]; dup && f != "" {
			return nil, fmt.Errorf("header names column %q twice", f)
		}
		idx[f] = i
	}
	var missing []string
	for _, c := range Columns {
		if _, ok := idx[c]; !ok {
			missing = append(missing, c)
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("header lacks column(s) %s (want %s)", strings.Join(missing, ", "), strings.Join(Columns, ", "))
	}
	return idx, nil
}

func parseRow(fields []string, idx map[string]int) (FlowLabel, *LabelError) {
	var l FlowLabel
	field := func(col string) string { return fields[idx[col]] }
	bad := func(col, msg string) *LabelError {
		return &LabelError{Column: col, Index: idx[col] + 1, Value: field(col), Msg: msg}
	}
	l.Pcap = field("pcap")
	if l.Pcap == "" {
		return l, bad("pcap", "empty capture name")
	}
	if p := l.Pcap; strings.Contains(p, `\`) || path.IsAbs(p) || path.Clean(p) != p || p == "." || p == ".." || strings.HasPrefix(p, "../") {
		return l, bad("pcap", "not a clean relative file name (no backslashes, leading /, . or .. parts)")
	}
	n, err := strconv.Atoi(field("flow_no"))
	if err != nil || n < 0 {
		return l, bad("flow_no", "want a flow number of 0 or more")
	}
	l.FlowNo = n
	l.L4 = field("l4")
	p, ok := ParseL4(l.L4)
	if !ok {
		return l, bad("l4", "unknown transport: want TCP, UDP, ICMP, ICMPV6, ... or a protocol number 0-255")
	}
	l.Proto = p
	for _, c := range []struct {
		col string
		ap  *netip.AddrPort
	}{{"src", &l.Src}, {"dst", &l.Dst}} {
		ap, err := ParseAddrPort(field(c.col))
		if err != nil {
			return l, bad(c.col, err.Error())
		}
		*c.ap = ap
	}
	if l.Src.Addr().Is4() != l.Dst.Addr().Is4() {
		return l, bad("dst", "address family differs from src's")
	}
	for _, c := range []struct {
		col string
		s   *string
	}{{"ndpi_proto", &l.NDPIProto}, {"app", &l.App}, {"category", &l.Category}} {
		*c.s = field(c.col) // may be empty: nDPI writes no category for Unknown
	}
	for _, c := range []struct {
		col string
		n   *int64
	}{{"pkts_c2s", &l.PktsC2S}, {"bytes_c2s", &l.BytesC2S}, {"pkts_s2c", &l.PktsS2C}, {"bytes_s2c", &l.BytesS2C}} {
		v, err := strconv.ParseInt(field(c.col), 10, 64)
		if err != nil || v < 0 {
			return l, bad(c.col, "want a count of 0 or more")
		}
		*c.n = v
	}
	return l, nil
}

// l4Protos are the transport names nDPI writes, by protocol number.
var l4Protos = map[string]uint8{
	"ICMP": 1, "IGMP": 2, "TCP": 6, "UDP": 17, "GRE": 47, "ESP": 50, "AH": 51,
	"ICMPV6": 58, "OSPF": 89, "PIM": 103, "VRRP": 112, "PGM": 113, "SCTP": 132,
}

// ParseL4 reads an l4 field: a transport name nDPI writes (TCP, UDP,
// ICMP, ICMPV6, IGMP, GRE, ESP, AH, OSPF, PIM, VRRP, PGM, SCTP; any case)
// or a protocol number 0-255.
func ParseL4(s string) (uint8, bool) {
	if p, ok := l4Protos[strings.ToUpper(s)]; ok {
		return p, true
	}
	n, err := strconv.ParseUint(s, 10, 8)
	if err != nil {
		return 0, false
	}
	return uint8(n), true
}

// l4Name is the name WriteFlowLabels writes for proto when a label has no
// L4 text.
func l4Name(proto uint8) string {
	for n, p := range l4Protos {
		if p == proto {
			return n
		}
	}
	return strconv.Itoa(int(proto))
}

// ParseAddrPort reads an ip:port endpoint: 192.0.2.1:80, [2001:db8::1]:80,
// or an unbracketed IPv6 address whose port follows the last colon
// (2001:db8::1:80). A zone (%eth0) is dropped.
func ParseAddrPort(s string) (netip.AddrPort, error) {
	var host, port string
	if strings.HasPrefix(s, "[") {
		end := strings.LastIndex(s, "]:")
		if end < 0 {
			return netip.AddrPort{}, errors.New("want [ipv6]:port")
		}
		host, port = s[1:end], s[end+2:]
	} else {
		i := strings.LastIndexByte(s, ':')
		if i < 0 {
			return netip.AddrPort{}, errors.New("want ip:port")
		}
		host, port = s[:i], s[i+1:]
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("bad address %q", host)
	}
	if strings.HasPrefix(s, "[") && !a.Is6() {
		return netip.AddrPort{}, errors.New("an IPv4 address in brackets")
	}
	p, err := strconv.ParseUint(port, 10, 16)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("bad port %q: want 0-65535", port)
	}
	return netip.AddrPortFrom(a.WithZone(""), uint16(p)), nil
}

// WriteFlowLabels writes labels as a flow-label file that ReadFlowLabels
// reads back: a header of Columns, then one line per label. A label whose
// L4 is empty gets its Proto's name. Fields holding a tab or a line break
// are refused.
func WriteFlowLabels(w io.Writer, labels []FlowLabel) error {
	var b bytes.Buffer
	b.WriteString(strings.Join(Columns, "\t"))
	b.WriteByte('\n')
	for i, l := range labels {
		l4 := l.L4
		if l4 == "" {
			l4 = l4Name(l.Proto)
		}
		row := []string{l.Pcap, strconv.Itoa(l.FlowNo), l4, l.Src.String(), l.Dst.String(), l.NDPIProto, l.App, l.Category,
			strconv.FormatInt(l.PktsC2S, 10), strconv.FormatInt(l.BytesC2S, 10), strconv.FormatInt(l.PktsS2C, 10), strconv.FormatInt(l.BytesS2C, 10)}
		for _, f := range row {
			if strings.ContainsAny(f, "\t\r\n") {
				return fmt.Errorf("dataset: WriteFlowLabels: label %d: field %q holds a tab or line break", i, f)
			}
		}
		b.WriteString(strings.Join(row, "\t"))
		b.WriteByte('\n')
		if b.Len() >= 64<<10 {
			if _, err := w.Write(b.Bytes()); err != nil {
				return err
			}
			b.Reset()
		}
	}
	_, err := w.Write(b.Bytes())
	return err
}
