package t2tbeam

import (
	"bytes"
	"compress/flate"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/io/fileio"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/io/filesystem"
	_ "github.com/apache/beam/sdks/v2/go/pkg/beam/io/filesystem/local"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"

	"t2t"
	"t2t/pcapio"
)

// EncodeOptions configure Encode. The zero value of every field but
// Inputs and Out is nPrint's default, as examples/nprint reads its flags.
type EncodeOptions struct {
	// Inputs are globs (filesystem.List: filepath.Match syntax locally,
	// gs://... on GCS) of capture files; a local folder stands for every
	// file under it. Only files with a capture extension (.pcap, .pcapng,
	// .cap) are encoded; others are counted as ignored.
	Inputs []string
	// Out is the output folder: rows-SSSSS-of-NNNNN.csv shards (CSV) or
	// one PNG per flow, and manifest.json.
	Out string
	// PNG writes one image per flow (examples/pcap2png's) instead of CSV.
	PNG bool

	// CSV: nPrint's options, as examples/nprint takes them.
	Spec   t2t.LayoutSpec     // -4 -6 -t -u -i -e -p
	CSV    t2t.CSVOptions     // -O key, -R / -A time columns
	Count  int                // -c: at most this many packets of each file (0: all)
	Fill   int8               // -F, written for vacant bits; see FillSet
	FillOK bool               // Fill was set (otherwise -1, nPrint's default)
	Omit   string             // -x: leave out the bit columns whose whole name matches
	Enc    t2t.EncoderOptions // -vlan, -ipv6-payload-fix; ZeroSnappedPayload as examples/nprint (not -snap-vacant)
	// Shards is the number of CSV shards (0: 1). Each flow's rows go to
	// the shard a hash of (file, flow) picks.
	Shards int

	// PNG: examples/pcap2png's options. Layout "netdiffusion" (default)
	// or "nprint"; Packets rows per image (0: 1024); MinPackets skips
	// shorter flows; RowScale pixel rows per packet (0: 1).
	Layout     string
	Payload    int
	Packets    int
	MinPackets int
	RowScale   int
	NoVLAN     bool // pcap2png's -vlan=false

	// Progress prints a line per file encoded on standard error.
	Progress bool
}

// FileStat is what encoding one file gave: counts, or where it failed.
type FileStat struct {
	File    string `json:"file"`
	Packets int    `json:"packets"`          // packets read
	Rows    int    `json:"rows"`             // rows (CSV) or images (PNG) written
	Flows   int    `json:"flows"`            // flows (pcapio.Assemble)
	NoFlow  int    `json:"no_flow"`          // rows of packets in no flow (IPv4 non-first fragments)
	Error   string `json:"error,omitempty"`  // the file could not be read: it gave no rows
	Offset  int64  `json:"offset,omitempty"` // byte offset of the record at fault (with Error)
	Ignored bool   `json:"-"`                // not a capture file
}

// FlowRows are rows of one flow of one file, in file order: part Part of
// the flow's rows (a long flow is cut into parts of at most
// rowsPerPart rows). Flow -1 holds the rows of packets in no flow.
type FlowRows struct {
	File string
	Flow int
	Part int
	Rows []byte // CSV lines, each ending in \n, DEFLATE-compressed (rows are mostly "-1,": 20-50x smaller to shuffle)
}

// EncodeManifest is manifest.json of Encode.
type EncodeManifest struct {
	Files   int        `json:"files"`
	Packets int        `json:"packets"`
	Rows    int        `json:"rows"`
	Flows   int        `json:"flows"`
	Ignored []string   `json:"ignored,omitempty"` // matched, but not capture files
	Bad     []FileStat `json:"bad"`               // files that could not be read
	PerFile []FileStat `json:"per_file"`
}

// rowsPerPart bounds the rows of one FlowRows element (a var: tests make it small).
var rowsPerPart = 4096

func init() {
	register.DoFn4x1[context.Context, fileio.ReadableFile, func(int, FlowRows), func(FileStat), error](&encodeFileFn{})
	register.Emitter2[int, FlowRows]()
	register.Emitter1[FileStat]()
	register.DoFn3x1[context.Context, int, func(*FlowRows) bool, error](&writeShardFn{})
	register.Iter1[FlowRows]()
	register.DoFn3x1[context.Context, int, func(*FileStat) bool, error](&writeEncodeManifestFn{})
	register.Iter1[FileStat]()
	register.Function1x2[FileStat, int, FileStat](fixedKey)
	beam.RegisterType(typeOf[FlowRows]())
	beam.RegisterType(typeOf[FileStat]())
}

// Validate checks the options before a pipeline is built.
func (o *EncodeOptions) Validate() error {
	if len(o.Inputs) == 0 {
		return errors.New("t2tbeam: encode: no inputs")
	}
	if o.Out == "" {
		return errors.New("t2tbeam: encode: no output folder")
	}
	if o.Shards < 0 || o.Count < 0 || o.Packets < 0 || o.MinPackets < 0 || o.RowScale < 0 || o.Payload < 0 {
		return errors.New("t2tbeam: encode: shards, count, packets, min packets, row scale and payload must not be negative")
	}
	if _, err := o.layout(); err != nil {
		return err
	}
	if o.Omit != "" {
		if _, err := regexp.Compile("^(?:" + o.Omit + ")$"); err != nil {
			return fmt.Errorf("t2tbeam: encode: -x %q: %w", o.Omit, err)
		}
	}
	if o.CSV.Key < 0 || o.CSV.Key > 4 {
		return fmt.Errorf("t2tbeam: encode: -O %d: want 0 to 4", o.CSV.Key)
	}
	return nil
}

func (o *EncodeOptions) layout() (*t2t.Layout, error) {
	if !o.PNG {
		l, err := o.Spec.Layout()
		if err != nil {
			return nil, fmt.Errorf("t2tbeam: encode: no header block selected (-4 -6 -t -u -i -e -p): %w", err)
		}
		return l, nil
	}
	var spec t2t.LayoutSpec
	switch o.Layout {
	case "", "netdiffusion":
		spec = t2t.NetDiffusionSpec
	case "nprint":
		spec = t2t.NPrintSpec
	default:
		return nil, fmt.Errorf("t2tbeam: encode: layout %q: want netdiffusion or nprint", o.Layout)
	}
	spec.Payload = o.Payload
	return spec.Layout()
}

// csvWriter is examples/nprint's CSV writer for the options.
func (o *EncodeOptions) csvWriter(w io.Writer, l *t2t.Layout) *t2t.CSVWriter {
	cw := t2t.NewCSVWriter(w, l, o.CSV)
	if o.FillOK {
		cw.Fill = o.Fill
	}
	if o.Omit != "" {
		re := regexp.MustCompile("^(?:" + o.Omit + ")$")
		cw.Omit = re.MatchString
	}
	return cw
}

// Encode adds the encode pipeline to s: the capture files of opt.Inputs
// -> flows -> nPrint CSV shards or flow PNGs in opt.Out, and
// opt.Out/manifest.json. The inputs are listed when the pipeline is
// built (a local folder is walked then).
func Encode(s beam.Scope, opt EncodeOptions) error {
	if err := opt.Validate(); err != nil {
		return err
	}
	s = s.Scope("t2t.Encode")
	var globs []string
	for _, in := range opt.Inputs {
		if st, err := os.Stat(in); err == nil && st.IsDir() {
			err := filepath.WalkDir(in, func(p string, d fs.DirEntry, err error) error {
				if err == nil && !d.IsDir() {
					globs = append(globs, escapeGlob(p))
				}
				return err
			})
			if err != nil {
				return fmt.Errorf("t2tbeam: encode: %w", err)
			}
			continue
		}
		globs = append(globs, in)
	}
	slices.Sort(globs)
	globs = slices.Compact(globs)
	if len(globs) == 0 {
		return fmt.Errorf("t2tbeam: encode: %v holds no files", opt.Inputs)
	}
	files := fileio.MatchAll(s, beam.CreateList(s, globs), fileio.MatchEmptyAllow())
	// one file an element, spread over the workers
	readable := fileio.ReadMatches(s, beam.Reshuffle(s, files), fileio.ReadUncompressed())
	rows, stats := beam.ParDo2(s, &encodeFileFn{Opt: opt}, readable)
	if !opt.PNG {
		beam.ParDo0(s, &writeShardFn{Opt: opt}, beam.GroupByKey(s, rows))
	}
	beam.ParDo0(s, &writeEncodeManifestFn{Out: opt.Out}, beam.GroupByKey(s, beam.ParDo(s, fixedKey, stats)))
	return nil
}

// escapeGlob makes a file name a glob that matches only itself.
func escapeGlob(p string) string {
	r := strings.NewReplacer(`\`, `\\`, `*`, `\*`, `?`, `\?`, `[`, `\[`)
	return r.Replace(p)
}

func fixedKey(st FileStat) (int, FileStat) { return 0, st }

// encodeFileFn encodes one capture file.
type encodeFileFn struct {
	Opt EncodeOptions

	layout *t2t.Layout
	header []byte
}

func (f *encodeFileFn) Setup() error {
	l, err := f.Opt.layout()
	if err != nil {
		return err
	}
	f.layout = l
	return nil
}

var (
	packetsCounter = beam.NewCounter("t2t", "packets")
	filesCounter   = beam.NewCounter("t2t", "files")
	badCounter     = beam.NewCounter("t2t", "bad_files")
	bundlesCounter = beam.NewCounter("t2t", "bundles")
)

// StartBundle counts bundles (t2t/bundles), to see how the runner split the files.
func (f *encodeFileFn) StartBundle(ctx context.Context, _ func(int, FlowRows), _ func(FileStat)) {
	bundlesCounter.Inc(ctx, 1)
}

func (f *encodeFileFn) ProcessElement(ctx context.Context, rf fileio.ReadableFile, emit func(int, FlowRows), stat func(FileStat)) error {
	name := rf.Metadata.Path
	st := FileStat{File: name}
	if !pcapio.IsCaptureFile(name) {
		st.Ignored = true
		stat(st)
		return nil
	}
	data, err := rf.Read(ctx)
	if err != nil {
		return fmt.Errorf("t2tbeam: %s: %w", name, err) // the filesystem failed: retry, not bad input
	}
	filesCounter.Inc(ctx, 1)
	t0 := time.Now()
	if f.Opt.PNG {
		err = f.pngs(ctx, name, data, &st)
	} else {
		err = f.csv(name, data, &st, emit)
	}
	if err != nil {
		var fe *pcapio.FormatError
		var pe *packetError
		switch {
		case errors.As(err, &fe):
			st.Offset = fe.Offset
		case errors.As(err, &pe):
			st.Offset = pe.offset
		}
		st = FileStat{File: name, Error: err.Error(), Offset: st.Offset}
		badCounter.Inc(ctx, 1)
	}
	packetsCounter.Inc(ctx, int64(st.Packets))
	if f.Opt.Progress {
		if st.Error != "" {
			fmt.Fprintf(os.Stderr, "encode: %s: bad input at offset %d: %s\n", name, st.Offset, st.Error)
		} else {
			fmt.Fprintf(os.Stderr, "encode: %s: %d packets, %d flows, %d rows in %v\n", name, st.Packets, st.Flows, st.Rows, time.Since(t0).Round(time.Millisecond))
		}
	}
	stat(st)
	return nil
}

// packetError is an encoding error of the packet at offset.
type packetError struct {
	offset int64
	err    error
}

func (e *packetError) Error() string { return fmt.Sprintf("packet at offset %d: %v", e.offset, e.err) }
func (e *packetError) Unwrap() error { return e.err }

// namedReader gives pcapio the file name for its errors.
type namedReader struct {
	*bytes.Reader
	name string
}

func (r namedReader) Name() string { return r.name }

func open(name string, data []byte) (*pcapio.Reader, error) {
	return pcapio.NewReader(namedReader{bytes.NewReader(data), name})
}

// csv encodes the file as examples/nprint -P does (the same packets, in
// file order, through the same CSVWriter: the same lines), and emits its
// lines grouped by flow.
func (f *encodeFileFn) csv(name string, data []byte, st *FileStat, emit func(int, FlowRows)) error {
	// pass 1: which flow each packet (by file offset) belongs to
	r, err := open(name, data)
	if err != nil {
		return err
	}
	flows, _, err := pcapio.Assemble(r, pcapio.FlowOptions{})
	if err != nil {
		return err
	}
	flowOf := make(map[int64]int)
	for i, fl := range flows {
		for _, p := range fl.Packets {
			flowOf[p.Offset] = i
		}
	}
	st.Flows = len(flows)

	// pass 2: examples/nprint's rows
	if r, err = open(name, data); err != nil {
		return err
	}
	var buf bytes.Buffer
	w := f.Opt.csvWriter(&buf, f.layout)
	if err := w.WriteHeader(); err != nil {
		return err
	}
	if err := w.Flush(); err != nil {
		return err
	}
	buf.Reset()
	enc := t2t.NewEncoder(f.layout, f.Opt.Enc)
	row := make([]int8, f.layout.Width())
	var key []byte
	var lineFlow []int
	for n := 0; f.Opt.Count == 0 || n < f.Opt.Count; n++ {
		p, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		st.Packets++
		info, err := enc.Encode(row, p.Link, p.Data)
		if errors.Is(err, t2t.ErrSkip) {
			continue
		}
		if err != nil {
			return &packetError{p.Offset, err}
		}
		key = f.Opt.CSV.Key.AppendKey(key[:0], &info)
		if err := w.WriteRow(key, p.Time, row); err != nil {
			return &packetError{p.Offset, err}
		}
		fl, ok := flowOf[p.Offset]
		if !ok {
			fl = -1
			st.NoFlow++
		}
		lineFlow = append(lineFlow, fl)
	}
	if err := w.Flush(); err != nil {
		return err
	}
	st.Rows = len(lineFlow)
	// the lines of each flow, in file order
	byFlow := map[int][]byte{}
	lines := buf.Bytes()
	for _, fl := range lineFlow {
		i := bytes.IndexByte(lines, '\n')
		byFlow[fl] = append(byFlow[fl], lines[:i+1]...)
		lines = lines[i+1:]
	}
	keys := make([]int, 0, len(byFlow))
	for k := range byFlow {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	shards := max(f.Opt.Shards, 1)
	for _, fl := range keys {
		b := byFlow[fl]
		shard := shardOf(name, fl, shards)
		for part := 0; len(b) > 0; part++ {
			cut := partEnd(b)
			z, err := deflate(b[:cut])
			if err != nil {
				return err
			}
			emit(shard, FlowRows{File: name, Flow: fl, Part: part, Rows: z})
			b = b[cut:]
		}
	}
	return nil
}

// partEnd is the length of the first rowsPerPart lines of b (all of b
// when it holds fewer).
func partEnd(b []byte) int {
	n := 0
	for i, c := range b {
		if c == '\n' {
			if n++; n == rowsPerPart {
				return i + 1
			}
		}
	}
	return len(b)
}

// deflate compresses b at flate.BestSpeed.
func deflate(b []byte) ([]byte, error) {
	var z bytes.Buffer
	w, err := flate.NewWriter(&z, flate.BestSpeed)
	if err != nil {
		return nil, err
	}
	if _, err := w.Write(b); err != nil {
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	return z.Bytes(), nil
}

// inflate appends the bytes that z compresses to dst.
func inflate(dst *bytes.Buffer, z []byte) error {
	r := flate.NewReader(bytes.NewReader(z))
	if _, err := dst.ReadFrom(r); err != nil {
		return err
	}
	return r.Close()
}

// shardOf picks the shard of a file's flow.
func shardOf(file string, flow, shards int) int {
	h := fnv.New64a()
	fmt.Fprintf(h, "%s\x00%d", file, flow)
	return int(h.Sum64() % uint64(shards))
}

// pngs writes one image per flow, as examples/pcap2png does.
func (f *encodeFileFn) pngs(ctx context.Context, name string, data []byte, st *FileStat) error {
	packets := f.Opt.Packets
	if packets == 0 {
		packets = 1024
	}
	r, err := open(name, data)
	if err != nil {
		return err
	}
	flows, stats, err := pcapio.Assemble(r, pcapio.FlowOptions{MaxPackets: packets})
	if err != nil {
		return err
	}
	st.Packets, st.Flows = stats.Packets, len(flows)
	enc := t2t.NewEncoder(f.layout, t2t.EncoderOptions{VLAN: !f.Opt.NoVLAN, IPv6Payload: true})
	base := strings.TrimSuffix(path.Base(name), path.Ext(name))
	id := fileID(name)
	for i, fl := range flows {
		if len(fl.Packets) < f.Opt.MinPackets {
			continue
		}
		m := t2t.NewMatrix(f.layout, 0)
		for _, p := range fl.Packets {
			if _, err := enc.Append(m, p.Link, p.Data, p.Time); err != nil && !errors.Is(err, t2t.ErrSkip) {
				return &packetError{p.Offset, err}
			}
		}
		var b bytes.Buffer
		if err := (t2t.PNGOptions{RowScale: max(f.Opt.RowScale, 1)}).Encode(&b, m.Resize(packets)); err != nil {
			return err
		}
		if err := writeFile(ctx, joinPath(f.Opt.Out, fmt.Sprintf("%s-%s-%05d.png", base, id, i)), b.Bytes()); err != nil {
			return err
		}
		st.Rows++
	}
	return nil
}

// fileID tells apart images of files of the same base name in different
// folders: 8 hex digits of the path's hash.
func fileID(name string) string {
	h := fnv.New32a()
	h.Write([]byte(name))
	return fmt.Sprintf("%08x", h.Sum32())
}

// joinPath joins an output folder (local or a URL such as gs://b/x) and
// a file name.
func joinPath(dir, name string) string {
	if strings.Contains(dir, "://") {
		return strings.TrimSuffix(dir, "/") + "/" + name
	}
	return filepath.Join(dir, name)
}

// writeFile writes data to a new file at p through Beam's filesystems.
func writeFile(ctx context.Context, p string, data []byte) error {
	fsys, err := filesystem.New(ctx, p)
	if err != nil {
		return err
	}
	defer fsys.Close()
	w, err := fsys.OpenWrite(ctx, p)
	if err != nil {
		return err
	}
	if _, err := w.Write(data); err != nil {
		w.Close()
		return fmt.Errorf("t2tbeam: %s: %w", p, err)
	}
	return w.Close()
}

// writeShardFn writes one CSV shard: the header, then its flows' rows,
// flows in (file, flow) order.
type writeShardFn struct {
	Opt EncodeOptions
}

func (f *writeShardFn) ProcessElement(ctx context.Context, shard int, rows func(*FlowRows) bool) error {
	var all []FlowRows
	var fr FlowRows
	for rows(&fr) {
		all = append(all, fr)
	}
	slices.SortFunc(all, func(a, b FlowRows) int {
		if c := strings.Compare(a.File, b.File); c != 0 {
			return c
		}
		if a.Flow != b.Flow {
			return a.Flow - b.Flow
		}
		return a.Part - b.Part
	})
	l, err := f.Opt.layout()
	if err != nil {
		return err
	}
	var b bytes.Buffer
	w := f.Opt.csvWriter(&b, l)
	if err := w.WriteHeader(); err != nil {
		return err
	}
	if err := w.Flush(); err != nil {
		return err
	}
	for _, r := range all {
		if err := inflate(&b, r.Rows); err != nil {
			return fmt.Errorf("t2tbeam: shard %d: rows of %s: %w", shard, r.File, err)
		}
	}
	shards := max(f.Opt.Shards, 1)
	return writeFile(ctx, joinPath(f.Opt.Out, fmt.Sprintf("rows-%05d-of-%05d.csv", shard, shards)), b.Bytes())
}

// writeEncodeManifestFn writes manifest.json.
type writeEncodeManifestFn struct {
	Out string
}

func (f *writeEncodeManifestFn) ProcessElement(ctx context.Context, _ int, stats func(*FileStat) bool) error {
	m := EncodeManifest{Bad: []FileStat{}}
	var st FileStat
	for stats(&st) {
		if st.Ignored {
			m.Ignored = append(m.Ignored, st.File)
			continue
		}
		m.PerFile = append(m.PerFile, st)
	}
	slices.SortFunc(m.PerFile, func(a, b FileStat) int { return strings.Compare(a.File, b.File) })
	slices.Sort(m.Ignored)
	for _, st := range m.PerFile {
		m.Files++
		m.Packets += st.Packets
		m.Rows += st.Rows
		m.Flows += st.Flows
		if st.Error != "" {
			m.Bad = append(m.Bad, st)
		}
	}
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	return writeFile(ctx, joinPath(f.Out, "manifest.json"), append(b, '\n'))
}
