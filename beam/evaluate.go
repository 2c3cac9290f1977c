package t2tbeam

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/io/fileio"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"

	"t2t/evaluate"
	"t2t/pcapio"
)

// EvaluateOptions configure Evaluate: the per-field part of the fidelity
// report (evaluate.FieldHistograms, JSD and TV per field and class) over
// two labelled data sets of any size, as a combine: only histograms are
// held, never the flows of more than one file per worker.
type EvaluateOptions struct {
	// Real and Synthetic are local folders of labelled captures, as
	// pcapio.LoadDataset reads them: <class>.pcap at the top, or any
	// capture file under <class>/.
	Real, Synthetic string
	// Out is the output file (JSON: Fidelity).
	Out string
	// MaxPackets caps the packets kept per flow (0: all).
	MaxPackets int
}

// Hists is the field histograms of one side and class, in a form Beam
// encodes: Fields[i]'s histogram holds Counts[i][k] of Values[i][k].
type Hists struct {
	Fields []string
	Values [][]int64
	Counts [][]float64
	Files  int
	Bad    []string // files that could not be read, with the error
}

// ClassFields is the per-field distance of one class.
type ClassFields struct {
	Class  string                   `json:"class"`
	Fields []evaluate.FieldDistance `json:"fields"`
	Files  [2]int                   `json:"files"`         // real, synthetic
	Bad    []string                 `json:"bad,omitempty"` // files that could not be read: counted in Files, not in the histograms
}

// Fidelity is Evaluate's output.
type Fidelity struct {
	Classes []ClassFields `json:"classes"`
}

func init() {
	register.DoFn3x1[context.Context, fileio.ReadableFile, func(string, Hists), error](&histFn{})
	register.Emitter2[string, Hists]()
	register.Combiner3[Hists, Hists, Hists](&mergeHists{})
	register.Function2x2[string, Hists, string, KeyedHists](classKey)
	register.Iter1[KeyedHists]()
	beam.RegisterType(typeOf[Hists]())
	beam.RegisterType(typeOf[KeyedHists]())
}

// toHists converts evaluate's histograms, fields and values sorted.
func toHists(h map[string]evaluate.Histogram) Hists {
	var out Hists
	for f := range h {
		out.Fields = append(out.Fields, f)
	}
	slices.Sort(out.Fields)
	for _, f := range out.Fields {
		var vs []int64
		for v := range h[f] {
			vs = append(vs, v)
		}
		slices.Sort(vs)
		cs := make([]float64, len(vs))
		for k, v := range vs {
			cs[k] = h[f][v]
		}
		out.Values = append(out.Values, vs)
		out.Counts = append(out.Counts, cs)
	}
	return out
}

func (h Hists) histograms() map[string]evaluate.Histogram {
	out := map[string]evaluate.Histogram{}
	for i, f := range h.Fields {
		m := evaluate.NewHistogram()
		for k, v := range h.Values[i] {
			m[v] += h.Counts[i][k]
		}
		out[f] = m
	}
	return out
}

// Evaluate adds the per-field fidelity pipeline to s.
func Evaluate(s beam.Scope, opt EvaluateOptions) error {
	if opt.Real == "" || opt.Synthetic == "" || opt.Out == "" {
		return errors.New("t2tbeam: evaluate: real, synthetic and output are required")
	}
	s = s.Scope("t2t.Evaluate")
	var globs []string
	for _, dir := range []string{opt.Real, opt.Synthetic} {
		err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err == nil && !d.IsDir() && pcapio.IsCaptureFile(p) {
				globs = append(globs, escapeGlob(p))
			}
			return err
		})
		if err != nil {
			return fmt.Errorf("t2tbeam: evaluate: %w", err)
		}
	}
	files := fileio.ReadMatches(s, beam.Reshuffle(s, fileio.MatchAll(s, beam.CreateList(s, globs))), fileio.ReadUncompressed())
	hists := beam.ParDo(s, &histFn{Opt: opt}, files)
	merged := beam.CombinePerKey(s, &mergeHists{}, hists)
	byClass := beam.GroupByKey(s, beam.ParDo(s, classKey, merged))
	beam.ParDo0(s, &writeFidelityOneFn{Out: opt.Out}, beam.GroupByKey(s, beam.AddFixedKey(s, beam.ParDo(s, &classDistFn{}, byClass))))
	return nil
}

// histFn counts the fields of one file's flows under key "side\x00class".
type histFn struct {
	Opt EvaluateOptions
}

func (f *histFn) ProcessElement(ctx context.Context, rf fileio.ReadableFile, emit func(string, Hists)) error {
	name := rf.Metadata.Path
	side, root := "real", f.Opt.Real
	if rel, err := filepath.Rel(f.Opt.Synthetic, name); err == nil && !strings.HasPrefix(rel, "..") {
		side, root = "synthetic", f.Opt.Synthetic
	}
	rel, err := filepath.Rel(root, name)
	if err != nil {
		return err
	}
	class, _, nested := strings.Cut(rel, string(filepath.Separator))
	if !nested {
		class = strings.TrimSuffix(rel, filepath.Ext(rel))
	}
	data, err := rf.Read(ctx)
	if err != nil {
		return fmt.Errorf("t2tbeam: %s: %w", name, err)
	}
	r, err := open(name, data)
	var flows []*pcapio.Flow
	if err == nil {
		flows, _, err = pcapio.Assemble(r, pcapio.FlowOptions{MaxPackets: f.Opt.MaxPackets})
	}
	h := toHists(evaluate.FieldHistograms(flows))
	h.Files = 1
	if err != nil {
		h = Hists{Files: 1, Bad: []string{err.Error()}} // a FormatError names the file and offset
	}
	emit(side+"\x00"+class, h)
	return nil
}

// mergeHists adds histograms.
type mergeHists struct{}

func (mergeHists) MergeAccumulators(a, b Hists) Hists {
	m := a.histograms()
	for f, h := range b.histograms() {
		if m[f] == nil {
			m[f] = evaluate.NewHistogram()
		}
		for v, c := range h {
			m[f][v] += c
		}
	}
	out := toHists(m)
	out.Files = a.Files + b.Files
	out.Bad = append(slices.Clone(a.Bad), b.Bad...)
	return out
}

// KeyedHists is one side's histograms of a class.
type KeyedHists struct {
	Side  string
	Hists Hists
}

func classKey(key string, h Hists) (string, KeyedHists) {
	side, class, _ := strings.Cut(key, "\x00")
	return class, KeyedHists{Side: side, Hists: h}
}

// classDistFn computes the distance per field of one class.
type classDistFn struct{}

func init() {
	register.DoFn3x1[string, func(*KeyedHists) bool, func(ClassFields), error](&classDistFn{})
	register.Emitter1[ClassFields]()
	register.Iter1[ClassFields]()
	register.DoFn3x1[context.Context, int, func(*ClassFields) bool, error](&writeFidelityOneFn{})
	beam.RegisterType(typeOf[ClassFields]())
}

func (classDistFn) ProcessElement(class string, sides func(*KeyedHists) bool, emit func(ClassFields)) error {
	var real, synth Hists
	var kh KeyedHists
	for sides(&kh) {
		if kh.Side == "real" {
			real = kh.Hists
		} else {
			synth = kh.Hists
		}
	}
	emit(ClassDistances(class, real, synth))
	return nil
}

// ClassDistances is the per-field distance of a class between its real
// and synthetic histograms, fields in name order.
func ClassDistances(class string, real, synth Hists) ClassFields {
	r, s := real.histograms(), synth.histograms()
	c := ClassFields{Class: class, Files: [2]int{real.Files, synth.Files}, Bad: append(slices.Clone(real.Bad), synth.Bad...)}
	var fields []string
	for f := range r {
		fields = append(fields, f)
	}
	for f := range s {
		if r[f] == nil {
			fields = append(fields, f)
		}
	}
	slices.Sort(fields)
	for _, f := range fields {
		p, q := r[f], s[f]
		if p == nil {
			p = evaluate.NewHistogram()
		}
		if q == nil {
			q = evaluate.NewHistogram()
		}
		c.Fields = append(c.Fields, evaluate.FieldDistance{Field: f, JSD: evaluate.JSD(p, q), TV: evaluate.TV(p, q), Real: p.Total(), Synthetic: q.Total()})
	}
	return c
}

// writeFidelityOneFn writes the report.
type writeFidelityOneFn struct {
	Out string
}

func (f *writeFidelityOneFn) ProcessElement(ctx context.Context, _ int, classes func(*ClassFields) bool) error {
	var out Fidelity
	var c ClassFields
	for classes(&c) {
		out.Classes = append(out.Classes, c)
	}
	slices.SortFunc(out.Classes, func(a, b ClassFields) int { return strings.Compare(a.Class, b.Class) })
	b, err := json.MarshalIndent(out, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(f.Out, append(b, '\n'), 0o644)
}
