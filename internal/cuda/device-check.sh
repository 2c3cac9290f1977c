#!/usr/bin/env bash
# The GPU check of t2t's device path, in two halves:
#
#   internal/cuda/device-check.sh build   (here: needs .ci/cuda-toolkit)
#   internal/cuda/device-check.sh run     (on the GPU machine, with .device/ carried)
#
# build compiles the two test binaries into .device/ (git-ignored): the
# kernels against the CPU reference (tag cuda, no gorgonia) and the
# embedded model's parity and speed (tag t2tcuda). They link only libc
# and the driver's libcuda.so.1, so they run on a machine with no Go and
# no CUDA toolkit. run executes them and writes the logs under $OUT (or
# .device/out).
set -euo pipefail
cd "$(dirname "$0")/../.."
case "${1:-}" in
build)
	mkdir -p .device
	go test -c -tags cuda -o .device/cuda.test ./internal/cuda
	go test -c -tags t2tcuda -o .device/pipeline.test ./pipeline
	for b in .device/*.test; do
		echo "$b: $(ldd "$b" | awk '{print $1}' | tr '\n' ' ')"
	done
	;;
run)
	out="${OUT:-.device/out}"
	mkdir -p "$out"
	nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv >"$out/gpu.txt" 2>&1 || true
	cat "$out/gpu.txt"
	# kernels against the CPU reference, bad input
	(cd internal/cuda && ../../.device/cuda.test -test.v -test.run 'TestOpsMatchCPU|TestBadInput') 2>&1 | tee "$out/kernels.txt"
	# the embedded model: predictions and flows against the CPU path
	(cd pipeline && ../.device/pipeline.test -test.v -test.run 'TestDeviceParity|TestProgramEmbedded') 2>&1 | tee "$out/parity.txt"
	# flows/s at batch 1, 256 and 4096, 20 steps and the fast setting
	(cd pipeline && ../.device/pipeline.test -test.run XXX -test.bench Device -test.benchtime 1x -device.batches "${BATCHES:-1,256,4096}") 2>&1 | tee "$out/bench.txt"
	;;
*)
	echo "usage: $0 build|run" >&2
	exit 2
	;;
esac
