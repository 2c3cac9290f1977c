package controlnet_test

import (
	"context"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"t2t/controlnet"
	"t2t/internal/testmodel"
	"t2t/models"
	"t2t/pcapio"
	"t2t/pipeline"
	"t2t/sampler"
	"t2t/train"
	"t2t/unet"
)

// TestTrainFollowsControl trains a Tiny ControlNet on real flows, the base
// frozen: the base weights stay bit for bit, the ControlNet learns to use
// the control (the loss with a flow's own structure map is lower than
// with another flow's), and sampling takes the control images (one per
// flow).
func TestTrainFollowsControl(t *testing.T) {
	base, err := models.Load(testmodel.TinySteps(t, "..", 300))
	if err != nil {
		t.Fatal(err)
	}
	u := base.Model.UNet
	cfg := u.Config
	n, _ := controlnet.New(u, 1)
	l := cfg.Layout.MustLayout()
	var ex []train.Example
	for _, c := range []string{"dns", "ssh"} {
		flows, _, err := pcapio.AssembleFile("../testdata/captures/"+c+"-200.pcap", pcapio.FlowOptions{MaxPackets: cfg.Rows})
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range flows[:4] {
			m, err := f.Matrix(l, cfg.Rows)
			if err != nil {
				t.Fatal(err)
			}
			x := m.AppendRowPlanes(nil, cfg.Rows)
			ex = append(ex, train.Example{X: x, Prompts: [][]int{unet.NullPrompt(cfg.MaxTokens)}})
		}
	}
	if err := controlnet.Examples(ex, cfg); err != nil {
		t.Fatal(err)
	}
	n.Freeze()
	before := map[string][]float32{}
	for _, p := range u.Params.List() {
		before[p.Name] = append([]float32(nil), p.Float32s()...)
	}
	tc := train.DefaultConfig()
	tc.Steps, tc.Batch, tc.Warmup, tc.CheckpointEvery, tc.LR = 300, 2, 1, 0, 2e-3
	tr, err := train.NewTrainer(n, tc, ex)
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	for _, p := range tr.Trained() {
		if !strings.HasPrefix(p.Name, controlnet.Prefix) {
			t.Fatalf("training base parameter %s", p.Name)
		}
	}
	if err := tr.Run(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	for _, p := range u.Params.List() {
		if !slices.Equal(p.Float32s(), before[p.Name]) {
			t.Fatalf("base parameter %s changed", p.Name)
		}
	}
	if !controlnet.ZeroMidTrained(n) {
		t.Fatal("zero layer did not train")
	}
	// no control for a ControlNet, or for a base: errors
	vocab := unet.NewVocab()
	if _, err := pipeline.Sample(context.Background(), n, vocab, tc.Noise, "", pipeline.SampleOptions{N: 1, Steps: 2}); err == nil {
		t.Fatal("sampling a ControlNet without control: no error")
	}
	ctl := [][]float32{ex[0].Control}
	if _, err := pipeline.Sample(context.Background(), u, vocab, tc.Noise, "", pipeline.SampleOptions{N: 1, Steps: 2, Control: ctl}); err == nil {
		t.Fatal("control for the base: no error")
	}
	ms, err := pipeline.Sample(context.Background(), n, vocab, tc.Noise, "", pipeline.SampleOptions{N: 3, Steps: 2, Control: [][]float32{ex[0].Control, ex[5].Control}, Guidance: 2})
	if err != nil || len(ms) != 3 {
		t.Fatalf("sampling with control: %v", err)
	}
	// the ControlNet uses its control: on the training flows, the loss
	// with each flow's own structure map is below the loss with another
	// flow's (a dns map for an ssh flow and the reverse)
	own, swapped := 0.0, 0.0
	sched, _ := sampler.NewSchedule(tc.Noise)
	net, err := unet.Compile(n, 1, true)
	if err != nil {
		t.Fatal(err)
	}
	defer net.Close()
	nrng := rand.New(rand.NewPCG(9, 9))
	for i, e := range ex {
		other := ex[(i+len(ex)/2)%len(ex)]
		for _, ts := range []int{100, 400, 700} {
			noise := make([]float32, len(e.X))
			for k := range noise {
				noise[k] = float32(nrng.NormFloat64())
			}
			xt, _ := sched.AddNoise(e.X, noise, ts)
			tg, _ := sched.Target(e.X, noise, ts)
			for _, ctl := range [][]float32{e.Control, other.Control} {
				if err := net.SetInputs(xt, []int{ts}, e.Prompts[0]); err != nil {
					t.Fatal(err)
				}
				net.SetTarget(tg)
				net.SetControl(ctl)
				if err := net.Run(); err != nil {
					t.Fatal(err)
				}
				if &ctl[0] == &e.Control[0] {
					own += net.LossValue()
				} else {
					swapped += net.LossValue()
				}
			}
		}
	}
	t.Logf("training loss %.4f -> %.4f", meanOf(tr.Losses[:10]), meanOf(tr.Losses[len(tr.Losses)-10:]))
	t.Logf("loss with the flows' own controls %.4f, with swapped controls %.4f", own, swapped)
	if !(own < 0.95*swapped) {
		t.Fatalf("own controls do not help: loss %.4f vs %.4f with swapped controls", own, swapped)
	}
	bad := []train.Example{{X: ex[0].X, Prompts: ex[0].Prompts}}
	if _, err := train.NewTrainer(n, tc, bad); err == nil {
		t.Fatal("example without control: no error")
	}
}

func meanOf(x []float64) float64 {
	s := 0.0
	for _, v := range x {
		s += v
	}
	return s / float64(len(x))
}
