/* gemm.h — the fast kernels behind matmul_forward/matmul_backward (tensor.c).
 *
 * One product covers all three matmuls of a linear layer:
 *     D[i,j] = start[i,j] + sum_k A[i,k] * B[k,j]     D (M,Nc) row-major
 * where start is D itself (accumulate != 0), else bias[j] (bias != NULL), else 0.
 * A (M,K) and B (K,Nc) are read through a row and a column stride each, so a
 * transposed operand (weight^T, dout^T) needs no copy.
 *
 * Both kernels add the K products of every output element one by one, in the
 * order k = 0, 1, ..., K-1, starting from start[i,j], each step one muladd
 * (below): exactly what the naive loops of tensor.c do. So they agree with
 * those loops, and with each other, bit for bit, for any shape and any thread
 * count (tests/test_gemm.c).
 */
#ifndef GPTLADDER_GEMM_H
#define GPTLADDER_GEMM_H

#include <math.h>
#include <stddef.h>

/* The one multiply-add of every matmul: c + a * b.
 *
 * Where the CPU has a fused multiply-add instruction (x86 since 2013's
 * Haswell, built with -march=native or x86-64-v3; every 64-bit ARM), it is
 * fmaf: the exact a * b + c rounded once, one instruction. Elsewhere (a build
 * with no -march) the product is rounded, then the sum: two roundings, two
 * instructions. So the last bits of a result depend on that choice, and on
 * nothing else (not the compiler, the vector width or the thread count).
 * The Makefile builds with -ffp-contract=off, so no compiler fuses anything
 * behind our back: muladd is the only place a fused operation happens. */
#if defined(__FMA__) || defined(__ARM_FEATURE_FMA) || defined(FP_FAST_FMAF)
#define GEMM_FMA 1
static inline float muladd(float a, float b, float c) { return fmaf(a, b, c); }
#else
#define GEMM_FMA 0
static inline float muladd(float a, float b, float c) { return c + a * b; }
#endif

/* SIMD_LANES(n) before a loop: "vectorise it, n lanes at a time" (OpenMP's
 * simd pragma, which needs no threads and no runtime). The kernels' inner
 * loops are written over plain float arrays, with muladd; this turns each
 * into one vector instruction per n columns. Without it gcc picks its own
 * preferred width (256 bits on many AVX-512 chips) and, for a loop of fmaf,
 * may give up and keep the sums in memory. */
#define GEMM_STR(x) #x
#define SIMD_LANES(n) _Pragma(GEMM_STR(omp simd simdlen(n)))

/* The packed kernel (Goto & van de Geijn; BLIS): copies A and B into panels
 * laid out in the order the micro-kernel reads them, then computes the output
 * MR x NR tiles from registers. For everything but a few rows. Uses two
 * packing buffers kept between calls (grown when a call needs more; see
 * gemm_release): call it from one thread at a time (it parallelises inside). */
void gemm_packed(float *D, const float *A, size_t ars, size_t acs, const float *B, size_t brs,
                 size_t bcs, int M, int Nc, int K, const float *bias, int accumulate);

/* The direct kernel: register tiles of D read A and B where they lie (B must
 * have unit column stride: B[k,j] = B[k*brs + j]). No packing, so it wins
 * when M is a handful of rows (sampling runs one row at a time). */
void gemm_direct(float *D, const float *A, size_t ars, size_t acs, const float *B, size_t brs,
                 int M, int Nc, int K, const float *bias, int accumulate);

/* Frees gemm_packed's buffers (a later call allocates them again). */
void gemm_release(void);

#endif
