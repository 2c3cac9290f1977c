package train

import (
	"fmt"

	"t2t"

	"t2t/pcapio"
	"t2t/unet"
)

// LoadFlows reads the labelled data set in dir (one pcap per class, see
// pcapio.LoadDataset), each flow cut to its first rows packets. With
// maxFlows > 0 each class keeps at most maxFlows flows of at least
// minPackets packets, chosen so that every transport keeps its share of
// the class (pcapio.Stratified).
func LoadFlows(dir string, rows, maxFlows, minPackets int) (*pcapio.Dataset, error) {
	ds, err := pcapio.LoadDataset(dir, pcapio.FlowOptions{MaxPackets: rows})
	if err != nil {
		return nil, err
	}
	if maxFlows > 0 {
		for c, fl := range ds.Flows {
			ds.Flows[c] = pcapio.Stratified(fl, maxFlows, minPackets)
		}
	}
	return ds, nil
}

// PrepareOptions choose how a data set becomes training examples.
type PrepareOptions struct {
	// MinPackets leaves out flows with fewer encoded packets (at least 1).
	MinPackets int
	// NewClasses adds every class to the vocabulary with its alias
	// type-<i> (ClassPrompts), as base training does; otherwise each class
	// must already be a token of the vocabulary (an adapter's new tokens
	// added, or a base that knows the class) and is its only prompt.
	NewClasses bool
	// Transport adds the transport-word prompts ("dns tcp",
	// AddTransportPrompts).
	Transport bool
	// Windows is how many continuation windows each flow longer than the
	// model's rows adds besides its first window (0: none, the first
	// cfg.Rows packets only). See Windows.
	Windows int
}

// Data is a data set ready for training.
type Data struct {
	Examples []Example
	Counts   map[string]int // examples per class
}

// Prepare turns the flows of ds into the examples cfg trains on (see
// Examples), with prompts tokenized by vocab as opt says. It fails when
// the vocabulary outgrows the model's token table (cfg.VocabCap).
func Prepare(ds *pcapio.Dataset, cfg unet.Config, vocab *unet.Vocab, opt PrepareOptions) (*Data, error) {
	var prompts map[string][][]int
	var err error
	if opt.NewClasses {
		if prompts, err = ClassPrompts(ds.Classes, vocab, cfg.MaxTokens); err != nil {
			return nil, err
		}
		if vocab.Len() > cfg.VocabCap {
			return nil, fmt.Errorf("train: %d classes need %d tokens, the model's table holds %d (size it with unet.Config.FitVocab(train.TokensNeeded(...)))", len(ds.Classes), vocab.Len(), cfg.VocabCap)
		}
	} else {
		prompts = map[string][][]int{}
		for _, c := range ds.Classes {
			ids, err := vocab.Tokenize(c, cfg.MaxTokens, false)
			if err != nil {
				return nil, fmt.Errorf("train: class %q: %w", c, err)
			}
			prompts[c] = [][]int{ids}
		}
	}
	ex, counts, err := Examples(ds, cfg, prompts, opt.MinPackets)
	if err != nil {
		return nil, err
	}
	if opt.Windows > 0 {
		w, err := Windows(ds, cfg, prompts, opt.MinPackets, opt.Windows)
		if err != nil {
			return nil, err
		}
		ex = append(ex, w...)
	}
	if opt.Transport {
		if err := AddTransportPrompts(ex, vocab, cfg.MaxTokens); err != nil {
			return nil, err
		}
		if vocab.Len() > cfg.VocabCap {
			return nil, fmt.Errorf("train: %d classes and the transport words need %d tokens, the model's table holds %d (size it with unet.Config.FitVocab(train.TokensNeeded(...)))", len(ds.Classes), vocab.Len(), cfg.VocabCap)
		}
	}
	return &Data{Examples: ex, Counts: counts}, nil
}

// ClassPrompts returns, for each class of a data set, the prompts it is
// trained with: its name and the alias type-<i> (i its index in classes),
// adding both tokens to vocab. A class whose name is no valid class token
// (unet.ClassToken: a reserved word, an alias, a path), or the same token
// as another class or a word vocab holds already ("DNS" and "dns"), is an
// error: the two would share one embedding.
func ClassPrompts(classes []string, vocab *unet.Vocab, maxTokens int) (map[string][][]int, error) {
	out := map[string][][]int{}
	for i, c := range classes {
		name, err := unet.ClassToken(c)
		if err != nil {
			return nil, fmt.Errorf("train: class %q cannot be a prompt token: %w", c, err)
		}
		alias := fmt.Sprintf("type-%d", i)
		for _, w := range []string{name, alias} {
			if _, added := vocab.Add(w); !added {
				return nil, fmt.Errorf("train: class %q: prompt word %q is already taken (by another class or the vocabulary); rename the class", c, w)
			}
		}
		for _, p := range []string{name, alias} {
			ids, err := vocab.Tokenize(p, maxTokens, false)
			if err != nil {
				return nil, err
			}
			out[c] = append(out[c], ids)
		}
	}
	return out, nil
}

// TokensNeeded is the size of the vocabulary base training makes for a
// data set of classes classes (ClassPrompts: the two special tokens, a
// name and an alias per class; AddTransportPrompts: the TransportWords
// when transport): a model's token table must hold it (see
// unet.Config.FitVocab).
func TokensNeeded(classes int, transport bool) int {
	n := 2 + 2*classes
	if transport {
		n += len(unet.TransportWords)
	}
	return n
}

// Flow is a flow as training sees it: its matrix (pcapio.Flow.Matrix) and
// its transport word (unet.TransportWord: "tcp", "udp", "icmp" or "").
type Flow struct {
	Matrix    *t2t.Matrix
	Transport string
}

// Matrices encodes the first rows packets of every flow, per class, over
// layout.
func Matrices(flows map[string][]*pcapio.Flow, layout *t2t.Layout, rows int) (map[string][]Flow, error) {
	out := make(map[string][]Flow, len(flows))
	for c, fl := range flows {
		for _, f := range fl {
			m, err := f.Matrix(layout, rows)
			if err != nil {
				return nil, err
			}
			out[c] = append(out[c], Flow{Matrix: m, Transport: unet.TransportWord(f.Key.Proto)})
		}
	}
	return out, nil
}

// Examples turns the flows of a labelled data set into training
// examples for cfg: each flow's first cfg.Rows packets, padded with vacant
// rows, with its class's prompts. Flows with fewer than minPackets encoded
// packets are left out.
func Examples(ds *pcapio.Dataset, cfg unet.Config, prompts map[string][][]int, minPackets int) ([]Example, map[string]int, error) {
	l, err := cfg.Layout.Layout()
	if err != nil {
		return nil, nil, err
	}
	flows, err := Matrices(ds.Flows, l, cfg.Rows)
	if err != nil {
		return nil, nil, err
	}
	var ex []Example
	counts := map[string]int{}
	for _, c := range ds.Classes {
		for _, f := range flows[c] {
			if f.Matrix.Rows < max(minPackets, 1) {
				continue
			}
			// the matrix (cut to cfg.Rows by Matrices), not its float planes:
			// the Trainer lays it out when it draws it
			ex = append(ex, Example{Matrix: f.Matrix, Prompts: prompts[c], Transport: f.Transport})
			counts[c]++
		}
	}
	return ex, counts, nil
}

// Stride is the step between the windows of a flow: half the model's
// rows, so that a continuation window's first half is the previous
// window's second half (Example.Known).
func Stride(rows int) int { return max(rows/2, 1) }

// Windows turns the flows of ds longer than cfg.Rows packets into
// continuation windows: rows [o, o+cfg.Rows) of the flow at offsets o =
// k·Stride, each with its first Stride rows known (Example.Known) and
// the rest to learn, so that a model learns to continue a flow from
// anywhere, its ending included. Each flow gives at most n windows,
// evenly spread over its length, the last (the one holding the flow's
// end) always among them. The flows' packets are not cut: load them whole
// (LoadFlows with the longest flow to learn from).
func Windows(ds *pcapio.Dataset, cfg unet.Config, prompts map[string][][]int, minPackets, n int) ([]Example, error) {
	l, err := cfg.Layout.Layout()
	if err != nil {
		return nil, err
	}
	st := Stride(cfg.Rows)
	var ex []Example
	for _, c := range ds.Classes {
		for _, f := range ds.Flows[c] {
			if len(f.Packets) <= cfg.Rows {
				continue
			}
			m, err := f.Matrix(l, len(f.Packets))
			if err != nil {
				return nil, err
			}
			if m.Rows <= cfg.Rows || m.Rows < max(minPackets, 1) {
				continue
			}
			// windows at k·st for k = 1 .. last, the last the first whose
			// new rows reach the flow's end
			last := (m.Rows - cfg.Rows + st - 1) / st
			for _, k := range spread(last, n) {
				o := k * st
				rows := min(cfg.Rows, m.Rows-o)
				w := &t2t.Matrix{Layout: m.Layout, Rows: rows, Cols: m.Cols, Bits: m.Bits[o*m.Cols : (o+rows)*m.Cols]}
				ex = append(ex, Example{Matrix: w, Prompts: prompts[c], Transport: unet.TransportWord(f.Key.Proto), Offset: o, Known: st})
			}
		}
	}
	return ex, nil
}

// spread returns at most n of 1..last, evenly spaced, last included.
func spread(last, n int) []int {
	if last <= n {
		out := make([]int, last)
		for i := range out {
			out[i] = i + 1
		}
		return out
	}
	out := make([]int, n)
	for i := range out {
		out[i] = 1 + (i+1)*(last-1)/n
	}
	out[n-1] = last
	return out
}

// AddTransportPrompts adds the TransportWords to vocab and, to every
// example whose Transport is known, a copy of each of its prompts with the
// transport word appended ("dns" -> "dns tcp"), so that the model learns
// both the class alone and the class with its transport. It fails if a
// prompt has no room left for the word.
func AddTransportPrompts(ex []Example, vocab *unet.Vocab, maxTokens int) error {
	ids := map[string]int{}
	word := map[int]string{} // transport word by id
	for _, w := range unet.TransportWords {
		ids[w], _ = vocab.Add(w)
		word[ids[w]] = w
	}
	for i := range ex {
		// a class named like a transport word shares its token: only
		// flows of that transport may carry it
		for _, p := range ex[i].Prompts {
			if len(p) == 0 {
				continue
			}
			if w, ok := word[p[0]]; ok && ex[i].Transport != w {
				return fmt.Errorf("train: example %d: a class is named %q, the transport word, but this flow of it is %s: rename the class (e.g. %s-class)", i, w, orUnknown(ex[i].Transport), w)
			}
		}
		id, ok := ids[ex[i].Transport]
		if !ok {
			continue
		}
		n := len(ex[i].Prompts)
		for _, p := range ex[i].Prompts[:n] {
			if len(p) != maxTokens {
				return fmt.Errorf("train: example %d: prompt of %d tokens, want %d", i, len(p), maxTokens)
			}
			k := 0
			for k < len(p) && p[k] != unet.NullID {
				k++
			}
			if k == len(p) {
				return fmt.Errorf("train: example %d: prompt %v has no room for the transport word (MaxTokens %d)", i, p, maxTokens)
			}
			q := append([]int(nil), p...)
			q[k] = id
			ex[i].Prompts = append(ex[i].Prompts, q)
		}
	}
	return nil
}

func orUnknown(transport string) string {
	if transport == "" {
		return "of no known transport"
	}
	return transport
}
