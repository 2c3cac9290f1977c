package evaluate

import (
	"errors"
	"fmt"
	"sort"

	"t2t"
	"t2t/pcapio"
)

// IdentityFields are the nPrint fields that name the endpoints of a flow:
// addresses and ports. Service recognition leaves them out, as the paper
// does, so that the classifier must recognise a service by its behaviour.
var IdentityFields = []string{"ipv4_src", "ipv4_dst", "ipv6_src", "ipv6_dst",
	"tcp_sprt", "tcp_dprt", "udp_sport", "udp_dport"}

// ChecksumFields are the checksum fields. A checksum is a function of the
// pseudo-header (addresses, and through the transport header, ports) and
// of the payload, so it carries the removed identity in hashed form; a
// generator that writes correct checksums for made-up endpoints cannot
// reproduce the real ones. FeatureOptions drops them unless KeepChecksums.
var ChecksumFields = []string{"ipv4_cksum", "tcp_cksum", "udp_cksum", "icmp_cksum"}

// FeatureOptions says how a flow becomes a feature vector.
//
// The vector is the nPrint rows of the flow's first Packets packets,
// concatenated, padded with -1 rows when the flow is shorter. The columns
// are those of Spec less IdentityFields, less ChecksumFields unless
// KeepChecksums, less Drop.
//
// The IPv4 identification, TCP sequence/acknowledgement numbers and the TCP
// timestamp option stay: they are per-connection random or per-host
// counters, which a forest cannot turn into a service label beyond what the
// service's own behaviour puts there (e.g. ID 0 on DF packets of some
// stacks), and a good generator should reproduce their structure.
type FeatureOptions struct {
	Packets       int             `json:"packets"`        // K: packets per flow (0: 10)
	Spec          *t2t.LayoutSpec `json:"spec,omitempty"` // layout before dropping (nil: t2t.NetDiffusionSpec)
	KeepChecksums bool            `json:"keep_checksums"` // keep the checksum fields
	Drop          []string        `json:"drop,omitempty"` // further fields to leave out
}

// Featurizer turns flows into feature rows. It is not safe for concurrent
// use.
type Featurizer struct {
	opts   FeatureOptions
	layout *t2t.Layout
	enc    *t2t.Encoder
	row    []int8
}

// NewFeaturizer compiles the options.
func NewFeaturizer(opts FeatureOptions) (*Featurizer, error) {
	if opts.Packets <= 0 {
		opts.Packets = 10
	}
	spec := t2t.NetDiffusionSpec
	if opts.Spec != nil {
		spec = *opts.Spec
	}
	drop := map[string]bool{}
	for _, d := range spec.Drop {
		drop[d] = true
	}
	add := func(names []string) {
		for _, n := range names {
			drop[n] = true
		}
	}
	add(IdentityFields)
	if !opts.KeepChecksums {
		add(ChecksumFields)
	}
	add(opts.Drop)
	spec.Drop = spec.Drop[:0:0]
	for n := range drop {
		spec.Drop = append(spec.Drop, n)
	}
	sort.Strings(spec.Drop)
	l, err := spec.Layout()
	if err != nil {
		return nil, fmt.Errorf("evaluate: features: %w", err)
	}
	opts.Spec = &spec
	return &Featurizer{opts: opts, layout: l,
		enc: t2t.NewEncoder(l, t2t.EncoderOptions{VLAN: true, IPv6Payload: true}),
		row: make([]int8, l.Width())}, nil
}

// Layout is the per-packet layout of the features (after dropping).
func (fz *Featurizer) Layout() *t2t.Layout { return fz.layout }

// Options returns the options in effect (defaults filled in, Spec.Drop
// holding every dropped field).
func (fz *Featurizer) Options() FeatureOptions { return fz.opts }

// Width is the length of a feature row: Packets x Layout().Width().
func (fz *Featurizer) Width() int { return fz.opts.Packets * fz.layout.Width() }

// Append appends the feature row of flow f to dst. Packets that nPrint
// does not encode are passed over (flows from pcapio hold none).
func (fz *Featurizer) Append(dst []int8, f *pcapio.Flow) []int8 {
	w := fz.layout.Width()
	k := 0
	for _, p := range f.Packets {
		if k == fz.opts.Packets {
			break
		}
		if _, err := fz.enc.Encode(fz.row, p.Link, p.Data); err != nil {
			continue
		}
		dst = append(dst, fz.row...)
		k++
	}
	for ; k < fz.opts.Packets; k++ {
		for i := 0; i < w; i++ {
			dst = append(dst, -1)
		}
	}
	return dst
}

// Labelled is a set of flows with their class label.
type Labelled struct {
	Classes []string // label names; Label indexes them
	Flows   []*pcapio.Flow
	Label   []int
}

// FromDataset flattens a data set into labelled flows, class by class in
// Classes order. The label list is classes (nil: ds.Classes); a class of
// ds not in it is an error.
func FromDataset(ds *pcapio.Dataset, classes []string) (*Labelled, error) {
	if classes == nil {
		classes = ds.Classes
	}
	index := map[string]int{}
	for i, c := range classes {
		index[c] = i
	}
	l := &Labelled{Classes: classes}
	for _, c := range ds.Classes {
		y, ok := index[c]
		if !ok {
			return nil, fmt.Errorf("evaluate: class %q is not among the labels %v", c, classes)
		}
		for _, f := range ds.Flows[c] {
			l.Flows = append(l.Flows, f)
			l.Label = append(l.Label, y)
		}
	}
	return l, nil
}

// Subset returns the flows at positions idx.
func (l *Labelled) Subset(idx []int) *Labelled {
	s := &Labelled{Classes: l.Classes}
	for _, i := range idx {
		s.Flows = append(s.Flows, l.Flows[i])
		s.Label = append(s.Label, l.Label[i])
	}
	return s
}

// Samples encodes every flow into a feature row.
func (fz *Featurizer) Samples(l *Labelled) (*Samples, error) {
	if len(l.Flows) == 0 {
		return nil, errors.New("evaluate: features: no flows")
	}
	s := &Samples{N: len(l.Flows), D: fz.Width(), Y: append([]int(nil), l.Label...)}
	s.X = make([]int8, 0, s.N*s.D)
	for _, f := range l.Flows {
		s.X = fz.Append(s.X, f)
	}
	return s, nil
}
