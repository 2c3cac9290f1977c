// Package gradcheck compares gorgonia's symbolic gradients with central
// finite differences, for the gradient tests of every neural layer.
package gradcheck

import (
	"fmt"
	"math"
	"math/rand/v2"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// Result is the worst mismatch found.
type Result struct {
	Checked  int     // coordinates compared
	MaxErr   float64 // largest |analytic - numeric| / max(1, |numeric|)
	Where    string  // node and index of the largest error
	Analytic float64
	Numeric  float64
}

// Check builds the scalar loss Σ y⊙R with a fixed random R, asks gorgonia
// for the gradient with respect to each node of wrt (float64 nodes whose
// values are the tensors in vals, which Check perturbs in place), and
// compares it with central differences of step h at up to perNode
// coordinates of each node. The graph must be float64.
func Check(g *G.ExprGraph, y *G.Node, wrt []*G.Node, vals []*tensor.Dense, rng *rand.Rand, perNode int, h float64) (Result, error) {
	var res Result
	n := y.Shape().TotalSize()
	r := make([]float64, n)
	for i := range r {
		r[i] = rng.NormFloat64()
	}
	rn := G.NewTensor(g, tensor.Float64, y.Dims(), G.WithShape(y.Shape()...), G.WithName("gradcheck.R"),
		G.WithValue(tensor.New(tensor.WithShape(y.Shape()...), tensor.WithBacking(r))))
	prod, err := G.HadamardProd(y, rn)
	if err != nil {
		return res, err
	}
	flat, err := G.Reshape(prod, tensor.Shape{n})
	if err != nil {
		return res, err
	}
	loss, err := G.Sum(flat)
	if err != nil {
		return res, err
	}
	if _, err := G.Grad(loss, wrt...); err != nil {
		return res, err
	}
	m := G.NewTapeMachine(g, G.BindDualValues(wrt...))
	defer m.Close()
	run := func() (float64, error) {
		m.Reset()
		if err := m.RunAll(); err != nil {
			return 0, err
		}
		return loss.Value().Data().(float64), nil
	}
	if _, err := run(); err != nil {
		return res, err
	}
	grads := make([][]float64, len(wrt))
	for i, w := range wrt {
		gv, err := w.Grad()
		if err != nil {
			return res, fmt.Errorf("gradcheck: no gradient for %s: %w", w.Name(), err)
		}
		grads[i] = append([]float64(nil), gv.Data().([]float64)...)
	}
	for i, v := range vals {
		data := v.Data().([]float64)
		idx := rng.Perm(len(data))
		if len(idx) > perNode {
			idx = idx[:perNode]
		}
		for _, k := range idx {
			old := data[k]
			data[k] = old + h
			lp, err := run()
			if err != nil {
				return res, err
			}
			data[k] = old - h
			lm, err := run()
			if err != nil {
				return res, err
			}
			data[k] = old
			num := (lp - lm) / (2 * h)
			e := math.Abs(grads[i][k]-num) / math.Max(1, math.Abs(num))
			res.Checked++
			if e > res.MaxErr || math.IsNaN(e) {
				res.MaxErr, res.Where = e, fmt.Sprintf("%s[%d]", wrt[i].Name(), k)
				res.Analytic, res.Numeric = grads[i][k], num
			}
		}
	}
	return res, nil
}
