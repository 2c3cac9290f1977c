package dataset

import (
	"cmp"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"maps"
	"math"
	"math/rand/v2"
	"net/netip"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"t2t"
	"t2t/pcapio"
)

// LayoutOptions configures Layout.
type LayoutOptions struct {
	// Labels is the flow-label file (see ReadFlowLabels). Rows, when not
	// nil, are used instead.
	Labels string
	Rows   []FlowLabel
	// Captures is the folder the labels' capture names are relative to.
	Captures string
	// Out is the folder to write: <Out>/train/<class>/<capture>.pcap and
	// <Out>/test/<class>/<capture>.pcap. It must not exist or be empty,
	// and must not lie inside Captures.
	Out string
	// Label is the label column that names the class: "app" (when
	// empty), "ndpi_proto" or "category".
	Label string
	// MinFlows leaves out classes with fewer found flows (labelled flows
	// whose packets are in a readable capture). Every class needs found
	// flows in at least 2 captures, one for each split.
	MinFlows int
	// Classes keeps only the Classes classes with the most found flows
	// (ties by name) of those left; 0 keeps all.
	Classes int
	// Drop leaves out the flows of these labels (compared ignoring case),
	// e.g. "Unknown", before anything is counted.
	Drop []string
	// MaxFlows caps each class's flows (0: no cap): each split keeps its
	// share of MaxFlows, taken in turn from its captures so that every
	// capture keeps flows while there are enough.
	MaxFlows int
	// MaxPackets keeps only the first MaxPackets packets of each flow;
	// 0 keeps all.
	MaxPackets int
	// TrainShare is the share of each class's flows to aim for in train
	// (0: 0.75); whole captures go to one split, so the share reached
	// is near it, not exact.
	TrainShare float64
	// Seed draws the split: the same seed and labels give the same
	// layout.
	Seed uint64
	// Strict stops at the first malformed row of Labels (or a flow
	// labelled twice); otherwise such rows are skipped and listed in
	// Summary.Malformed.
	Strict bool
}

// Summary is what Layout did.
type Summary struct {
	Label string // the label column used
	Out   string // the folder written
	Rows  int    // label rows read
	// Malformed lists the rows skipped as malformed (see
	// LayoutOptions.Strict); they are not in Rows.
	Malformed []*LabelError
	// Dropped counts the rows left out by LayoutOptions.Drop, Unlabelled
	// those with no value in the label column.
	Dropped, Unlabelled int
	// Captures counts the capture files read; Failed lists those that
	// could not be read (missing, malformed, an unsupported link type),
	// whose labelled flows were skipped.
	Captures int
	Failed   []CaptureError
	// Classes are the classes written, most flows first; LeftOut the
	// others, with their reason.
	Classes []ClassSummary
	LeftOut []ClassSummary
}

// CaptureError is a capture file Layout could not read.
type CaptureError struct {
	Name string // as named in the labels
	Err  error
}

// ClassSummary counts one class's flows. Labelled = Found + NotFound +
// Unencodable + Unread, and Found = TrainFlows + TestFlows + Capped.
type ClassSummary struct {
	Class string // folder name
	Label string // the label it was made from
	// Labelled counts the class's label rows; Found those whose packets
	// were found in their capture; NotFound those of TCP, UDP or ICMP
	// whose capture was read but holds none of their packets;
	// Unencodable those of other transports (ICMPv6, IGMP, SCTP, ...),
	// which t2t does not encode and so never looks for; Unread those
	// whose capture failed to read; Capped those found but left out by
	// LayoutOptions.MaxFlows.
	Labelled, Found, NotFound, Unencodable, Unread, Capped int
	// TrainFlows and TestFlows count the labelled flows written to each
	// split; TrainCaptures and TestCaptures name their capture files
	// (each is in one split only); TrainPackets and TestPackets count the
	// packets written.
	TrainFlows, TestFlows       int
	TrainCaptures, TestCaptures []string
	TrainPackets, TestPackets   int
	// Reason says why a class was left out ("" for a class written).
	Reason string
}

// FoundShare returns the share of the written classes' labelled flows
// that were found, and of those of TCP, UDP or ICMP in captures that
// were read.
func (s *Summary) FoundShare() (all, findable float64) {
	var lab, found, look int
	for _, c := range s.Classes {
		lab += c.Labelled
		found += c.Found
		look += c.Found + c.NotFound
	}
	if lab > 0 {
		all = float64(found) / float64(lab)
	}
	if look > 0 {
		findable = float64(found) / float64(look)
	}
	return all, findable
}

// WriteTable writes the summary as a table: one line per class written,
// a total, then the captures that failed and the classes left out.
func (s *Summary) WriteTable(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "%-26s %8s %8s %8s %8s %8s %8s %8s %8s %8s\n", "class ("+s.Label+")", "labelled", "train", "files", "test", "files", "notfound", "unenc", "unread", "capped")
	var t ClassSummary
	for _, c := range s.Classes {
		fmt.Fprintf(&b, "%-26s %8d %8d %8d %8d %8d %8d %8d %8d %8d\n", c.Class, c.Labelled, c.TrainFlows, len(c.TrainCaptures), c.TestFlows, len(c.TestCaptures), c.NotFound, c.Unencodable, c.Unread, c.Capped)
		t.Labelled += c.Labelled
		t.TrainFlows += c.TrainFlows
		t.TestFlows += c.TestFlows
		t.NotFound += c.NotFound
		t.Unencodable += c.Unencodable
		t.Unread += c.Unread
		t.Capped += c.Capped
		t.TrainPackets += c.TrainPackets
		t.TestPackets += c.TestPackets
	}
	fmt.Fprintf(&b, "%-26s %8d %8d %8s %8d %8s %8d %8d %8d %8d\n", fmt.Sprintf("total (%d classes)", len(s.Classes)), t.Labelled, t.TrainFlows, "", t.TestFlows, "", t.NotFound, t.Unencodable, t.Unread, t.Capped)
	all, findable := s.FoundShare()
	fmt.Fprintf(&b, "found %.1f%% of the labelled flows (%.1f%% of those of TCP, UDP or ICMP in captures read); %d train and %d test packets in %s\n",
		100*all, 100*findable, t.TrainPackets, t.TestPackets, s.Out)
	fmt.Fprintf(&b, "%d label rows, %d dropped, %d with no %s; %d captures read, %d failed\n", s.Rows, s.Dropped, s.Unlabelled, s.Label, s.Captures, len(s.Failed))
	for _, f := range s.Failed {
		fmt.Fprintf(&b, "  failed: %s: %v\n", f.Name, f.Err)
	}
	for _, e := range s.Malformed {
		fmt.Fprintf(&b, "  skipped: %v\n", e)
	}
	if n := len(s.LeftOut); n > 0 {
		fmt.Fprintf(&b, "%d classes left out:", n)
		for i, c := range s.LeftOut {
			if i == 12 {
				fmt.Fprintf(&b, " ... (%d more)", n-i)
				break
			}
			fmt.Fprintf(&b, " %s (%s)", c.Class, c.Reason)
		}
		b.WriteByte('\n')
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// ClassNames maps labels to class folder names: lower case, every
// character but a-z, 0-9, '_' and '-' replaced by '_'. Labels that would
// share a name (HTTP.x and HTTP_x) each get a suffix "-" and 8 hex digits
// of their hash, so the map is one to one and depends only on the set of
// labels.
func ClassNames(labels []string) map[string]string {
	names := make(map[string]string, len(labels))
	by := map[string][]string{}
	for _, l := range labels {
		if _, ok := names[l]; ok {
			continue
		}
		n := safeName(l)
		names[l] = n
		by[n] = append(by[n], l)
	}
	for n, ls := range by {
		if len(ls) < 2 {
			continue
		}
		for _, l := range ls {
			h := fnv.New32a()
			h.Write([]byte(l))
			names[l] = fmt.Sprintf("%s-%08x", n, h.Sum32())
		}
	}
	return names
}

func safeName(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_' || r == '-' {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	if b.Len() == 0 {
		return "_"
	}
	return b.String()
}

// CheckOut reports whether Layout may write the folder out: it must not
// be a symbolic link, must be absent or an empty folder whose parent
// exists, and must not be or lie inside captures.
func CheckOut(out, captures string) error {
	if out == "" {
		return errors.New("no output folder")
	}
	if st, err := os.Lstat(out); err == nil {
		switch {
		case st.Mode()&os.ModeSymlink != 0:
			return fmt.Errorf("%s is a symbolic link; name the folder itself", out)
		case !st.IsDir():
			return fmt.Errorf("%s is a file, want a new or empty folder", out)
		}
		ents, err := os.ReadDir(out)
		if err != nil {
			return err
		}
		if len(ents) > 0 {
			return fmt.Errorf("%s exists and is not empty; name a new or empty folder", out)
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return err
	}
	parent := filepath.Dir(filepath.Clean(out))
	if st, err := os.Stat(parent); err != nil || !st.IsDir() {
		return fmt.Errorf("%s: its folder %s does not exist", out, parent)
	}
	if captures != "" {
		co, err1 := resolve(out)
		cc, err2 := resolve(captures)
		if err := cmp.Or(err1, err2); err != nil {
			return err
		}
		if rel, err := filepath.Rel(cc, co); err == nil && filepath.IsLocal(rel) {
			return fmt.Errorf("%s lies inside the captures folder %s; write it elsewhere", out, captures)
		}
	}
	return nil
}

// resolve returns the absolute path of p with symbolic links of its
// existing part resolved.
func resolve(p string) (string, error) {
	p, err := filepath.Abs(p)
	if err != nil {
		return "", err
	}
	rest := ""
	for {
		if r, err := filepath.EvalSymlinks(p); err == nil {
			return filepath.Join(r, rest), nil
		}
		parent := filepath.Dir(p)
		if parent == p {
			return filepath.Join(p, rest), nil
		}
		rest = filepath.Join(filepath.Base(p), rest)
		p = parent
	}
}

// row is a label row Layout uses.
type row struct {
	label *FlowLabel
	class string
	found bool // its packets are in its capture
	keep  bool // written
}

// capture is one capture file's label rows.
type capture struct {
	name string
	rows []int                  // indices into the rows, in file order
	keys map[pcapio.FlowKey]int // match key -> row index
	err  error                  // reading failed
}

// matchKey is the key a label row and a pcapio flow are matched on: the
// flow key, with ICMP's ports (pcapio: the echo identifier; nDPI: 0)
// cleared.
func matchKey(proto uint8, a, b netip.AddrPort) pcapio.FlowKey {
	if proto == t2t.ProtoICMP {
		a, b = netip.AddrPortFrom(a.Addr(), 0), netip.AddrPortFrom(b.Addr(), 0)
	}
	k, _ := pcapio.MakeFlowKey(proto, a, b)
	return k
}

// Layout lays out labelled captures as a training and a test set that
// pcapio.LoadDataset (and so `train -data <Out>/train`) reads: it reads
// the flow labels, matches each labelled flow's 5-tuple (either
// direction; ICMP on its addresses) to the flows pcapio assembles from
// its capture, and writes, per class and capture,
// <Out>/<split>/<class>/<capture>.pcap holding the packets of that
// capture's flows of that class, in time order. Each class's captures are
// split whole between train and test, about TrainShare of its flows in
// train, drawn from Seed. Classes with fewer than MinFlows found flows or
// with found flows in fewer than 2 captures are left out; then Classes
// keeps the biggest.
//
// Captures that cannot be read are skipped and listed in the Summary.
// Out is written whole or not at all: into a temporary folder beside it,
// renamed at the end. The Summary is returned with any error after the
// labels were read.
func Layout(opts LayoutOptions) (Summary, error) {
	col := cmp.Or(opts.Label, "app")
	sum := Summary{Label: col, Out: opts.Out}
	if !slices.Contains(LabelColumns, col) {
		return sum, fmt.Errorf("dataset: Layout: label column %q: want one of %s", col, strings.Join(LabelColumns, ", "))
	}
	share := cmp.Or(opts.TrainShare, 0.75)
	switch {
	case !(share > 0 && share < 1):
		return sum, fmt.Errorf("dataset: Layout: train share %g: want 0 < share < 1", share)
	case opts.MinFlows < 0, opts.Classes < 0, opts.MaxPackets < 0:
		return sum, fmt.Errorf("dataset: Layout: MinFlows %d, Classes %d, MaxPackets %d: want 0 or more", opts.MinFlows, opts.Classes, opts.MaxPackets)
	case opts.MaxFlows < 0 || opts.MaxFlows == 1:
		return sum, fmt.Errorf("dataset: Layout: MaxFlows %d: want 0 (no cap) or 2 or more, a flow for each split", opts.MaxFlows)
	case opts.Captures == "":
		return sum, errors.New("dataset: Layout: no captures folder")
	}
	if st, err := os.Stat(opts.Captures); err != nil || !st.IsDir() {
		return sum, fmt.Errorf("dataset: Layout: captures folder %s: not a folder", opts.Captures)
	}
	if err := CheckOut(opts.Out, opts.Captures); err != nil {
		return sum, fmt.Errorf("dataset: Layout: %w", err)
	}
	labels := opts.Rows
	if labels == nil {
		lr := LabelReader{File: opts.Labels, SkipMalformed: !opts.Strict}
		var err error
		if labels, err = lr.ReadFile(); err != nil {
			return sum, err
		}
		sum.Malformed = lr.Skipped
	}
	sum.Rows = len(labels)

	// Rows by capture, classes named.
	var (
		rows    []row
		caps    []*capture
		byName  = map[string]*capture{}
		labelOf = map[string]string{} // class -> label
		names   []string
	)
	for i := range labels {
		v, _ := labels[i].Label(col)
		if v == "" {
			sum.Unlabelled++
			continue
		}
		if slices.ContainsFunc(opts.Drop, func(d string) bool { return strings.EqualFold(d, v) }) {
			sum.Dropped++
			continue
		}
		names = append(names, v)
	}
	classOf := ClassNames(names)
	for i := range labels {
		l := &labels[i]
		v, _ := l.Label(col)
		class, ok := classOf[v]
		if !ok {
			continue // dropped
		}
		labelOf[class] = v
		c := byName[l.Pcap]
		if c == nil {
			c = &capture{name: l.Pcap, keys: map[pcapio.FlowKey]int{}}
			byName[l.Pcap] = c
			caps = append(caps, c)
		}
		c.rows = append(c.rows, len(rows))
		if l.Encodable() {
			k := matchKey(l.Proto, l.Src, l.Dst)
			if j, dup := c.keys[k]; dup {
				err := &LabelError{File: opts.Labels, Line: l.Line, Msg: fmt.Sprintf("flow %v of %s labelled twice (first on line %d)", k, l.Pcap, rows[j].label.Line)}
				if opts.Strict {
					return sum, err
				}
				sum.Malformed = append(sum.Malformed, err)
				continue
			}
			c.keys[k] = len(rows)
		}
		rows = append(rows, row{label: l, class: class})
	}
	slices.SortFunc(caps, func(a, b *capture) int { return strings.Compare(a.name, b.name) })

	// Pass 1: find the labelled flows.
	fo := pcapio.FlowOptions{IdleTimeout: -1, MaxPackets: opts.MaxPackets}
	for _, c := range caps {
		if len(c.keys) == 0 {
			continue // nothing to look for
		}
		flows, _, err := pcapio.AssembleFile(filepath.Join(opts.Captures, filepath.FromSlash(c.name)), fo)
		var found []int
		for _, f := range flows {
			if err != nil {
				break
			}
			if j, ok := c.keys[matchKey(f.Key.Proto, f.Key.A, f.Key.B)]; ok {
				found = append(found, j)
				err = writable(f)
			}
		}
		if err != nil {
			c.err = err
			sum.Failed = append(sum.Failed, CaptureError{Name: c.name, Err: err})
			continue
		}
		sum.Captures++
		for _, j := range found {
			rows[j].found = true
		}
	}

	// Count per class; choose the classes.
	type classCaps struct {
		sum   ClassSummary
		flows map[string][]int // capture -> found rows
	}
	per := map[string]*classCaps{}
	for _, c := range caps {
		for _, j := range c.rows {
			r := &rows[j]
			cc := per[r.class]
			if cc == nil {
				cc = &classCaps{sum: ClassSummary{Class: r.class, Label: labelOf[r.class]}, flows: map[string][]int{}}
				per[r.class] = cc
			}
			cs := &cc.sum
			cs.Labelled++
			switch {
			case !r.label.Encodable():
				cs.Unencodable++
			case c.err != nil:
				cs.Unread++
			case !r.found:
				cs.NotFound++
			default:
				cs.Found++
				cc.flows[c.name] = append(cc.flows[c.name], j)
			}
		}
	}
	var cands []*classCaps
	for _, cc := range per {
		switch {
		case cc.sum.Found < opts.MinFlows:
			cc.sum.Reason = fmt.Sprintf("%d flows found, want %d", cc.sum.Found, opts.MinFlows)
		case len(cc.flows) < 2:
			cc.sum.Reason = fmt.Sprintf("flows found in %d capture, want 2", len(cc.flows))
		default:
			cands = append(cands, cc)
			continue
		}
		sum.LeftOut = append(sum.LeftOut, cc.sum)
	}
	bigFirst := func(a, b ClassSummary) int {
		return cmp.Or(cmp.Compare(b.Found, a.Found), strings.Compare(a.Class, b.Class))
	}
	slices.SortFunc(cands, func(a, b *classCaps) int { return bigFirst(a.sum, b.sum) })
	if opts.Classes > 0 && len(cands) > opts.Classes {
		for _, cc := range cands[opts.Classes:] {
			cc.sum.Reason = fmt.Sprintf("not among the %d biggest", opts.Classes)
			sum.LeftOut = append(sum.LeftOut, cc.sum)
		}
		cands = cands[:opts.Classes]
	}
	slices.SortFunc(sum.LeftOut, bigFirst)
	if len(cands) == 0 {
		return sum, fmt.Errorf("dataset: Layout: no class has %d or more flows found in 2 or more captures (%d classes, %d captures read, %d failed)", max(opts.MinFlows, 2), len(per), sum.Captures, len(sum.Failed))
	}

	// Split each class by capture; cap.
	test := map[string]map[string]bool{} // class -> capture -> in test
	for _, cc := range cands {
		names := splitCaptures(cc.flows, share, opts.Seed, cc.sum.Class)
		test[cc.sum.Class] = names
		var split [2][]string // train, test captures
		for _, n := range slices.Sorted(maps.Keys(cc.flows)) {
			s := 0
			if names[n] {
				s = 1
			}
			split[s] = append(split[s], n)
		}
		var nflows [2]int
		for s := range split {
			for _, n := range split[s] {
				nflows[s] += len(cc.flows[n])
			}
		}
		quota := nflows
		if total := nflows[0] + nflows[1]; opts.MaxFlows > 0 && total > opts.MaxFlows {
			quota[0] = int(math.Round(float64(opts.MaxFlows) * float64(nflows[0]) / float64(total)))
			quota[0] = min(max(quota[0], 1), opts.MaxFlows-1)
			quota[1] = opts.MaxFlows - quota[0]
			if quota[1] > nflows[1] { // the test split is short: give train the rest
				quota[0], quota[1] = opts.MaxFlows-nflows[1], nflows[1]
			}
			if quota[0] > nflows[0] {
				quota[0], quota[1] = nflows[0], opts.MaxFlows-nflows[0]
			}
		}
		for s := range split {
			kept := roundRobin(split[s], cc.flows, quota[s])
			for _, j := range kept {
				rows[j].keep = true
			}
			var used []string
			for _, n := range split[s] {
				if slices.ContainsFunc(cc.flows[n], func(j int) bool { return rows[j].keep }) {
					used = append(used, n)
				}
			}
			if s == 0 {
				cc.sum.TrainFlows, cc.sum.TrainCaptures = len(kept), used
			} else {
				cc.sum.TestFlows, cc.sum.TestCaptures = len(kept), used
			}
		}
		cc.sum.Capped = cc.sum.Found - cc.sum.TrainFlows - cc.sum.TestFlows
	}

	// Pass 2: write.
	tmp, err := os.MkdirTemp(filepath.Dir(filepath.Clean(opts.Out)), "."+filepath.Base(filepath.Clean(opts.Out))+".tmp-")
	if err != nil {
		return sum, fmt.Errorf("dataset: Layout: %w", err)
	}
	done := false
	defer func() {
		if !done {
			os.RemoveAll(tmp)
		}
	}()
	var capNames []string
	for _, c := range caps {
		capNames = append(capNames, c.name)
	}
	stems := fileStems(capNames)
	packets := map[string]*[2]int{}
	for _, cc := range cands {
		packets[cc.sum.Class] = new([2]int)
	}
	for _, c := range caps {
		byClass := map[string][]pcapio.Packet{}
		want := map[int]bool{}
		for _, j := range c.rows {
			if rows[j].keep {
				want[j] = true
			}
		}
		if len(want) == 0 {
			continue
		}
		flows, _, err := pcapio.AssembleFile(filepath.Join(opts.Captures, filepath.FromSlash(c.name)), fo)
		if err != nil {
			return sum, fmt.Errorf("dataset: Layout: %s read at first, not now: %w", c.name, err)
		}
		for _, f := range flows {
			if j, ok := c.keys[matchKey(f.Key.Proto, f.Key.A, f.Key.B)]; ok && want[j] {
				byClass[rows[j].class] = append(byClass[rows[j].class], f.Packets...)
			}
		}
		for _, class := range slices.Sorted(maps.Keys(byClass)) {
			ps := byClass[class]
			slices.SortStableFunc(ps, func(a, b pcapio.Packet) int { return a.Time.Compare(b.Time) })
			s, split := 0, "train"
			if test[class][c.name] {
				s, split = 1, "test"
			}
			dir := filepath.Join(tmp, split, class)
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return sum, fmt.Errorf("dataset: Layout: %w", err)
			}
			if err := writeCapture(dir, stems[c.name], ps); err != nil {
				return sum, fmt.Errorf("dataset: Layout: %w", err)
			}
			packets[class][s] += len(ps)
		}
	}
	for _, cc := range cands {
		cc.sum.TrainPackets, cc.sum.TestPackets = packets[cc.sum.Class][0], packets[cc.sum.Class][1]
		sum.Classes = append(sum.Classes, cc.sum)
	}
	if err := os.Chmod(tmp, 0o755); err != nil {
		return sum, fmt.Errorf("dataset: Layout: %w", err)
	}
	if err := CheckOut(opts.Out, opts.Captures); err != nil { // still so?
		return sum, fmt.Errorf("dataset: Layout: %w", err)
	}
	if _, err := os.Lstat(opts.Out); err == nil {
		if err := os.Remove(opts.Out); err != nil { // empty, as CheckOut saw
			return sum, fmt.Errorf("dataset: Layout: %w", err)
		}
	}
	if err := os.Rename(tmp, opts.Out); err != nil {
		return sum, fmt.Errorf("dataset: Layout: %w", err)
	}
	done = true
	return sum, nil
}

// splitCaptures chooses the captures of one class that go to test: in an
// order drawn from seed and the class, each capture joins test when that
// brings test's flows nearer (1-share) of all; test and train each get at
// least one capture.
func splitCaptures(flows map[string][]int, share float64, seed uint64, class string) map[string]bool {
	names := slices.Sorted(maps.Keys(flows))
	h := fnv.New64a()
	h.Write([]byte(class))
	rng := rand.New(rand.NewPCG(seed, h.Sum64()))
	rng.Shuffle(len(names), func(i, j int) { names[i], names[j] = names[j], names[i] })
	total := 0
	for _, n := range names {
		total += len(flows[n])
	}
	target := (1 - share) * float64(total)
	test := map[string]bool{}
	got := 0
	for _, n := range names {
		w := len(flows[n])
		if math.Abs(float64(got+w)-target) < math.Abs(float64(got)-target) {
			test[n] = true
			got += w
		}
	}
	if len(test) == 0 { // every capture is too big: take the one nearest the target
		best := names[0]
		for _, n := range names[1:] {
			if math.Abs(float64(len(flows[n]))-target) < math.Abs(float64(len(flows[best]))-target) {
				best = n
			}
		}
		test[best] = true
	}
	if len(test) == len(names) { // keep one for train: the first drawn
		delete(test, names[0])
	}
	return test
}

// roundRobin takes up to n of the rows of the captures names, one from
// each capture in turn (each capture's rows in file order).
func roundRobin(names []string, flows map[string][]int, n int) []int {
	var out []int
	for i := 0; len(out) < n; i++ {
		took := false
		for _, c := range names {
			if i < len(flows[c]) && len(out) < n {
				out = append(out, flows[c][i])
				took = true
			}
		}
		if !took {
			break
		}
	}
	return out
}

// fileStems maps capture names to output file names (without .pcap):
// the name without its extension, folders joined by '_', a leading dot
// made '_'. Names that would share a stem (x.pcap and x.pcapng) keep
// their extension after a '_' (x_pcap, x_pcapng), and then, if still
// shared, a '-' and 8 hex digits of their hash.
func fileStems(names []string) map[string]string {
	stem := func(name string, ext bool) string {
		e := path.Ext(name)
		s := strings.TrimSuffix(name, e)
		if ext && e != "" {
			s += "_" + e[1:]
		}
		s = strings.ReplaceAll(s, "/", "_")
		if strings.HasPrefix(s, ".") {
			s = "_" + s[1:]
		}
		return s
	}
	n1 := map[string]int{}
	for _, n := range names {
		n1[stem(n, false)]++
	}
	out := map[string]string{}
	n2 := map[string]int{}
	for _, n := range names {
		s := stem(n, false)
		if n1[s] > 1 {
			s = stem(n, true)
		}
		out[n] = s
		n2[s]++
	}
	for _, n := range names {
		if n2[out[n]] > 1 {
			h := fnv.New32a()
			h.Write([]byte(n))
			out[n] += fmt.Sprintf("-%08x", h.Sum32())
		}
	}
	return out
}

// writable reports a packet of f that a pcap cannot hold: one without a
// timestamp or with one outside 1970-2106.
func writable(f *pcapio.Flow) error {
	for _, p := range f.Packets {
		if p.Time.IsZero() {
			return fmt.Errorf("labelled flow %v: packet at offset %d has no timestamp", f.Key, p.Offset)
		}
		if s := p.Time.Unix(); s < 0 || s > math.MaxUint32 {
			return fmt.Errorf("labelled flow %v: packet at offset %d: time %v is outside the pcap range 1970-2106", f.Key, p.Offset, p.Time.UTC())
		}
	}
	return nil
}

// writeCapture writes ps to dir/stem.pcap, and packets of a link type
// other than the first packet's to dir/stem_<link>.pcap, each file
// synced before it is closed; timestamps are written in microseconds,
// or nanoseconds when a packet's time needs them.
func writeCapture(dir, stem string, ps []pcapio.Packet) error {
	var links []t2t.LinkType
	by := map[t2t.LinkType][]pcapio.Packet{}
	for _, p := range ps {
		if _, ok := by[p.Link]; !ok {
			links = append(links, p.Link)
		}
		p.OrigLen = max(p.OrigLen, len(p.Data))
		by[p.Link] = append(by[p.Link], p)
	}
	for i, l := range links {
		name := stem
		if i > 0 {
			name += "_" + strings.ToLower(l.String())
		}
		if err := syncWrite(filepath.Join(dir, name+".pcap"), l, by[l]); err != nil {
			return err
		}
	}
	return nil
}

func syncWrite(p string, link t2t.LinkType, ps []pcapio.Packet) error {
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	nano := slices.ContainsFunc(ps, func(p pcapio.Packet) bool { return p.Time.Nanosecond()%1000 != 0 })
	w, err := pcapio.NewWriter(f, link, pcapio.WriterOptions{Nanosecond: nano})
	if err == nil {
		for _, pk := range ps {
			if err = w.Write(pk); err != nil {
				break
			}
		}
		if err == nil {
			err = w.Flush()
		}
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("%s: %w", p, err)
	}
	return nil
}
