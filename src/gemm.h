/* gemm.h — the fast kernels behind matmul_forward/matmul_backward (tensor.c).
 *
 * One product covers all three matmuls of a linear layer:
 *     D[i,j] = start[i,j] + sum_k A[i,k] * B[k,j]     D (M,Nc) row-major
 * where start is D itself (accumulate != 0), else bias[j] (bias != NULL), else 0.
 * A (M,K) and B (K,Nc) are read through a row and a column stride each, so a
 * transposed operand (weight^T, dout^T) needs no copy.
 *
 * Both kernels add the K products of every output element one by one, in the
 * order k = 0, 1, ..., K-1, starting from start[i,j]: exactly what the naive
 * loops of tensor.c do. So they agree with those loops, and with each other,
 * bit for bit, for any shape and any thread count (tests/test_gemm.c).
 */
#ifndef GPTLADDER_GEMM_H
#define GPTLADDER_GEMM_H

#include <stddef.h>

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
