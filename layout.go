package t2t

import (
	"fmt"
	"strconv"
	"strings"
)

// Block is one nPrint header block. Blocks always appear in a row in the
// order of their values: eth, ipv4, ipv6, tcp, udp, icmp, payload.
type Block uint8

// The nPrint blocks.
const (
	BlockEth Block = iota
	BlockIPv4
	BlockIPv6
	BlockTCP
	BlockUDP
	BlockICMP
	BlockPayload
	numBlocks
)

var blockNames = [numBlocks]string{"eth", "ipv4", "ipv6", "tcp", "udp", "icmp", "payload"}

func (b Block) String() string {
	if b < numBlocks {
		return blockNames[b]
	}
	return "Block(" + strconv.Itoa(int(b)) + ")"
}

// blockBytes is the fixed width of each header block in bytes (payload
// width comes from the layout).
var blockBytes = [numBlocks]int{14, 60, 40, 60, 8, 8, 0}

// Field is one named header field of nPrint: columns <Name>_0 (most
// significant bit) to <Name>_<Bits-1>.
type Field struct {
	Name  string
	Block Block
	Off   int // bit offset of the field in its block
	Bits  int // width in bits
}

func fieldList(b Block, spec ...any) []Field {
	var fs []Field
	off := 0
	for i := 0; i < len(spec); i += 2 {
		n := spec[i+1].(int)
		fs = append(fs, Field{Name: spec[i].(string), Block: b, Off: off, Bits: n})
		off += n
	}
	if off != blockBytes[b]*8 {
		panic(fmt.Sprintf("t2t: %v fields cover %d bits, block has %d", b, off, blockBytes[b]*8))
	}
	return fs
}

// blockFields lists nPrint 1.2.1's fields of each fixed-size block.
var blockFields = [numBlocks][]Field{
	BlockEth: fieldList(BlockEth, "eth_dhost", 48, "eth_shost", 48, "eth_ethertype", 16),
	BlockIPv4: fieldList(BlockIPv4, "ipv4_ver", 4, "ipv4_hl", 4, "ipv4_tos", 8, "ipv4_tl", 16,
		"ipv4_id", 16, "ipv4_rbit", 1, "ipv4_dfbit", 1, "ipv4_mfbit", 1, "ipv4_foff", 13,
		"ipv4_ttl", 8, "ipv4_proto", 8, "ipv4_cksum", 16, "ipv4_src", 32, "ipv4_dst", 32,
		"ipv4_opt", 320),
	BlockIPv6: fieldList(BlockIPv6, "ipv6_ver", 4, "ipv6_tc", 8, "ipv6_fl", 20, "ipv6_len", 16,
		"ipv6_nh", 8, "ipv6_hl", 8, "ipv6_src", 128, "ipv6_dst", 128),
	BlockTCP: fieldList(BlockTCP, "tcp_sprt", 16, "tcp_dprt", 16, "tcp_seq", 32, "tcp_ackn", 32,
		"tcp_doff", 4, "tcp_res", 3, "tcp_ns", 1, "tcp_cwr", 1, "tcp_ece", 1, "tcp_urg", 1,
		"tcp_ackf", 1, "tcp_psh", 1, "tcp_rst", 1, "tcp_syn", 1, "tcp_fin", 1, "tcp_wsize", 16,
		"tcp_cksum", 16, "tcp_urp", 16, "tcp_opt", 320),
	BlockUDP:  fieldList(BlockUDP, "udp_sport", 16, "udp_dport", 16, "udp_len", 16, "udp_cksum", 16),
	BlockICMP: fieldList(BlockICMP, "icmp_type", 8, "icmp_code", 8, "icmp_cksum", 16, "icmp_roh", 32),
}

// LayoutSpec says which nPrint blocks a layout holds, as nPrint's flags do
// (-e -4 -6 -t -u -i -p N), and which fields it leaves out. It round-trips
// through JSON.
type LayoutSpec struct {
	Eth     bool     `json:"eth,omitempty"`
	IPv4    bool     `json:"ipv4,omitempty"`
	IPv6    bool     `json:"ipv6,omitempty"`
	TCP     bool     `json:"tcp,omitempty"`
	UDP     bool     `json:"udp,omitempty"`
	ICMP    bool     `json:"icmp,omitempty"`
	Payload int      `json:"payload,omitempty"` // payload bytes (nPrint's -p takes bits... see PayloadBits)
	Drop    []string `json:"drop,omitempty"`    // field names left out, e.g. "ipv4_src"
}

// NPrintSpec is nPrint's usual flag set -4 -6 -t -u -i: 1408 columns.
var NPrintSpec = LayoutSpec{IPv4: true, IPv6: true, TCP: true, UDP: true, ICMP: true}

// NetDiffusionSpec is NetDiffusion's image layout: nPrint's IPv4, IPv6,
// TCP, UDP and ICMP blocks without the four address fields, 1088 columns.
var NetDiffusionSpec = LayoutSpec{IPv4: true, IPv6: true, TCP: true, UDP: true, ICMP: true,
	Drop: []string{"ipv4_src", "ipv4_dst", "ipv6_src", "ipv6_dst"}}

// segment is a run of consecutive columns taken from consecutive bits of
// one block.
type segment struct {
	block Block
	bit   int // first bit in the block
	n     int // number of bits
	col   int // first column
}

// Layout is a compiled LayoutSpec: the ordered list of columns of an nPrint
// row. A Layout is immutable and safe for concurrent use.
type Layout struct {
	spec     LayoutSpec
	has      [numBlocks]bool
	payload  int // bytes
	width    int
	segs     []segment
	fields   []Field        // fields present, in column order, with colStart
	fieldCol []int          // first column of each field in fields
	fieldAt  map[string]int // index in fields by name
	blockCol [numBlocks]int // first column of each block, -1 if absent
}

// Layout compiles the spec. It fails on unknown field names in Drop, on a
// negative payload, and on a spec without any block.
func (s LayoutSpec) Layout() (*Layout, error) {
	l := &Layout{spec: s, payload: s.Payload}
	l.spec.Drop = append([]string(nil), s.Drop...)
	if s.Payload < 0 {
		return nil, fmt.Errorf("t2t: layout: negative payload width %d", s.Payload)
	}
	l.has = [numBlocks]bool{s.Eth, s.IPv4, s.IPv6, s.TCP, s.UDP, s.ICMP, s.Payload > 0}
	drop := map[string]bool{}
	for _, d := range s.Drop {
		if _, ok := fieldByName(d); !ok {
			return nil, fmt.Errorf("t2t: layout: unknown field %q to drop", d)
		}
		drop[d] = true
	}
	col := 0
	for b := Block(0); b < numBlocks; b++ {
		l.blockCol[b] = -1
		if !l.has[b] {
			continue
		}
		l.blockCol[b] = col
		fs := blockFields[b]
		if b == BlockPayload {
			fs = []Field{{Name: "payload_bit", Block: b, Off: 0, Bits: 8 * s.Payload}}
		}
		for _, f := range fs {
			if drop[f.Name] {
				continue
			}
			if l.fieldAt == nil {
				l.fieldAt = map[string]int{}
			}
			l.fieldAt[f.Name] = len(l.fields)
			l.fields = append(l.fields, f)
			l.fieldCol = append(l.fieldCol, col)
			if n := len(l.segs); n > 0 && l.segs[n-1].block == b && l.segs[n-1].bit+l.segs[n-1].n == f.Off {
				l.segs[n-1].n += f.Bits
			} else {
				l.segs = append(l.segs, segment{block: b, bit: f.Off, n: f.Bits, col: col})
			}
			col += f.Bits
		}
	}
	if col == 0 {
		return nil, fmt.Errorf("t2t: layout: no columns (enable at least one block)")
	}
	l.width = col
	return l, nil
}

// MustLayout is Layout for specs known to be valid; it panics otherwise.
func (s LayoutSpec) MustLayout() *Layout {
	l, err := s.Layout()
	if err != nil {
		panic(err)
	}
	return l
}

func fieldByName(name string) (Field, bool) {
	for _, fs := range blockFields {
		for _, f := range fs {
			if f.Name == name {
				return f, true
			}
		}
	}
	if name == "payload_bit" {
		return Field{Name: name, Block: BlockPayload}, true
	}
	return Field{}, false
}

// Spec returns the spec the layout was compiled from.
func (l *Layout) Spec() LayoutSpec {
	s := l.spec
	s.Drop = append([]string(nil), s.Drop...)
	return s
}

// Width is the number of columns.
func (l *Layout) Width() int { return l.width }

// Has reports whether the layout holds block b.
func (l *Layout) Has(b Block) bool { return b < numBlocks && l.has[b] }

// PayloadBytes is the width of the payload block in bytes.
func (l *Layout) PayloadBytes() int { return l.payload }

// Fields returns the fields of the layout in column order.
func (l *Layout) Fields() []Field { return append([]Field(nil), l.fields...) }

// Field returns the first column and the width of the named field, or
// ok == false if the layout does not hold it.
func (l *Layout) Field(name string) (col, bits int, ok bool) {
	i, ok := l.fieldAt[name]
	if !ok {
		return 0, 0, false
	}
	return l.fieldCol[i], l.fields[i].Bits, true
}

// Columns returns the column names, nPrint style (<field>_<bit>).
func (l *Layout) Columns() []string {
	cols := make([]string, 0, l.width)
	for _, f := range l.fields {
		for i := 0; i < f.Bits; i++ {
			cols = append(cols, f.Name+"_"+strconv.Itoa(i))
		}
	}
	return cols
}

// ColumnBit maps column c to its block and bit offset in that block.
func (l *Layout) ColumnBit(c int) (Block, int) {
	for _, s := range l.segs {
		if c >= s.col && c < s.col+s.n {
			return s.block, s.bit + c - s.col
		}
	}
	panic(fmt.Sprintf("t2t: column %d out of range [0,%d)", c, l.width))
}

// String is a short description, e.g. "ipv4+ipv6+tcp+udp+icmp-4 fields (1088 columns)".
func (l *Layout) String() string {
	var parts []string
	for b := Block(0); b < numBlocks; b++ {
		if l.has[b] {
			if b == BlockPayload {
				parts = append(parts, fmt.Sprintf("payload%d", l.payload))
			} else {
				parts = append(parts, b.String())
			}
		}
	}
	s := strings.Join(parts, "+")
	if len(l.spec.Drop) > 0 {
		s += fmt.Sprintf("-%d fields", len(l.spec.Drop))
	}
	return fmt.Sprintf("%s (%d columns)", s, l.width)
}

// LayoutFromColumns recognises a layout from nPrint column names (a CSV
// header without its key and time columns). Columns must be whole fields in
// nPrint's order.
func LayoutFromColumns(cols []string) (*Layout, error) {
	var s LayoutSpec
	present := map[string]int{}
	order := []string{}
	for i, c := range cols {
		k := strings.LastIndexByte(c, '_')
		if k < 0 {
			return nil, fmt.Errorf("t2t: column %d %q is not an nPrint bit column", i+1, c)
		}
		name := c[:k]
		if _, ok := present[name]; !ok {
			order = append(order, name)
		}
		present[name]++
	}
	for _, name := range order {
		f, ok := fieldByName(name)
		if !ok {
			return nil, fmt.Errorf("t2t: unknown nPrint field %q in columns", name)
		}
		switch f.Block {
		case BlockEth:
			s.Eth = true
		case BlockIPv4:
			s.IPv4 = true
		case BlockIPv6:
			s.IPv6 = true
		case BlockTCP:
			s.TCP = true
		case BlockUDP:
			s.UDP = true
		case BlockICMP:
			s.ICMP = true
		case BlockPayload:
			if present[name]%8 != 0 {
				return nil, fmt.Errorf("t2t: %d payload bit columns is not a whole number of bytes", present[name])
			}
			s.Payload = present[name] / 8
		}
	}
	for b := Block(0); b < BlockPayload; b++ {
		on := [...]bool{s.Eth, s.IPv4, s.IPv6, s.TCP, s.UDP, s.ICMP}[b]
		if !on {
			continue
		}
		for _, f := range blockFields[b] {
			if _, ok := present[f.Name]; !ok {
				s.Drop = append(s.Drop, f.Name)
			}
		}
	}
	l, err := s.Layout()
	if err != nil {
		return nil, err
	}
	want := l.Columns()
	if len(want) != len(cols) {
		return nil, fmt.Errorf("t2t: %d bit columns do not form whole nPrint fields (layout %v has %d)", len(cols), l, len(want))
	}
	for i := range want {
		if want[i] != cols[i] {
			return nil, fmt.Errorf("t2t: column %d is %q, nPrint layout %v has %q there", i+1, cols[i], l, want[i])
		}
	}
	return l, nil
}

// KnownSpecs are the layouts of flow images and nPrint CSVs made outside
// t2t, in the order LayoutForWidth tries them: NetDiffusion's image layout
// (1088 columns), nPrint's -4 -6 -t -u -i (1408) and the same with
// Ethernet headers, -e -4 -6 -t -u -i (1520). KnownSpecs must not be
// modified.
var KnownSpecs = []LayoutSpec{
	NetDiffusionSpec,
	NPrintSpec,
	{Eth: true, IPv4: true, IPv6: true, TCP: true, UDP: true, ICMP: true},
}

// LayoutForWidth returns the layout of an image or nPrint row width
// columns wide: the first of specs (KnownSpecs when none are given) that
// is that wide. The widths of specs may coincide (NetDiffusion's layout
// with 40 payload bytes is as wide as nPrint's); the first wins. The
// error says the width and lists the widths accepted.
func LayoutForWidth(width int, specs ...LayoutSpec) (*Layout, error) {
	if len(specs) == 0 {
		specs = KnownSpecs
	}
	var known []string
	for _, s := range specs {
		l, err := s.Layout()
		if err != nil {
			return nil, err
		}
		if l.Width() == width {
			return l, nil
		}
		known = append(known, l.String())
	}
	return nil, fmt.Errorf("t2t: no known layout is %d columns wide; known: %s", width, strings.Join(known, ", "))
}
