// Kernels of t2t's device forward pass: one per prog.Kind.
// Built to PTX, which the driver JIT-compiles for the GPU it runs on:
//
//   nvcc -ptx -arch=compute_80 -O3 -o kernels.ptx kernels.cu   (go generate ./internal/cuda)
//
// Every argument is a pointer or a 64-bit scalar (long long, double):
// gorgonia.org/cu copies 8 bytes per kernel argument. Matrices are
// row-major float32; activations are channels-last [B, L, C].

#include <math.h>

#define BM 64
#define BN 64
#define BK 16

// A[m, k] of a product, or of a kernel-3 convolution's implicit im2col
// when L > 0: row m = (sample, position l), k = tap·Cin + c reads
// X[sample, l + tap - 1, c], zero past the sample's ends.
__device__ __forceinline__ float loadA(const float* A, long long m, long long k, long long M, long long K,
                                       long long L, long long Cin) {
	if (m >= M || k >= K) return 0.f;
	if (L <= 0) return A[m * K + k];
	long long tap = k / Cin, c = k - tap * Cin, q = m % L + tap - 1;
	if (q < 0 || q >= L) return 0.f;
	return A[(m + tap - 1) * Cin + c];
}

// C[M, N] = A[M, K]·W[K, N] + bias[N] (bias may be null). 64x64 tiles,
// 256 threads of 4x4 outputs each. L > 0 makes A a convolution's input
// [M/L, L, Cin] with K = 3·Cin.
extern "C" __global__ void gemm(const float* A, const float* W, const float* bias, float* C, long long M, long long K,
                                long long N, long long L, long long Cin) {
	__shared__ float As[BK][BM + 1];
	__shared__ float Ws[BK][BN];
	int tx = threadIdx.x % 16, ty = threadIdx.x / 16;
	long long m0 = (long long)blockIdx.y * BM, n0 = (long long)blockIdx.x * BN;
	float acc[4][4];
	for (int i = 0; i < 4; i++)
		for (int j = 0; j < 4; j++) acc[i][j] = 0.f;
	for (long long k0 = 0; k0 < K; k0 += BK) {
		for (int i = threadIdx.x; i < BM * BK; i += 256) {
			int mm = i / BK, kk = i % BK;
			As[kk][mm] = loadA(A, m0 + mm, k0 + kk, M, K, L, Cin);
		}
		for (int i = threadIdx.x; i < BK * BN; i += 256) {
			int kk = i / BN, nn = i % BN;
			long long k = k0 + kk, n = n0 + nn;
			Ws[kk][nn] = (k < K && n < N) ? W[k * N + n] : 0.f;
		}
		__syncthreads();
#pragma unroll
		for (int kk = 0; kk < BK; kk++) {
			float a[4], w[4];
#pragma unroll
			for (int i = 0; i < 4; i++) a[i] = As[kk][ty + 16 * i];
#pragma unroll
			for (int j = 0; j < 4; j++) w[j] = Ws[kk][tx + 16 * j];
#pragma unroll
			for (int i = 0; i < 4; i++)
#pragma unroll
				for (int j = 0; j < 4; j++) acc[i][j] = fmaf(a[i], w[j], acc[i][j]);
		}
		__syncthreads();
	}
	for (int i = 0; i < 4; i++) {
		long long m = m0 + ty + 16 * i;
		if (m >= M) continue;
		for (int j = 0; j < 4; j++) {
			long long n = n0 + tx + 16 * j;
			if (n < N) C[m * N + n] = acc[i][j] + (bias ? bias[n] : 0.f);
		}
	}
}

// blockSum adds v over the block (blockDim.x a power of two, at most 256).
__device__ double blockSum(double v, double* red) {
	red[threadIdx.x] = v;
	__syncthreads();
	for (int s = blockDim.x / 2; s > 0; s >>= 1) {
		if (threadIdx.x < s) red[threadIdx.x] += red[threadIdx.x + s];
		__syncthreads();
	}
	double r = red[0];
	__syncthreads();
	return r;
}

__device__ __forceinline__ float silu(float v) { return v / (1.f + expf(-v)); }

// GroupNorm of x [B, L, C]: block b·G + g normalises group g of sample b
// over its L·C/G values (sums in double), then scales by gamma and shifts
// by beta per channel; act applies SiLU.
extern "C" __global__ void groupnorm(const float* x, const float* gamma, const float* beta, float* y, long long L,
                                     long long C, long long G, double eps, long long act) {
	__shared__ double red[256];
	long long s = blockIdx.x / G, g = blockIdx.x % G, cg = C / G, n = L * cg;
	const float* xs = x + s * L * C + g * cg;
	float* ys = y + s * L * C + g * cg;
	double sum = 0;
	for (long long i = threadIdx.x; i < n; i += blockDim.x) sum += xs[(i / cg) * C + i % cg];
	double mean = blockSum(sum, red) / n;
	double sq = 0;
	for (long long i = threadIdx.x; i < n; i += blockDim.x) {
		double d = xs[(i / cg) * C + i % cg] - mean;
		sq += d * d;
	}
	double sd = sqrt(blockSum(sq, red) / n + eps);
	for (long long i = threadIdx.x; i < n; i += blockDim.x) {
		long long at = (i / cg) * C + i % cg, c = g * cg + i % cg;
		float v = (float)((xs[at] - mean) / sd) * gamma[c] + beta[c];
		ys[at] = act ? silu(v) : v;
	}
}

// LayerNorm of each row of x [N, C].
extern "C" __global__ void layernorm(const float* x, const float* gamma, const float* beta, float* y, long long C,
                                     double eps) {
	__shared__ double red[256];
	const float* xr = x + (long long)blockIdx.x * C;
	float* yr = y + (long long)blockIdx.x * C;
	double sum = 0;
	for (long long j = threadIdx.x; j < C; j += blockDim.x) sum += xr[j];
	double mean = blockSum(sum, red) / C;
	double sq = 0;
	for (long long j = threadIdx.x; j < C; j += blockDim.x) sq += (xr[j] - mean) * (xr[j] - mean);
	double sd = sqrt(blockSum(sq, red) / C + eps);
	for (long long j = threadIdx.x; j < C; j += blockDim.x) yr[j] = (float)((xr[j] - mean) / sd) * gamma[j] + beta[j];
}

#define EACH(n) for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < (n); i += (long long)gridDim.x * blockDim.x)

extern "C" __global__ void silu_k(const float* x, float* y, long long n) {
	EACH(n) y[i] = silu(x[i]);
}

// y = a + scale·b
extern "C" __global__ void add(const float* a, const float* b, float* y, long long n, double scale) {
	float s = (float)scale;
	EACH(n) y[i] = a[i] + s * b[i];
}

// y[r, j] = a[r, j] + t[r / L, j] for a [N, C]
extern "C" __global__ void addrows(const float* a, const float* t, float* y, long long n, long long L, long long C) {
	EACH(n) {
		long long r = i / C, j = i % C;
		y[i] = a[i] + t[(r / L) * C + j];
	}
}

// y[N, C1+C2] = a[N, C1] next to b[N, C2]
extern "C" __global__ void concat(const float* a, const float* b, float* y, long long n, long long C1, long long C2) {
	EACH(n) {
		long long r = i / (C1 + C2), j = i % (C1 + C2);
		y[i] = j < C1 ? a[r * C1 + j] : b[r * C2 + j - C1];
	}
}

// Attention: block (query row r, head h) over T keys of its sample;
// q [N, C] (N = B·L), k and v [B, T, C]; dynamic shared memory holds T
// scores.
extern "C" __global__ void attention(const float* q, const float* k, const float* v, float* o, long long L,
                                     long long C, long long T, long long H, double scale) {
	extern __shared__ float sc[];
	long long r = blockIdx.x, h = blockIdx.y, s = r / L, d = C / H;
	const float* qr = q + r * C + h * d;
	for (long long u = threadIdx.x; u < T; u += blockDim.x) {
		const float* kr = k + (s * T + u) * C + h * d;
		float dot = 0.f;
		for (long long j = 0; j < d; j++) dot = fmaf(qr[j], kr[j], dot);
		sc[u] = (float)(dot * scale);
	}
	__syncthreads();
	float mx = -INFINITY;
	for (long long u = 0; u < T; u++) mx = fmaxf(mx, sc[u]);
	__syncthreads();
	for (long long u = threadIdx.x; u < T; u += blockDim.x) sc[u] = expf(sc[u] - mx);
	__syncthreads();
	double z = 0;
	for (long long u = 0; u < T; u++) z += sc[u];
	for (long long j = threadIdx.x; j < d; j += blockDim.x) {
		double acc = 0;
		for (long long u = 0; u < T; u++) acc += (double)sc[u] * v[(s * T + u) * C + h * d + j];
		o[r * C + h * d + j] = (float)(acc / z);
	}
}

// y[r, :] = table[ids[r], :]; ids are float32 token ids, checked on the host.
extern "C" __global__ void embed(const float* ids, const float* table, float* y, long long n, long long D) {
	EACH(n) y[i] = table[(long long)ids[i / D] * D + i % D];
}

// y[b, j] = mean over l of x[b, l, j] for x [B, L, C]
extern "C" __global__ void meanrows(const float* x, float* y, long long n, long long L, long long C) {
	EACH(n) {
		long long b = i / C, j = i % C;
		double sum = 0;
		for (long long l = 0; l < L; l++) sum += x[(b * L + l) * C + j];
		y[i] = (float)(sum / L);
	}
}
