package lora

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gorgonia.org/tensor"

	"t2t/internal/safetensors"
	"t2t/pcapio"
	"t2t/train"
	"t2t/unet"
)

// flowExamples encodes the first n flows of a capture for c, each with
// prompt.
func flowExamples(t *testing.T, c unet.Config, path string, n int, prompt []int) []train.Example {
	t.Helper()
	flows, _, err := pcapio.AssembleFile(path, pcapio.FlowOptions{MaxPackets: c.Rows})
	if err != nil {
		t.Fatal(err)
	}
	l, err := c.Layout.Layout()
	if err != nil {
		t.Fatal(err)
	}
	var ex []train.Example
	for _, f := range flows {
		if len(ex) == n {
			break
		}
		m, err := f.Matrix(l, c.Rows)
		if err != nil {
			t.Fatal(err)
		}
		if m.Rows < 2 {
			continue
		}
		x := m.AppendRowPlanes(nil, c.Rows)
		ex = append(ex, train.Example{X: x, Prompts: [][]int{prompt}})
	}
	if len(ex) == 0 {
		t.Fatalf("%s: no flows", path)
	}
	return ex
}

// TestTrainAdapter trains an adapter with a new prompt token on real
// flows of two classes, the base frozen: the base weights (and the token
// table but the new rows) stay bit for bit, up and the new rows move, and
// the loss falls.
func TestTrainAdapter(t *testing.T) {
	u := newModel(t, unet.Tiny(), tensor.Float32)
	vocab := unet.NewVocab()
	cfg := DefaultConfig()
	cfg.Tokens = []string{"newdns", "newssh"}
	s, err := New(u, "fewshot", cfg, 1)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Freeze(); err == nil {
		t.Fatal("freeze before AddTokens: no error")
	}
	ids, err := s.AddTokens(vocab)
	if err != nil {
		t.Fatal(err)
	}
	c := u.Config
	var ex []train.Example
	for i, class := range []string{"dns", "ssh"} {
		prompt, err := vocab.Tokenize(cfg.Tokens[i], c.MaxTokens, false)
		if err != nil {
			t.Fatal(err)
		}
		ex = append(ex, flowExamples(t, c, filepath.Join("..", "testdata", "captures", class+"-200.pcap"), 3, prompt)...)
	}
	before := snapshot(u.Params)
	restore, err := s.Freeze()
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Attach(); err != nil {
		t.Fatal(err)
	}
	tc := train.DefaultConfig()
	tc.Steps, tc.Batch, tc.Warmup, tc.CheckpointEvery, tc.LR, tc.Decay = 24, 2, 1, 0, 1e-2, "constant"
	tc.PromptDropout = 0
	tr, err := train.NewTrainer(u, tc, ex)
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	trained := map[string]bool{}
	for _, p := range tr.Trained() {
		trained[p.Name] = true
	}
	if len(trained) != len(s.Params())+1 || !trained[TokensParam] {
		t.Fatalf("training %d parameters, want the %d of the adapter and the token table", len(trained), len(s.Params()))
	}
	if err := tr.Run(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	restore()
	for i, p := range u.Params.List() {
		got := p.Float32s()
		for j := range got {
			row := -1
			if p.Name == TokensParam {
				row = j / c.ContextDim
			}
			if row == ids[0] || row == ids[1] {
				continue
			}
			if got[j] != before[i][j] {
				t.Fatalf("base weight %s[%d] changed: %g -> %g", p.Name, j, before[i][j], got[j])
			}
		}
	}
	emb := u.Params.Get(TokensParam).Float32s()
	var old []float32
	for i, p := range u.Params.List() {
		if p.Name == TokensParam {
			old = before[i]
		}
	}
	for _, id := range ids {
		if maxRelDiff(emb[id*c.ContextDim:(id+1)*c.ContextDim], old[id*c.ContextDim:(id+1)*c.ContextDim]) == 0 {
			t.Errorf("row of new token %d did not train", id)
		}
	}
	nonzero := 0
	for _, a := range s.Adapters {
		for _, v := range a.Up.Float32s() {
			if v != 0 {
				nonzero++
			}
		}
	}
	if nonzero == 0 {
		t.Fatal("every up is still zero after training")
	}
	l := tr.Losses
	first, last := mean(l[:6]), mean(l[len(l)-6:])
	t.Logf("loss %.4f -> %.4f (%d steps); %d adapter weights, base %d", first, last, len(l), s.Count(), u.Params.Count())
	if !(last < first) {
		t.Fatalf("loss did not fall: first steps %.4f, last %.4f: %v", first, last, l)
	}
}

func mean(x []float64) float64 {
	s := 0.0
	for _, v := range x {
		s += v
	}
	return s / float64(len(x))
}

// TestSaveLoad: a saved set loads onto the same base with the same
// tensors and output; another base, a truncated file and a file whose
// tensors do not fit its config are refused clearly.
func TestSaveLoad(t *testing.T) {
	dir := t.TempDir()
	u := newModel(t, micro(1), tensor.Float32)
	cfg := DefaultConfig()
	cfg.Rank = 2
	cfg.Tokens = []string{"novel"}
	s, err := New(u, "shelf", cfg, 4)
	if err != nil {
		t.Fatal(err)
	}
	randomizeUp(s, 3, 0.3)
	if _, err := s.AddTokens(unet.NewVocab()); err != nil {
		t.Fatal(err)
	}
	s.Extra = map[string]string{"profile": `{"classes":{}}`}
	path := filepath.Join(dir, "a.safetensors")
	if err := s.Save(path); err != nil {
		t.Fatal(err)
	}
	in := randomBatch(u.Config, 1, 8)
	s.Attach()
	want := output(t, u, in)
	s.Detach()

	// same base, rebuilt from the seed
	u2 := newModel(t, micro(1), tensor.Float32)
	s2, err := Load(path, u2)
	if err != nil {
		t.Fatal(err)
	}
	if s2.Extra["profile"] != s.Extra["profile"] || len(s2.Extra) != 1 {
		t.Fatalf("extra metadata %v, saved %v", s2.Extra, s.Extra)
	}
	if s2.Name != "shelf" || s2.Config.Rank != 2 || len(s2.Adapters) != len(s.Adapters) {
		t.Fatalf("loaded %s rank %d with %d adapters", s2.Name, s2.Config.Rank, len(s2.Adapters))
	}
	for i, p := range s2.params.List() {
		q := s.params.List()[i]
		if p.Name != q.Name || maxRelDiff(p.Float32s(), q.Float32s()) != 0 {
			t.Fatalf("tensor %s differs after the round trip", p.Name)
		}
	}
	if _, err := s2.AddTokens(unet.NewVocab()); err != nil {
		t.Fatal(err)
	}
	s2.Attach()
	if got := output(t, u2, in); maxRelDiff(got, want) != 0 {
		t.Fatal("loaded adapter gives another output")
	}

	// another base
	u3 := newModel(t, micro(2), tensor.Float32)
	_, err = Load(path, u3)
	if !errors.Is(err, unet.ErrWrongBase) || !strings.Contains(err.Error(), s.BaseFingerprint) || !strings.Contains(err.Error(), Fingerprint(u3)) {
		t.Fatalf("loading onto another base: %v", err)
	}
	t.Log(err)

	// truncated
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []int{4, 40, len(b) - 4} {
		tp := filepath.Join(dir, "trunc.safetensors")
		os.WriteFile(tp, b[:n], 0o644)
		if _, err := Load(tp, u2); err == nil || !strings.Contains(err.Error(), "bytes, want") {
			t.Fatalf("file cut at %d bytes: %v", n, err)
		}
	}

	// tensors of rank 2 under a config of rank 3
	ts, meta, err := safetensors.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	bad := cfg
	bad.Rank = 3
	cb, _ := bad.MarshalConfig()
	meta["lora.config"] = string(cb)
	wp := filepath.Join(dir, "rank.safetensors")
	if err := safetensors.Save(wp, ts, meta); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(wp, u2); err == nil || !strings.Contains(err.Error(), "has shape [") {
		t.Fatalf("wrong rank: %v", err)
	} else {
		t.Log(err)
	}

	// a missing tensor
	wp = filepath.Join(dir, "missing.safetensors")
	safetensors.Save(wp, ts[1:], meta)
	if _, err := Load(wp, u2); err == nil || !strings.Contains(err.Error(), "missing") {
		t.Fatalf("missing tensor: %v", err)
	}

	// not an adapter: a base checkpoint
	delete(meta, "format")
	safetensors.Save(wp, ts, meta)
	if _, err := Load(wp, u2); err == nil || !strings.Contains(err.Error(), "not an adapter") {
		t.Fatalf("not an adapter: %v", err)
	}
}
