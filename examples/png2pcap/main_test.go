package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"t2t"
	"t2t/evaluate"
	"t2t/internal/cli"
	"t2t/models"
	"t2t/pcapio"
)

// ndRows is the height of NetDiffusion's images: 1024 packet rows.
const ndRows = 1024

var ndLayout = t2t.NetDiffusionSpec.MustLayout()

// realFlow is a flow of a committed capture and its matrix as pcap2png
// renders it (NetDiffusion's 1088 columns, not yet padded).
type realFlow struct {
	name string
	flow *pcapio.Flow
	m    *t2t.Matrix
}

// realFlows takes, from each of the held-out captures named, its first
// flow of at least minPackets packets, or its longest when none is that
// long (a TCP flow starting with its SYN, as a flow image of a whole
// connection does).
func realFlows(t *testing.T, minPackets int, names ...string) []realFlow {
	t.Helper()
	var out []realFlow
	for _, n := range names {
		flows, _, err := pcapio.AssembleFile(filepath.Join("../../testdata/heldout", n+".pcap"), pcapio.FlowOptions{MaxPackets: ndRows})
		if err != nil {
			t.Fatal(err)
		}
		var pick *pcapio.Flow
		for _, f := range flows {
			info, err := t2t.ParseInfo(f.Link, f.Packets[0].Data)
			if err != nil || (info.Proto == t2t.ProtoTCP && info.TCPFlags&0x12 != 0x02) {
				continue
			}
			if pick == nil || len(pick.Packets) < minPackets && len(f.Packets) > len(pick.Packets) {
				pick = f
			}
		}
		if pick == nil {
			t.Fatalf("%s: no flow starting with its first packet", n)
		}
		m, err := pick.Matrix(ndLayout, ndRows)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, realFlow{n, pick, m})
	}
	return out
}

// noisy renders m, padded with vacant rows to rows, as an RGB image whose
// every channel carries Gaussian noise of deviation sigma (out of 255), as
// a diffusion model's output is off the palette.
func noisy(m *t2t.Matrix, rows int, sigma float64, rng *rand.Rand) *image.RGBA {
	p := m.Resize(rows)
	img := image.NewRGBA(p.Bounds())
	for y := 0; y < p.Rows; y++ {
		for x := 0; x < p.Cols; x++ {
			c := t2t.Palette[t2t.PaletteIndex(p.Bit(y, x))].(color.RGBA)
			i := img.PixOffset(x, y)
			for k, v := range []uint8{c.R, c.G, c.B} {
				img.Pix[i+k] = clamp8(float64(v) + sigma*rng.NormFloat64())
			}
			img.Pix[i+3] = 255
		}
	}
	return img
}

func clamp8(v float64) uint8 { return uint8(math.Round(math.Max(0, math.Min(255, v)))) }

func savePNG(t *testing.T, path string, img image.Image) {
	t.Helper()
	var b bytes.Buffer
	e := png.Encoder{CompressionLevel: png.BestSpeed} // noise compresses badly: spend no time on it
	if err := e.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// differing counts the cells of img (snapped to the palette) that differ
// from m padded to the image's height.
func differing(t *testing.T, img image.Image, m *t2t.Matrix) int {
	t.Helper()
	got, err := t2t.MatrixFromImage(img, m.Layout)
	if err != nil {
		t.Fatal(err)
	}
	want := m.Resize(got.Rows)
	n := 0
	for i := range got.Bits {
		if got.Bits[i] != want.Bits[i] {
			n++
		}
	}
	return n
}

// appProtocols are the application dissectors that may read invented
// payload bytes as their protocol's, on the ports of the captures' classes.
var appProtocols = []string{"dns", "mdns", "llmnr", "ntp", "ssh", "sip", "http", "http2", "tls", "mqtt",
	"resp", "pgsql", "rtp", "rtcp", "quic", "ssdp", "nbns", "snmp"}

// tsharkProblems counts packets that tshark, with checksum validation on
// and every dissector, finds malformed, in error or with a bad checksum
// (as examples/generate's tests do); ok is false without tshark. For
// whole packets (-payload zeros or random) the application dissectors,
// which read the invented payload bytes as their protocol's (a DNS
// message of zeros is malformed), are off and only checksums count (as
// repair's tests do): the headers are judged on the cut packets of
// -payload snap.
func tsharkProblems(t *testing.T, path string, whole bool) (n int, ok bool) {
	t.Helper()
	if _, err := exec.LookPath("tshark"); err != nil {
		return 0, false
	}
	args := []string{"-n", "-r", path,
		"-o", "ip.check_checksum:TRUE", "-o", "tcp.check_checksum:TRUE", "-o", "udp.check_checksum:TRUE"}
	filter := `_ws.malformed || _ws.expert.severity == error || ip.checksum.status == "Bad" || tcp.checksum.status == "Bad" || udp.checksum.status == "Bad" || icmp.checksum.status == "Bad"`
	if whole {
		for _, p := range appProtocols {
			args = append(args, "--disable-protocol="+p)
		}
		filter = `ip.checksum.status == "Bad" || tcp.checksum.status == "Bad" || udp.checksum.status == "Bad" || icmp.checksum.status == "Bad"`
	}
	out, err := exec.Command("tshark", append(args, "-Y", filter, "-T", "fields", "-e", "frame.number")...).Output()
	if err != nil {
		t.Fatalf("tshark: %v", err)
	}
	return len(strings.Fields(string(out))), true
}

// valid checks the pcap at path: evaluate's compliance finds no problem
// (headers, checksums, TCP state machine), tshark (when installed) flags
// no packet, and every timestamp is set and none goes back. It returns the
// flows read back, in order of their first packet.
func valid(t *testing.T, path string) []*pcapio.Flow { return validWhole(t, path, false) }

// validWhole is valid for a pcap of whole packets (-payload zeros or
// random) when whole is set (see tsharkProblems).
func validWhole(t *testing.T, path string, whole bool) []*pcapio.Flow {
	t.Helper()
	c, err := evaluate.CheckFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if c.Errors() != 0 || c.Packets == 0 {
		t.Errorf("%s: %d compliance problems in %d packets: %s", path, c.Errors(), c.Packets, strings.Join(c.Problems, "; "))
	}
	if n, ok := tsharkProblems(t, path, whole); !ok {
		t.Log("tshark not installed: its check skipped")
	} else if n != 0 {
		t.Errorf("%s: tshark flags %d packets", path, n)
	}
	r, err := pcapio.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var last pcapio.Packet
	for i := 0; ; i++ {
		p, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if p.Time.Unix() < 1e9 {
			t.Fatalf("packet %d: timestamp %v (zero or near it)", i, p.Time)
		}
		if i > 0 && p.Time.Before(last.Time) {
			t.Fatalf("packet %d: time %v before the previous packet's %v", i, p.Time, last.Time)
		}
		last = p
	}
	flows, _, err := pcapio.AssembleFile(path, pcapio.FlowOptions{IdleTimeout: -1, NewFlowOnSYN: true})
	if err != nil {
		t.Fatal(err)
	}
	return flows
}

// shape is what a flow's structure is made of, per packet: direction,
// transport, TCP flags and IP length.
type shape struct {
	fwd   bool
	proto uint8
	flags uint8
	iplen int
}

func shapes(t *testing.T, f *pcapio.Flow) []shape {
	t.Helper()
	var out []shape
	for i, p := range f.Packets {
		info, err := t2t.ParseInfo(p.Link, p.Data)
		if err != nil {
			t.Fatal(err)
		}
		if !info.Encodable() {
			continue // not a row of the image
		}
		out = append(out, shape{f.Forward(i), info.Proto, info.TCPFlags, info.IPLen})
	}
	return out
}

// TestNetDiffusionImages makes NetDiffusion-style images of real flows
// (TCP, UDP and ICMP, 1088 x 1024, Gaussian noise of deviation 60 on every
// channel: thousands of cells off after snapping, vacant padding rows
// included) and turns them into one pcap: evaluate's compliance and tshark
// find no problem, timestamps are set and strictly increasing, flows
// follow one another, and each flow has one packet per row that is not (nearly)
// vacant.
func TestNetDiffusionImages(t *testing.T) {
	flows := realFlows(t, 4, "https", "dns", "icmp", "ssh", "ntp")
	dir := t.TempDir()
	in := filepath.Join(dir, "gen")
	if err := os.Mkdir(in, 0o755); err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for i, f := range flows {
		img := noisy(f.m, ndRows, 60, rng)
		if img.Bounds().Dx() != 1088 || img.Bounds().Dy() != 1024 {
			t.Fatalf("image of %v", img.Bounds())
		}
		t.Logf("%s: %d packets, %d of %d cells off the flow after snapping", f.name, f.m.Rows, differing(t, img, f.m), 1088*1024)
		savePNG(t, filepath.Join(in, fmt.Sprintf("%02d-%s.png", i, f.name)), img)
	}
	out := filepath.Join(dir, "out.pcap")
	var stdout strings.Builder
	if err := run([]string{"-in", in, "-out", out, "-png", filepath.Join(dir, "rep")}, &stdout, io.Discard); err != nil {
		t.Fatal(err)
	}
	t.Log(stdout.String())
	got := valid(t, out)
	if len(got) != len(flows) {
		t.Fatalf("%d flows read back, %d images", len(got), len(flows))
	}
	for i, f := range flows {
		g := got[i]
		for k := 1; k < len(g.Packets); k++ { // gaps drawn: 100 µs or more
			if !g.Packets[k].Time.After(g.Packets[k-1].Time) {
				t.Errorf("%s packet %d: time %v, not after the previous packet's", f.name, k, g.Packets[k].Time)
			}
		}
		if i > 0 && !g.First().After(got[i-1].Last()) {
			t.Errorf("flow %d starts at %v, before flow %d ends (%v)", i, g.First(), i-1, got[i-1].Last())
		}
		// Every real row is kept as a packet and every noisy padding row
		// dropped; repair may insert packets (a handshake whose flags the
		// noise broke) or drop rows (beyond the end of a TCP flow), and
		// says so.
		var rows, vacant, dropped, inserted, packets int
		line := lineOf(stdout.String(), fmt.Sprintf("%02d-%s.png", i, f.name))
		if _, err := fmt.Sscanf(line[strings.Index(line, "columns), ")+len("columns), "):], "%d rows (%d padding) -> %d packets", &rows, &vacant, &packets); err != nil {
			t.Fatalf("%s: line %q: %v", f.name, line, err)
		}
		if _, err := fmt.Sscanf(line[strings.Index(line, "; ")+2:], "%d rows dropped, %d packets inserted", &dropped, &inserted); err != nil {
			t.Fatalf("%s: line %q: %v", f.name, line, err)
		}
		if rows != ndRows || rows-vacant != f.m.Rows || packets != len(g.Packets) || len(g.Packets) != f.m.Rows-dropped+inserted {
			t.Errorf("%s: %d packets read back from %d real rows; the command says %d rows, %d padding, %d dropped, %d inserted, %d packets",
				f.name, len(g.Packets), f.m.Rows, rows, vacant, dropped, inserted, packets)
		}
		if dropped+inserted > 0 {
			t.Logf("%s: %d real rows, %d dropped and %d packets inserted by repair: %d packets", f.name, f.m.Rows, dropped, inserted, len(g.Packets))
		}
		rep, err := t2t.ReadPNGFile(filepath.Join(dir, "rep", fmt.Sprintf("%02d-%s.png", i, f.name)), ndLayout)
		if err != nil {
			t.Fatal(err)
		}
		if rep.Rows != ndRows {
			t.Errorf("repaired image of %d rows, want %d", rep.Rows, ndRows)
		}
	}
}

// TestFlowSurvives: under noise that no cell survives unchanged in value
// but every cell snaps back (deviation 30), each repaired flow has its
// real flow's structure: packet for packet the same direction, transport,
// TCP flags and IP length; the server port is kept; and what repair
// changed is only what the image cannot hold right (checksums over
// addresses the layout lacks, TCP checksums of packets without payload).
// The images are paletted PNGs (as pcap2png writes), noisy RGB and a 2x
// upscale: all give the same pcap, byte for byte.
func TestFlowSurvives(t *testing.T) {
	flows := realFlows(t, 4, "https", "dns", "icmp", "ssh", "ntp", "mqtt", "sip")
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(3, 4))
	var args []string
	for i, f := range flows {
		img := noisy(f.m, ndRows, 30, rng)
		if n := differing(t, img, f.m); n != 0 {
			t.Fatalf("%s: %d cells off after snapping: noise too strong for this test", f.name, n)
		}
		p := filepath.Join(dir, fmt.Sprintf("%02d-%s.png", i, f.name))
		savePNG(t, p, img)
		args = append(args, "-in", p)
	}
	out := filepath.Join(dir, "out.pcap")
	var stdout strings.Builder
	if err := run(append(args, "-out", out, "-payload", "zeros", "-png", filepath.Join(dir, "rep")), &stdout, io.Discard); err != nil {
		t.Fatal(err)
	}
	got := validWhole(t, out, true)
	if len(got) != len(flows) {
		t.Fatalf("%d flows read back, %d images", len(got), len(flows))
	}
	for i, f := range flows {
		want, have := shapes(t, f.flow), shapes(t, got[i])
		if len(want) != len(have) {
			t.Errorf("%s: %d packets, want %d", f.name, len(have), len(want))
			continue
		}
		for k := range want {
			if want[k] != have[k] {
				t.Errorf("%s packet %d: %+v, want %+v", f.name, k, have[k], want[k])
				break
			}
		}
		if f.flow.Key.Proto != t2t.ProtoICMP {
			srv := f.flow.Key.A.Port()
			if f.flow.Src == f.flow.Key.A {
				srv = f.flow.Key.B.Port()
			}
			if gs := got[i].Key.A.Port(); gs != srv && got[i].Key.B.Port() != srv {
				t.Errorf("%s: ports %v, server port %d lost", f.name, got[i].Key, srv)
			}
		}
		// bits repair changed, by field, from the repaired image
		rep, err := t2t.ReadPNGFile(filepath.Join(dir, "rep", fmt.Sprintf("%02d-%s.png", i, f.name)), ndLayout)
		if err != nil {
			t.Fatal(err)
		}
		orig := f.m.Resize(ndRows)
		changed := map[string]int{}
		total := 0
		for c, fld := range columnFields() {
			for r := 0; r < ndRows; r++ {
				if rep.Bit(r, c) != orig.Bit(r, c) {
					changed[fld]++
					total++
				}
			}
		}
		t.Logf("%s: %d packets, repair changed %d bits: %v", f.name, len(have), total, changed)
		for fld := range changed {
			if !strings.HasSuffix(fld, "_cksum") {
				t.Errorf("%s: repair changed %d bits of %s, want checksums only", f.name, changed[fld], fld)
			}
		}
	}
	// The same flows as paletted PNGs (pcap2png's) and scaled up 2x give
	// the same pcap.
	ref, _ := os.ReadFile(out)
	for _, kind := range []string{"paletted", "scaled"} {
		var args []string
		for i, f := range flows {
			p := filepath.Join(dir, kind, fmt.Sprintf("%02d-%s.png", i, f.name))
			os.MkdirAll(filepath.Dir(p), 0o755)
			if kind == "paletted" {
				if err := t2t.WritePNGFile(p, f.m.Resize(ndRows)); err != nil {
					t.Fatal(err)
				}
			} else {
				savePNG(t, p, upscale(noisy(f.m, ndRows, 30, rng), 2))
			}
			args = append(args, "-in", p)
		}
		o := filepath.Join(dir, kind+".pcap")
		if err := run(append(args, "-out", o, "-payload", "zeros", "-q"), io.Discard, io.Discard); err != nil {
			t.Fatal(err)
		}
		if b, _ := os.ReadFile(o); !bytes.Equal(b, ref) {
			t.Errorf("%s images: a different pcap than the noisy RGB ones", kind)
		}
	}
}

// lineOf returns the line of text that holds s.
func lineOf(text, s string) string {
	for _, l := range strings.Split(text, "\n") {
		if strings.Contains(l, s) {
			return l
		}
	}
	return ""
}

func columnFields() []string {
	var out []string
	for _, f := range ndLayout.Fields() {
		for j := 0; j < f.Bits; j++ {
			out = append(out, f.Name)
		}
	}
	return out
}

// upscale scales img up k times in each direction, pixel-wise.
func upscale(img *image.RGBA, k int) *image.RGBA {
	b := img.Bounds()
	out := image.NewRGBA(image.Rect(0, 0, b.Dx()*k, b.Dy()*k))
	for y := 0; y < out.Rect.Dy(); y++ {
		for x := 0; x < out.Rect.Dx(); x++ {
			copy(out.Pix[out.PixOffset(x, y):][:4], img.Pix[img.PixOffset(x/k, y/k):][:4])
		}
	}
	return out
}

// TestImageKinds: a flow image read from every PNG kind a generator may
// write gives the pcap the clean paletted image gives, byte for byte:
// noisy RGBA, NRGBA with translucent alpha, a 256-colour palette of
// off-palette colours, 16-bit RGB with noise, washed-out colours (each
// mixed 40% with grey). A JPEG round trip (quality 90, chroma subsampled:
// colours bleed across neighbouring pixels) moves many cells, yet gives a
// valid pcap. A greyscale PNG is refused.
func TestImageKinds(t *testing.T) {
	f := realFlows(t, 8, "https")[0]
	p := f.m.Resize(ndRows)
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(5, 6))
	ref := filepath.Join(dir, "ref.pcap")
	refPNG := filepath.Join(dir, "ref.png")
	if err := t2t.WritePNGFile(refPNG, p); err != nil {
		t.Fatal(err)
	}
	if err := run([]string{"-in", refPNG, "-out", ref, "-q"}, io.Discard, io.Discard); err != nil {
		t.Fatal(err)
	}
	want, _ := os.ReadFile(ref)
	rgb := func(y, x int) [3]float64 {
		c := t2t.Palette[t2t.PaletteIndex(p.Bit(y, x))].(color.RGBA)
		return [3]float64{float64(c.R), float64(c.G), float64(c.B)}
	}
	bounds := p.Bounds()
	kinds := map[string]func() image.Image{
		"rgba-noise": func() image.Image { return noisy(f.m, ndRows, 30, rng) },
		"nrgba-alpha": func() image.Image {
			img := image.NewNRGBA(bounds)
			for y := 0; y < p.Rows; y++ {
				for x := 0; x < p.Cols; x++ {
					c := rgb(y, x)
					img.SetNRGBA(x, y, color.NRGBA{clamp8(c[0] + 20*rng.NormFloat64()), clamp8(c[1] + 20*rng.NormFloat64()), clamp8(c[2] + 20*rng.NormFloat64()), uint8(100 + rng.IntN(156))})
				}
			}
			return img
		},
		"paletted-256": func() image.Image {
			var pal color.Palette
			for i := 0; i < 256; i++ {
				c := [3]float64{}
				c[i%3] = 255
				pal = append(pal, color.RGBA{clamp8(c[0] + 35*rng.NormFloat64()), clamp8(c[1] + 35*rng.NormFloat64()), clamp8(c[2] + 35*rng.NormFloat64()), 255})
			}
			img := image.NewPaletted(bounds, pal)
			for y := 0; y < p.Rows; y++ {
				for x := 0; x < p.Cols; x++ {
					img.SetColorIndex(x, y, uint8(t2t.PaletteIndex(p.Bit(y, x))+3*rng.IntN(85)))
				}
			}
			return img
		},
		"rgb16-noise": func() image.Image {
			img := image.NewRGBA64(bounds)
			n16 := func(v float64) uint16 {
				return uint16(math.Max(0, math.Min(65535, v*257+30*257*rng.NormFloat64())))
			}
			for y := 0; y < p.Rows; y++ {
				for x := 0; x < p.Cols; x++ {
					c := rgb(y, x)
					img.SetRGBA64(x, y, color.RGBA64{n16(c[0]), n16(c[1]), n16(c[2]), 65535})
				}
			}
			return img
		},
		"washed-out": func() image.Image {
			img := image.NewRGBA(bounds)
			for y := 0; y < p.Rows; y++ {
				for x := 0; x < p.Cols; x++ {
					c := rgb(y, x)
					img.SetRGBA(x, y, color.RGBA{clamp8(0.6*c[0] + 0.4*128), clamp8(0.6*c[1] + 0.4*128), clamp8(0.6*c[2] + 0.4*128), 255})
				}
			}
			return img
		},
	}
	for name, mk := range kinds {
		img := mk()
		path := filepath.Join(dir, name+".png")
		savePNG(t, path, img)
		if n := differing(t, img, f.m); n != 0 {
			t.Errorf("%s: %d cells off after snapping", name, n)
		}
		out := filepath.Join(dir, name+".pcap")
		if err := run([]string{"-in", path, "-out", out, "-q"}, io.Discard, io.Discard); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if got, _ := os.ReadFile(out); !bytes.Equal(got, want) {
			t.Errorf("%s: a different pcap than the clean image's", name)
		}
	}
	// 16-bit PNG really is 16-bit on disk (colour type 2, depth 16).
	if b, _ := os.ReadFile(filepath.Join(dir, "rgb16-noise.png")); len(b) < 26 || b[24] != 16 {
		t.Errorf("rgb16-noise.png is not a 16-bit PNG")
	}

	// JPEG: real compression artefacts, then saved as PNG.
	var jb bytes.Buffer
	if err := jpeg.Encode(&jb, noisy(f.m, ndRows, 10, rng), &jpeg.Options{Quality: 90}); err != nil {
		t.Fatal(err)
	}
	jimg, err := jpeg.Decode(&jb)
	if err != nil {
		t.Fatal(err)
	}
	jpath := filepath.Join(dir, "jpeg.png")
	savePNG(t, jpath, jimg)
	t.Logf("jpeg: %d cells off after snapping", differing(t, jimg, f.m))
	out := filepath.Join(dir, "jpeg.pcap")
	if err := run([]string{"-in", jpath, "-out", out, "-q"}, io.Discard, io.Discard); err != nil {
		t.Fatal(err)
	}
	valid(t, out)

	// greyscale: refused, naming the file
	gray := image.NewGray(bounds)
	gpath := filepath.Join(dir, "grey.png")
	savePNG(t, gpath, gray)
	err = run([]string{"-in", gpath, "-out", filepath.Join(dir, "g.pcap")}, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), gpath) || !strings.Contains(err.Error(), "greyscale") {
		t.Errorf("greyscale PNG: %v", err)
	}
}

// TestBadInput: inputs that are no flow image give an error that names
// the file and says what is wrong, before anything is written.
func TestBadInput(t *testing.T) {
	dir := t.TempDir()
	f := realFlows(t, 4, "dns")[0]
	good := filepath.Join(dir, "good.png")
	if err := t2t.WritePNGFile(good, f.m.Resize(ndRows)); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(good)
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	var wide bytes.Buffer
	png.Encode(&wide, image.NewRGBA(image.Rect(0, 0, 1000, 16)))
	wrong := write("wide.png", wide.Bytes())
	trunc := write("trunc.png", b[:len(b)/2])
	text := write("text.png", []byte("not an image\n"))
	other := write("notes.txt", []byte("hello\n"))
	badCSV := write("bad.csv", []byte("src_ip,ipv4_ver_0,ipv4_ver_1\n1.2.3.4,1,0\n"))
	empty := filepath.Join(dir, "empty")
	os.Mkdir(empty, 0o755)
	onlyText := filepath.Join(dir, "onlytext")
	os.Mkdir(onlyText, 0o755)
	os.WriteFile(filepath.Join(onlyText, "readme.txt"), []byte("x"), 0o644)
	for _, c := range []struct {
		in   []string
		want []string
	}{
		{[]string{good, wrong}, []string{wrong, "1000", "1088", "1408", "1520"}},
		{[]string{trunc}, []string{trunc, "not enough pixel data"}},
		{[]string{text}, []string{text, "not a PNG"}},
		{[]string{other}, []string{other, "neither a PNG nor an nPrint CSV"}},
		{[]string{badCSV}, []string{badCSV}},
		{[]string{empty}, []string{empty, "no .png or .csv"}},
		{[]string{onlyText}, []string{onlyText, "no .png or .csv"}},
		{[]string{filepath.Join(dir, "absent.png")}, []string{"absent.png", "-in"}},
		{[]string{filepath.Join(dir, "nothing*.png")}, []string{"nothing*.png", "no file matches"}},
	} {
		out := filepath.Join(dir, "out.pcap")
		var args []string
		for _, in := range c.in {
			args = append(args, "-in", in)
		}
		err := run(append(args, "-out", out, "-q"), io.Discard, io.Discard)
		if err == nil {
			t.Errorf("%v: no error", c.in)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%v: error %q does not say %q", c.in, err, w)
			}
		}
		if _, serr := os.Stat(out); serr == nil {
			t.Errorf("%v: %s written despite %v", c.in, out, err)
		}
		if cli.ExitCode(err) == 0 {
			t.Errorf("%v: exit code 0", c.in)
		}
	}
	// an image whose every row is vacant holds no flow: skipped, said so
	vacant := filepath.Join(dir, "vacant.png")
	if err := t2t.WritePNGFile(vacant, t2t.NewMatrix(ndLayout, 16)); err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	out := filepath.Join(dir, "v.pcap")
	if err := run([]string{"-in", vacant, "-in", good, "-out", out, "-q"}, io.Discard, &stderr); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(stderr.String(), vacant) || !strings.Contains(stderr.String(), "skipped") {
		t.Errorf("vacant image: %q", stderr.String())
	}
	if got := valid(t, out); len(got) != 1 || len(got[0].Packets) != f.m.Rows {
		t.Errorf("vacant + good: %d flows", len(got))
	}
	if err := run([]string{"-in", vacant, "-out", out, "-q"}, io.Discard, io.Discard); err == nil || !strings.Contains(err.Error(), "nothing written") {
		t.Errorf("only a vacant image: %v", err)
	}
}

// TestCSV: nPrint CSVs of real flows through the command: NetDiffusion's
// (a pandas index column "Unnamed: 0", the 1408 bits of -4 -6 -t -u -i as
// floats) and one of the 1088 image columns with relative times (rts):
// valid pcaps, one packet per row, and the CSV's times kept (the gaps of
// the real flow, to the microsecond).
func TestCSV(t *testing.T) {
	flows := realFlows(t, 4, "ssh", "dns")
	dir := t.TempDir()
	var args []string
	for i, f := range flows {
		for k, c := range []struct {
			spec t2t.LayoutSpec
			opts t2t.CSVOptions
			nd   bool
		}{{t2t.NPrintSpec, t2t.CSVOptions{}, true}, {t2t.NetDiffusionSpec, t2t.CSVOptions{Time: t2t.TimeRelative}, false}} {
			var b bytes.Buffer
			l := c.spec.MustLayout()
			w := t2t.NewCSVWriter(&b, l, c.opts)
			enc := t2t.NewEncoder(l, t2t.ModelEncoderOptions())
			row := make([]int8, l.Width())
			for _, p := range f.flow.Packets {
				if _, err := enc.Encode(row, p.Link, p.Data); err != nil {
					t.Fatal(err)
				}
				if err := w.WriteRow([]byte("10.0.0.1"), p.Time, row); err != nil {
					t.Fatal(err)
				}
			}
			if err := w.Flush(); err != nil {
				t.Fatal(err)
			}
			text := b.String()
			if c.nd {
				text = ndStyle(text)
			}
			p := filepath.Join(dir, fmt.Sprintf("%d-%d-%s.csv", i, k, f.name))
			if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
				t.Fatal(err)
			}
			args = append(args, "-in", p)
		}
	}
	out := filepath.Join(dir, "out.pcap")
	var stdout strings.Builder
	if err := run(append(args, "-out", out), &stdout, io.Discard); err != nil {
		t.Fatal(err)
	}
	t.Log(stdout.String())
	got := valid(t, out)
	if len(got) != 2*len(flows) {
		t.Fatalf("%d flows read back, want %d", len(got), 2*len(flows))
	}
	for i, f := range flows {
		for k := 0; k < 2; k++ {
			g := got[2*i+k]
			want, have := shapes(t, f.flow), shapes(t, g)
			if len(have) != len(want) {
				t.Errorf("%s csv %d: %d packets, want %d", f.name, k, len(have), len(want))
				continue
			}
			for j := range want {
				if want[j] != have[j] {
					t.Errorf("%s csv %d packet %d: %+v, want %+v", f.name, k, j, have[j], want[j])
					break
				}
			}
			if k == 1 { // rts kept
				for j := 1; j < len(g.Packets); j++ {
					dw := f.flow.Packets[j].Time.Sub(f.flow.Packets[j-1].Time).Microseconds()
					dg := g.Packets[j].Time.Sub(g.Packets[j-1].Time).Microseconds()
					if dw != dg {
						t.Errorf("%s packet %d: gap %d µs, the CSV says %d", f.name, j, dg, dw)
						break
					}
				}
			}
		}
	}
}

// ndStyle rewrites a t2t CSV as NetDiffusion's pandas writes it: the key
// column renamed "Unnamed: 0", every bit as a float.
func ndStyle(csv string) string {
	lines := strings.Split(strings.TrimSpace(csv), "\n")
	var b strings.Builder
	b.WriteString(strings.Replace(lines[0], "src_ip", "Unnamed: 0", 1) + "\n")
	for _, l := range lines[1:] {
		c := strings.Split(l, ",")
		for i := 1; i < len(c); i++ {
			c[i] += ".0"
		}
		b.WriteString(strings.Join(c, ",") + "\n")
	}
	return b.String()
}

// TestChecksCatchBadPcaps: the two judges of these tests see what
// NetDiffusion's own pcaps get wrong: a TCP checksum broken by one byte
// and a zero timestamp are caught.
func TestChecksCatchBadPcaps(t *testing.T) {
	f := realFlows(t, 4, "https")[0]
	dir := t.TempDir()
	in := filepath.Join(dir, "f.png")
	if err := t2t.WritePNGFile(in, f.m.Resize(ndRows)); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "f.pcap")
	if err := run([]string{"-in", in, "-out", out, "-payload", "zeros", "-q"}, io.Discard, io.Discard); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(out)
	// first record: 24-byte file header, 16-byte record header, then
	// Ethernet (14), IPv4 (20) and the TCP checksum at 16 into TCP
	bad := bytes.Clone(b)
	bad[24+16+14+20+16] ^= 0xff
	badPath := filepath.Join(dir, "bad.pcap")
	os.WriteFile(badPath, bad, 0o644)
	c, err := evaluate.CheckFile(badPath)
	if err != nil {
		t.Fatal(err)
	}
	if c.BadChecksums != 1 {
		t.Errorf("compliance: %d bad checksums in a pcap with one, %s", c.BadChecksums, strings.Join(c.Problems, "; "))
	}
	if n, ok := tsharkProblems(t, badPath, true); ok && n != 1 {
		t.Errorf("tshark: %d packets flagged, want 1", n)
	}
	zero := bytes.Clone(b)
	clear(zero[24 : 24+8])
	zeroPath := filepath.Join(dir, "zero.pcap")
	os.WriteFile(zeroPath, zero, 0o644)
	r, err := pcapio.Open(zeroPath)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if p, err := r.Next(); err != nil || p.Time.Unix() >= 1e9 {
		t.Errorf("zero timestamp read as %v (%v): valid would not catch it", p.Time, err)
	}
}

// TestOptions: the same seed gives the same pcap; -payload snap (the
// default) cuts packets after their headers, zeros and random write them
// whole; -keep-checksums keeps generated checksums (other payload words,
// still valid); a profile's class is picked by the flow's ports (-profile
// embedded) or named (-class); -out - writes the pcap to standard output.
func TestOptions(t *testing.T) {
	flows := realFlows(t, 4, "https", "dns")
	dir := t.TempDir()
	var args []string
	for i, f := range flows {
		p := filepath.Join(dir, fmt.Sprintf("%d.png", i))
		if err := t2t.WritePNGFile(p, f.m.Resize(ndRows)); err != nil {
			t.Fatal(err)
		}
		args = append(args, "-in", p)
	}
	pcap := func(extra ...string) ([]byte, string) {
		t.Helper()
		out := filepath.Join(dir, "o.pcap")
		var stdout strings.Builder
		if err := run(append(append(args, "-out", out), extra...), &stdout, io.Discard); err != nil {
			t.Fatal(err)
		}
		validWhole(t, out, slices.Contains(extra, "random") || slices.Contains(extra, "zeros"))
		b, _ := os.ReadFile(out)
		return b, stdout.String()
	}
	a, _ := pcap("-payload", "random", "-seed", "9")
	b, _ := pcap("-payload", "random", "-seed", "9")
	c, _ := pcap("-payload", "random", "-seed", "10")
	if !bytes.Equal(a, b) || bytes.Equal(a, c) {
		t.Errorf("seeds: same seed equal %v, other seed equal %v", bytes.Equal(a, b), bytes.Equal(a, c))
	}
	z, _ := pcap("-payload", "zeros", "-seed", "9")
	s, log := pcap("-seed", "9")
	if len(s) >= len(z) || len(z) != len(a) {
		t.Errorf("sizes: snap %d, zeros %d, random %d", len(s), len(z), len(a))
	}
	if k, _ := pcap("-payload", "zeros", "-seed", "9", "-keep-checksums"); bytes.Equal(k, z) || len(k) != len(z) {
		t.Errorf("-keep-checksums: equal to the default %v, %d bytes, want %d", bytes.Equal(k, z), len(k), len(z))
	}
	if !strings.Contains(log, "no profile") {
		t.Errorf("no profile not said: %s", log)
	}
	_, log = pcap("-profile", "embedded")
	if !strings.Contains(log, "class https") || !strings.Contains(log, "class dns") {
		t.Errorf("classes not picked by port: %s", log)
	}
	_, log = pcap("-profile", "embedded", "-class", "ssh")
	if strings.Count(log, "class ssh") != 2 {
		t.Errorf("-class ssh: %s", log)
	}
	var stdout bytes.Buffer
	if err := run(append(args, "-out", "-", "-seed", "9"), &stdout, io.Discard); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(stdout.Bytes(), s) {
		t.Errorf("-out -: %d bytes, the file has %d", stdout.Len(), len(s))
	}
	// a profile file, and a model folder's profile
	prof := filepath.Join(dir, "profile.json")
	os.WriteFile(prof, mustEmbeddedProfile(t), 0o644)
	p1, _ := pcap("-profile", prof)
	p2, _ := pcap("-model", dir)
	p3, _ := pcap("-profile", "embedded")
	if !bytes.Equal(p1, p3) || !bytes.Equal(p2, p3) {
		t.Error("-profile FILE, -model DIR and -profile embedded differ on the same profile")
	}
}

func mustEmbeddedProfile(t *testing.T) []byte {
	t.Helper()
	b := models.Profile()
	if len(b) == 0 {
		t.Fatal("no embedded profile")
	}
	return b
}

// TestHelpAndUsage: -h prints the usage and exits 0; bad flag values are
// usage errors (exit 2) naming the flag.
func TestHelpAndUsage(t *testing.T) {
	var stderr strings.Builder
	err := run([]string{"-h"}, io.Discard, &stderr)
	if !errors.Is(err, flag.ErrHelp) || cli.ExitCode(err) != 0 {
		t.Fatalf("-h: %v (exit %d)", err, cli.ExitCode(err))
	}
	if !strings.HasPrefix(stderr.String(), "usage: png2pcap [flags]") || !strings.Contains(stderr.String(), "-payload") {
		t.Errorf("usage: %q", stderr.String())
	}
	dir := t.TempDir()
	png := filepath.Join(dir, "x.png")
	t2t.WritePNGFile(png, t2t.NewMatrix(ndLayout, 1))
	for _, c := range []struct {
		args []string
		flag string
	}{
		{nil, "-in"},
		{[]string{"-in", png, "-payload", "x"}, "-payload"},
		{[]string{"-in", png, "-layout", "x"}, "-layout"},
		{[]string{"-in", png, "-p", "-1"}, "-p"},
		{[]string{"-in", png, "-gap", "-1s"}, "-gap"},
		{[]string{"-in", png, "-class", "dns"}, "-class"},
		{[]string{"-in", png, "-profile", "embedded", "-class", "nosuch"}, "-class"},
		{[]string{"-in", png, "-profile", "embedded", "-model", dir}, "-model"},
		{[]string{"-in", png, "-out", png}, "-out"},
		{[]string{"-in", png, "stray"}, "stray"},
	} {
		err := run(c.args, io.Discard, io.Discard)
		if cli.ExitCode(err) != 2 || !strings.Contains(err.Error(), c.flag) {
			t.Errorf("%v: %v (exit %d), want a usage error naming %s", c.args, err, cli.ExitCode(err), c.flag)
		}
	}
	for _, c := range []struct {
		args []string
		flag string
	}{
		{[]string{"-in", png, "-profile", filepath.Join(dir, "none.json")}, "-profile"},
		{[]string{"-in", png, "-model", filepath.Join(dir, "none")}, "-model"},
		{[]string{"-in", png, "-model", dir}, "profile.json"},
		{[]string{"-in", png, "-out", filepath.Join(dir, "no", "dir", "o.pcap")}, "-out"},
		{[]string{"-in", png, "-png", png}, "-png"},
	} {
		if err := run(c.args, io.Discard, io.Discard); err == nil || !strings.Contains(err.Error(), c.flag) {
			t.Errorf("%v: %v, want an error naming %s", c.args, err, c.flag)
		}
	}
}
