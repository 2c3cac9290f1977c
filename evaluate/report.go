package evaluate

import (
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"io"
	"math/rand/v2"
	"sort"
	"strings"

	"t2t/pcapio"
)

// Config configures Evaluate.
type Config struct {
	Recognition RecognitionConfig `json:"recognition"`
	// NoCompliance skips the protocol checks of the capture files.
	NoCompliance bool `json:"no_compliance"`
	// Measures configures detectability, diversity and memorisation.
	Measures MeasureConfig `json:"measures"`
	// Train is the generator's training set, for memorisation (nil: not
	// measured).
	Train *pcapio.Dataset `json:"-"`
	// HeldOutOnly, with Train, compares the synthetic flows with the
	// held-out real flows only in detectability and diversity: the
	// training flows are left out of the real side, so that a generator
	// copying them is not rewarded with an accuracy below 0.5.
	HeldOutOnly bool `json:"held_out_only"`
}

// Report is the whole evaluation of a synthetic set against a real one.
// Synthetic parts are nil when no synthetic set was given.
type Report struct {
	Config      Config       `json:"config"`
	RealFlows   int          `json:"real_flows"`
	Recognition *Recognition `json:"recognition"`
	Fidelity    *Fidelity    `json:"fidelity,omitempty"`
	// Compliance of each class's capture files, and of all together.
	RealCompliance      map[string]*Compliance `json:"real_compliance,omitempty"`
	SyntheticCompliance map[string]*Compliance `json:"synthetic_compliance,omitempty"`
	RealBalance         Balance                `json:"real_balance"`
	SyntheticBalance    *Balance               `json:"synthetic_balance,omitempty"`
	// The measures of a generator: how well synthetic flows are told
	// from real ones, how varied they are, and how close they come to the
	// training set (only with Config.Train).
	Detectability *Detectability `json:"detectability,omitempty"`
	Diversity     *Diversity     `json:"diversity,omitempty"`
	Memorisation  *Memorisation  `json:"memorisation,omitempty"`
	// Lengths compares packets per flow and how TCP flows end.
	Lengths []ClassLengths `json:"lengths,omitempty"`
	// Kinds compares fields within each class and kind of flow.
	Kinds *KindFidelity `json:"kinds,omitempty"`
}

// Evaluate runs every part of the evaluation: service recognition,
// fidelity, protocol compliance (of the data sets' capture files), class
// balance and, with a synthetic set, detectability, diversity and (with
// cfg.Train) memorisation. synthetic may be nil.
func Evaluate(real, synthetic *pcapio.Dataset, cfg Config) (*Report, error) {
	rep := &Report{Config: cfg}
	rl, err := FromDataset(real, nil)
	if err != nil {
		return nil, err
	}
	rep.RealFlows = len(rl.Flows)
	var sl *Labelled
	if synthetic != nil {
		if sl, err = FromDataset(synthetic, real.Classes); err != nil {
			return nil, err
		}
	}
	if rep.Recognition, err = Recognize(rl, sl, cfg.Recognition); err != nil {
		return nil, err
	}
	rep.RealBalance = ClassBalance(real.Flows, real.Classes)
	if !cfg.NoCompliance {
		if rep.RealCompliance, err = checkDataset(real); err != nil {
			return nil, err
		}
	}
	if synthetic != nil {
		rep.Fidelity = CompareFidelity(real.Flows, synthetic.Flows)
		against := real.Flows
		if cfg.Train != nil && cfg.HeldOutOnly {
			against, _ = HeldOut(real.Flows, cfg.Train.Flows)
		}
		if rep.Detectability, err = Detect(against, synthetic.Flows, cfg.Measures); err != nil {
			return nil, err
		}
		rep.Diversity = Diversify(against, synthetic.Flows, cfg.Measures)
		rep.Lengths = Lengths(real.Flows, synthetic.Flows)
		rep.Kinds = CompareKinds(real.Flows, synthetic.Flows)
		if cfg.Train != nil {
			if rep.Memorisation, err = Memorise(cfg.Train.Flows, real.Flows, synthetic.Flows, cfg.Measures); err != nil {
				return nil, err
			}
		}
		b := ClassBalance(synthetic.Flows, real.Classes)
		rep.SyntheticBalance = &b
		if !cfg.NoCompliance {
			if rep.SyntheticCompliance, err = checkDataset(synthetic); err != nil {
				return nil, err
			}
		}
	}
	return rep, nil
}

// checkDataset checks the capture files of each class; key "all" sums them.
func checkDataset(ds *pcapio.Dataset) (map[string]*Compliance, error) {
	out := map[string]*Compliance{}
	all := &Compliance{}
	for _, c := range ds.Classes {
		cc := &Compliance{}
		for _, f := range ds.Files[c] {
			r, err := CheckFile(f)
			if err != nil {
				return nil, err
			}
			cc.Add(r)
		}
		out[c] = cc
		all.Add(cc)
	}
	out["all"] = all
	return out, nil
}

// WriteJSON writes the report as indented JSON.
func (r *Report) WriteJSON(w io.Writer) error {
	e := json.NewEncoder(w)
	e.SetIndent("", "  ")
	return e.Encode(r)
}

// WriteMarkdown writes a readable report.
func (r *Report) WriteMarkdown(w io.Writer) error {
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	rec := r.Recognition
	p("# t2t evaluation\n\n")
	p("%d real flows in %d classes; forest on the first %d packets of each flow (%d features, addresses, ports and checksums removed).\n\n",
		r.RealFlows, len(rec.Classes), rec.Packets, rec.Features)
	p("## Service recognition\n\n")
	p("| scenario | train | test | train flows | test flows | micro (class) | macro (group) | train acc. |\n")
	p("|---|---|---|---:|---:|---:|---:|---:|\n")
	for _, s := range rec.Scenarios {
		p("| %s | %s | %s | %d | %d | %.3f | %.3f | %.3f |\n", s.Name, s.Train, s.Test, s.TrainFlows, s.TestFlows, s.Micro, s.Macro, s.TrainAccuracy)
	}
	p("\nPer-class accuracy (recall):\n\n| class |")
	for _, s := range rec.Scenarios {
		p(" %s |", s.Name)
	}
	p("\n|---|")
	for range rec.Scenarios {
		p("---:|")
	}
	p("\n")
	for _, c := range rec.Classes {
		p("| %s |", c)
		for _, s := range rec.Scenarios {
			if v, ok := s.PerClass[c]; ok {
				p(" %.3f |", v)
			} else {
				p(" – |")
			}
		}
		p("\n")
	}
	if f := r.Fidelity; f != nil {
		p("\n## Fidelity (real vs synthetic field distributions)\n\n")
		p("Mean over classes: JSD %.4f, TV %.4f. Transport mix real %s, synthetic %s.\n\n",
			f.MeanJSD, f.MeanTV, fmtMix(f.ProtoMixReal), fmtMix(f.ProtoMixSynthetic))
		p("JSD per class and field (TV in the JSON):\n\n| class | mean JSD | mean TV |")
		for _, n := range Fields {
			p(" %s |", n)
		}
		p("\n|---|---:|---:|%s\n", strings.Repeat("---:|", len(Fields)))
		for _, cf := range append(append([]ClassFidelity(nil), f.Classes...), f.All) {
			p("| %s | %.3f | %.3f |", cf.Class, cf.MeanJSD, cf.MeanTV)
			for _, d := range cf.Fields {
				if d.Real == 0 && d.Synthetic == 0 {
					p(" – |")
				} else {
					p(" %.3f |", d.JSD)
				}
			}
			p("\n")
		}
	}
	r.writeMeasures(p)
	for _, side := range []struct {
		name string
		c    map[string]*Compliance
	}{{"real", r.RealCompliance}, {"synthetic", r.SyntheticCompliance}} {
		if side.c == nil {
			continue
		}
		p("\n## Protocol compliance (%s)\n\n", side.name)
		p("| class | packets | decode err. | checksums checked | bad | truncated | UDP len | ICMP | TCP flows | no handshake | illegal flags | SYN after data | data before hs | seq gap | ack ahead | after RST |\n")
		p("|---|%s\n", strings.Repeat("---:|", 16))
		keys := make([]string, 0, len(side.c))
		for k := range side.c {
			if k != "all" {
				keys = append(keys, k)
			}
		}
		sort.Strings(keys)
		for _, k := range append(keys, "all") {
			c := side.c[k]
			t := c.TCP
			p("| %s | %d | %d | %d | %d | %d | %d | %d | %d | %d | %d | %d | %d | %d | %d | %d |\n", k, c.Packets, c.DecodeErrors,
				c.ChecksumChecked, c.BadChecksums, c.Truncated, c.UDPLength, c.ICMPInvalid, c.TCPFlows,
				t.NoHandshake, t.IllegalFlags, t.SYNAfterData, t.DataBeforeHandshake, t.SeqGap, t.AckAhead, t.AfterRST)
		}
	}
	p("\n## Class balance\n\n")
	p("real: %d flows, normalised entropy %.3f", r.RealBalance.Total, r.RealBalance.Normalized)
	if sb := r.SyntheticBalance; sb != nil {
		p("; synthetic: %d flows, normalised entropy %.3f\n\n| class | real | synthetic |\n|---|---:|---:|\n", sb.Total, sb.Normalized)
		for _, c := range rec.Classes {
			p("| %s | %d | %d |\n", c, r.RealBalance.Counts[c], sb.Counts[c])
		}
	} else {
		p("\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func fmtMix(m map[string]float64) string {
	return fmt.Sprintf("TCP %.2f / UDP %.2f / ICMP %.2f", m["tcp"], m["udp"], m["icmp"])
}

// Bar is one bar of a chart: a label and a value in [0,1].
type Bar struct {
	Label string
	Value float64
}

// barColors colour the series of a grouped bar chart.
var barColors = []color.RGBA{{0x1f, 0x77, 0xb4, 0xff}, {0xff, 0x7f, 0x0e, 0xff}, {0x2c, 0xa0, 0x2c, 0xff}, {0xd6, 0x27, 0x28, 0xff}}

// BarChart draws grouped bars of values in [0,1]: series[s][g] is the
// value of series s in group g. Bars are barColors in series order; grid
// lines mark 0.25 steps. There are no text labels (the Markdown report
// holds the numbers); groups are in the order given.
func BarChart(series [][]float64) *image.RGBA {
	const barW, gap, h, pad = 8, 6, 200, 10
	groups := 0
	for _, s := range series {
		groups = max(groups, len(s))
	}
	gw := len(series)*barW + gap
	img := image.NewRGBA(image.Rect(0, 0, 2*pad+groups*gw, h+2*pad))
	draw.Draw(img, img.Bounds(), image.White, image.Point{}, draw.Src)
	grid := color.RGBA{0xdd, 0xdd, 0xdd, 0xff}
	for q := 0; q <= 4; q++ {
		y := pad + h - q*h/4
		for x := pad; x < img.Bounds().Dx()-pad; x++ {
			img.Set(x, y, grid)
		}
	}
	for s, vals := range series {
		c := barColors[s%len(barColors)]
		for g, v := range vals {
			v = min(max(v, 0), 1)
			x0 := pad + g*gw + s*barW
			top := pad + h - int(v*h+0.5)
			draw.Draw(img, image.Rect(x0, top, x0+barW-1, pad+h), &image.Uniform{c}, image.Point{}, draw.Src)
		}
	}
	return img
}

// WritePNG draws the per-class accuracy of each recognition scenario
// (one colour per scenario, in Scenarios order) as a PNG.
func (r *Report) WritePNG(w io.Writer) error {
	var series [][]float64
	for _, s := range r.Recognition.Scenarios {
		vals := make([]float64, len(r.Recognition.Classes))
		for i, c := range r.Recognition.Classes {
			vals[i] = s.PerClass[c]
		}
		series = append(series, vals)
	}
	return png.Encode(w, BarChart(series))
}

// WriteFidelityPNG draws the per-class mean JSD and mean TV as a PNG;
// it writes nothing without a synthetic set.
func (r *Report) WriteFidelityPNG(w io.Writer) error {
	if r.Fidelity == nil {
		return nil
	}
	var jsd, tv []float64
	for _, c := range r.Fidelity.Classes {
		jsd = append(jsd, c.MeanJSD)
		tv = append(tv, c.MeanTV)
	}
	return png.Encode(w, BarChart([][]float64{jsd, tv}))
}

// seedRand returns the generator the package uses for a seed ("t2teval"
// is the stream).
func seedRand(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, 0x7432746576616c)) }

// writeMeasures writes the Markdown sections of detectability, diversity
// and memorisation (those measured).
func (r *Report) writeMeasures(p func(format string, args ...any)) {
	if d := r.Detectability; d != nil {
		p("\n## Detectability (a forest telling real from synthetic)\n\n")
		p("Per class, n flows of each side (n the smaller count, seeded), first %d packets (%d features: addresses, ports, checksums, IP IDs and TCP sequence/ack numbers removed), %d-fold cross-validation. 0.5: indistinguishable; 1: always told apart.\n\n",
			d.Packets, d.Features, d.Folds)
		if r.Config.HeldOutOnly && r.Memorisation != nil {
			p("Real side: the held-out real flows only (training flows left out).\n\n")
		}
		p("| class | flows a side | folds | accuracy |\n|---|---:|---:|---:|\n")
		for _, c := range append(append([]ClassDetectability(nil), d.Classes...), d.All) {
			p("| %s | %d | %d | %.3f |\n", c.Class, c.Flows, c.Folds, c.Accuracy)
		}
		p("\nMean over classes %.3f.", d.MeanAccuracy)
		if len(d.Skipped) > 0 {
			p(" Too few flows to cross-validate: %s.", strings.Join(d.Skipped, ", "))
		}
		p("\n")
	}
	if dv := r.Diversity; dv != nil {
		p("\n## Diversity (distinct flow shapes at equal n)\n\n")
		p("A shape is the sequence over the first %d packets of (direction, transport, IP length, TCP flags, TCP window, UDP length, ICMP type/code); the share is distinct shapes / n, n flows drawn from each side. Novel: synthetic shapes none of the n real flows has.\n\n", dv.Packets)
		p("| class | n | real share | synthetic share | novel |\n|---|---:|---:|---:|---:|\n")
		for _, c := range append(append([]ClassDiversity(nil), dv.Classes...), dv.All) {
			p("| %s | %d | %.3f | %.3f | %.3f |\n", c.Class, c.Flows, c.Real, c.Synthetic, c.Novel)
		}
	}
	if len(r.Lengths) > 0 {
		p("\n## Flow lengths and endings\n\n")
		p("Packets per flow, real against synthetic (median, 90th percentile, max; KS: two-sample Kolmogorov-Smirnov statistic), and the share of TCP flows with a FIN or RST in their last %d packets.\n\n", EndPackets)
		p("| class | flows real / syn | median real / syn | p90 real / syn | max real / syn | KS | TCP ended real / syn |\n|---|---:|---:|---:|---:|---:|---:|\n")
		for _, c := range r.Lengths {
			p("| %s | %d / %d | %.0f / %.0f | %.0f / %.0f | %d / %d | %.3f | %s / %s |\n", c.Class, c.Real.Flows, c.Synthetic.Flows,
				c.Real.Median, c.Synthetic.Median, c.Real.P90, c.Synthetic.P90, c.Real.Max, c.Synthetic.Max, c.KS, share(c.Real.Ended), share(c.Synthetic.Ended))
		}
	}
	if r.Kinds != nil {
		r.Kinds.write(p)
	}
	if m := r.Memorisation; m != nil {
		p("\n## Memorisation (distance to the closest training flow)\n\n")
		p("Normalised Hamming distance over the %d feature cells of the first %d packets to the closest training flow of the class, for synthetic flows and for held-out real flows (real flows not in the training set; %d training flows found among the real ones). Ratio: synthetic median / held-out median (1: as new as unseen real traffic; 0: copies). Copies: share at distance 0.\n\n",
			m.Features, m.Packets, m.TrainInReal)
		p("| class | train | held-out | synthetic | median synthetic | median held-out | ratio | mean synthetic | mean held-out | copies synthetic | copies held-out |\n")
		p("|---|%s\n", strings.Repeat("---:|", 10))
		for _, c := range append(append([]ClassMemorisation(nil), m.Classes...), m.All) {
			ratio := "–"
			if c.Ratio != nil {
				ratio = fmt.Sprintf("%.3f", *c.Ratio)
			}
			p("| %s | %d | %d | %d | %.4f | %.4f | %s | %.4f | %.4f | %.3f | %.3f |\n", c.Class, c.Train, c.HeldOut, c.Synthetic,
				c.SyntheticMedian, c.HeldOutMedian, ratio, c.SyntheticMean, c.HeldOutMean, c.SyntheticCopies, c.HeldOutCopies)
		}
	}
}

// share formats a share, "–" for none (no flows to count).
func share(v *float64) string {
	if v == nil {
		return "–"
	}
	return fmt.Sprintf("%.2f", *v)
}
