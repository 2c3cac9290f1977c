//go:build !openblas

package unet

// BLAS names the matrix-product library of this build: gonum's pure Go
// BLAS (build with -tags openblas for OpenBLAS).
const BLAS = "go"
