package train

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"t2t/unet"
	"testing"

	"gorgonia.org/tensor"

	"t2t"
	"t2t/pcapio"
	"t2t/sampler"
)

func smallTrain(steps int) Config {
	tc := DefaultConfig()
	tc.Steps, tc.Batch, tc.Warmup, tc.CheckpointEvery = steps, 2, 2, 0
	return tc
}

func weightsOf(ps *unet.Params) []float32 {
	var w []float32
	for _, p := range ps.List() {
		w = append(w, p.Float32s()...)
	}
	return w
}

// TestTrainResume: 4 steps in one run equal 2 steps, a checkpoint, a new
// trainer resumed from it, and 2 more steps, weight for weight.
func TestTrainResume(t *testing.T) {
	c := micro()
	ex := benchExamples(c, 5)
	u1, _ := unet.New(c, tensor.Float32)
	tr1, err := NewTrainer(u1, smallTrain(4), ex)
	if err != nil {
		t.Fatal(err)
	}
	if err := tr1.Run(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	u2, _ := unet.New(c, tensor.Float32)
	tc := smallTrain(4)
	tr2, _ := NewTrainer(u2, tc, ex)
	tr2.Dir = dir
	ctx, cancel := context.WithCancel(context.Background())
	if err := tr2.Run(ctx, func(p Progress) {
		if p.Step == 2 {
			cancel() // stopped by the user: Run saves a checkpoint
		}
	}); !errors.Is(err, context.Canceled) {
		t.Fatalf("stopped run: %v", err)
	}
	u3, _ := unet.New(c, tensor.Float32)
	tr3, _ := NewTrainer(u3, tc, ex)
	tr3.Dir = dir
	ok, err := tr3.Resume()
	if err != nil || !ok || tr3.Step != 2 {
		t.Fatalf("resume: %v %v at step %d", ok, err, tr3.Step)
	}
	if err := tr3.Run(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	a, b := weightsOf(u1.Params), weightsOf(u3.Params)
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("weight %d: %g straight, %g resumed", i, a[i], b[i])
		}
	}
	if len(tr3.Losses) != 4 || tr3.Losses[3] != tr1.Losses[3] {
		t.Fatalf("losses %v, straight %v", tr3.Losses, tr1.Losses)
	}
	// a checkpoint of another shape is refused
	c2 := micro()
	c2.Channels = []int{4, 4}
	u4, _ := unet.New(c2, tensor.Float32)
	tr4, _ := NewTrainer(u4, tc, ex)
	tr4.Dir = dir
	if _, err := tr4.Resume(); err == nil {
		t.Error("resume into another shape: no error")
	}
}

// TestNonFinite: a NaN in the data stops training with ErrNonFinite and
// leaves the weights as they were.
func TestNonFinite(t *testing.T) {
	c := micro()
	ex := benchExamples(c, 1)
	ex[0].X[3] = float32(math.NaN())
	u, _ := unet.New(c, tensor.Float32)
	before := weightsOf(u.Params)
	tr, _ := NewTrainer(u, smallTrain(3), ex)
	err := tr.Run(context.Background(), nil)
	if !errors.Is(err, ErrNonFinite) {
		t.Fatalf("error %v, want ErrNonFinite", err)
	}
	for i, w := range weightsOf(u.Params) {
		if w != before[i] {
			t.Fatalf("weight %d changed after a non-finite step", i)
		}
	}
}

// flowMatrix encodes the first rows packets of the first flow of a capture.
func flowMatrix(t testing.TB, path string, l *t2t.Layout, rows int) *t2t.Matrix {
	flows, _, err := pcapio.AssembleFile(path, pcapio.FlowOptions{MaxPackets: rows})
	if err != nil {
		t.Fatal(err)
	}
	enc := t2t.NewEncoder(l, t2t.EncoderOptions{VLAN: true, IPv6Payload: true})
	m := t2t.NewMatrix(l, 0)
	for _, p := range flows[0].Packets {
		enc.Append(m, p.Link, p.Data, p.Time)
	}
	return m
}

// presence is the share of rows (among non-vacant ones) whose block starts
// with a present bit.
func presence(m *t2t.Matrix, field string) float64 {
	col, _, _ := m.Layout.Field(field)
	n, k := 0, 0
	for r := 0; r < m.Rows; r++ {
		if m.RowVacant(r) {
			continue
		}
		n++
		if m.Bit(r, col) != -1 {
			k++
		}
	}
	if n == 0 {
		return 0
	}
	return float64(k) / float64(n)
}

// TestTinyOverfitTwoClasses trains the Tiny UNet on one DNS flow (UDP) and
// one SSH flow (TCP) and samples each prompt: the samples must carry their
// class's transport (UDP columns present and TCP vacant, or the reverse).
func TestTinyOverfitTwoClasses(t *testing.T) {
	if testing.Short() {
		t.Skip("trains for a while")
	}
	c := unet.Tiny()
	l := c.Layout.MustLayout()
	vocab := unet.NewVocab("dns", "ssh")
	var ex []Example
	for _, class := range []string{"dns", "ssh"} {
		m := flowMatrix(t, "../testdata/captures/"+class+"-200.pcap", l, c.Rows)
		x := m.AppendRowPlanes(nil, c.Rows)
		tok, _ := vocab.Tokenize(class, c.MaxTokens, false)
		ex = append(ex, Example{X: x, Prompts: [][]int{tok}})
	}
	u, _ := unet.New(c, tensor.Float32)
	tc := DefaultConfig()
	tc.Steps, tc.Batch, tc.LR, tc.Warmup, tc.PromptDropout, tc.CheckpointEvery = 800, 4, 3e-3, 20, 0.1, 0
	tr, err := NewTrainer(u, tc, ex)
	if err != nil {
		t.Fatal(err)
	}
	if err := tr.Run(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	// sample with the EMA weights
	for name, w := range tr.EMA() {
		copy(u.Params.Get(name).Float32s(), w)
	}
	first, last := tr.Losses[0], tr.Losses[len(tr.Losses)-1]
	t.Logf("loss %.4f -> %.4f", first, last)
	g := unet.NewGenerator(u)
	defer g.Close()
	for _, class := range []string{"dns", "ssh"} {
		tok, _ := vocab.Tokenize(class, c.MaxTokens, false)
		toks := append(append([]int(nil), tok...), tok...) // two samples
		f, err := g.DenoiseFunc(toks)
		if err != nil {
			t.Fatal(err)
		}
		s, _ := sampler.New("ddim", tc.Noise)
		x, err := sampler.Sample(context.Background(), s, 2*c.InputSize(), f, rand.New(rand.NewPCG(5, 5)), sampler.Options{Steps: 20, Guidance: 2})
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 2; i++ {
			m, err := t2t.MatrixFromRowPlanes(x[i*c.InputSize():(i+1)*c.InputSize()], c.Rows, l)
			if err != nil {
				t.Fatal(err)
			}
			udp, tcp := presence(m, "udp_sport"), presence(m, "tcp_sprt")

			t.Logf("%s sample %d: udp rows %.2f, tcp rows %.2f", class, i, udp, tcp)
			if class == "dns" && (udp < 0.9 || tcp > 0.1) || class == "ssh" && (tcp < 0.9 || udp > 0.1) {
				t.Errorf("%s sample %d: udp %.2f tcp %.2f: wrong protocol structure", class, i, udp, tcp)
			}
		}
	}
}
