package pipeline

import (
	"context"
	"fmt"

	"t2t"
	"t2t/controlnet"
	"t2t/train"
	"t2t/unet"
)

// DefaultMaxPackets is the longest flow Generate makes when
// Options.MaxPackets is 0.
const DefaultMaxPackets = 1024

// Length is a flow's length in a structure map: the rows up to its last
// present one.
func Length(c *controlnet.Control) int {
	for r := c.Rows - 1; r >= 0; r-- {
		for _, p := range c.Present[r*c.Cols : (r+1)*c.Cols] {
			if p {
				return r + 1
			}
		}
	}
	return 0
}

// Window returns rows [o, o+rows) of c as a structure map of rows rows,
// vacant past c's end, with c's known bits.
func Window(c *controlnet.Control, o, rows int) *controlnet.Control {
	w := &controlnet.Control{Rows: rows, Cols: c.Cols, Present: make([]bool, rows*c.Cols)}
	n := max(0, min(rows, c.Rows-o)) * c.Cols
	if n > 0 {
		copy(w.Present, c.Present[o*c.Cols:o*c.Cols+n])
	}
	if c.Known != nil {
		w.Known = make([]int8, rows*c.Cols)
		for i := range w.Known {
			w.Known[i] = -1
		}
		if n > 0 {
			copy(w.Known, c.Known[o*c.Cols:o*c.Cols+n])
		}
	}
	return w
}

// continueFlows makes each flow as long as its structure map says (at
// most maxRows packets), window after window: the model's window moves by
// half its rows (train.Stride), its first half known (the rows the
// previous window drew, one-hot, vacant cells included) and its second
// half started from the map's next rows, as a masked model is trained to
// continue (train.Windows). ms are the first windows, sampled already;
// a flow whose map fits the first window is returned as it is. Windows of
// the flows that need them are sampled together, batch by batch.
func continueFlows(ctx context.Context, p unet.Predictor, m *unet.Model, prompt string, so SampleOptions, ms []*t2t.Matrix, ctls []*controlnet.Control, maxRows int) ([]*t2t.Matrix, error) {
	c := m.UNet.Config
	R, st := c.Rows, train.Stride(c.Rows)
	full := make([]*t2t.Matrix, len(ms))
	length := make([]int, len(ms))
	for i, w := range ms {
		full[i] = w
		length[i] = min(Length(ctls[i]), maxRows)
		if length[i] > R {
			f := t2t.NewMatrix(w.Layout, length[i])
			copy(f.Bits, w.Bits)
			full[i] = f
		}
	}
	gen := so.gen // one graph per batch size for every window
	if gen == nil {
		var err error
		if gen, err = newDenoiser(p, so.Device); err != nil {
			return nil, err
		}
		defer gen.Close()
	}
	for k := 1; ; k++ {
		o := k * st
		var idx []int
		var starts [][]float32
		for i := range ms {
			if length[i] <= R || o+st >= length[i] {
				continue // fits, or already whole
			}
			x, err := StructureStart(Window(ctls[i], o, R), R, c.Cols)
			if err != nil {
				return nil, err
			}
			knownRows(x, full[i], o, st, c.Cols)
			idx = append(idx, i)
			starts = append(starts, x)
		}
		if len(idx) == 0 {
			return full, nil
		}
		wo := so
		wo.N, wo.Start, wo.Progress, wo.gen = len(idx), starts, nil, gen
		wo.Seed = so.Seed ^ uint64(k)*0x9e3779b97f4a7c15
		ws, err := Sample(ctx, p, m.Vocab, m.Noise, prompt, wo)
		if err != nil {
			return nil, fmt.Errorf("pipeline: window %d: %w", k, err)
		}
		for j, i := range idx {
			f := full[i]
			end := min(o+R, length[i])
			copy(f.Bits[(o+st)*f.Cols:end*f.Cols], ws[j].Bits[st*f.Cols:(end-o)*f.Cols])
		}
	}
}

// knownRows writes rows [o, o+n) of f into the first n rows of the model
// input x (rows of 3 planes of cols values) as known cells.
func knownRows(x []float32, f *t2t.Matrix, o, n, cols int) {
	for r := 0; r < n; r++ {
		row := x[r*3*cols : (r+1)*3*cols]
		for j, v := range f.Row(o + r) {
			row[j], row[cols+j], row[2*cols+j] = -1, -1, -1
			row[j+int(1-v)*cols] = 1 // 1: red, 0: green, -1: blue
		}
	}
}
