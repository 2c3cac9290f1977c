//go:build openblas

package unet

// With the openblas build tag, gorgonia and tensor run their matrix
// products on OpenBLAS through gonum's cgo netlib binding (Debian:
// libopenblas-dev; build with CGO_LDFLAGS=-lopenblas). The default build
// stays pure Go.

import (
	"gonum.org/v1/netlib/blas/netlib"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

func init() {
	G.Use(netlib.Implementation{})
	tensor.Use(netlib.Implementation{})
}

// BLAS names the matrix-product library of this build.
const BLAS = "openblas"
