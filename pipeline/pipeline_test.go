package pipeline

import (
	"context"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"t2t"
	"t2t/controlnet"
	"t2t/evaluate"
	"t2t/internal/testmodel"
	"t2t/models"
	"t2t/pcapio"
	"t2t/sampler"
	"t2t/train"
	"t2t/unet"
)

// TestTransports counts the transports of real flows: each real flow is
// consistent, and a row carrying two transports breaks consistency.
func TestTransports(t *testing.T) {
	l := t2t.NetDiffusionSpec.MustLayout()
	var ms []*t2t.Matrix
	want := [3]int{}
	for k, c := range []string{"ssh", "dns", "icmp"} {
		flows, _, err := pcapio.AssembleFile("../testdata/captures/"+c+"-200.pcap", pcapio.FlowOptions{MaxPackets: 16})
		if err != nil {
			t.Fatal(err)
		}
		m, err := flows[0].Matrix(l, 16)
		if err != nil {
			t.Fatal(err)
		}
		ms = append(ms, m.Resize(16))
		want[k] = m.Rows
	}
	counts, one := Transports(ms)
	if counts != want {
		t.Fatalf("counts %v, want %v", counts, want)
	}
	for i, ok := range one {
		if !ok {
			t.Errorf("real flow %d not consistent", i)
		}
	}
	// add UDP header bits to an SSH row: two transports in one row
	c, _, _ := l.Field("udp_sport")
	ms[0].SetBit(0, c, 1)
	if _, one := Transports(ms[:1]); one[0] {
		t.Error("a row with TCP and UDP counted as consistent")
	}
}

// TestSplitByMix: counts sum to n, each within one of its exact share.
func TestSplitByMix(t *testing.T) {
	for _, c := range []struct {
		mix  map[string]int
		n    int
		want [3]int
	}{
		{map[string]int{"tcp": 11, "udp": 53}, 20, [3]int{3, 17, 0}},
		{map[string]int{"tcp": 21, "udp": 43}, 20, [3]int{7, 13, 0}},
		{map[string]int{"icmp": 5}, 3, [3]int{0, 0, 3}},
		{map[string]int{"tcp": 1, "udp": 1, "icmp": 1}, 4, [3]int{2, 1, 1}},
		{map[string]int{}, 4, [3]int{}},
	} {
		if got := SplitByMix(c.mix, c.n); got != c.want {
			t.Errorf("SplitByMix(%v, %d) = %v, want %v", c.mix, c.n, got, c.want)
		}
	}
	for n := 1; n < 50; n++ {
		mix := map[string]int{"tcp": 7, "udp": 41, "icmp": 3}
		got := SplitByMix(mix, n)
		if got[0]+got[1]+got[2] != n {
			t.Fatalf("n=%d: %v", n, got)
		}
		for k, w := range unet.TransportWords {
			d := float64(got[k]) - float64(n*mix[w])/51
			if d <= -1 || d >= 1 {
				t.Errorf("n=%d: %s %d", n, w, got[k])
			}
		}
	}
}

// TestGenerateTransportMix: with a model that knows the transport words,
// a class prompt is split over its profile's mix, deterministically; a
// prompt naming its transport, -transport none and a fixed transport are
// kept; a model without the words refuses a fixed transport.
func TestGenerateTransportMix(t *testing.T) {
	dir := testmodel.Tiny(t, "..")
	f, err := models.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	m, prof := f.Model, f.Profile
	prof.Classes["dns"].Transport = map[string]int{"tcp": 3, "udp": 5}
	gen := func(prompt, transport string) *Output {
		t.Helper()
		o, err := Generate(context.Background(), m, prompt, Options{Profile: prof, Transport: transport,
			SampleOptions: SampleOptions{N: 8, Steps: 2, Seed: 3, Batch: 4}})
		if err != nil {
			t.Fatal(err)
		}
		if len(o.Matrices) != 8 || len(o.Prompts) != 8 {
			t.Fatalf("%q: %d matrices, %d prompts", prompt, len(o.Matrices), len(o.Prompts))
		}
		return o
	}
	count := func(o *Output) map[string]int {
		c := map[string]int{}
		for _, p := range o.Prompts {
			c[p]++
		}
		return c
	}
	a := gen("dns", "")
	if c := count(a); c["dns tcp"] != 3 || c["dns udp"] != 5 {
		t.Errorf("mix: prompts %v, want 3 dns tcp and 5 dns udp", c)
	}
	b := gen("dns", "mix")
	for i := range a.Matrices {
		if a.Prompts[i] != b.Prompts[i] || !slices.Equal(a.Matrices[i].Bits, b.Matrices[i].Bits) {
			t.Fatalf("flow %d differs between two runs with the same seed", i)
		}
	}
	if c := count(gen("dns udp", "")); c["dns udp"] != 8 {
		t.Errorf("prompt with its transport: %v", c)
	}
	if c := count(gen("dns", "none")); c["dns"] != 8 {
		t.Errorf("none: %v", c)
	}
	if c := count(gen("type-1", "tcp")); c["type-1 tcp"] != 8 {
		t.Errorf("tcp: %v", c)
	}
	if _, err := Generate(context.Background(), m, "dns", Options{Transport: "sctp", SampleOptions: SampleOptions{N: 1, Steps: 1}}); err == nil {
		t.Error("transport sctp: no error")
	}
	m.Vocab = unet.NewVocab("dns", "ssh", "type-0", "type-1")
	if _, err := Generate(context.Background(), m, "dns", Options{Transport: "tcp", SampleOptions: SampleOptions{N: 1, Steps: 1}}); err == nil {
		t.Error("fixed transport on a model without transport words: no error")
	}
}

// TestGenerateWithTemplates: a ControlNet with templates steers each flow
// with a real flow's structure of the prompt's class and of the transport
// its group asks; an untrained ControlNet leaves the samples those of the
// model alone.
func TestGenerateWithTemplates(t *testing.T) {
	dir := testmodel.Tiny(t, "..")
	f, err := models.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	m, prof := f.Model, f.Profile
	prof.Classes["dns"].Transport = map[string]int{"tcp": 1, "udp": 3}
	cfg := m.UNet.Config
	l := cfg.Layout.MustLayout()
	flows := captureFlows(t, cfg.Rows, "dns", "ssh")
	// a TCP "dns" flow, so that the class has both transports
	flows["dns"] = append(flows["dns"], flows["ssh"][0])
	cn, err := controlnet.New(m.UNet, 1)
	if err != nil {
		t.Fatal(err)
	}
	tf, err := train.Matrices(flows, l, cfg.Rows)
	if err != nil {
		t.Fatal(err)
	}
	if cn.Templates, err = controlnet.BuildTemplates(tf, l.Width(), cfg.Rows, 2); err != nil {
		t.Fatal(err)
	}
	opt := Options{Profile: prof, SampleOptions: SampleOptions{N: 8, Steps: 2, Seed: 4, Batch: 4}}
	base, err := Generate(context.Background(), m, "dns", opt)
	if err != nil {
		t.Fatal(err)
	}
	opt.Predictor = cn
	o, err := Generate(context.Background(), m, "dns", opt)
	if err != nil {
		t.Fatal(err)
	}
	if len(o.Controls) != 8 {
		t.Fatalf("%d controls for 8 flows", len(o.Controls))
	}
	for i, c := range o.Controls {
		want := strings.TrimPrefix(o.Prompts[i], "dns ")
		if got := c.Transport(l); got != want {
			t.Errorf("flow %d, prompt %q: template of transport %q", i, o.Prompts[i], got)
		}
		if !slices.Equal(o.Matrices[i].Bits, base.Matrices[i].Bits) {
			t.Fatalf("flow %d: an untrained ControlNet changed the sample", i)
		}
	}
	cn.Templates = nil
	if _, err := Generate(context.Background(), m, "dns", opt); err == nil {
		t.Fatal("ControlNet without templates or controls: no error")
	}
}

// TestMaskedTemplates: a masked model started from the structures of real
// flows (Options.Templates) gives flows with exactly those structures:
// every cell a template says is vacant is vacant, every other is a bit,
// and the server port sits in the port field of each packet's direction
// as in the real flow.
func TestMaskedTemplates(t *testing.T) {
	dir := t.TempDir()
	if err := testmodel.BuildProcess("..", dir, 20, sampler.Mask); err != nil {
		t.Fatal(err)
	}
	f, err := models.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	m := f.Model
	if m.Noise.Process != sampler.Mask {
		t.Fatalf("process %q", m.Noise.Process)
	}
	cfg := m.UNet.Config
	l := cfg.Layout.MustLayout()
	flows := captureFlows(t, cfg.Rows, "dns", "ssh")
	tf, err := train.Matrices(flows, l, cfg.Rows)
	if err != nil {
		t.Fatal(err)
	}
	tp, err := controlnet.BuildTemplates(tf, cfg.Cols, cfg.Rows, 2)
	if err != nil {
		t.Fatal(err)
	}
	s, err := sampler.New("", m.Noise)
	if err != nil {
		t.Fatal(err)
	}
	for _, class := range []string{"dns", "ssh"} {
		opt := Options{Profile: f.Profile, Templates: tp, SampleOptions: SampleOptions{N: 4, Steps: 6, Seed: 2, Scheduler: s, Guidance: 2}}
		o, err := Generate(context.Background(), m, class, opt)
		if err != nil {
			t.Fatal(err)
		}
		if len(o.Controls) != 4 {
			t.Fatalf("%s: %d templates for 4 flows", class, len(o.Controls))
		}
		for i, c := range o.Controls {
			mat := o.Matrices[i]
			if c.Known == nil {
				t.Fatalf("%s flow %d: the template fixes no server port", class, i)
			}
			for k, present := range c.Present {
				if (mat.Bits[k] != -1) != present {
					t.Fatalf("%s flow %d: cell %d is %d where the template says present=%v", class, i, k, mat.Bits[k], present)
				}
				if c.Known[k] >= 0 && mat.Bits[k] != c.Known[k] {
					t.Fatalf("%s flow %d: cell %d is %d where the template fixes %d (the server port of the packet's direction)", class, i, k, mat.Bits[k], c.Known[k])
				}
			}
		}
	}
}

// captureFlows reads the committed captures of classes, each flow cut to
// rows packets.
func captureFlows(t *testing.T, rows int, classes ...string) map[string][]*pcapio.Flow {
	t.Helper()
	flows := map[string][]*pcapio.Flow{}
	for _, c := range classes {
		fl, _, err := pcapio.AssembleFile("../testdata/captures/"+c+"-200.pcap", pcapio.FlowOptions{MaxPackets: rows})
		if err != nil {
			t.Fatal(err)
		}
		flows[c] = fl
	}
	return flows
}

// TestLongFlows: with templates longer than the model's window, a masked
// model continues each flow window after window to its template's length
// (capped by MaxPackets): every cell keeps the template's structure and
// known bits over the whole flow, and repair makes a valid flow of it.
func TestLongFlows(t *testing.T) {
	dir := t.TempDir()
	if err := testmodel.BuildProcess("..", dir, 20, sampler.Mask); err != nil {
		t.Fatal(err)
	}
	f, err := models.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	m := f.Model
	cfg := m.UNet.Config
	l := cfg.Layout.MustLayout()
	const long = 96
	flows := captureFlows(t, long, "ssh", "http")
	tf, err := train.Matrices(flows, l, long)
	if err != nil {
		t.Fatal(err)
	}
	tp, err := controlnet.BuildTemplates(tf, cfg.Cols, long, 2)
	if err != nil {
		t.Fatal(err)
	}
	s, err := sampler.New("", m.Noise)
	if err != nil {
		t.Fatal(err)
	}
	for _, maxPackets := range []int{0, 40} {
		opt := Options{Profile: f.Profile, Templates: tp, MaxPackets: maxPackets, SampleOptions: SampleOptions{N: 4, Steps: 4, Seed: 3, Scheduler: s, Guidance: 2, Batch: 2}}
		o, err := Generate(context.Background(), m, "ssh", opt)
		if err != nil {
			t.Fatal(err)
		}
		longer := 0
		for i, c := range o.Controls {
			mat := o.Matrices[i]
			want := Length(c)
			if maxPackets > 0 {
				want = min(want, maxPackets)
			}
			if want <= cfg.Rows {
				continue
			}
			longer++
			if mat.Rows != want {
				t.Fatalf("flow %d: %d rows, its template %d (max %d)", i, mat.Rows, Length(c), maxPackets)
			}
			for k := range mat.Bits {
				if (mat.Bits[k] != -1) != c.Present[k] {
					t.Fatalf("flow %d: cell %d (row %d) is %d where the template says present=%v", i, k, k/cfg.Cols, mat.Bits[k], c.Present[k])
				}
				if c.Known != nil && c.Known[k] >= 0 && mat.Bits[k] != c.Known[k] {
					t.Fatalf("flow %d: cell %d (row %d) is %d where the template fixes %d", i, k, k/cfg.Cols, mat.Bits[k], c.Known[k])
				}
			}
		}
		if longer == 0 {
			t.Fatalf("max %d: no template longer than the %d-row window: test is vacuous", maxPackets, cfg.Rows)
		}
		w := filepath.Join(t.TempDir(), "long.pcap")
		if err := WritePcap(w, o.Packets); err != nil {
			t.Fatal(err)
		}
		c, err := evaluate.CheckFile(w)
		if err != nil {
			t.Fatal(err)
		}
		if c.Errors() != 0 {
			t.Fatalf("max %d: %d compliance problems: %v", maxPackets, c.Errors(), c.Problems)
		}
		most := 0
		for _, r := range o.Results {
			most = max(most, len(r.Packets))
		}
		if most <= cfg.Rows {
			t.Fatalf("max %d: the longest repaired flow has %d packets, the window %d", maxPackets, most, cfg.Rows)
		}
		t.Logf("max %d: %d flows longer than the window, longest repaired %d packets, %d packets in all", maxPackets, longer, most, c.Packets)
	}
}
