package controlnet

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"t2t"
	"t2t/internal/gradcheck"
	"t2t/internal/safetensors"
	"t2t/pcapio"
	"t2t/train"
	"t2t/unet"
)

// micro is a UNet small enough for float64 gradient checks.
func micro() unet.Config {
	c := unet.Tiny()
	c.Rows, c.Channels, c.Attn, c.Heads, c.Groups = 4, []int{4, 8}, []bool{true, true}, 2, 2
	c.TimeDim, c.EmbedDim, c.ContextDim, c.MaxTokens, c.VocabCap = 4, 6, 4, 2, 5
	c.Layout = t2t.LayoutSpec{UDP: true}
	c.Cols = 64
	return c
}

func randomBatch(c unet.Config, rng *rand.Rand, b int) (x []float32, ts, toks []int, ctl []float32) {
	x = make([]float32, b*c.InputSize())
	for i := range x {
		x[i] = float32(rng.NormFloat64())
	}
	for i := 0; i < b; i++ {
		ts = append(ts, rng.IntN(1000))
		for k := 0; k < c.MaxTokens; k++ {
			toks = append(toks, rng.IntN(c.VocabCap))
		}
	}
	ctl = make([]float32, b*c.Rows*c.Cols)
	for i := range ctl {
		ctl[i] = float32(2*rng.IntN(2) - 1)
	}
	return
}

// wakeOut gives the base's zero-initialised output layer random weights,
// so that its output depends on what comes before.
func wakeOut(u *unet.UNet, rng *rand.Rand) {
	d := u.Params.Get("out.weight").Float32s()
	for i := range d {
		d[i] = float32(rng.NormFloat64() * 0.05)
	}
}

func predict(t *testing.T, p unet.Predictor, x []float32, ts, toks []int, ctl []float32) []float32 {
	t.Helper()
	n, err := unet.Compile(p, len(ts), false)
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	if err := n.SetInputs(x, ts, toks); err != nil {
		t.Fatal(err)
	}
	if ctl != nil {
		if err := n.SetControl(ctl); err != nil {
			t.Fatal(err)
		}
	}
	if err := n.Run(); err != nil {
		t.Fatal(err)
	}
	return n.Output(nil)
}

// TestUntrainedIsIdentity: a fresh ControlNet (zero output layers) leaves
// the UNet's output unchanged bit for bit, whatever the control; once its
// zero layers are not zero, the control changes the output, and Scale 0
// gives the UNet's output again.
func TestUntrainedIsIdentity(t *testing.T) {
	cfg := unet.Tiny()
	u, err := unet.New(cfg, tensor.Float32)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 1))
	wakeOut(u, rng)
	n, err := New(u, 1)
	if err != nil {
		t.Fatal(err)
	}
	x, ts, toks, ctl := randomBatch(cfg, rng, 2)
	base := predict(t, u, x, ts, toks, nil)
	got := predict(t, n, x, ts, toks, ctl)
	for i := range base {
		if got[i] != base[i] {
			t.Fatalf("output[%d] = %g with an untrained ControlNet, %g without", i, got[i], base[i])
		}
	}
	// the copy starts as the base's encoder
	for _, p := range n.Copy.Params.List() {
		q := u.Params.Get(strings.TrimPrefix(p.Name, Prefix))
		if q == nil || !slices.Equal(p.Float32s(), q.Float32s()) {
			t.Fatalf("copy parameter %s is not the base's", p.Name)
		}
	}
	for _, p := range n.Extra.List() {
		if strings.Contains(p.Name, "zero") {
			d := p.Float32s()
			for i := range d {
				d[i] = float32(rng.NormFloat64() * 0.1)
			}
		}
	}
	steered := predict(t, n, x, ts, toks, ctl)
	if slices.Equal(steered, base) {
		t.Fatal("non-zero output layers do not change the output: the test is vacuous")
	}
	for i := range ctl {
		ctl[i] = -ctl[i]
	}
	if slices.Equal(predict(t, n, x, ts, toks, ctl), steered) {
		t.Fatal("another control gives the same output")
	}
	n.Scale = 0
	if got := predict(t, n, x, ts, toks, ctl); !slices.Equal(got, base) {
		t.Fatal("scale 0 does not give the base output")
	}
	if _, err := unet.Compile(n, 1, false); err != nil {
		t.Fatal(err)
	}
}

// TestGradient checks, in float64 against central differences, the
// gradient of the steered UNet's output with respect to the hint encoder,
// the zero layers, the encoder copy and the control image, with every
// ControlNet weight random (so that no gradient is trivially zero).
func TestGradient(t *testing.T) {
	cfg := micro()
	u, err := unet.New(cfg, tensor.Float64)
	if err != nil {
		t.Fatal(err)
	}
	n, err := New(u, 2)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(5, 5))
	for _, p := range append(u.Params.List(), n.Params()...) {
		d := p.Float64s()
		for i := range d {
			d[i] = rng.NormFloat64() * 0.5
		}
	}
	n.Scale = 0.7
	g := unet.NewGraph(u.Params)
	b := 2
	dense := func(shape ...int) *tensor.Dense {
		size := 1
		for _, s := range shape {
			size *= s
		}
		v := make([]float64, size)
		for i := range v {
			v[i] = rng.NormFloat64()
		}
		return tensor.New(tensor.WithShape(shape...), tensor.WithBacking(v))
	}
	node := func(name string, v *tensor.Dense) *G.Node {
		return G.NewTensor(g.G, tensor.Float64, v.Dims(), G.WithShape(v.Shape()...), G.WithName(name), G.WithValue(v))
	}
	xv, tv, cv := dense(b, cfg.Rows, 3*cfg.Cols), dense(b, cfg.TimeDim), dense(b, cfg.Rows, cfg.Cols)
	tok := tensor.New(tensor.WithShape(b*cfg.MaxTokens, cfg.VocabCap), tensor.WithBacking(make([]float64, b*cfg.MaxTokens*cfg.VocabCap)))
	for i := 0; i < b*cfg.MaxTokens; i++ {
		tok.Data().([]float64)[i*cfg.VocabCap+rng.IntN(cfg.VocabCap)] = 1
	}
	in := unet.Inputs{X: node("x", xv), Time: node("t", tv), Tokens: node("tok", tok), Control: node("control", cv)}
	out := n.Build(g, in)
	ps, nodes := g.Bound()
	var wrt []*G.Node
	var vals []*tensor.Dense
	names := map[string]bool{}
	for i, p := range ps {
		if strings.HasPrefix(p.Name, Prefix) {
			wrt = append(wrt, nodes[i])
			vals = append(vals, p.Value)
			names[p.Name] = true
		}
	}
	for _, want := range []string{"control.hint.0.weight", "control.hint.1.weight", "control.hint.1.bias", "control.zero.0.weight", "control.zero.1.weight", "control.zero.mid.weight", "control.zero.mid.bias", "control.in.weight", "control.mid.res.0.conv1.weight"} {
		if !names[want] {
			t.Fatalf("%s not in the graph", want)
		}
	}
	wrt = append(wrt, in.Control)
	vals = append(vals, cv)
	chk, err := gradcheck.Check(g.G, out, wrt, vals, rng, 3, 1e-6)
	if err != nil {
		t.Fatal(err)
	}
	if chk.MaxErr > 1e-5 || chk.Checked < 60 {
		t.Fatalf("gradient mismatch at %s: analytic %g numeric %g (err %g, %d coordinates)", chk.Where, chk.Analytic, chk.Numeric, chk.MaxErr, chk.Checked)
	}
	t.Logf("%d coordinates over %d ControlNet parameters and the control, max error %.2g", chk.Checked, len(wrt)-1, chk.MaxErr)
}

// TestSaveLoad: the file holds the ControlNet's own weights only and
// loads back to the same output; another base, a truncated file and a
// file of another kind are refused clearly.
func TestSaveLoad(t *testing.T) {
	cfg := unet.Tiny()
	u, _ := unet.New(cfg, tensor.Float32)
	n, _ := New(u, 1)
	rng := rand.New(rand.NewPCG(2, 2))
	for _, p := range n.Params() {
		d := p.Float32s()
		for i := range d {
			d[i] += float32(rng.NormFloat64() * 0.05)
		}
	}
	n.Scale = 0.5
	path := filepath.Join(t.TempDir(), "cn.safetensors")
	if err := n.Save(path, map[string]string{"steps": "3"}); err != nil {
		t.Fatal(err)
	}
	x, ts, toks, ctl := randomBatch(cfg, rng, 1)
	want := predict(t, n, x, ts, toks, ctl)
	m, info, err := Load(path, u)
	if err != nil {
		t.Fatal(err)
	}
	if m.Scale != 0.5 || info["steps"] != "3" {
		t.Fatalf("scale %g, info %v", m.Scale, info)
	}
	if got := predict(t, m, x, ts, toks, ctl); !slices.Equal(got, want) {
		t.Fatal("loaded ControlNet gives another output")
	}
	st, _ := os.Stat(path)
	if int(st.Size()) > 4*(n.Count())+64<<10 || int(st.Size()) < 4*n.Count() {
		t.Fatalf("file of %d bytes for %d weights", st.Size(), n.Count())
	}
	half := filepath.Join(t.TempDir(), "half.safetensors")
	if err := n.SaveAs(half, nil, "F16"); err != nil {
		t.Fatal(err)
	}
	hst, _ := os.Stat(half)
	h, _, err := Load(half, u)
	if err != nil || hst.Size() > st.Size()/2+64<<10 {
		t.Fatalf("F16 file of %d bytes (F32 %d): %v", hst.Size(), st.Size(), err)
	}
	for i, p := range h.Params() {
		q := n.Params()[i].Float32s()
		for j, v := range p.Float32s() {
			if d := v - q[j]; d > 1e-3*max(1, q[j]) || -d > 1e-3*max(1, -q[j]) {
				t.Fatalf("%s[%d]: %g in F16, %g in F32", p.Name, j, v, q[j])
			}
		}
	}
	other := cfg
	other.Seed = 7
	u2, _ := unet.New(other, tensor.Float32)
	if _, _, err := Load(path, u2); !errors.Is(err, unet.ErrWrongBase) {
		t.Fatalf("another base: %v", err)
	}
	b, _ := os.ReadFile(path)
	cut := filepath.Join(t.TempDir(), "cut.safetensors")
	os.WriteFile(cut, b[:len(b)-100], 0o644)
	if _, _, err := Load(cut, u); err == nil {
		t.Fatal("truncated file: no error")
	}
	ts2, meta, _ := safetensors.Load(path)
	meta["format"] = "t2t-lora/1"
	wrong := filepath.Join(t.TempDir(), "lora.safetensors")
	safetensors.Save(wrong, ts2, meta)
	if _, _, err := Load(wrong, u); err == nil || !strings.Contains(err.Error(), "not a ControlNet") {
		t.Fatalf("other format: %v", err)
	}
	delete(meta, "format")
	meta["format"] = formatName
	safetensors.Save(wrong, ts2[1:], meta)
	if _, _, err := Load(wrong, u); err == nil || !strings.Contains(err.Error(), "missing") {
		t.Fatalf("missing tensor: %v", err)
	}
}

// TestControlMaps: the structure map of real flows has their packet
// count and their present bits; it survives a PNG round trip, a flow image
// (t2t palette) reads as its own structure, and bad PNGs are refused.
func TestControlMaps(t *testing.T) {
	l := t2t.NetDiffusionSpec.MustLayout()
	flows, _, err := pcapio.AssembleFile("../testdata/captures/dns-200.pcap", pcapio.FlowOptions{MaxPackets: 8})
	if err != nil {
		t.Fatal(err)
	}
	m, err := flows[0].Matrix(l, 8)
	if err != nil {
		t.Fatal(err)
	}
	c := FromMatrix(m, 8)
	if c.Packets() != m.Rows || m.Rows == 0 {
		t.Fatalf("%d packets in the map, flow has %d", c.Packets(), m.Rows)
	}
	if bits, p, want := c.Match(m); bits != 1 || p != want {
		t.Fatalf("a flow against its own map: %g of bits, %d packets of %d", bits, p, want)
	}
	udp, _, _ := l.Field("udp_sport")
	tcp, _, _ := l.Field("tcp_sprt")
	if !c.Present[udp] || c.Present[tcp] {
		t.Fatal("DNS over UDP: want udp present, tcp vacant")
	}
	if tr := c.Transport(l); tr != "udp" {
		t.Fatalf("transport %q, want udp", tr)
	}
	var buf bytes.Buffer
	if err := c.WritePNG(&buf); err != nil {
		t.Fatal(err)
	}
	back, err := DecodePNG(bytes.NewReader(buf.Bytes()), l.Width(), 8)
	if err != nil || !slices.Equal(back.Present, c.Present) {
		t.Fatalf("PNG round trip: %v", err)
	}
	// a flow image in the t2t palette, fewer rows than the model's
	buf.Reset()
	if err := t2t.EncodePNG(&buf, m); err != nil {
		t.Fatal(err)
	}
	img, err := DecodePNG(bytes.NewReader(buf.Bytes()), l.Width(), 32)
	if err != nil {
		t.Fatal(err)
	}
	if img.Rows != 32 || img.Packets() != m.Rows || !slices.Equal(img.Present[:8*l.Width()], c.Present) {
		t.Fatal("flow image does not read as its structure")
	}
	for _, bad := range [][]byte{buf.Bytes()[:40], []byte("not a png")} {
		if _, err := DecodePNG(bytes.NewReader(bad), l.Width(), 32); err == nil {
			t.Fatal("corrupt PNG: no error")
		}
	}
	if _, err := DecodePNG(bytes.NewReader(buf.Bytes()), 64, 32); err == nil || !strings.Contains(err.Error(), "wide") {
		t.Fatalf("wrong width: %v", err)
	}
	if _, err := DecodePNG(bytes.NewReader(buf.Bytes()), l.Width(), m.Rows-1); err == nil || !strings.Contains(err.Error(), "rows") {
		t.Fatalf("too many rows: %v", err)
	}
}

func mean(x []float64) float64 {
	s := 0.0
	for _, v := range x {
		s += v
	}
	return s / float64(len(x))
}

// TestTemplates: templates of real flows give back each flow's structure
// map exactly, Draw keeps to the asked transport and draws without
// replacement while flows last, and templates survive the file round trip;
// corrupt templates are refused.
func TestTemplates(t *testing.T) {
	cfg := unet.Tiny()
	l := cfg.Layout.MustLayout()
	flows := map[string][]*pcapio.Flow{}
	for _, c := range []string{"dns", "ssh"} {
		fl, _, err := pcapio.AssembleFile("../testdata/captures/"+c+"-200.pcap", pcapio.FlowOptions{MaxPackets: cfg.Rows})
		if err != nil {
			t.Fatal(err)
		}
		flows[c] = fl
	}
	tf, err := train.Matrices(flows, l, cfg.Rows)
	if err != nil {
		t.Fatal(err)
	}
	tp, err := BuildTemplates(tf, l.Width(), cfg.Rows, 2)
	if err != nil {
		t.Fatal(err)
	}
	if err := tp.Validate(); err != nil {
		t.Fatal(err)
	}
	k := 0
	for _, f := range tf["dns"] {
		want := FromMatrix(f.Matrix, cfg.Rows)
		if want.Packets() < 2 {
			continue
		}
		got, err := tp.Control("dns", k)
		if err != nil || !slices.Equal(got.Present, want.Present) {
			t.Fatalf("dns template %d is not the flow's structure map (%v)", k, err)
		}
		k++
	}
	if k != len(tp.Classes["dns"].Flows) || len(tp.Classes["dns"].Masks) > 8 {
		t.Fatalf("%d dns flows, %d templates, %d masks", k, len(tp.Classes["dns"].Flows), len(tp.Classes["dns"].Masks))
	}
	rng := rand.New(rand.NewPCG(1, 1))
	n := len(tp.Classes["ssh"].Flows)
	got, err := tp.Draw("ssh", "tcp", n, rng)
	if err != nil || len(got) != n {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, c := range got {
		if c.Transport(l) != "tcp" {
			t.Fatal("ssh template without TCP")
		}
		seen[fmt.Sprint(c.Present)] = true
	}
	distinct := map[string]bool{}
	for i := range tp.Classes["ssh"].Flows {
		c, _ := tp.Control("ssh", i)
		distinct[fmt.Sprint(c.Present)] = true
	}
	if len(seen) != len(distinct) {
		t.Fatalf("drew %d distinct structures of %d: not without replacement", len(seen), len(distinct))
	}
	if _, err := tp.Draw("ssh", "udp", 1, rng); err == nil {
		t.Fatal("udp template for ssh: no error")
	}
	if _, err := tp.Draw("http", "", 1, rng); err == nil {
		t.Fatal("unknown class: no error")
	}

	u, _ := unet.New(cfg, tensor.Float32)
	cn, _ := New(u, 1)
	cn.Templates = tp
	path := filepath.Join(t.TempDir(), "cn.safetensors")
	if err := cn.Save(path, nil); err != nil {
		t.Fatal(err)
	}
	back, _, err := Load(path, u)
	if err != nil || back.Templates == nil || len(back.Templates.Classes["dns"].Flows) != k {
		t.Fatalf("templates after the round trip: %v", err)
	}
	tp.Classes["dns"].Flows[0].Rows[0] = 999
	if err := tp.Validate(); err == nil {
		t.Fatal("mask index out of range: no error")
	}
	cn.Save(path, nil)
	if _, _, err := Load(path, u); err == nil || !strings.Contains(err.Error(), "mask 999") {
		t.Fatalf("corrupt templates: %v", err)
	}
}

// TestTemplateDirections: the templates of real flows record the server
// port and each packet's direction as the capture has them (tshark-free:
// read back from the flows' own packets), and a template's Control fixes
// the server port in the port field of each packet's direction; bad
// directions are refused.
func TestTemplateDirections(t *testing.T) {
	cfg := unet.Tiny()
	l := cfg.Layout.MustLayout()
	flows := map[string][]*pcapio.Flow{}
	for _, c := range []string{"dns", "ssh", "icmp"} {
		fl, _, err := pcapio.AssembleFile("../testdata/captures/"+c+"-200.pcap", pcapio.FlowOptions{MaxPackets: cfg.Rows})
		if err != nil {
			t.Fatal(err)
		}
		flows[c] = fl
	}
	tf, err := train.Matrices(flows, l, cfg.Rows)
	if err != nil {
		t.Fatal(err)
	}
	tp, err := BuildTemplates(tf, l.Width(), cfg.Rows, 2)
	if err != nil {
		t.Fatal(err)
	}
	checked := 0
	for _, c := range []string{"dns", "ssh"} {
		k := 0
		for i, f := range flows[c] {
			if FromMatrix(tf[c][i].Matrix, cfg.Rows).Packets() < 2 {
				continue
			}
			ft := tp.Classes[c].Flows[k]
			ctl, err := tp.Control(c, k)
			if err != nil {
				t.Fatal(err)
			}
			k++
			server := f.Key.A.Port()
			if f.Key.A == f.Src {
				server = f.Key.B.Port()
			}
			if ft.Server != int(server) || len(ft.Dirs) != min(len(f.Packets), cfg.Rows) {
				t.Fatalf("%s flow %d: server %d dirs %q, want server %d and %d directions", c, i, ft.Server, ft.Dirs, server, len(f.Packets))
			}
			for r := range ft.Dirs {
				want := byte('1')
				if f.Forward(r) {
					want = '0'
				}
				if ft.Dirs[r] != want {
					t.Fatalf("%s flow %d packet %d: direction %c, want %c", c, i, r, ft.Dirs[r], want)
				}
				// the known bits are the server port in the right field
				field := map[string][2]string{"tcp": {"tcp_sprt", "tcp_dprt"}, "udp": {"udp_sport", "udp_dport"}}[ft.Transport][1-(want-'0')]
				col, _, _ := l.Field(field)
				v := 0
				for b := 0; b < 16; b++ {
					v = v<<1 | int(ctl.Known[r*ctl.Cols+col+b])
				}
				if v != int(server) {
					t.Fatalf("%s flow %d packet %d: known %s %d, want the server port %d", c, i, r, field, v, server)
				}
				checked++
			}
			fixed := 0
			for _, b := range ctl.Known {
				if b >= 0 {
					fixed++
				}
			}
			if fixed != 16*len(ft.Dirs) {
				t.Fatalf("%s flow %d: %d known bits, want 16 per packet", c, i, fixed)
			}
		}
	}
	if checked == 0 {
		t.Fatal("no direction checked")
	}
	// ICMP: each row's echo direction, and its type fixed
	col, _, _ := l.Field("icmp_type")
	k := 0
	for i, f := range flows["icmp"] {
		if FromMatrix(tf["icmp"][i].Matrix, cfg.Rows).Packets() < 2 {
			continue
		}
		ft := tp.Classes["icmp"].Flows[k]
		ctl, _ := tp.Control("icmp", k)
		k++
		if ft.Server != 0 || len(ft.Dirs) != min(len(f.Packets), cfg.Rows) || ctl.Known == nil {
			t.Fatalf("icmp flow %d: server %d, directions %q", i, ft.Server, ft.Dirs)
		}
		for r := range ft.Dirs {
			info, _ := t2t.ParseInfo(f.Packets[r].Link, f.Packets[r].Data)
			want := map[uint8]byte{8: '0', 0: '1'}[info.ICMPType]
			if want == 0 {
				want = '-'
			}
			if ft.Dirs[r] != want {
				t.Fatalf("icmp flow %d packet %d (type %d): direction %c", i, r, info.ICMPType, ft.Dirs[r])
			}
			if want == '-' {
				continue
			}
			v := 0
			for b := 0; b < 8; b++ {
				v = v<<1 | int(ctl.Known[r*ctl.Cols+col+b])
			}
			if v != int(info.ICMPType) {
				t.Fatalf("icmp flow %d packet %d: known type %d, want %d", i, r, v, info.ICMPType)
			}
		}
	}
	if k == 0 {
		t.Fatal("no icmp template checked")
	}
	bad := *tp
	bad.Classes = map[string]*ClassTemplates{"ssh": {Masks: tp.Classes["ssh"].Masks, Flows: append([]FlowTemplate(nil), tp.Classes["ssh"].Flows...)}}
	bad.Classes["ssh"].Flows[0].Dirs = "01x"
	if err := bad.Validate(); err == nil || !strings.Contains(err.Error(), "directions") {
		t.Fatalf("bad directions: %v", err)
	}
}

// TestDrawTrimmed: trimmed maps are the full maps cut one row after their
// flow's end (whole when the flow fills the templates), known bits
// included, drawn in the same order.
func TestDrawTrimmed(t *testing.T) {
	cfg := unet.Tiny()
	l := cfg.Layout.MustLayout()
	flows := map[string][]*pcapio.Flow{}
	fl, _, err := pcapio.AssembleFile("../testdata/captures/dns-200.pcap", pcapio.FlowOptions{MaxPackets: 64})
	if err != nil {
		t.Fatal(err)
	}
	flows["dns"] = fl
	tf, err := train.Matrices(flows, l, 64)
	if err != nil {
		t.Fatal(err)
	}
	tp, err := BuildTemplates(tf, l.Width(), 64, 2)
	if err != nil {
		t.Fatal(err)
	}
	n := len(tp.Classes["dns"].Flows)
	full, err := tp.Draw("dns", "", n, rand.New(rand.NewPCG(3, 3)))
	if err != nil {
		t.Fatal(err)
	}
	cut, err := tp.DrawTrimmed("dns", "", n, rand.New(rand.NewPCG(3, 3)))
	if err != nil {
		t.Fatal(err)
	}
	shorter := 0
	for i := range full {
		f, c := full[i], cut[i]
		if c.Rows < f.Rows {
			shorter++
		}
		k := c.Rows * c.Cols
		if c.Rows > f.Rows || !slices.Equal(c.Present, f.Present[:k]) || !slices.Equal(c.Known, f.Known[:k]) {
			t.Fatalf("map %d: trimmed to %d rows differs from the full map's first rows", i, c.Rows)
		}
		if slices.Contains(f.Present[k:], true) {
			t.Fatalf("map %d: trimmed to %d rows, the full map has packets after them", i, c.Rows)
		}
		if c.Rows < f.Rows && slices.Contains(c.Present[k-c.Cols:], true) {
			t.Fatalf("map %d: the last row of a trimmed map is not vacant", i)
		}
	}
	if shorter == 0 {
		t.Fatal("no map trimmed: test is vacuous")
	}
}
