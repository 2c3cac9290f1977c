package train

import (
	"math/rand/v2"
	"slices"
	"testing"

	"gorgonia.org/tensor"

	"t2t/sampler"
	"t2t/unet"
)

// TestWindows: real flows longer than the window give continuation
// windows at multiples of the stride, each the flow's own rows from its
// offset, its first half known, the last one reaching the flow's end, at
// most n per flow; short flows give none.
func TestWindows(t *testing.T) {
	cfg := unet.Tiny() // 8 rows: the committed flows are longer
	ds, err := LoadFlows("../testdata/captures", 200, 0, 2)
	if err != nil {
		t.Fatal(err)
	}
	prompts := map[string][][]int{}
	for _, c := range ds.Classes {
		prompts[c] = [][]int{{1}}
	}
	const n = 4
	ex, err := Windows(ds, cfg, prompts, 2, n)
	if err != nil {
		t.Fatal(err)
	}
	st := Stride(cfg.Rows)
	l := cfg.Layout.MustLayout()
	checked := 0
	for _, c := range ds.Classes {
		for _, f := range ds.Flows[c] {
			m, err := f.Matrix(l, len(f.Packets))
			if err != nil {
				t.Fatal(err)
			}
			if m.Rows <= cfg.Rows {
				continue
			}
			last := (m.Rows - cfg.Rows + st - 1) / st
			// find this flow's windows by content: rows at their offset
			var got []int
			for _, e := range ex {
				if e.Offset%st != 0 || e.Known != st || e.Offset == 0 {
					t.Fatalf("window at offset %d with %d known rows (stride %d)", e.Offset, e.Known, st)
				}
				if e.Offset+e.Matrix.Rows > m.Rows || e.Matrix.Rows > cfg.Rows {
					continue
				}
				if slices.Equal(e.Matrix.Bits, m.Bits[e.Offset*m.Cols:(e.Offset+e.Matrix.Rows)*m.Cols]) && e.Transport == unet.TransportWord(f.Key.Proto) {
					got = append(got, e.Offset)
				}
			}
			if len(got) == 0 {
				t.Fatalf("%s flow of %d packets: no window", c, m.Rows)
			}
			if !slices.Contains(got, last*st) {
				t.Fatalf("%s flow of %d packets: windows at %v, none at %d (the flow's end)", c, m.Rows, got, last*st)
			}
			checked++
		}
	}
	if checked == 0 {
		t.Fatal("no flow longer than the window")
	}
	flows := 0
	for _, fl := range ds.Flows {
		for _, f := range fl {
			if len(f.Packets) > cfg.Rows {
				flows++
			}
		}
	}
	if len(ex) > n*flows {
		t.Fatalf("%d windows for %d long flows, at most %d each", len(ex), flows, n)
	}
	if got := spread(10, 4); !slices.Equal(got, []int{3, 5, 7, 10}) {
		t.Errorf("spread(10, 4) = %v", got)
	}
	if got := spread(3, 4); !slices.Equal(got, []int{1, 2, 3}) {
		t.Errorf("spread(3, 4) = %v", got)
	}
}

// TestKnownRows: for the Mask process, a continuation window's known rows
// reach the model unmasked whatever the timestep, and the other rows are
// masked as usual.
func TestKnownRows(t *testing.T) {
	cfg := unet.Tiny()
	ds, err := LoadFlows("../testdata/captures", 200, 0, 2)
	if err != nil {
		t.Fatal(err)
	}
	prompts := map[string][][]int{}
	for _, c := range ds.Classes {
		prompts[c] = [][]int{unet.NullPrompt(cfg.MaxTokens)}
	}
	ex, err := Windows(ds, cfg, prompts, 2, 1)
	if err != nil || len(ex) == 0 {
		t.Fatal(err)
	}
	u, err := unet.New(cfg, tensor.Float32)
	if err != nil {
		t.Fatal(err)
	}
	tc := DefaultConfig()
	tc.Batch, tc.Steps = 4, 1
	tc.Noise.Process, tc.Noise.MaskCols = sampler.Mask, cfg.Cols
	tr, err := NewTrainer(u, tc, ex)
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	tr.rng = rand.New(rand.NewPCG(1, 2))
	n := cfg.InputSize()
	x, target := make([]float32, tc.Batch*n), make([]float32, tc.Batch*n)
	ts, tokens := make([]int, tc.Batch), make([]int, tc.Batch*cfg.MaxTokens)
	masked := 0
	for round := 0; round < 5; round++ {
		if err := tr.batch(x, target, nil, ts, tokens); err != nil {
			t.Fatal(err)
		}
		k := Stride(cfg.Rows) * 3 * cfg.Cols
		for b := 0; b < tc.Batch; b++ {
			if !slices.Equal(x[b*n:b*n+k], target[b*n:b*n+k]) {
				t.Fatalf("batch %d: the known rows are not the example's own (t=%d)", b, ts[b])
			}
			if !slices.Equal(x[b*n+k:(b+1)*n], target[b*n+k:(b+1)*n]) {
				masked++
			}
		}
	}
	if masked == 0 {
		t.Fatal("no row past the known ones was ever masked: test is vacuous")
	}
}
