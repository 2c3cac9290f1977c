package t2t

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"
)

// KeyKind is the key column of an nPrint CSV, nPrint's -O option.
type KeyKind int

// nPrint's -O values.
const (
	KeySrcIP   KeyKind = 0 // src_ip
	KeyDstIP   KeyKind = 1 // dst_ip
	KeySrcPort KeyKind = 2 // src_prt
	KeyDstPort KeyKind = 3 // dst_prt
	KeyFlow    KeyKind = 4 // flow: src_dst_sport_dport_PROTO
)

var keyNames = [...]string{"src_ip", "dst_ip", "src_prt", "dst_prt", "flow"}

// Name is the key column's header name.
func (k KeyKind) Name() string {
	if k >= 0 && int(k) < len(keyNames) {
		return keyNames[k]
	}
	return "key"
}

// AppendKey appends the key of a packet as nPrint writes it.
func (k KeyKind) AppendKey(dst []byte, p *PacketInfo) []byte {
	ip := func(dst []byte, a interface{ AppendTo([]byte) []byte }, ok bool) []byte {
		if !ok {
			return append(dst, "NULL"...)
		}
		return a.AppendTo(dst)
	}
	port := func(dst []byte, v uint16) []byte {
		if p.Proto != ProtoTCP && p.Proto != ProtoUDP {
			return append(dst, "NULL"...)
		}
		return strconv.AppendUint(dst, uint64(v), 10)
	}
	switch k {
	case KeySrcIP:
		return ip(dst, p.Src, p.Src.IsValid())
	case KeyDstIP:
		return ip(dst, p.Dst, p.Dst.IsValid())
	case KeySrcPort:
		return port(dst, p.SrcPort)
	case KeyDstPort:
		return port(dst, p.DstPort)
	case KeyFlow:
		dst = ip(dst, p.Src, p.Src.IsValid())
		dst = append(dst, '_')
		dst = ip(dst, p.Dst, p.Dst.IsValid())
		dst = append(dst, '_')
		dst = port(dst, p.SrcPort)
		dst = append(dst, '_')
		dst = port(dst, p.DstPort)
		switch p.Proto {
		case ProtoTCP:
			return append(dst, "_TCP"...)
		case ProtoUDP:
			return append(dst, "_UDP"...)
		}
		return append(dst, "_NULL"...)
	}
	return dst
}

// TimeColumns says which time columns an nPrint CSV carries.
type TimeColumns int

// Time column choices: none, nPrint's -R (rts: microseconds since the
// previous row) and nPrint's -A (tv_sec, tv_usec).
const (
	TimeNone TimeColumns = iota
	TimeRelative
	TimeAbsolute
)

// CSVOptions choose the key and time columns of a CSV.
type CSVOptions struct {
	Key  KeyKind
	Time TimeColumns
}

// CSVWriter writes nPrint CSV: a header, then one line per row. It buffers;
// call Flush at the end.
//
// Its exported fields change what it writes as nPrint's output options
// do; set them before the first row.
type CSVWriter struct {
	// Fill is the value written for a vacant bit: -1 (NewCSVWriter's
	// default, as nPrint's), or another, as nPrint's -F sets it. A CSV
	// whose fill is 0 or 1 cannot be read back with its vacant bits.
	Fill int8
	// Omit, when not nil, leaves out of the header and the rows every bit
	// column whose name (e.g. "ipv4_ttl_0") it reports true for, as
	// nPrint's -x does with the columns its regular expression matches.
	// The key and time columns are always written.
	Omit func(column string) bool
	// KeyHeader, when not empty, is written in the header instead of the
	// key column's name: the names of the columns the keys of WriteRow
	// hold (nPrint's -C writes its input's header there, comma-separated).
	KeyHeader string

	w      *bufio.Writer
	layout *Layout
	opts   CSVOptions
	header bool
	keep   []int // with Omit, the columns written
	prev   int64 // previous row's time in microseconds
	rows   int
	buf    []byte
	err    error
}

// NewCSVWriter returns a writer of rows of layout.
func NewCSVWriter(w io.Writer, layout *Layout, opts CSVOptions) *CSVWriter {
	return &CSVWriter{Fill: -1, w: bufio.NewWriterSize(w, 1<<16), layout: layout, opts: opts}
}

// WriteHeader writes the header line. WriteRow calls it when needed.
func (c *CSVWriter) WriteHeader() error {
	if c.header {
		return c.err
	}
	c.header = true
	key := c.KeyHeader
	if key == "" {
		key = c.opts.Key.Name()
	}
	b := append(c.buf[:0], key...)
	switch c.opts.Time {
	case TimeRelative:
		b = append(b, ",rts"...)
	case TimeAbsolute:
		b = append(b, ",tv_sec,tv_usec"...)
	}
	col := 0
	if c.Omit != nil {
		c.keep = make([]int, 0, c.layout.width)
	}
	for _, f := range c.layout.fields {
		for i := 0; i < f.Bits; i++ {
			n := len(b)
			b = append(b, ',')
			b = append(b, f.Name...)
			b = append(b, '_')
			b = strconv.AppendInt(b, int64(i), 10)
			if c.Omit != nil {
				if c.Omit(string(b[n+1:])) {
					b = b[:n]
				} else {
					c.keep = append(c.keep, col)
				}
			}
			col++
		}
	}
	b = append(b, '\n')
	c.buf = b
	_, c.err = c.w.Write(b)
	return c.err
}

// appendBits appends ",v" for each value of row; it returns nil if a
// value is not 1, 0 or -1.
func appendBits(b []byte, row []int8) []byte {
	n := len(b)
	if need := n + 3*len(row); cap(b) < need {
		nb := make([]byte, n, need+need/4)
		copy(nb, b)
		b = nb
	}
	b = b[:n+3*len(row)]
	p := n
	for _, v := range row {
		b[p] = ','
		switch v {
		case 0, 1:
			b[p+1] = '0' + byte(v)
			p += 2
		case -1:
			b[p+1], b[p+2] = '-', '1'
			p += 3
		default:
			return nil
		}
	}
	return b[:p]
}

// WriteRow writes one row with its key (see KeyKind.AppendKey) and capture
// time. As libpcap does for nPrint, times are truncated to microseconds.
func (c *CSVWriter) WriteRow(key []byte, ts time.Time, row []int8) error {
	if c.err != nil {
		return c.err
	}
	if len(row) != c.layout.width {
		return fmt.Errorf("t2t: csv: row of %d values for a layout of %d columns", len(row), c.layout.width)
	}
	if err := c.WriteHeader(); err != nil {
		return err
	}
	b := append(c.buf[:0], key...)
	us := ts.UnixMicro()
	switch c.opts.Time {
	case TimeRelative:
		d := int64(0)
		if c.rows > 0 {
			d = us - c.prev
		}
		b = append(b, ',')
		b = strconv.AppendInt(b, d, 10)
	case TimeAbsolute:
		b = append(b, ',')
		b = strconv.AppendInt(b, floorDiv(us, 1e6), 10)
		b = append(b, ',')
		b = strconv.AppendInt(b, us-floorDiv(us, 1e6)*1e6, 10)
	}
	c.prev = us
	c.rows++
	if c.Omit == nil && c.Fill == -1 {
		b = appendBits(b, row)
	} else {
		b = c.appendSome(b, row)
	}
	if b == nil {
		for i, v := range row {
			if v < -1 || v > 1 {
				return fmt.Errorf("t2t: csv: value %d in column %d is not 1, 0 or -1", v, i)
			}
		}
	}
	b = append(b, '\n')
	c.buf = b
	_, c.err = c.w.Write(b)
	return c.err
}

// appendSome is appendBits for a writer with Omit or a Fill other than
// -1: ",v" for each column kept, Fill for the vacant ones. It returns nil
// if a value is not 1, 0 or -1.
func (c *CSVWriter) appendSome(b []byte, row []int8) []byte {
	put := func(b []byte, v int8) []byte {
		switch v {
		case 0, 1:
			return append(b, ',', '0'+byte(v))
		case -1:
			return strconv.AppendInt(append(b, ','), int64(c.Fill), 10)
		}
		return nil
	}
	if c.keep == nil {
		for _, v := range row {
			if b = put(b, v); b == nil {
				return nil
			}
		}
		return b
	}
	for _, i := range c.keep {
		if b = put(b, row[i]); b == nil {
			return nil
		}
	}
	// a value out of range in an omitted column is still an error
	for _, v := range row {
		if v < -1 || v > 1 {
			return nil
		}
	}
	return b
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

// Flush writes buffered data.
func (c *CSVWriter) Flush() error {
	if c.err != nil {
		return c.err
	}
	if !c.header {
		if err := c.WriteHeader(); err != nil {
			return err
		}
	}
	c.err = c.w.Flush()
	return c.err
}

// CSVRow is one line of an nPrint CSV.
type CSVRow struct {
	Key string
	// Time is the row's time: from tv_sec,tv_usec, or the running sum of
	// rts from the reader's Base; zero when the file has no time columns.
	Time time.Time
	Bits []int8 // valid until the next Read
}

// CSVReader reads nPrint CSV files: an optional key column (any name that
// is not a bit column; nPrint's src_ip, flow, ... or NetDiffusion's), the
// optional time columns rts or tv_sec,tv_usec, then bit columns that form
// whole nPrint fields in nPrint's order. Values are 1, 0 or -1, also
// written as 1.0, 0.0, -1.0.
type CSVReader struct {
	// Name names the input in errors (a file name).
	Name string
	// Base is the time of the first row of a file with rts columns
	// (nPrint does not record it). Zero means DefaultStart.
	Base time.Time

	r       *bufio.Reader
	line    int
	layout  *Layout
	keyCols int // leading non-bit, non-time columns
	keyName string
	timeCol TimeColumns
	timeAt  int // index of the first time column
	nhead   int // columns in the header
	row     CSVRow
	now     int64 // running time in microseconds for rts
	started bool
}

// DefaultBaseTime is the time given to the first row of a CSV that holds
// only relative times: DefaultStart.
//
// Deprecated: use DefaultStart, which it copies.
var DefaultBaseTime = DefaultStart

// NewCSVReader reads the header of an nPrint CSV and returns a reader of
// its rows.
func NewCSVReader(r io.Reader, name string) (*CSVReader, error) {
	c := &CSVReader{Name: name, r: bufio.NewReaderSize(r, 1<<16)}
	line, err := c.readLine()
	if err == io.EOF {
		return nil, c.errorf(1, "empty file: no header")
	}
	if err != nil {
		return nil, err
	}
	cols := strings.Split(strings.TrimSuffix(string(line), "\r"), ",")
	c.nhead = len(cols)
	i := 0
	for i < len(cols) {
		name := strings.TrimSpace(cols[i])
		if name == "rts" || name == "tv_sec" {
			break
		}
		if _, ok := bitColumn(name); ok {
			break
		}
		i++
	}
	c.keyCols = i
	if i > 0 {
		c.keyName = strings.TrimSpace(cols[0])
	}
	c.timeAt = i
	if i < len(cols) && strings.TrimSpace(cols[i]) == "rts" {
		c.timeCol = TimeRelative
		i++
	} else if i+1 < len(cols) && strings.TrimSpace(cols[i]) == "tv_sec" && strings.TrimSpace(cols[i+1]) == "tv_usec" {
		c.timeCol = TimeAbsolute
		i += 2
	} else if i < len(cols) && strings.TrimSpace(cols[i]) == "tv_sec" {
		return nil, c.errorf(1, "column %d: tv_sec without tv_usec", i+1)
	}
	bitCols := make([]string, len(cols)-i)
	for j := range bitCols {
		bitCols[j] = strings.TrimSpace(cols[i+j])
	}
	if len(bitCols) == 0 {
		return nil, c.errorf(1, "header has no nPrint bit columns")
	}
	l, err := LayoutFromColumns(bitCols)
	if err != nil {
		return nil, c.errorf(1, "%v", err)
	}
	c.layout = l
	c.row.Bits = make([]int8, l.width)
	if c.Base.IsZero() {
		c.Base = DefaultStart
	}
	return c, nil
}

func bitColumn(name string) (Field, bool) {
	k := strings.LastIndexByte(name, '_')
	if k < 0 {
		return Field{}, false
	}
	if _, err := strconv.Atoi(name[k+1:]); err != nil {
		return Field{}, false
	}
	return fieldByName(name[:k])
}

// Layout is the layout of the file's bit columns.
func (c *CSVReader) Layout() *Layout { return c.layout }

// Time says which time columns the file carries.
func (c *CSVReader) Time() TimeColumns { return c.timeCol }

// KeyName is the name of the key column ("" when there is none); the
// reader keeps the first of several leading non-bit columns.
func (c *CSVReader) KeyName() string { return c.keyName }

func (c *CSVReader) errorf(line int, format string, args ...any) error {
	return fmt.Errorf("t2t: csv: %s:%d: %s", c.Name, line, fmt.Sprintf(format, args...))
}

func (c *CSVReader) readLine() ([]byte, error) {
	line, err := c.r.ReadSlice('\n')
	if err == bufio.ErrBufferFull {
		// a long line: collect it
		buf := append([]byte(nil), line...)
		for err == bufio.ErrBufferFull {
			line, err = c.r.ReadSlice('\n')
			buf = append(buf, line...)
		}
		line = buf
	}
	if err == io.EOF && len(line) > 0 {
		err = nil
	}
	if err != nil {
		return nil, err
	}
	c.line++
	return bytes.TrimRight(line, "\r\n"), nil
}

// Read returns the next row, or io.EOF at the end. Errors name the file,
// line and column.
func (c *CSVReader) Read() (*CSVRow, error) {
	line, err := c.readLine()
	for err == nil && len(bytes.TrimSpace(line)) == 0 {
		line, err = c.readLine()
	}
	if err != nil {
		return nil, err
	}
	ln := c.line
	col := 0
	next := func() ([]byte, bool) {
		if line == nil {
			return nil, false
		}
		k := bytes.IndexByte(line, ',')
		var f []byte
		if k < 0 {
			f, line = line, nil
		} else {
			f, line = line[:k], line[k+1:]
		}
		col++
		return f, true
	}
	c.row.Key = ""
	for i := 0; i < c.keyCols; i++ {
		f, ok := next()
		if !ok {
			return nil, c.errorf(ln, "%d columns, header has %d", col, c.nhead)
		}
		if i == 0 {
			c.row.Key = string(f)
		}
	}
	c.row.Time = time.Time{}
	switch c.timeCol {
	case TimeRelative:
		f, ok := next()
		if !ok {
			return nil, c.errorf(ln, "%d columns, header has %d", col, c.nhead)
		}
		d, err := parseInt(f)
		if err != nil {
			return nil, c.errorf(ln, "column %d (rts): %q is not a whole number of microseconds", col, f)
		}
		if !c.started {
			c.now = c.Base.UnixMicro()
			c.started = true
		}
		c.now += d
		c.row.Time = time.UnixMicro(c.now).UTC()
	case TimeAbsolute:
		fs, ok1 := next()
		fu, ok2 := next()
		if !ok1 || !ok2 {
			return nil, c.errorf(ln, "%d columns, header has %d", col, c.nhead)
		}
		s, err1 := parseInt(fs)
		u, err2 := parseInt(fu)
		if err1 != nil || err2 != nil || u < 0 || u >= 1e6 {
			return nil, c.errorf(ln, "columns %d-%d (tv_sec,tv_usec): %q,%q is not a time", col-1, col, fs, fu)
		}
		c.row.Time = time.Unix(s, u*1000).UTC()
	}
	for j := range c.row.Bits {
		f, ok := next()
		if !ok {
			return nil, c.errorf(ln, "%d columns, header has %d", col-1, c.nhead)
		}
		v, ok := parseBit(f)
		if !ok {
			return nil, c.errorf(ln, "column %d: %q is not 1, 0 or -1", col, truncate(f))
		}
		c.row.Bits[j] = v
	}
	if line != nil {
		return nil, c.errorf(ln, "more columns than the header's %d", c.nhead)
	}
	return &c.row, nil
}

func truncate(b []byte) string {
	if len(b) > 20 {
		return string(b[:20]) + "..."
	}
	return string(b)
}

func parseInt(b []byte) (int64, error) {
	return strconv.ParseInt(string(bytes.TrimSpace(b)), 10, 64)
}

func parseBit(f []byte) (int8, bool) {
	switch len(f) {
	case 1:
		switch f[0] {
		case '0':
			return 0, true
		case '1':
			return 1, true
		}
	case 2:
		if f[0] == '-' && f[1] == '1' {
			return -1, true
		}
	}
	s := strings.TrimSpace(string(f))
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(v) {
		return 0, false
	}
	switch v {
	case 0:
		return 0, true
	case 1:
		return 1, true
	case -1:
		return -1, true
	}
	return 0, false
}

// ReadCSV reads a whole nPrint CSV into a Matrix and the rows' keys.
func ReadCSV(r io.Reader, name string) (*Matrix, []string, error) {
	c, err := NewCSVReader(r, name)
	if err != nil {
		return nil, nil, err
	}
	m := &Matrix{Layout: c.layout, Cols: c.layout.width}
	var keys []string
	for {
		row, err := c.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, nil, err
		}
		m.Bits = append(m.Bits, row.Bits...)
		if c.timeCol != TimeNone {
			m.Times = append(m.Times, row.Time)
		}
		m.Rows++
		keys = append(keys, row.Key)
	}
	return m, keys, nil
}
