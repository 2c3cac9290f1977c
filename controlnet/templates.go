package controlnet

import (
	"encoding/base64"
	"fmt"
	"math/rand/v2"
	"sort"
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
// of its row mask (rows past the end are vacant).
type FlowTemplate struct {
	Transport string `json:"transport"`
	Rows      []int  `json:"rows"`
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

func packRow(row []int8) string {
	b := make([]byte, (len(row)+7)/8)
	for j, v := range row {
		if v != -1 {
			b[j/8] |= 0x80 >> (j % 8)
		}
	}
	return base64.StdEncoding.EncodeToString(b)
}

// Validate checks sizes and indices.
func (t *Templates) Validate() error {
	if t.Rows < 1 || t.Cols < 1 {
		return fmt.Errorf("controlnet: templates of %dx%d", t.Rows, t.Cols)
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
		}
	}
	return nil
}

// Control is the structure map of flow i of class.
func (t *Templates) Control(class string, i int) (*Control, error) {
	ct := t.Classes[class]
	if ct == nil || i < 0 || i >= len(ct.Flows) {
		return nil, fmt.Errorf("controlnet: no template %d for class %q", i, class)
	}
	c := &Control{Rows: t.Rows, Cols: t.Cols, Present: make([]bool, t.Rows*t.Cols)}
	for r, k := range ct.Flows[i].Rows {
		b, err := base64.StdEncoding.DecodeString(ct.Masks[k])
		if err != nil {
			return nil, err
		}
		for j := 0; j < t.Cols; j++ {
			c.Present[r*t.Cols+j] = b[j/8]&(0x80>>(j%8)) != 0
		}
	}
	return c, nil
}

// Draw returns n structure maps of class whose flows carry transport (any
// transport when ""), drawn without replacement while they last (then
// again), in an order shuffled by rng.
func (t *Templates) Draw(class, transport string, n int, rng *rand.Rand) ([]*Control, error) {
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
			c, err := t.Control(class, pool[p])
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
