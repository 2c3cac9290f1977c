package lora

import (
	"fmt"
	"math/rand/v2"
	"regexp"
	"sort"

	G "gorgonia.org/gorgonia"

	"t2t/unet"
)

// TokensParam is the name of the UNet's prompt token table.
const TokensParam = "tokens.embedding"

// Adapter is one low-rank term on one Linear layer:
//
//	Δy = Weight · (Alpha/Rank) · x · Down · Up
//
// with Down [In, r] drawn uniformly from ±1/sqrt(In) and Up [r, Out]
// zero, so that a fresh adapter adds exactly nothing. It implements
// unet.Adapter. Weight and Scale are read when the graph is built: change
// them, then compile the net again.
type Adapter struct {
	Layer    *unet.Linear
	Down, Up *unet.Param
	Scale    float64 // Alpha/Rank
	Weight   float64 // runtime multiplier, 1 when created
	set      *Set
}

// Delta is the adapter's term for x of shape [N, In]; it returns [N, Out].
func (a *Adapter) Delta(g *unet.Graph, x *G.Node) *G.Node {
	d := must(G.Mul(must(G.Mul(x, g.Node(a.Down))), g.Node(a.Up)))
	if f := a.Scale * a.Weight; f != 1 {
		d = must(G.Mul(d, g.Scalar(f)))
	}
	return d
}

// product returns Scale·Weight·Down·Up as float64s [In·Out], row-major.
func (a *Adapter) product(weight float64) []float64 {
	down, up := values(a.Down), values(a.Up)
	in, out := a.Layer.In, a.Layer.Out
	r := len(down) / in
	p := make([]float64, in*out)
	f := a.Scale * weight
	for i := 0; i < in; i++ {
		row := p[i*out : (i+1)*out]
		for k := 0; k < r; k++ {
			dk := f * down[i*r+k]
			if dk == 0 {
				continue
			}
			for j, u := range up[k*out : (k+1)*out] {
				row[j] += dk * u
			}
		}
	}
	return p
}

func must(n *G.Node, err error) *G.Node {
	if err != nil {
		panic(err)
	}
	return n
}

// values returns a parameter's data as float64s (a copy).
func values(p *unet.Param) []float64 {
	if d := p.Float64s(); d != nil {
		return append([]float64(nil), d...)
	}
	f := p.Float32s()
	d := make([]float64, len(f))
	for i, v := range f {
		d[i] = float64(v)
	}
	return d
}

// Set is a named set of adapters for one model: one Adapter per target
// layer, sharing a config. Several sets may be attached to a model at
// once, each with its own weight, as long as their names differ.
type Set struct {
	Name     string
	Config   Config
	Adapters []*Adapter // ordered by layer name
	// BaseFingerprint identifies the base model the set was made for
	// (see Fingerprint); Load refuses another base.
	BaseFingerprint string
	// Extra is free-form metadata saved with the set (under "extra.<key>"
	// in the file), such as the repair profile of the classes it adds.
	Extra map[string]string

	u         *unet.UNet
	params    *unet.Params
	attached  bool
	merged    bool
	wasAttach bool      // attached when merged
	mergedW   []float64 // the weight of each adapter when merged
	tokenIDs  []int     // ids of Config.Tokens, after AddTokens
	tokenRows []float32 // loaded rows of Config.Tokens, [len(Tokens), ContextDim]
}

var nameRE = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

// New makes an adapter set called name on u: one adapter on every Linear
// layer whose name matches a target of cfg, drawn from seed. It is an
// error if a target matches no layer. The set is not attached.
func New(u *unet.UNet, name string, cfg Config, seed uint64) (*Set, error) {
	layers, err := targetLayers(u, name, cfg)
	if err != nil {
		return nil, err
	}
	s := &Set{Name: name, Config: cfg, BaseFingerprint: Fingerprint(u), u: u, params: unet.NewParams(u.Params.Dtype)}
	rng := rand.New(rand.NewPCG(seed, 0x6c6f7261))
	for _, l := range layers {
		a := &Adapter{Layer: l, Scale: cfg.Alpha / float64(cfg.Rank), Weight: 1, set: s}
		a.Down = s.params.New(downName(l.Name, name), []int{l.In, cfg.Rank}, unet.InitUniform, l.In, 1, rng)
		a.Up = s.params.New(upName(l.Name, name), []int{cfg.Rank, l.Out}, unet.InitZeros, 0, 1, rng)
		s.Adapters = append(s.Adapters, a)
	}
	return s, nil
}

func downName(layer, set string) string { return layer + ".lora." + set + ".down" }
func upName(layer, set string) string   { return layer + ".lora." + set + ".up" }

// targetLayers checks cfg and the set's name and returns the layers of u
// the set adapts, in name order.
func targetLayers(u *unet.UNet, name string, cfg Config) ([]*unet.Linear, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if !nameRE.MatchString(name) {
		return nil, fmt.Errorf("lora: adapter name %q: want letters, digits, '_' or '-'", name)
	}
	linears := u.Linears()
	names := make([]string, 0, len(linears))
	for n := range linears {
		names = append(names, n)
	}
	sort.Strings(names)
	chosen := map[string]bool{}
	for _, t := range cfg.targets() {
		match, err := compileTarget(t)
		if err != nil {
			return nil, err
		}
		found := false
		for _, n := range names {
			if match(n) {
				chosen[n], found = true, true
			}
		}
		if !found {
			return nil, fmt.Errorf("lora: target %q matches no layer of the model", t)
		}
	}
	var out []*unet.Linear
	for _, n := range names {
		if chosen[n] {
			out = append(out, linears[n])
		}
	}
	return out, nil
}

// shapes lists the tensors a file of a set called name with cfg must hold
// for u (no data), without making the set: Load compares them with the
// file before it allocates anything.
func shapes(u *unet.UNet, name string, cfg Config) ([]unet.Tensor, error) {
	layers, err := targetLayers(u, name, cfg)
	if err != nil {
		return nil, err
	}
	var ts []unet.Tensor
	for _, l := range layers {
		ts = append(ts, unet.Tensor{Name: downName(l.Name, name), Shape: []int{l.In, cfg.Rank}},
			unet.Tensor{Name: upName(l.Name, name), Shape: []int{cfg.Rank, l.Out}})
	}
	if n := len(cfg.Tokens); n > 0 {
		ts = append(ts, unet.Tensor{Name: tokensTensor(name), Shape: []int{n, u.Config.ContextDim}})
	}
	return ts, nil
}

// Model is the UNet the set belongs to.
func (s *Set) Model() *unet.UNet { return s.u }

// Params returns the adapters' parameters (down and up of each, in layer
// order), marked trainable.
func (s *Set) Params() []*unet.Param {
	ps := s.params.List()
	for _, p := range ps {
		p.Frozen = false
	}
	return ps
}

// Count is the number of scalar weights of the adapters.
func (s *Set) Count() int { return s.params.Count() }

// SetWeight sets the runtime weight of every adapter of the set (1 when
// created). It takes effect in graphs built after the call.
func (s *Set) SetWeight(w float64) {
	for _, a := range s.Adapters {
		a.Weight = w
	}
}

// Attached reports whether the set's adapters are on their layers.
func (s *Set) Attached() bool { return s.attached }

// Merged reports whether the set is merged into the base weights.
func (s *Set) Merged() bool { return s.merged }

// Attach adds the adapters to their layers, so that graphs built from now
// on include them. It is an error if the set is merged or attached, or if
// another set of the same name is attached to one of the layers.
func (s *Set) Attach() error {
	switch {
	case s.merged:
		return fmt.Errorf("lora: %s: attach: the set is merged", s.Name)
	case s.attached:
		return fmt.Errorf("lora: %s: already attached", s.Name)
	}
	for _, a := range s.Adapters {
		for _, other := range a.Layer.Adapters {
			if o, ok := other.(*Adapter); ok && o.set.Name == s.Name {
				return fmt.Errorf("lora: %s: layer %s already carries an adapter named %q", s.Name, a.Layer.Name, s.Name)
			}
		}
	}
	for _, a := range s.Adapters {
		a.Layer.Adapters = append(a.Layer.Adapters, a)
	}
	s.attached = true
	return nil
}

// Detach removes the adapters from their layers (other sets stay). Graphs
// built from now on are the base model's. Detaching a detached set does
// nothing.
func (s *Set) Detach() {
	for _, a := range s.Adapters {
		kept := a.Layer.Adapters[:0]
		for _, x := range a.Layer.Adapters {
			if x != unet.Adapter(a) {
				kept = append(kept, x)
			}
		}
		clear(a.Layer.Adapters[len(kept):])
		a.Layer.Adapters = kept
		if len(kept) == 0 {
			a.Layer.Adapters = nil
		}
	}
	s.attached = false
}

// Merge adds Weight·(Alpha/Rank)·Down·Up into each target layer's weight
// and detaches the set, so that the base model alone computes what base
// plus adapters did, at no extra cost. Nets compiled before see the new
// weights (they share the tensors) but, if compiled with the set attached,
// would count it twice: compile again.
func (s *Set) Merge() error {
	if s.merged {
		return fmt.Errorf("lora: %s: already merged", s.Name)
	}
	s.mergedW = make([]float64, len(s.Adapters))
	for i, a := range s.Adapters {
		s.mergedW[i] = a.Weight
		addInto(a.Layer.W, a.product(a.Weight), 1)
	}
	s.wasAttach = s.attached
	s.Detach()
	s.merged = true
	return nil
}

// Unmerge subtracts what Merge added (with the weights of that time),
// restoring the base weights up to float32 rounding, and attaches the set
// again if it was attached when merged.
func (s *Set) Unmerge() error {
	if !s.merged {
		return fmt.Errorf("lora: %s: not merged", s.Name)
	}
	for i, a := range s.Adapters {
		addInto(a.Layer.W, a.product(s.mergedW[i]), -1)
	}
	s.merged = false
	if s.wasAttach {
		return s.Attach()
	}
	return nil
}

// addInto adds sign·d to p's values, rounding once per element.
func addInto(p *unet.Param, d []float64, sign float64) {
	if w := p.Float64s(); w != nil {
		for i := range w {
			w[i] += sign * d[i]
		}
		return
	}
	w := p.Float32s()
	for i := range w {
		w[i] = float32(float64(w[i]) + sign*d[i])
	}
}

// AddTokens adds the set's new prompt tokens (Config.Tokens) to vocab and
// returns their ids. For a loaded set it also writes the saved embedding
// rows into the model's token table at those ids. Call it before training
// a set with tokens and before Save. A token vocab holds already (a class
// of the base or of another adapter) is an error: its embedding would be
// overwritten, whatever the adapter's weight. Calling it again with the
// vocabulary it filled is allowed.
func (s *Set) AddTokens(vocab *unet.Vocab) ([]int, error) {
	c := s.u.Config
	ids := make([]int, len(s.Config.Tokens))
	for i, t := range s.Config.Tokens {
		id, added := vocab.Add(t)
		if !added && !(len(s.tokenIDs) == len(ids) && s.tokenIDs[i] == id) {
			return nil, fmt.Errorf("lora: %s: new token %q is already a prompt word of the model (another class or adapter): it would overwrite that word's embedding; rename the adapter's class", s.Name, t)
		}
		if id >= c.VocabCap {
			return nil, fmt.Errorf("lora: %s: token %q gets id %d, but the model's token table has %d rows", s.Name, t, id, c.VocabCap)
		}
		ids[i] = id
	}
	s.tokenIDs = ids
	if s.tokenRows != nil {
		emb := s.u.Params.Get(TokensParam)
		for i, id := range ids {
			row := s.tokenRows[i*c.ContextDim : (i+1)*c.ContextDim]
			if d := emb.Float32s(); d != nil {
				copy(d[id*c.ContextDim:], row)
			} else {
				d := emb.Float64s()
				for j, v := range row {
					d[id*c.ContextDim+j] = float64(v)
				}
			}
		}
	}
	return append([]int(nil), ids...), nil
}

// Freeze prepares u's parameters for training the set: every base
// parameter is marked Frozen and the adapters' are not. If the set has
// new tokens (after AddTokens), tokens.embedding stays trainable, since
// the new tokens' rows live in it; training would also move other rows
// (AdamW's weight decay, and the gradient of tokens shared with base
// prompts such as <null>), so the returned restore puts back every row
// but the new tokens' ones: call it after training. Without tokens,
// restore does nothing.
func (s *Set) Freeze() (restore func(), err error) {
	if len(s.Config.Tokens) > 0 && len(s.tokenIDs) != len(s.Config.Tokens) {
		return nil, fmt.Errorf("lora: %s: freeze: call AddTokens first, the set has new tokens %v", s.Name, s.Config.Tokens)
	}
	for _, p := range s.u.Params.List() {
		p.Frozen = true
	}
	s.Params()
	restore = func() {}
	if len(s.tokenIDs) == 0 {
		return restore, nil
	}
	emb := s.u.Params.Get(TokensParam)
	emb.Frozen = false
	snap := values(emb)
	dim := s.u.Config.ContextDim
	keep := map[int]bool{}
	for _, id := range s.tokenIDs {
		keep[id] = true
	}
	return func() {
		for r := 0; r < len(snap)/dim; r++ {
			if keep[r] {
				continue
			}
			row := snap[r*dim : (r+1)*dim]
			if d := emb.Float32s(); d != nil {
				for j, v := range row {
					d[r*dim+j] = float32(v)
				}
			} else {
				copy(emb.Float64s()[r*dim:], row)
			}
		}
	}, nil
}

// Fingerprint identifies a base model (unet.Fingerprint): the hex
// SHA-256 of its parameters but the token table, which adapters write
// their new tokens' rows into. Merged adapters change the fingerprint:
// load adapters before merging any.
func Fingerprint(u *unet.UNet) string { return unet.Fingerprint(u) }
