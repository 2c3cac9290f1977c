//go:build openblas

package unet

import (
	"math"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/gonum"
	"gonum.org/v1/netlib/blas/netlib"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// TestOpenBLAS: the openblas build gives gorgonia and tensor OpenBLAS, and
// its products agree with gonum's pure Go ones on a layer-sized product.
func TestOpenBLAS(t *testing.T) {
	if _, ok := G.WhichBLAS().(netlib.Implementation); !ok || BLAS != "openblas" {
		t.Fatalf("gorgonia uses %T", G.WhichBLAS())
	}
	if _, ok := tensor.WhichBLAS().(netlib.Implementation); !ok {
		t.Fatalf("tensor uses %T", tensor.WhichBLAS())
	}
	const m, n, k = 64, 96, 3264
	rng := rand.New(rand.NewPCG(1, 2))
	a, b := make([]float32, m*k), make([]float32, k*n)
	for i := range a {
		a[i] = float32(rng.NormFloat64())
	}
	for i := range b {
		b[i] = float32(rng.NormFloat64())
	}
	c1, c2 := make([]float32, m*n), make([]float32, m*n)
	netlib.Implementation{}.Sgemm(blas.NoTrans, blas.NoTrans, m, n, k, 1, a, k, b, n, 0, c1, n)
	gonum.Implementation{}.Sgemm(blas.NoTrans, blas.NoTrans, m, n, k, 1, a, k, b, n, 0, c2, n)
	for i := range c1 {
		if d := math.Abs(float64(c1[i] - c2[i])); d > 1e-3*(1+math.Abs(float64(c2[i]))) {
			t.Fatalf("value %d: openblas %g, gonum %g", i, c1[i], c2[i])
		}
	}
}
