// Command png2pcap turns flow images, such as the PNGs NetDiffusion
// generates with Stable Diffusion, and nPrint CSVs into one valid pcap.
//
// Each input is one flow: one row per packet, the first packet on top, one
// column per nPrint bit; red is 1, green 0 and blue vacant (-1). Every
// pixel is snapped to the nearest of the three colours (its largest
// channel; an exact grey, a tie, reads as 1), so the off-palette colours
// of a diffusion model's output, noise, washed-out colours, RGBA,
// paletted and 16-bit PNGs all read; a greyscale PNG holds no flow and is
// refused. Rows that are
// (nearly) vacant are no packet: NetDiffusion pads its 1024-row images
// with blue rows. An image's width picks its layout: 1088 columns
// (NetDiffusion's image layout, t2t's models' too), 1408 (nPrint's -4 -6
// -t -u -i) or 1520 (with -e); -p N adds N payload bytes to each, and
// -layout names one. An image scaled up k times in both directions (a
// width k times a known one, a height a multiple of k) is scaled down:
// each k x k block takes the colour whose channel it holds most of. A .csv input is an nPrint CSV (nPrint's, t2t's or
// NetDiffusion's: an optional key column, optional rts or tv_sec,tv_usec
// times, then whole nPrint fields); its header names its layout.
//
// Each flow is repaired (t2t/repair) into the packets of a valid flow:
// lengths, checksums, a TCP handshake, coherent sequence numbers and
// flags, one pair of private endpoints per flow (10.0.0.4i+2 client,
// +1 server), and timestamps: a CSV's own when they increase, otherwise
// gaps drawn from the repair profile. Without -profile or -model repair
// uses its defaults (no class knowledge: ports and TTLs as generated, a
// client port outside Linux's range redrawn, gaps between 100 µs and 10
// ms); -profile embedded takes the profile of
// the model embedded in t2t (t2t/models). A profile holds classes; -class
// picks one, and by default each flow takes the class whose server ports
// and transport match its rows best (none matching: repair's defaults).
//
// The flows are written one after another into one pcap (-out), in the
// order of the -in flags, the files of a folder by name, each flow
// starting -gap after the previous one ends. The images carry no payload
// bits: by default each packet is cut after its headers with its full
// length on the wire (-payload snap), as a capture with a snap length is;
// -payload zeros or random writes whole packets. Every checksum is computed
// over the payload written (zeros when cut), so that a replay padding a cut
// packet with zeros sends it right; -keep-checksums keeps, as repair does
// by default, a generated checksum that a payload word can be chosen to
// match (NetDiffusion's images have no addresses, so their checksums are
// another flow's anyway). -png writes the image of each repaired flow, to
// compare with its input.
//
//	png2pcap -in generated/ -out flows.pcap
//	png2pcap -in 'gen/netflix_*.png' -in extra.csv -profile embedded -class https -payload random -seed 3 -out flows.pcap -png repaired/
package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"t2t"
	"t2t/internal/cli"
	"t2t/models"
	"t2t/pcapio"
	"t2t/repair"
)

var command = cli.Command{
	Name: "png2pcap",
	Does: "Turns flow images (NetDiffusion's 1088-column PNGs, nPrint-layout PNGs) and nPrint CSVs into one pcap of valid, repaired flows: one flow per input.",
	Example: []string{
		"-in generated/ -out flows.pcap",
		"-in 'gen/*.png' -in flow.csv -profile embedded -payload random -seed 3 -out flows.pcap -png repaired/",
	},
}

func main() { cli.Main(command.Name, run(os.Args[1:], os.Stdout, os.Stderr)) }

type options struct {
	in                              cli.Multi
	out, png, profile, model        string
	class, payload, layout          string
	payloadBytes                    int
	seed                            uint64
	gap                             time.Duration
	drawTimes, keepChecksums, quiet bool
}

// maxPayload bounds -p: no IP packet carries more bytes.
const maxPayload = 65535

func parse(args []string, stderr io.Writer) (*options, error) {
	o := &options{}
	fs := command.FlagSet(stderr)
	fs.Var(&o.in, "in", "input: a PNG or nPrint CSV `file`, a folder (its .png and .csv files, by name) or a quoted glob; repeatable, one flow per file")
	fs.StringVar(&o.out, "out", "repaired.pcap", "pcap `file` to write (- for standard output)")
	fs.StringVar(&o.png, "png", "", "`folder` for the image of each repaired flow (named as its input)")
	fs.StringVar(&o.profile, "profile", "", "repair profile `file` (a model folder's "+models.ProfileFile+"), or embedded for the embedded model's (default: repair's defaults)")
	fs.StringVar(&o.model, "model", "", "model `folder` whose "+models.ProfileFile+" repairs the flows (instead of -profile)")
	fs.StringVar(&o.class, "class", "", "profile class repairing every flow (default: per flow, the class whose server ports and transport match best; none: no class)")
	fs.StringVar(&o.payload, "payload", "snap", "payload of repaired packets: snap (cut after the headers), zeros or random")
	fs.StringVar(&o.layout, "layout", "auto", "image columns: auto (by width: 1088, 1408 or 1520), netdiffusion (1088), nprint (1408) or nprint-eth (1520)")
	fs.IntVar(&o.payloadBytes, "p", 0, "payload `bytes` the images' layout holds after its headers (as pcap2png -p)")
	fs.Uint64Var(&o.seed, "seed", 1, "seed of every random choice (ports, gaps, -payload random): the same seed gives the same pcap")
	fs.DurationVar(&o.gap, "gap", 50*time.Millisecond, "time between the end of a flow and the start of the next")
	fs.BoolVar(&o.drawTimes, "draw-times", false, "draw every gap from the profile, even where a CSV carries increasing times")
	fs.BoolVar(&o.keepChecksums, "keep-checksums", false, "keep each generated TCP/UDP/ICMP checksum that a payload word can make right (repair's default; by default every checksum is computed over zero payload bytes, or the random ones, so that a replay padding a -payload snap capture with zeros stays right)")
	fs.BoolVar(&o.quiet, "q", false, "print nothing but errors")
	if err := cli.Parse(fs, args); err != nil {
		return nil, err
	}
	if len(o.in) == 0 {
		return nil, cli.Usagef("-in is required: a PNG or CSV file, a folder or a glob")
	}
	switch o.payload {
	case "snap", "zeros", "random":
	default:
		return nil, cli.Usagef("-payload %q: want snap, zeros or random", o.payload)
	}
	switch o.layout {
	case "auto", "netdiffusion", "nprint", "nprint-eth":
	default:
		return nil, cli.Usagef("-layout %q: want auto, netdiffusion, nprint or nprint-eth", o.layout)
	}
	if o.payloadBytes < 0 || o.payloadBytes > maxPayload {
		return nil, cli.Usagef("-p %d: want 0 to %d (an IP packet's largest payload)", o.payloadBytes, maxPayload)
	}
	if o.gap < 0 {
		return nil, cli.Usagef("-gap %v: want 0 or more", o.gap)
	}
	if o.profile != "" && o.model != "" {
		return nil, cli.Usagef("-profile and -model: give one")
	}
	if o.class != "" && o.class != "none" && o.profile == "" && o.model == "" {
		return nil, cli.Usagef("-class %s needs a profile: -profile FILE|embedded or -model DIR", o.class)
	}
	return o, nil
}

// specs are the layouts images may have, by -layout and -p.
func (o *options) specs() []t2t.LayoutSpec {
	specs := t2t.KnownSpecs
	switch o.layout {
	case "netdiffusion":
		specs = specs[:1]
	case "nprint":
		specs = specs[1:2]
	case "nprint-eth":
		specs = specs[2:3]
	}
	out := make([]t2t.LayoutSpec, len(specs))
	for i, s := range specs {
		s.Drop = slices.Clone(s.Drop)
		s.Payload = o.payloadBytes
		out[i] = s
	}
	return out
}

// input is one file to read as a flow, checked (header only) before any
// work.
type input struct {
	path   string
	csv    bool
	layout *t2t.Layout // images: the layout the width picked
	scale  int         // images: pixels per bit in each direction
	width  int         // images: pixels
	height int
}

func run(args []string, stdout, stderr io.Writer) error {
	o, err := parse(args, stderr)
	if err != nil {
		return err
	}
	// Every path is checked before any work.
	paths, err := expand(o.in)
	if err != nil {
		return err
	}
	if err := cli.OutFile("-out", o.out); err != nil {
		return err
	}
	for _, p := range paths {
		if o.out != "-" && cli.SameFile(p, o.out) {
			return cli.Usagef("-out %s is an input: writing it would destroy what is read", o.out)
		}
	}
	if o.png != "" {
		if err := cli.OutDir("-png", o.png); err != nil {
			return err
		}
	}
	prof, err := loadProfile(o)
	if err != nil {
		return err
	}
	if prof != nil && o.class != "" && o.class != "none" && prof.Class(o.class) == nil {
		return cli.Usagef("-class %s: the profile has no such class; it has %s", o.class, strings.Join(classNames(prof), " "))
	}
	specs := o.specs()
	inputs := make([]*input, len(paths))
	for i, p := range paths {
		if inputs[i], err = check(p, specs); err != nil {
			return err
		}
	}
	log := stdout
	if o.out == "-" {
		log = stderr
	}
	if o.quiet {
		log = io.Discard
	}

	rng := rand.New(rand.NewPCG(o.seed, 0x706e6732))
	start := t2t.DefaultStart
	var results []*repair.Result
	var bits, kept, skipped int
	var from []*input // the input of each result
	var rows []int    // and its rows
	for _, in := range inputs {
		m, err := in.read()
		if err != nil {
			return err
		}
		class := o.class
		if class == "" {
			class = guessClass(prof, m)
		}
		ro := repair.Options{FlowIndex: len(results), Start: start, IgnoreTimes: o.drawTimes, RecomputeChecksums: !o.keepChecksums}
		if o.payload == "random" {
			ro.Payload = repair.PayloadRandom
		}
		r, err := repair.Flow(m, class, prof, ro, rng)
		if errors.Is(err, repair.ErrEmpty) {
			fmt.Fprintf(stderr, "%s: %s: skipped: no packet (every row is vacant or carries no IP and transport header)\n", command.Name, in.path)
			skipped++
			continue
		}
		if err != nil {
			return fmt.Errorf("%s: %w", in.path, err)
		}
		results, from, rows = append(results, r), append(from, in), append(rows, m.Rows)
		start = r.Packets[len(r.Packets)-1].Time.Add(o.gap)
		bits += r.Log.BitsChanged
		kept += r.Log.BitsKept
		lg := r.Log
		fmt.Fprintf(log, "%s: %s, %d rows (%d padding) -> %d packets (%s%s; %d rows dropped, %d packets inserted), repair changed %d of %d bits%s\n",
			in.path, in.describe(m), lg.Rows, lg.Padding, len(r.Packets), proto(lg.Proto, lg.Version), classNote(prof, class),
			lg.Dropped, lg.Inserted, lg.BitsChanged, lg.BitsKept, topFields(lg.Fields, 4))
	}
	if len(results) == 0 {
		return fmt.Errorf("none of the %d inputs holds a packet; nothing written", len(inputs))
	}
	packets := repair.Merge(results)
	if o.payload == "snap" {
		for i := range packets {
			packets[i] = repair.CutPayload(packets[i])
		}
	}
	if err := writePcap(o.out, stdout, packets); err != nil {
		return err
	}
	if o.png != "" {
		taken := map[string]bool{}
		for i, r := range results {
			if err := writeRepaired(o.png, from[i], rows[i], taken, r); err != nil {
				return err
			}
		}
	}
	fmt.Fprintf(log, "%d flows, %d packets in %s; repair changed %.1f bits per flow (%.3f%% of the bits kept)",
		len(results), len(packets), o.out, float64(bits)/float64(len(results)), 100*float64(bits)/float64(max(kept, 1)))
	if skipped > 0 {
		fmt.Fprintf(log, "; %d inputs without a packet skipped", skipped)
	}
	fmt.Fprintln(log)
	return nil
}

// expand turns the -in values into files: a file as it is, a folder's
// .png and .csv files by name, a glob's matches. A path that is absent, a
// folder without inputs or a glob matching nothing is an error naming it.
func expand(ins []string) ([]string, error) {
	var out []string
	for _, in := range ins {
		st, err := os.Stat(in)
		switch {
		case err == nil && st.IsDir():
			if err := cli.InDir("-in", in); err != nil {
				return nil, err
			}
			ents, err := os.ReadDir(in)
			if err != nil {
				return nil, fmt.Errorf("-in %s: %w", in, err)
			}
			n := len(out)
			for _, e := range ents {
				if !e.IsDir() && isInput(e.Name()) {
					out = append(out, filepath.Join(in, e.Name()))
				}
			}
			if len(out) == n {
				return nil, fmt.Errorf("-in %s: the folder holds no .png or .csv file", in)
			}
		case err != nil && strings.ContainsAny(in, "*?["):
			ms, gerr := filepath.Glob(in)
			if gerr != nil {
				return nil, cli.Usagef("-in %s: %v", in, gerr)
			}
			sort.Strings(ms)
			n := len(out)
			for _, m := range ms {
				if st, err := os.Stat(m); err == nil && !st.IsDir() {
					out = append(out, m)
				}
			}
			if len(out) == n {
				return nil, fmt.Errorf("-in %s: no file matches", in)
			}
		default:
			if err := cli.InFile("-in", in); err != nil {
				return nil, err
			}
			out = append(out, in)
		}
	}
	return out, nil
}

func isInput(name string) bool {
	ext := strings.ToLower(filepath.Ext(name))
	return ext == ".png" || ext == ".csv"
}

// loadProfile reads the profile -profile or -model names (nil: none).
func loadProfile(o *options) (*repair.Profile, error) {
	path, flag := o.profile, "-profile"
	switch {
	case o.profile == "embedded":
		return models.DefaultProfile()
	case o.model != "":
		if err := cli.InDir("-model", o.model); err != nil {
			return nil, err
		}
		path, flag = filepath.Join(o.model, models.ProfileFile), "-model"
		if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("-model %s: the folder has no %s (a model folder written by examples/train has one)", o.model, models.ProfileFile)
		}
	case o.profile == "":
		return nil, nil
	}
	if err := cli.InFile(flag, path); err != nil {
		return nil, err
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", flag, path, err)
	}
	p, err := repair.ParseProfile(b)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", flag, path, err)
	}
	return p, nil
}

func classNames(p *repair.Profile) []string {
	var names []string
	for c := range p.Classes {
		names = append(names, c)
	}
	sort.Strings(names)
	return names
}

var pngMagic = []byte("\x89PNG\r\n\x1a\n")

// maxScaledPixels bounds the pixels of a scaled-up image, which is
// decoded whole before it is scaled down (4 bytes a pixel).
const maxScaledPixels = 1 << 27

// check reads the header of the file at path: a PNG's size (which picks
// its layout among specs) or a CSV's header line. Errors name the file.
func check(path string, specs []t2t.LayoutSpec) (*input, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("-in %s: %w", path, err)
	}
	defer f.Close()
	br := bufio.NewReader(f)
	head, _ := br.Peek(len(pngMagic))
	isPNG := bytes.Equal(head, pngMagic)
	ext := strings.ToLower(filepath.Ext(path))
	if !isPNG && ext == ".png" {
		return nil, fmt.Errorf("%s: not a PNG file (it does not start with the PNG signature)", path)
	}
	if !isPNG {
		r, err := t2t.NewCSVReader(br, path)
		if err != nil {
			if ext == ".csv" {
				return nil, err // names the file
			}
			return nil, fmt.Errorf("%s: neither a PNG nor an nPrint CSV: %w", path, err)
		}
		return &input{path: path, csv: true, layout: r.Layout()}, nil
	}
	cfg, err := png.DecodeConfig(br)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if cfg.ColorModel == color.GrayModel || cfg.ColorModel == color.Gray16Model {
		return nil, fmt.Errorf("%s: a greyscale PNG (%dx%d) holds no flow: a flow image is red (1), green (0) and blue (vacant)", path, cfg.Width, cfg.Height)
	}
	in := &input{path: path, width: cfg.Width, height: cfg.Height, scale: 1}
	if cfg.Width == 0 || cfg.Height == 0 {
		return nil, fmt.Errorf("%s: an empty %dx%d image", path, cfg.Width, cfg.Height)
	}
	if in.layout, err = t2t.LayoutForWidth(cfg.Width, specs...); err == nil {
		if cfg.Height > t2t.MaxPNGRows {
			return nil, fmt.Errorf("%s: %d rows: at most %d", path, cfg.Height, t2t.MaxPNGRows)
		}
		return in, nil
	}
	for _, s := range specs {
		l, err := s.Layout()
		if err != nil {
			return nil, err
		}
		k := cfg.Width / l.Width()
		if k >= 2 && cfg.Width%l.Width() == 0 && cfg.Height%k == 0 && cfg.Height/k <= t2t.MaxPNGRows {
			if cfg.Width*cfg.Height > maxScaledPixels {
				return nil, fmt.Errorf("%s: %dx%d image (%v scaled %d times): more than %d pixels", path, cfg.Width, cfg.Height, l, k, maxScaledPixels)
			}
			in.layout, in.scale = l, k
			return in, nil
		}
	}
	var widths []string
	for _, s := range specs {
		widths = append(widths, fmt.Sprint(s.MustLayout().Width()))
	}
	return nil, fmt.Errorf("%s: a %dx%d image: no known layout is %d pixels wide; accepted widths: %s (or a whole multiple k of one, with a height that is a multiple of k: an image scaled up k times)",
		path, cfg.Width, cfg.Height, cfg.Width, strings.Join(widths, ", "))
}

// read reads the input as a Matrix over its layout. Errors name the file.
func (in *input) read() (*t2t.Matrix, error) {
	f, err := os.Open(in.path)
	if err != nil {
		return nil, fmt.Errorf("-in %s: %w", in.path, err)
	}
	defer f.Close()
	br := bufio.NewReaderSize(f, 1<<20)
	switch {
	case in.csv:
		m, _, err := t2t.ReadCSV(br, in.path)
		return m, err // names the file
	case in.scale == 1:
		m, err := t2t.DecodePNG(br, in.layout)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", in.path, err)
		}
		return m, nil
	}
	img, err := png.Decode(br)
	if err != nil {
		return nil, fmt.Errorf("%s: t2t: png: %w", in.path, err)
	}
	m, err := t2t.MatrixFromImage(scaleDown(img, in.scale), in.layout)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", in.path, err)
	}
	return m, nil
}

// scaleDown returns img scaled down k times in each direction: each k x k
// block becomes one pixel whose channels are the block's sums, scaled to
// 8 bits, so that snapping it to the palette takes the colour whose
// channel the block holds most of.
func scaleDown(img image.Image, k int) *image.RGBA {
	r := img.Bounds()
	w, h := r.Dx()/k, r.Dy()/k
	out := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			var sr, sg, sb uint64
			for dy := 0; dy < k; dy++ {
				for dx := 0; dx < k; dx++ {
					cr, cg, cb, _ := img.At(r.Min.X+x*k+dx, r.Min.Y+y*k+dy).RGBA()
					sr, sg, sb = sr+uint64(cr), sg+uint64(cg), sb+uint64(cb)
				}
			}
			n := uint64(k*k) * 257 // 16-bit channels to 8 bits
			i := out.PixOffset(x, y)
			out.Pix[i], out.Pix[i+1], out.Pix[i+2], out.Pix[i+3] = uint8(sr/n), uint8(sg/n), uint8(sb/n), 255
		}
	}
	return out
}

// describe says what was read: "1088x1024 PNG (ipv4+...)".
func (in *input) describe(m *t2t.Matrix) string {
	if in.csv {
		return fmt.Sprintf("nPrint CSV of %v", m.Layout)
	}
	s := fmt.Sprintf("%dx%d PNG of %v", in.width, in.height, m.Layout)
	if in.scale > 1 {
		s += fmt.Sprintf(" scaled %d times", in.scale)
	}
	return s
}

func proto(p uint8, v int) string {
	name := map[uint8]string{t2t.ProtoTCP: "tcp", t2t.ProtoUDP: "udp", t2t.ProtoICMP: "icmp"}[p]
	if v == 6 {
		return name + "/ipv6"
	}
	return name
}

// topFields lists the n fields with the most changed bits: " (ipv4_cksum 40, tcp_sprt 12)".
func topFields(fields map[string]int, n int) string {
	var names []string
	for f, c := range fields {
		if c > 0 {
			names = append(names, f)
		}
	}
	sort.Slice(names, func(i, j int) bool {
		if fields[names[i]] != fields[names[j]] {
			return fields[names[i]] > fields[names[j]]
		}
		return names[i] < names[j]
	})
	if len(names) == 0 {
		return ""
	}
	parts := make([]string, 0, n)
	for _, f := range names[:min(n, len(names))] {
		parts = append(parts, fmt.Sprintf("%s %d", f, fields[f]))
	}
	return " (" + strings.Join(parts, ", ") + ")"
}

func classNote(p *repair.Profile, class string) string {
	switch {
	case p == nil:
		return ", no profile"
	case p.Class(class) == nil:
		return ", no class of the profile"
	}
	return ", class " + class
}

// guessClass picks the class of p whose profile fits the flow m best: of
// the two most frequent port values of its rows (the flow's two ports),
// the one a class has seen most often as a server port, weighed by the
// class's share of flows of m's transport. An ICMP flow takes the class
// with the most ICMP flows. "" when p is nil or no class fits.
func guessClass(p *repair.Profile, m *t2t.Matrix) string {
	if p == nil {
		return ""
	}
	fr := t2t.NewFieldReader(m.Layout)
	ports := map[uint32]int{}
	var rows [3]int // tcp, udp, icmp
	for r := 0; r < m.Rows; r++ {
		if m.RowVacant(r) || fr.Load(m.Row(r)) != nil {
			continue
		}
		for k, fields := range [3][]string{{"tcp_sprt", "tcp_dprt"}, {"udp_sport", "udp_dport"}, {"icmp_type"}} {
			held, bits := fr.Held(fields[0])
			if bits == 0 || held < bits {
				continue
			}
			rows[k]++
			if k == 2 {
				continue
			}
			for _, f := range fields {
				if v, vac := fr.Field(f); vac == 0 {
					ports[v]++
				}
			}
		}
	}
	tr := 0
	for k := range rows {
		if rows[k] > rows[tr] {
			tr = k
		}
	}
	if rows[tr] == 0 {
		return ""
	}
	word := [3]string{"tcp", "udp", "icmp"}[tr]
	var top []uint32
	for v := range ports {
		top = append(top, v)
	}
	sort.Slice(top, func(i, j int) bool {
		if ports[top[i]] != ports[top[j]] {
			return ports[top[i]] > ports[top[j]]
		}
		return top[i] < top[j]
	})
	if len(top) > 2 {
		top = top[:2]
	}
	best, bestScore := "", 0.0
	for _, name := range classNames(p) {
		cp := p.Classes[name]
		if cp.Flows == 0 || cp.Transport[word] == 0 {
			continue
		}
		share := float64(cp.Transport[word]) / float64(cp.Flows)
		score := share
		if tr != 2 {
			seen := 0
			for _, sp := range cp.ServerPorts {
				if slices.Contains(top, uint32(sp.Value)) {
					seen = max(seen, sp.N)
				}
			}
			score *= float64(seen)
		} else {
			score *= float64(cp.Transport[word])
		}
		if score > bestScore {
			best, bestScore = name, score
		}
	}
	return best
}

// writeRepaired writes the image of a repaired flow into dir, over its
// input's layout and as tall as its input's rows (taller when repair
// inserted packets), named as its input (a number tells inputs of the same
// name apart).
func writeRepaired(dir string, in *input, rows int, taken map[string]bool, r *repair.Result) error {
	enc := t2t.NewEncoder(in.layout, t2t.ModelEncoderOptions())
	out := t2t.NewMatrix(in.layout, 0)
	for _, p := range r.Packets {
		if _, err := enc.Append(out, p.Link, p.Data, p.Time); err != nil {
			return fmt.Errorf("%s: repaired packet does not encode: %w", in.path, err)
		}
	}
	base := strings.TrimSuffix(filepath.Base(in.path), filepath.Ext(in.path))
	name := base
	for k := 2; taken[name]; k++ {
		name = fmt.Sprintf("%s-%d", base, k)
	}
	taken[name] = true
	return t2t.WritePNGFile(filepath.Join(dir, name+".png"), out.Resize(max(rows, out.Rows)))
}

// writePcap writes the packets to path (- for stdout) through a temporary
// file renamed over path once complete: an error leaves path as it was.
// A device or a pipe (/dev/null) is written in place.
func writePcap(path string, stdout io.Writer, packets []pcapio.Packet) error {
	if path != "-" && cli.Special(path) {
		f, err := os.OpenFile(path, os.O_WRONLY, 0)
		if err != nil {
			return err
		}
		defer f.Close()
		stdout, path = f, "-"
	}
	if path == "-" {
		w, err := pcapio.NewWriter(stdout, t2t.LinkEthernet, pcapio.WriterOptions{})
		if err != nil {
			return err
		}
		for _, p := range packets {
			if err := w.Write(p); err != nil {
				return err
			}
		}
		return w.Flush()
	}
	tmp := filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+".tmp")
	if err := pcapio.WriteFile(tmp, t2t.LinkEthernet, packets, pcapio.WriterOptions{}); err != nil {
		os.Remove(tmp)
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}
