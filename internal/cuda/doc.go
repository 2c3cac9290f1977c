// Package cuda runs t2t's model programs (t2t/internal/prog) on an NVIDIA
// GPU through gorgonia.org/cu: every operation is a kernel of
// kernels.cu, compiled to PTX (kernels.ptx, committed; the driver
// JIT-compiles it for the GPU at hand) and launched with the CUDA driver
// API alone, so that nothing but the driver's libcuda is linked.
//
// The device code is built with the cuda or t2tcuda build tag. Without
// either, the package keeps its API and every call reports
// ErrUnavailable. gorgonia has a cuda tag of its own that switches on its
// cuDNN engine, so a program that also uses the CPU model (every t2t
// command) is built with -tags t2tcuda; the cuda tag alone builds this
// package and its tests, which import no gorgonia.
package cuda

import (
	"errors"
	"sort"

	"t2t/internal/prog"
)

//go:generate nvcc -ptx -arch=compute_80 -O3 -o kernels.ptx kernels.cu

// ErrUnavailable is the error of a build without the device code.
var ErrUnavailable = errors.New("cuda: t2t was built without cuda (build with -tags t2tcuda; see the README)")

// Kinds lists a profile's kinds of operation, most time first.
func Kinds(prof map[prog.Kind]float64) []prog.Kind {
	var ks []prog.Kind
	for k := range prof {
		ks = append(ks, k)
	}
	sort.Slice(ks, func(i, j int) bool { return prof[ks[i]] > prof[ks[j]] })
	return ks
}
