package unet

import (
	"errors"
	"fmt"

	"t2t"
	"t2t/pcapio"
)

// FlowMatrix encodes the first rows packets of a flow over layout (packets
// nPrint skips are left out; VLAN tags are looked through).
func FlowMatrix(f *pcapio.Flow, layout *t2t.Layout, rows int) (*t2t.Matrix, error) {
	enc := t2t.NewEncoder(layout, t2t.EncoderOptions{VLAN: true, IPv6Payload: true})
	m := t2t.NewMatrix(layout, 0)
	for _, p := range f.Packets {
		if m.Rows == rows {
			break
		}
		if _, err := enc.Append(m, p.Link, p.Data, p.Time); err != nil && !errors.Is(err, t2t.ErrSkip) {
			return nil, fmt.Errorf("unet: flow %v: packet at offset %d: %w", f.Key, p.Offset, err)
		}
	}
	return m, nil
}

// ClassPrompts returns, for each class of a data set, the prompts it is
// trained with: its name and the alias type-<i> (i its index in classes),
// adding both tokens to vocab.
func ClassPrompts(classes []string, vocab *Vocab, maxTokens int) (map[string][][]int, error) {
	out := map[string][][]int{}
	for i, c := range classes {
		name, err := NormalizeToken(c)
		if err != nil {
			return nil, fmt.Errorf("unet: class %q cannot be a prompt token: %w", c, err)
		}
		alias := fmt.Sprintf("type-%d", i)
		vocab.Add(name)
		vocab.Add(alias)
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

// DatasetExamples turns the flows of a labelled data set into training
// examples for cfg: each flow's first cfg.Rows packets, padded with vacant
// rows, with its class's prompts. Flows with fewer than minPackets encoded
// packets are left out.
func DatasetExamples(ds *pcapio.Dataset, cfg Config, prompts map[string][][]int, minPackets int) ([]Example, map[string]int, error) {
	l, err := cfg.Layout.Layout()
	if err != nil {
		return nil, nil, err
	}
	var ex []Example
	counts := map[string]int{}
	for _, c := range ds.Classes {
		for _, f := range ds.Flows[c] {
			m, err := FlowMatrix(f, l, cfg.Rows)
			if err != nil {
				return nil, nil, err
			}
			if m.Rows < max(minPackets, 1) {
				continue
			}
			x := make([]float32, cfg.InputSize())
			if err := ToInput(x, m, cfg.Rows); err != nil {
				return nil, nil, err
			}
			ex = append(ex, Example{X: x, Prompts: prompts[c], Transport: TransportWord(f.Key.Proto)})
			counts[c]++
		}
	}
	return ex, counts, nil
}

// TransportWords are the prompt words naming a flow's transport protocol.
// A model trained with AddTransportPrompts takes prompts like "dns tcp";
// the pipeline uses them to generate a class's mix of TCP and UDP flows.
var TransportWords = []string{"tcp", "udp", "icmp"}

// TransportWord names an IP protocol number as a prompt word: "tcp",
// "udp", "icmp" (ICMPv4, the one nPrint encodes), or "" for any other.
func TransportWord(proto uint8) string {
	switch proto {
	case t2t.ProtoTCP:
		return "tcp"
	case t2t.ProtoUDP:
		return "udp"
	case t2t.ProtoICMP:
		return "icmp"
	}
	return ""
}

// AddTransportPrompts adds the TransportWords to vocab and, to every
// example whose Transport is known, a copy of each of its prompts with the
// transport word appended ("dns" -> "dns tcp"), so that the model learns
// both the class alone and the class with its transport. It fails if a
// prompt has no room left for the word.
func AddTransportPrompts(ex []Example, vocab *Vocab, maxTokens int) error {
	ids := map[string]int{}
	for _, w := range TransportWords {
		ids[w], _ = vocab.Add(w)
	}
	for i := range ex {
		id, ok := ids[ex[i].Transport]
		if !ok {
			continue
		}
		n := len(ex[i].Prompts)
		for _, p := range ex[i].Prompts[:n] {
			if len(p) != maxTokens {
				return fmt.Errorf("unet: example %d: prompt of %d tokens, want %d", i, len(p), maxTokens)
			}
			k := 0
			for k < len(p) && p[k] != NullID {
				k++
			}
			if k == len(p) {
				return fmt.Errorf("unet: example %d: prompt %v has no room for the transport word (MaxTokens %d)", i, p, maxTokens)
			}
			q := append([]int(nil), p...)
			q[k] = id
			ex[i].Prompts = append(ex[i].Prompts, q)
		}
	}
	return nil
}

// TrainedWithTransport reports whether a vocabulary holds the
// TransportWords, as one of a model trained with AddTransportPrompts does.
func TrainedWithTransport(v *Vocab) bool {
	for _, w := range TransportWords {
		if _, ok := v.ID(w); !ok {
			return false
		}
	}
	return true
}
