package controlnet

import (
	"encoding/base64"
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
	"t2t"
	"t2t/train"
)

// Templates are the structure maps of a set of real flows, per class: what
// a ControlNet can be steered with when the user gives no control, so
// that generated flows take the real flows' shapes (how many packets,
// which transport, which headers and options per packet) in the real
// proportions. Each distinct row mask is stored once (packed bits, base64);
// a flow is the list of its rows' mask indices. They travel in the
// ControlNet's file.
type Templates struct {
	Rows    int                        `json:"rows"`
	Cols    int                        `json:"cols"`
	Classes map[string]*ClassTemplates `json:"classes"`
}

// ClassTemplates are one class's flows.
type ClassTemplates struct {
	Masks []string       `json:"masks"` // distinct row masks, Cols bits packed MSB first, base64
	Flows []FlowTemplate `json:"flows"`
}

// FlowTemplate is one flow: its transport word and, per packet, the index
// of its row mask (rows past the end are vacant). For TCP and UDP flows
// it also holds the server's port and each packet's direction, one byte
// per row: '0' client to server (the server port is the destination),
// '1' server to client, '-' neither port is the server's. Templates made
// before directions were recorded have neither. For ICMP flows Dirs
// holds each packet's echo direction ('0' an echo request, type 8; '1'
// an echo reply, type 0; '-' another type) and Server is 0.
type FlowTemplate struct {
	Transport string `json:"transport"`
	Rows      []int  `json:"rows"`
	Server    int    `json:"server,omitempty"`
	Dirs      string `json:"dirs,omitempty"`
}

// BuildTemplates records, per class, the structure maps of the first rows
// packets of each flow with at least minPackets packets (flows as training
// encodes them: train.Matrices). Every matrix has cols columns.
func BuildTemplates(flows map[string][]train.Flow, cols, rows, minPackets int) (*Templates, error) {
	t := &Templates{Rows: rows, Cols: cols, Classes: map[string]*ClassTemplates{}}
	classes := make([]string, 0, len(flows))
	for c := range flows {
		classes = append(classes, c)
	}
	sort.Strings(classes)
	for _, c := range classes {
		ct := &ClassTemplates{}
		index := map[string]int{}
		for i, f := range flows[c] {
			m := f.Matrix
			if m.Cols != cols {
				return nil, fmt.Errorf("controlnet: templates: flow %d of %s has %d columns, want %d", i, c, m.Cols, cols)
			}
			if m.Rows < max(minPackets, 1) {
				continue
			}
			ft := FlowTemplate{Transport: f.Transport}
			ft.Server, ft.Dirs = directions(m, rows)
			for r := 0; r < min(m.Rows, rows); r++ {
				key := packRow(m.Row(r))
				i, ok := index[key]
				if !ok {
					i = len(ct.Masks)
					index[key] = i
					ct.Masks = append(ct.Masks, key)
				}
				ft.Rows = append(ft.Rows, i)
			}
			ct.Flows = append(ct.Flows, ft)
		}
		if len(ct.Flows) > 0 {
			t.Classes[c] = ct
		}
	}
	return t, nil
}

// portFields are the port fields of each transport: source, destination.
var portFields = map[uint8][2]string{t2t.ProtoTCP: {"tcp_sprt", "tcp_dprt"}, t2t.ProtoUDP: {"udp_sport", "udp_dport"}}

// directions reads the server port of a TCP or UDP flow (the destination
// port of its first packet, which training flows start with) and each of
// its first rows packets' direction (FlowTemplate.Dirs); 0 and "" for
// other flows or a layout without ports.
func directions(m *t2t.Matrix, rows int) (int, string) {
	if m.Layout == nil || m.Rows == 0 {
		return 0, ""
	}
	fr := t2t.NewFieldReader(m.Layout)
	proto := uint8(0)
	if fr.Load(m.Row(0)) == nil {
		switch {
		case m.Layout.Has(t2t.BlockTCP) && fr.Present(t2t.BlockTCP, 20):
			proto = t2t.ProtoTCP
		case m.Layout.Has(t2t.BlockUDP) && fr.Present(t2t.BlockUDP, 8):
			proto = t2t.ProtoUDP
		case m.Layout.Has(t2t.BlockICMP) && fr.Present(t2t.BlockICMP, 8):
			return 0, echoes(fr, m, rows)
		}
	}
	pf, ok := portFields[proto]
	if !ok {
		return 0, ""
	}
	if _, _, ok := m.Layout.Field(pf[0]); !ok {
		return 0, ""
	}
	server, vacant := fr.Field(pf[1])
	if vacant != 0 || server == 0 {
		return 0, ""
	}
	dirs := make([]byte, 0, min(m.Rows, rows))
	for r := 0; r < min(m.Rows, rows); r++ {
		d := byte('-')
		if fr.Load(m.Row(r)) == nil {
			sp, v1 := fr.Field(pf[0])
			dp, v2 := fr.Field(pf[1])
			switch {
			case v1 != 0 || v2 != 0:
			case dp == server:
				d = '0'
			case sp == server:
				d = '1'
			}
		}
		dirs = append(dirs, d)
	}
	return int(server), string(dirs)
}

// echoes is the echo direction of each of m's first rows packets (see
// FlowTemplate.Dirs for ICMP).
func echoes(fr *t2t.FieldReader, m *t2t.Matrix, rows int) string {
	dirs := make([]byte, 0, min(m.Rows, rows))
	for r := 0; r < min(m.Rows, rows); r++ {
		d := byte('-')
		if fr.Load(m.Row(r)) == nil {
			switch typ, vacant := fr.Field("icmp_type"); {
			case vacant != 0:
			case typ == 8:
				d = '0'
			case typ == 0:
				d = '1'
			}
		}
		dirs = append(dirs, d)
	}
	return string(dirs)
}

// known sets, in c.Known, the server port of template f in the port field
// of each row's direction (see FlowTemplate); nothing when f has no
// directions or the columns are no known layout.
func (t *Templates) known(c *Control, f *FlowTemplate) {
	if f.Dirs == "" {
		return
	}
	l, err := t2t.LayoutForWidth(t.Cols)
	if err != nil {
		return
	}
	if f.Transport == "icmp" {
		t.knownEchoes(c, f, l)
		return
	}
	proto, _ := t2t.TransportProto(f.Transport)
	pf, ok := portFields[proto]
	if !ok || f.Server <= 0 || f.Server > 65535 {
		return
	}
	var cols [2]int
	for i, name := range pf {
		col, bits, ok := l.Field(name)
		if !ok || bits != 16 {
			return
		}
		cols[i] = col
	}
	c.Known = make([]int8, len(c.Present))
	for i := range c.Known {
		c.Known[i] = -1
	}
	for r := 0; r < min(len(f.Dirs), c.Rows); r++ {
		var col int
		switch f.Dirs[r] {
		case '0':
			col = cols[1] // the destination is the server
		case '1':
			col = cols[0]
		default:
			continue
		}
		for b := 0; b < 16; b++ {
			i := r*c.Cols + col + b
			if c.Present[i] {
				c.Known[i] = int8(f.Server >> (15 - b) & 1)
			}
		}
	}
}

// knownEchoes sets, in c.Known, the ICMP type of each echo request (8)
// and reply (0) of template f, so that a flow's requests and replies
// alternate as the real flow's do.
func (t *Templates) knownEchoes(c *Control, f *FlowTemplate, l *t2t.Layout) {
	col, bits, ok := l.Field("icmp_type")
	if !ok || bits != 8 {
		return
	}
	c.Known = make([]int8, len(c.Present))
	for i := range c.Known {
		c.Known[i] = -1
	}
	for r := 0; r < min(len(f.Dirs), c.Rows); r++ {
		typ := -1
		switch f.Dirs[r] {
		case '0':
			typ = 8
		case '1':
			typ = 0
		}
		for b := 0; b < 8 && typ >= 0; b++ {
			if i := r*c.Cols + col + b; c.Present[i] {
				c.Known[i] = int8(typ >> (7 - b) & 1)
			}
		}
	}
}

func packRow(row []int8) string {
	b := make([]byte, (len(row)+7)/8)
	for j, v := range row {
		if v != -1 {
			b[j/8] |= 0x80 >> (j % 8)
		}
	}
	return base64.StdEncoding.EncodeToString(b)
}

// MaxTemplateRows bounds Templates.Rows: the longest flow a template
// holds (a structure map of that many rows is 70 MB of cells).
const MaxTemplateRows = 1 << 16

// Validate checks sizes and indices.
func (t *Templates) Validate() error {
	if t.Rows < 1 || t.Cols < 1 || t.Rows > MaxTemplateRows {
		return fmt.Errorf("controlnet: templates of %dx%d (at most %d rows)", t.Rows, t.Cols, MaxTemplateRows)
	}
	for c, ct := range t.Classes {
		if ct == nil {
			return fmt.Errorf("controlnet: templates: class %q is empty", c)
		}
		for i, m := range ct.Masks {
			b, err := base64.StdEncoding.DecodeString(m)
			if err != nil || len(b) != (t.Cols+7)/8 {
				return fmt.Errorf("controlnet: templates: class %q: mask %d is not %d packed bits", c, i, t.Cols)
			}
		}
		for i, f := range ct.Flows {
			if len(f.Rows) > t.Rows {
				return fmt.Errorf("controlnet: templates: class %q: flow %d has %d rows, at most %d", c, i, len(f.Rows), t.Rows)
			}
			for _, k := range f.Rows {
				if k < 0 || k >= len(ct.Masks) {
					return fmt.Errorf("controlnet: templates: class %q: flow %d: mask %d of %d", c, i, k, len(ct.Masks))
				}
			}
			if f.Server < 0 || f.Server > 65535 || len(f.Dirs) > len(f.Rows) || strings.Trim(f.Dirs, "01-") != "" {
				return fmt.Errorf("controlnet: templates: class %q: flow %d: server port %d, directions %q (want 0 to 65535, and one of 0, 1, - per row)", c, i, f.Server, f.Dirs)
			}
		}
	}
	return nil
}

// Control is the structure map of flow i of class.
func (t *Templates) Control(class string, i int) (*Control, error) {
	return t.control(class, i, false)
}

// control is Control; trimmed, the map holds the flow's rows and one
// vacant row after them (all of t.Rows when the flow fills them).
func (t *Templates) control(class string, i int, trimmed bool) (*Control, error) {
	ct := t.Classes[class]
	if ct == nil || i < 0 || i >= len(ct.Flows) {
		return nil, fmt.Errorf("controlnet: no template %d for class %q", i, class)
	}
	rows := t.Rows
	if trimmed {
		rows = min(t.Rows, len(ct.Flows[i].Rows)+1)
	}
	c := &Control{Rows: rows, Cols: t.Cols, Present: make([]bool, rows*t.Cols)}
	for r, k := range ct.Flows[i].Rows {
		b, err := base64.StdEncoding.DecodeString(ct.Masks[k])
		if err != nil {
			return nil, err
		}
		for j := 0; j < t.Cols; j++ {
			c.Present[r*t.Cols+j] = b[j/8]&(0x80>>(j%8)) != 0
		}
	}
	t.known(c, &ct.Flows[i])
	return c, nil
}

// Draw returns n structure maps of class whose flows carry transport (any
// transport when ""), drawn without replacement while they last (then
// again), in an order shuffled by rng.
func (t *Templates) Draw(class, transport string, n int, rng *rand.Rand) ([]*Control, error) {
	return t.draw(class, transport, n, rng, false)
}

// DrawTrimmed is Draw with each map cut after its flow's end: the flow's
// rows and one vacant row (all t.Rows rows when the flow fills them, so
// that a map as long as the templates says its flow may go on). Templates
// as long as whole flows (1,024 rows) make maps of a few rows for short
// flows instead of 1,024.
func (t *Templates) DrawTrimmed(class, transport string, n int, rng *rand.Rand) ([]*Control, error) {
	return t.draw(class, transport, n, rng, true)
}

func (t *Templates) draw(class, transport string, n int, rng *rand.Rand, trimmed bool) ([]*Control, error) {
	ct := t.Classes[class]
	if ct == nil {
		return nil, fmt.Errorf("controlnet: no templates for class %q", class)
	}
	var pool []int
	for i, f := range ct.Flows {
		if transport == "" || f.Transport == transport {
			pool = append(pool, i)
		}
	}
	if len(pool) == 0 {
		return nil, fmt.Errorf("controlnet: no %s template for class %q", transport, class)
	}
	var out []*Control
	for len(out) < n {
		perm := rng.Perm(len(pool))
		for _, p := range perm {
			if len(out) == n {
				break
			}
			c, err := t.control(class, pool[p], trimmed)
			if err != nil {
				return nil, err
			}
			out = append(out, c)
		}
	}
	return out, nil
}

// Draw returns the structure maps of n real flows of class and transport
// ("" any) from the ControlNet's templates (see Templates.Draw), so that a
// pipeline steers each flow it generates with a real flow's shape.
func (n *ControlNet) Draw(class, transport string, k int, rng *rand.Rand) ([]*Control, error) {
	if n.Templates == nil {
		return nil, fmt.Errorf("controlnet: the ControlNet has no templates: give the control images")
	}
	return n.Templates.Draw(class, transport, k, rng)
}
