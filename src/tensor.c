/* tensor.c — the ops of a GPT as forward/backward pairs, the optimiser and
 * the random numbers. Contracts and shape conventions are in tensor.h.
 *
 * Reading order: each op's forward, then its backward. Above every backward
 * loop the forward line it differentiates is quoted, and the gradient line is
 * written under it, so the derivative can be checked by eye.
 *
 * Speed without cleverness: inner loops run over contiguous memory so that
 * gcc -O3 vectorises them; OpenMP splits the outer loops so that each thread
 * writes its own slice (no atomics: the same thread count always gives the
 * same bits). The one optimised kernel, the blocked matmul, sits next to the
 * plain triple loop it is tested against.
 */
#include "tensor.h"
#include "util.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

/* ---- threads ---- */

/* Below this much work (roughly, multiply-adds or elements) a loop runs on one
 * thread: waking the other threads would cost more than the loop itself. This
 * matters for the tiny models of the tests and for sampling one token at a
 * time. The cut only decides who computes; every element is computed the same
 * way either side of it. */
#define PARALLEL_MIN_WORK 32768

void set_threads(int n) {
#ifdef _OPENMP
    omp_set_num_threads(n > 0 ? n : omp_get_num_procs());
#else
    (void)n;
#endif
}

int get_threads(void) {
#ifdef _OPENMP
    return omp_get_max_threads();
#else
    return 1;
#endif
}

/* ---- exp and tanh that vectorise ----
 *
 * glibc's expf and tanhf are accurate but are function calls, so a loop that
 * uses them runs one float at a time; GELU alone took half of a training step.
 * This expf is plain arithmetic that gcc vectorises (8 or 16 lanes):
 * write x = n ln2 + r with n an integer and |r| <= ln2/2, so exp(x) = 2^n exp(r);
 * exp(r) is a degree-7 polynomial (Cephes' coefficients), and 2^n is built
 * directly in the float's exponent bits. Relative error < 1e-7 (about one unit
 * in the last place) over the whole float range; tests/test_tensor.c checks it
 * against expf and tanhf. Inputs are clamped to [-87, 88], where expf neither
 * overflows nor underflows to a denormal; NaN stays NaN. */
#define EXP_MAX 88.0f
#define EXP_MIN -87.0f
#define ROUND_MAGIC 12582912.0f      /* 1.5 * 2^23: adding it rounds to an integer */
#define LOG2E 1.44269504088896341f
#define LN2_HI 0.693145751953125f    /* ln 2 split in two parts (Cody & Waite) so */
#define LN2_LO 1.428606765330187e-06f /* that x - n ln2 is exact for large n */

static inline float fast_expf(float x_in) {
    float x = x_in < EXP_MIN ? EXP_MIN : (x_in > EXP_MAX ? EXP_MAX : x_in);  /* (not fminf: it blocks vectorising) */
    x = x_in == x_in ? x : 0.0f;       /* a NaN computes exp(0), harmlessly; it is put back at the end */
    float n = (x * LOG2E + ROUND_MAGIC) - ROUND_MAGIC;        /* n = round(x / ln 2) */
    float r = (x - n * LN2_HI) - n * LN2_LO;                  /* |r| <= ln2 / 2 */
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * r * r + r + 1.0f;                                 /* exp(r) */
    union { int32_t i; float f; } two_n = {.i = ((int32_t)n + 127) << 23};  /* 2^n, n in [-126, 127] */
    return x_in == x_in ? p * two_n.f : x_in;                 /* NaN stays NaN */
}

/* tanh(u) = 1 - 2 / (exp(2u) + 1); absolute error < 2e-7 */
static inline float fast_tanhf(float u) {
    return 1.0f - 2.0f / (fast_expf(2.0f * u) + 1.0f);
}

float tensor_expf(float x) { return fast_expf(x); }
float tensor_tanhf(float x) { return fast_tanhf(x); }

/* ---- embedding: token + position ---- */

void embedding_forward(float *out, const int *tokens, const float *wte, const float *wpe,
                       int B, int T, int C) {
    #pragma omp parallel for collapse(2) if ((size_t)B * T * C > PARALLEL_MIN_WORK)
    for (int b = 0; b < B; b++) {
        for (int t = 0; t < T; t++) {
            float *o = out + ((size_t)b * T + t) * C;
            const float *we = wte + (size_t)tokens[b * T + t] * C;
            const float *pe = wpe + (size_t)t * C;
            for (int c = 0; c < C; c++) o[c] = we[c] + pe[c];
        }
    }
}

/* Channels are split between threads (each owns a band of columns of dwte and
 * dwpe), because two positions may hold the same token: splitting by position
 * would make two threads write the same row of dwte. */
#define CHANNEL_BLOCK 16

void embedding_backward(float *dwte, float *dwpe, const float *dout, const int *tokens,
                        int B, int T, int C) {
    int nblocks = (C + CHANNEL_BLOCK - 1) / CHANNEL_BLOCK;
    #pragma omp parallel for if ((size_t)B * T * C > PARALLEL_MIN_WORK)
    for (int blk = 0; blk < nblocks; blk++) {
        int c0 = blk * CHANNEL_BLOCK, c1 = c0 + CHANNEL_BLOCK < C ? c0 + CHANNEL_BLOCK : C;
        for (int n = 0; n < B * T; n++) {
            /* forward: out[n,c] = wte[tok,c] + wpe[t,c] */
            /* backward: dwte[tok,c] += dout[n,c];  dwpe[t,c] += dout[n,c] */
            const float *d = dout + (size_t)n * C;
            float *dw = dwte + (size_t)tokens[n] * C;
            float *dp = dwpe + (size_t)(n % T) * C;
            for (int c = c0; c < c1; c++) {
                dw[c] += d[c];
                dp[c] += d[c];
            }
        }
    }
}

/* ---- matmul: the reference triple loops ---- */

void matmul_forward_naive(float *out, const float *inp, const float *weight, const float *bias,
                          int N, int C, int OC) {
    #pragma omp parallel for
    for (int n = 0; n < N; n++) {
        for (int o = 0; o < OC; o++) {
            float acc = bias ? bias[o] : 0.0f;
            for (int c = 0; c < C; c++) acc += inp[(size_t)n * C + c] * weight[(size_t)o * C + c];
            out[(size_t)n * OC + o] = acc;
        }
    }
}

void matmul_backward_naive(float *dinp, float *dweight, float *dbias, const float *dout,
                           const float *inp, const float *weight, int N, int C, int OC) {
    /* forward: out[n,o] = bias[o] + sum_c inp[n,c] * weight[o,c] */
    if (dinp) {  /* dinp[n,c] += sum_o dout[n,o] * weight[o,c] */
        #pragma omp parallel for
        for (int n = 0; n < N; n++)
            for (int o = 0; o < OC; o++)
                for (int c = 0; c < C; c++)
                    dinp[(size_t)n * C + c] += dout[(size_t)n * OC + o] * weight[(size_t)o * C + c];
    }
    if (dweight) {  /* dweight[o,c] += sum_n dout[n,o] * inp[n,c] */
        #pragma omp parallel for
        for (int o = 0; o < OC; o++)
            for (int n = 0; n < N; n++)
                for (int c = 0; c < C; c++)
                    dweight[(size_t)o * C + c] += dout[(size_t)n * OC + o] * inp[(size_t)n * C + c];
    }
    if (dbias) {  /* dbias[o] += sum_n dout[n,o] */
        for (int o = 0; o < OC; o++)
            for (int n = 0; n < N; n++) dbias[o] += dout[(size_t)n * OC + o];
    }
}

/* ---- matmul: the blocked kernel ----
 *
 * All three products of a linear layer have the same shape once written as
 *     D[i,j] (+)= sum_k A[i,k] * Bm[k,j]      D (M,Nc), Bm (K,Nc) row-major
 * forward:  D = out  (N,OC),  A = inp      (N,C),  Bm = weight^T (C,OC)
 * dinp:     D = dinp (N,C),   A = dout     (N,OC), Bm = weight   (OC,C)
 * dweight:  D = dweight (OC,C), A = dout^T (OC,N), Bm = inp      (N,C)
 * A is read through two strides (row stride ars, column stride acs), so dout^T
 * needs no copy; only the forward copies weight^T once per call.
 *
 * The output is cut into tiles of TILE_M rows x TILE_N columns. One tile's
 * partial sums live in a small local array that the compiler keeps in vector
 * registers (TILE_M x TILE_N floats: 8 x 32 = 16 AVX-512 registers), while k
 * runs over the whole inner dimension: each step loads one row segment of Bm
 * (TILE_N floats, two or four vector loads), broadcasts TILE_M numbers of A,
 * and does TILE_M x TILE_N multiply-adds. Loads per flop fall by a factor of
 * ~TILE_M compared with the naive loop, which is what makes it fast.
 * Bm's panel (K x TILE_N floats) is reused by every row tile, from L2 cache.
 * Threads take whole tiles: every output element is written by one thread,
 * summed over k in the same order, so the result does not depend on the
 * thread count.
 */
#if defined(__AVX512F__)
#define TILE_M 8
#define TILE_N 32
#else
#define TILE_M 4   /* AVX2 has 16 vector registers: 4 x 32 floats = all of them */
#define TILE_N 16
#endif

/* One full TILE_M x TILE_N tile; the constant bounds let gcc unroll the i and
 * j loops and vectorise j. init: NULL (start from the existing D, i.e. +=), or
 * a bias row to start from (forward), or D is overwritten from 0 if zero_init. */
static void gemm_tile_full(float *D, int ldd, const float *A, size_t ars, size_t acs,
                           const float *Bm, int ldb, int K, const float *bias, int accumulate) {
    float acc[TILE_M][TILE_N];
    for (int i = 0; i < TILE_M; i++)
        for (int j = 0; j < TILE_N; j++)
            acc[i][j] = accumulate ? D[(size_t)i * ldd + j] : (bias ? bias[j] : 0.0f);
    for (int k = 0; k < K; k++) {
        const float *b = Bm + (size_t)k * ldb;
        for (int i = 0; i < TILE_M; i++) {
            float a = A[i * ars + k * acs];
            for (int j = 0; j < TILE_N; j++) acc[i][j] += a * b[j];
        }
    }
    for (int i = 0; i < TILE_M; i++)
        for (int j = 0; j < TILE_N; j++) D[(size_t)i * ldd + j] = acc[i][j];
}

/* The same for a ragged tile at the edge (m <= TILE_M rows, n <= TILE_N columns). */
static void gemm_tile_edge(float *D, int ldd, const float *A, size_t ars, size_t acs,
                           const float *Bm, int ldb, int K, const float *bias, int accumulate,
                           int m, int n) {
    float acc[TILE_M][TILE_N];
    for (int i = 0; i < m; i++)
        for (int j = 0; j < n; j++)
            acc[i][j] = accumulate ? D[(size_t)i * ldd + j] : (bias ? bias[j] : 0.0f);
    for (int k = 0; k < K; k++) {
        const float *b = Bm + (size_t)k * ldb;
        for (int i = 0; i < m; i++) {
            float a = A[i * ars + k * acs];
            for (int j = 0; j < n; j++) acc[i][j] += a * b[j];
        }
    }
    for (int i = 0; i < m; i++)
        for (int j = 0; j < n; j++) D[(size_t)i * ldd + j] = acc[i][j];
}

/* D (M,Nc) = [D or bias] + A (M,K) @ Bm (K,Nc), tiled and split across threads. */
static void gemm(float *D, const float *A, size_t ars, size_t acs, const float *Bm,
                 int M, int Nc, int K, const float *bias, int accumulate) {
    int mt = (M + TILE_M - 1) / TILE_M, nt = (Nc + TILE_N - 1) / TILE_N;
    #pragma omp parallel for collapse(2) schedule(static) if ((size_t)M * Nc * K > PARALLEL_MIN_WORK)
    for (int ti = 0; ti < mt; ti++) {
        for (int tj = 0; tj < nt; tj++) {
            int i0 = ti * TILE_M, j0 = tj * TILE_N;
            int m = M - i0 < TILE_M ? M - i0 : TILE_M;
            int n = Nc - j0 < TILE_N ? Nc - j0 : TILE_N;
            float *d = D + (size_t)i0 * Nc + j0;
            const float *a = A + i0 * ars;
            const float *bias_j = bias ? bias + j0 : NULL;
            if (m == TILE_M && n == TILE_N)
                gemm_tile_full(d, Nc, a, ars, acs, Bm + j0, Nc, K, bias_j, accumulate);
            else
                gemm_tile_edge(d, Nc, a, ars, acs, Bm + j0, Nc, K, bias_j, accumulate, m, n);
        }
    }
}

/* In 16x16 tiles: a tile's 16 source rows and 16 destination rows stay in
 * the cache while it is copied, where a plain column-by-column loop reads
 * each source line again for every column (4x slower at our sizes). */
#define TRANSPOSE_TILE 16
void transpose(float *dst, const float *src, int R, int Cn) {
    #pragma omp parallel for if ((size_t)R * Cn > PARALLEL_MIN_WORK)
    for (int r0 = 0; r0 < R; r0 += TRANSPOSE_TILE) {
        int r1 = r0 + TRANSPOSE_TILE < R ? r0 + TRANSPOSE_TILE : R;
        for (int c0 = 0; c0 < Cn; c0 += TRANSPOSE_TILE) {
            int c1 = c0 + TRANSPOSE_TILE < Cn ? c0 + TRANSPOSE_TILE : Cn;
            for (int c = c0; c < c1; c++)
                for (int r = r0; r < r1; r++) dst[(size_t)c * R + r] = src[(size_t)r * Cn + c];
        }
    }
}

void matmul_forward_wt(float *out, const float *inp, const float *weight_t, const float *bias,
                       int N, int C, int OC) {
    gemm(out, inp, (size_t)C, 1, weight_t, N, OC, C, bias, 0);
}

#ifdef LADDER_NAIVE_GEMM
/* `make bench-naive` builds the library with this: training runs on the
 * reference loops above instead of the blocked kernel, so that a profile shows
 * what the blocking buys. Never the default. (Sampling's matmul_forward_wt
 * keeps the kernel.) */
void matmul_forward(float *out, const float *inp, const float *weight, const float *bias,
                    int N, int C, int OC) {
    matmul_forward_naive(out, inp, weight, bias, N, C, OC);
}

void matmul_backward(float *dinp, float *dweight, float *dbias, const float *dout,
                     const float *inp, const float *weight, int N, int C, int OC) {
    matmul_backward_naive(dinp, dweight, dbias, dout, inp, weight, N, C, OC);
}
#else
void matmul_forward(float *out, const float *inp, const float *weight, const float *bias,
                    int N, int C, int OC) {
    /* weight is (OC,C); the kernel wants its rows along OC, so transpose once.
     * (OC*C floats, small next to the N*C*OC multiply-adds that follow.) */
    float *wT = malloc_or_die(sizeof(float) * (size_t)C * OC, "a transposed weight");
    transpose(wT, weight, OC, C);
    matmul_forward_wt(out, inp, wT, bias, N, C, OC);
    free(wT);
}

void matmul_backward(float *dinp, float *dweight, float *dbias, const float *dout,
                     const float *inp, const float *weight, int N, int C, int OC) {
    /* forward: out[n,o] = bias[o] + sum_c inp[n,c] * weight[o,c] */
    /* dinp[n,c] += sum_o dout[n,o] * weight[o,c]      (dout @ weight) */
    if (dinp) gemm(dinp, dout, (size_t)OC, 1, weight, N, C, OC, NULL, 1);
    /* dweight[o,c] += sum_n dout[n,o] * inp[n,c]      (dout^T @ inp) */
    if (dweight) gemm(dweight, dout, 1, (size_t)OC, inp, OC, C, N, NULL, 1);
    /* dbias[o] += sum_n dout[n,o]; threads own bands of columns */
    if (dbias) {
        int nblocks = (OC + CHANNEL_BLOCK - 1) / CHANNEL_BLOCK;
        #pragma omp parallel for if ((size_t)N * OC > PARALLEL_MIN_WORK)
        for (int blk = 0; blk < nblocks; blk++) {
            int o0 = blk * CHANNEL_BLOCK, o1 = o0 + CHANNEL_BLOCK < OC ? o0 + CHANNEL_BLOCK : OC;
            for (int n = 0; n < N; n++)
                for (int o = o0; o < o1; o++) dbias[o] += dout[(size_t)n * OC + o];
        }
    }
}
#endif

/* ---- layer normalisation ---- */

void layernorm_forward(float *out, float *mean, float *rstd, const float *inp,
                       const float *weight, const float *bias, int N, int C) {
    #pragma omp parallel for if ((size_t)N * C > PARALLEL_MIN_WORK)
    for (int n = 0; n < N; n++) {
        const float *x = inp + (size_t)n * C;
        float m = 0.0f;
        for (int c = 0; c < C; c++) m += x[c];
        m /= C;
        float v = 0.0f;  /* biased variance, as PyTorch's LayerNorm */
        for (int c = 0; c < C; c++) v += (x[c] - m) * (x[c] - m);
        v /= C;
        float s = 1.0f / sqrtf(v + LAYERNORM_EPS);
        float *o = out + (size_t)n * C;
        for (int c = 0; c < C; c++) o[c] = (x[c] - m) * s * weight[c] + bias[c];
        mean[n] = m;
        rstd[n] = s;
    }
}

void layernorm_backward(float *dinp, float *dweight, float *dbias, const float *dout,
                        const float *inp, const float *weight, const float *mean,
                        const float *rstd, int N, int C) {
    /* forward: xhat = (x - mean) * rstd;  out = xhat * weight + bias
     * backward through the affine part: dxhat = dout * weight
     * and through the normalisation (mean and rstd depend on every x[c]):
     *   dx = rstd * (dxhat - mean_c(dxhat) - xhat * mean_c(dxhat * xhat)) */
    #pragma omp parallel for if ((size_t)N * C > PARALLEL_MIN_WORK)
    for (int n = 0; n < N; n++) {
        const float *x = inp + (size_t)n * C, *d = dout + (size_t)n * C;
        float m = mean[n], s = rstd[n];
        float mean_dxhat = 0.0f, mean_dxhat_xhat = 0.0f;
        for (int c = 0; c < C; c++) {
            float xhat = (x[c] - m) * s, dxhat = d[c] * weight[c];
            mean_dxhat += dxhat;
            mean_dxhat_xhat += dxhat * xhat;
        }
        mean_dxhat /= C;
        mean_dxhat_xhat /= C;
        float *dx = dinp + (size_t)n * C;
        for (int c = 0; c < C; c++) {
            float xhat = (x[c] - m) * s, dxhat = d[c] * weight[c];
            dx[c] += s * (dxhat - mean_dxhat - xhat * mean_dxhat_xhat);
        }
    }
    /* dweight[c] += sum_n dout[n,c] * xhat[n,c];  dbias[c] += sum_n dout[n,c]
     * (threads own bands of channels, so no two write the same dweight[c]) */
    int nblocks = (C + CHANNEL_BLOCK - 1) / CHANNEL_BLOCK;
    #pragma omp parallel for if ((size_t)N * C > PARALLEL_MIN_WORK)
    for (int blk = 0; blk < nblocks; blk++) {
        int c0 = blk * CHANNEL_BLOCK, c1 = c0 + CHANNEL_BLOCK < C ? c0 + CHANNEL_BLOCK : C;
        for (int n = 0; n < N; n++) {
            const float *x = inp + (size_t)n * C, *d = dout + (size_t)n * C;
            float m = mean[n], s = rstd[n];
            for (int c = c0; c < c1; c++) {
                dweight[c] += d[c] * (x[c] - m) * s;
                dbias[c] += d[c];
            }
        }
    }
}

/* ---- GELU (tanh approximation) ---- */

#define GELU_SCALE 0.7978845608028654f   /* sqrt(2 / pi) */
#define GELU_CUBIC 0.044715f

void gelu_forward(float *out, const float *inp, size_t n) {
    #pragma omp parallel for if (n * 16 > PARALLEL_MIN_WORK)
    for (size_t i = 0; i < n; i++) {
        float x = inp[i];
        out[i] = 0.5f * x * (1.0f + fast_tanhf(GELU_SCALE * (x + GELU_CUBIC * x * x * x)));
    }
}

void gelu_backward(float *dinp, const float *inp, const float *dout, size_t n) {
    /* forward: out = 0.5 x (1 + tanh(u)),  u = s (x + a x^3)
     * backward: dout/dx = 0.5 (1 + tanh u) + 0.5 x (1 - tanh^2 u) s (1 + 3 a x^2) */
    #pragma omp parallel for if (n * 16 > PARALLEL_MIN_WORK)
    for (size_t i = 0; i < n; i++) {
        float x = inp[i];
        float th = fast_tanhf(GELU_SCALE * (x + GELU_CUBIC * x * x * x));
        float local = 0.5f * (1.0f + th) +
                      0.5f * x * (1.0f - th * th) * GELU_SCALE * (1.0f + 3.0f * GELU_CUBIC * x * x);
        dinp[i] += local * dout[i];
    }
}

/* ---- causal multi-head self-attention ---- */

void attention_forward(float *out, float *preatt, float *att, const float *inp,
                       int B, int T, int C, int NH) {
    int hs = C / NH, C3 = 3 * C;
    float scale = 1.0f / sqrtf((float)hs);
    #pragma omp parallel for collapse(3) if ((size_t)B * T * T * C > PARALLEL_MIN_WORK)
    for (int b = 0; b < B; b++) {
        for (int t = 0; t < T; t++) {
            for (int h = 0; h < NH; h++) {
                const float *q = inp + ((size_t)b * T + t) * C3 + h * hs;
                float *pre = preatt + (((size_t)b * NH + h) * T + t) * T;
                float *a = att + (((size_t)b * NH + h) * T + t) * T;
                /* scores against every earlier-or-equal position t2 <= t */
                float maxv = -INFINITY;
                for (int t2 = 0; t2 <= t; t2++) {
                    const float *k = inp + ((size_t)b * T + t2) * C3 + C + h * hs;
                    float s = 0.0f;
                    for (int i = 0; i < hs; i++) s += q[i] * k[i];
                    s *= scale;
                    pre[t2] = s;
                    if (s > maxv) maxv = s;
                }
                /* softmax over t2 <= t; the future gets exactly zero weight
                 * (this is the causal mask: position t never sees t+1) */
                for (int t2 = 0; t2 <= t; t2++) a[t2] = fast_expf(pre[t2] - maxv);
                float sum = 0.0f;
                for (int t2 = 0; t2 <= t; t2++) sum += a[t2];
                for (int t2 = 0; t2 <= t; t2++) a[t2] /= sum;
                for (int t2 = t + 1; t2 < T; t2++) a[t2] = pre[t2] = 0.0f;
                /* out = sum_t2 att[t2] * v[t2] */
                float *o = out + ((size_t)b * T + t) * C + h * hs;
                for (int i = 0; i < hs; i++) o[i] = 0.0f;
                for (int t2 = 0; t2 <= t; t2++) {
                    const float *v = inp + ((size_t)b * T + t2) * C3 + 2 * C + h * hs;
                    for (int i = 0; i < hs; i++) o[i] += a[t2] * v[i];
                }
            }
        }
    }
}

/* Parallel over (batch, head): everything one (b, h) pair writes — its slices
 * of dq, dk, dv at every position, and its rows of dpreatt/datt — belongs to
 * it alone, so the threads never touch the same float. */
void attention_backward(float *dinp, float *dpreatt, float *datt, const float *dout,
                        const float *inp, const float *att, int B, int T, int C, int NH) {
    int hs = C / NH, C3 = 3 * C;
    float scale = 1.0f / sqrtf((float)hs);
    #pragma omp parallel for collapse(2) if ((size_t)B * T * T * C > PARALLEL_MIN_WORK)
    for (int b = 0; b < B; b++) {
        for (int h = 0; h < NH; h++) {
            for (int t = 0; t < T; t++) {
                const float *a = att + (((size_t)b * NH + h) * T + t) * T;
                float *da = datt + (((size_t)b * NH + h) * T + t) * T;
                float *dpre = dpreatt + (((size_t)b * NH + h) * T + t) * T;
                const float *d = dout + ((size_t)b * T + t) * C + h * hs;
                /* forward: o = sum_t2 a[t2] v[t2]
                 * backward: da[t2] = d . v[t2];  dv[t2] += a[t2] d */
                for (int t2 = 0; t2 <= t; t2++) {
                    const float *v = inp + ((size_t)b * T + t2) * C3 + 2 * C + h * hs;
                    float *dv = dinp + ((size_t)b * T + t2) * C3 + 2 * C + h * hs;
                    float s = 0.0f;
                    for (int i = 0; i < hs; i++) {
                        s += d[i] * v[i];
                        dv[i] += a[t2] * d[i];
                    }
                    da[t2] = s;
                }
                /* forward: a = softmax(pre)
                 * backward: dpre[t3] = a[t3] (da[t3] - sum_t2 a[t2] da[t2]) */
                float dot = 0.0f;
                for (int t2 = 0; t2 <= t; t2++) dot += a[t2] * da[t2];
                for (int t2 = 0; t2 <= t; t2++) dpre[t2] = a[t2] * (da[t2] - dot);
                /* forward: pre[t2] = scale * q . k[t2]
                 * backward: dq += scale dpre[t2] k[t2];  dk[t2] += scale dpre[t2] q */
                const float *q = inp + ((size_t)b * T + t) * C3 + h * hs;
                float *dq = dinp + ((size_t)b * T + t) * C3 + h * hs;
                for (int t2 = 0; t2 <= t; t2++) {
                    const float *k = inp + ((size_t)b * T + t2) * C3 + C + h * hs;
                    float *dk = dinp + ((size_t)b * T + t2) * C3 + C + h * hs;
                    float g = scale * dpre[t2];
                    for (int i = 0; i < hs; i++) {
                        dq[i] += g * k[i];
                        dk[i] += g * q[i];
                    }
                }
            }
        }
    }
}

void attention_forward_one(float *out, float *att, const float *q, const float *kcache,
                           const float *vcache, int ld, int T, int C, int NH) {
    int hs = C / NH;
    float scale = 1.0f / sqrtf((float)hs);
    for (int h = 0; h < NH; h++) {
        float *a = att + (size_t)h * T;
        const float *qh = q + h * hs;
        float maxv = -INFINITY;
        for (int t2 = 0; t2 < T; t2++) {  /* every cached position is in the past */
            const float *k = kcache + (size_t)t2 * ld + h * hs;
            float s = 0.0f;
            for (int i = 0; i < hs; i++) s += qh[i] * k[i];
            a[t2] = s * scale;
            if (a[t2] > maxv) maxv = a[t2];
        }
        for (int t2 = 0; t2 < T; t2++) a[t2] = fast_expf(a[t2] - maxv);
        float sum = 0.0f;
        for (int t2 = 0; t2 < T; t2++) sum += a[t2];
        float *o = out + h * hs;
        for (int i = 0; i < hs; i++) o[i] = 0.0f;
        for (int t2 = 0; t2 < T; t2++) {
            const float *v = vcache + (size_t)t2 * ld + h * hs;
            float w = a[t2] / sum;
            for (int i = 0; i < hs; i++) o[i] += w * v[i];
        }
    }
}

/* ---- zeroing a gradient buffer ---- */

void zero_floats(float *x, size_t n) {
    #pragma omp parallel for schedule(static) if (n > PARALLEL_MIN_WORK)
    for (size_t i = 0; i < n; i++) x[i] = 0.0f;
}

/* ---- residual connection ---- */

void residual_forward(float *out, const float *a, const float *b, size_t n) {
    #pragma omp parallel for if (n > PARALLEL_MIN_WORK)
    for (size_t i = 0; i < n; i++) out[i] = a[i] + b[i];
}

void residual_backward(float *da, float *db, const float *dout, size_t n) {
    /* forward: out = a + b;  backward: the gradient flows to both unchanged */
    #pragma omp parallel for if (n > PARALLEL_MIN_WORK)
    for (size_t i = 0; i < n; i++) {
        da[i] += dout[i];
        db[i] += dout[i];
    }
}

/* ---- softmax + cross-entropy ---- */

/* probs[0..V) = softmax(logits[0..V)), shifted by the max for stability */
static void softmax_row(float *probs, const float *logits, int V) {
    float maxv = -INFINITY;
    for (int v = 0; v < V; v++) maxv = fmaxf(maxv, logits[v]);
    for (int v = 0; v < V; v++) probs[v] = fast_expf(logits[v] - maxv);
    float sum = 0.0f;
    for (int v = 0; v < V; v++) sum += probs[v];
    for (int v = 0; v < V; v++) probs[v] /= sum;
}

float crossentropy_forward(float *probs, float *losses, const float *logits,
                           const int *targets, const float *weights, int N, int V, int Vp) {
    #pragma omp parallel for if ((size_t)N * V > PARALLEL_MIN_WORK)
    for (int n = 0; n < N; n++) {
        float *p = probs + (size_t)n * Vp;
        softmax_row(p, logits + (size_t)n * Vp, V);
        for (int v = V; v < Vp; v++) p[v] = 0.0f;
        if (weights && weights[n] == 0.0f) { losses[n] = 0.0f; continue; }
        losses[n] = -logf(p[targets[n]]);
    }
    /* the weighted mean, summed serially in a fixed order */
    double num = 0.0, den = 0.0;
    for (int n = 0; n < N; n++) {
        double w = weights ? weights[n] : 1.0;
        num += w * losses[n];
        den += w;
    }
    return den > 0.0 ? (float)(num / den) : 0.0f;
}

void crossentropy_backward(float *dlogits, const float *probs, const int *targets,
                           const float *weights, float dloss, int N, int V, int Vp) {
    (void)Vp;
    double den = 0.0;
    for (int n = 0; n < N; n++) den += weights ? weights[n] : 1.0;
    if (den == 0.0) return;
    /* forward: loss = sum_n w[n] (-log p[n, y_n]) / sum(w),  p = softmax(logits)
     * backward: dlogits[n,v] = dloss w[n] / sum(w) (p[n,v] - [v == y_n]) */
    #pragma omp parallel for if ((size_t)N * V > PARALLEL_MIN_WORK)
    for (int n = 0; n < N; n++) {
        float scale = dloss * (float)((weights ? weights[n] : 1.0) / den);
        if (scale == 0.0f) continue;
        const float *p = probs + (size_t)n * Vp;
        float *d = dlogits + (size_t)n * Vp;
        for (int v = 0; v < V; v++) d[v] += scale * p[v];
        d[targets[n]] -= scale;
    }
}

/* ---- log-probability of chosen tokens ---- */

void logprob_forward(float *logp, const float *logits, const int *tokens, float temperature,
                     int N, int V, int Vp) {
    #pragma omp parallel for if ((size_t)N * V > PARALLEL_MIN_WORK)
    for (int n = 0; n < N; n++) {
        const float *z = logits + (size_t)n * Vp;
        float maxv = -INFINITY;
        for (int v = 0; v < V; v++) maxv = fmaxf(maxv, z[v] / temperature);
        float sum = 0.0f;
        for (int v = 0; v < V; v++) sum += fast_expf(z[v] / temperature - maxv);
        logp[n] = z[tokens[n]] / temperature - maxv - logf(sum);
    }
}

void logprob_backward(float *dlogits, const float *dlogp, const float *logits, const int *tokens,
                      float temperature, int N, int V, int Vp) {
    /* forward: logp = z_y/T - log sum_v exp(z_v/T)
     * backward: dz_v += dlogp / T ([v == y] - softmax(z/T)_v) */
    #pragma omp parallel for if ((size_t)N * V > PARALLEL_MIN_WORK)
    for (int n = 0; n < N; n++) {
        if (dlogp[n] == 0.0f) continue;
        const float *z = logits + (size_t)n * Vp;
        float *d = dlogits + (size_t)n * Vp;
        float maxv = -INFINITY;
        for (int v = 0; v < V; v++) maxv = fmaxf(maxv, z[v] / temperature);
        float sum = 0.0f;
        for (int v = 0; v < V; v++) sum += fast_expf(z[v] / temperature - maxv);
        float g = dlogp[n] / temperature;
        for (int v = 0; v < V; v++) d[v] -= g * fast_expf(z[v] / temperature - maxv) / sum;
        d[tokens[n]] += g;
    }
}

/* ---- optimisation ---- */

void adamw_update(float *params, const float *grads, float *m, float *v, size_t n,
                  const AdamWConfig *cfg, float lr, int t, int decay) {
    float b1 = cfg->beta1, b2 = cfg->beta2;
    float c1 = 1.0f - powf(b1, (float)t), c2 = 1.0f - powf(b2, (float)t);  /* bias corrections */
    float wd = decay ? cfg->weight_decay : 0.0f;
    #pragma omp parallel for if (n > PARALLEL_MIN_WORK)
    for (size_t i = 0; i < n; i++) {
        float g = grads[i];
        m[i] = b1 * m[i] + (1.0f - b1) * g;
        v[i] = b2 * v[i] + (1.0f - b2) * g * g;
        float mhat = m[i] / c1, vhat = v[i] / c2;
        params[i] -= lr * (mhat / (sqrtf(vhat) + cfg->eps) + wd * params[i]);
    }
}

/* The sum of squares is split into a fixed number of chunks whatever the
 * thread count, each summed in double, then the chunks are added in order:
 * the norm is bit-identical with 1 or 16 threads. */
#define NORM_CHUNKS 64

float grad_norm(const float *grads, size_t n) {
    double partial[NORM_CHUNKS];
    size_t chunk = (n + NORM_CHUNKS - 1) / NORM_CHUNKS;
    #pragma omp parallel for
    for (int k = 0; k < NORM_CHUNKS; k++) {
        size_t lo = (size_t)k * chunk, hi = lo + chunk < n ? lo + chunk : n;
        double s = 0.0;
        for (size_t i = lo; i < hi; i++) s += (double)grads[i] * grads[i];
        partial[k] = s;
    }
    double total = 0.0;
    for (int k = 0; k < NORM_CHUNKS; k++) total += partial[k];
    return (float)sqrt(total);
}

float grad_clip(float *grads, size_t n, float max_norm) {
    float norm = grad_norm(grads, n);
    if (max_norm > 0.0f && norm > max_norm) {
        float s = max_norm / norm;
        #pragma omp parallel for if (n > PARALLEL_MIN_WORK)
        for (size_t i = 0; i < n; i++) grads[i] *= s;
    }
    return norm;
}

float lr_cosine(int step, int total, int warmup, float max_lr, float min_lr) {
    if (step < warmup) return max_lr * (float)(step + 1) / (float)warmup;
    if (total <= warmup) return max_lr;
    float progress = (float)(step - warmup) / (float)(total - warmup);  /* 0 .. 1 */
    if (progress > 1.0f) progress = 1.0f;
    float cosine = 0.5f * (1.0f + cosf((float)M_PI * progress));      /* 1 .. 0 */
    return min_lr + (max_lr - min_lr) * cosine;
}

/* ---- random numbers ---- */

void rng_seed(Rng *r, uint64_t seed) {
    /* splitmix64 scrambles the seed so that 0, 1, 2... give unrelated streams
     * (and xorshift's state must never be 0) */
    uint64_t z = seed + 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    r->state = z ? z : 0x2545F4914F6CDD1Dull;
}

uint32_t rng_u32(Rng *r) {
    r->state ^= r->state >> 12;
    r->state ^= r->state << 25;
    r->state ^= r->state >> 27;
    return (uint32_t)((r->state * 0x2545F4914F6CDD1Dull) >> 32);
}

float rng_uniform(Rng *r) {
    return (float)(rng_u32(r) >> 8) / 16777216.0f;  /* 24 random bits: exact in a float */
}

float rng_normal(Rng *r) {
    float u1 = rng_uniform(r), u2 = rng_uniform(r);
    return sqrtf(-2.0f * logf(1.0f - u1)) * cosf(2.0f * (float)M_PI * u2);  /* 1-u1 > 0 */
}

int rng_below(Rng *r, int n) {
    return (int)(((uint64_t)rng_u32(r) * (uint64_t)n) >> 32);
}

void rng_shuffle(Rng *r, int *a, int n) {
    for (int i = n - 1; i > 0; i--) {
        int j = rng_below(r, i + 1), t = a[i];
        a[i] = a[j];
        a[j] = t;
    }
}

int sample_logits(Rng *r, const float *logits, int V, float temperature, int top_k) {
    int best = 0;
    for (int v = 1; v < V; v++) if (logits[v] > logits[best]) best = v;
    if (temperature <= 0.0f || top_k == 1) return best;
    /* With top-k, the cut-off is the k-th largest logit; a token is kept if
     * its logit beats the cut-off, or equals it and there is room left
     * (lower indices first). */
    char *keep = malloc_or_die((size_t)V, "the top-k mask");
    if (top_k > 0 && top_k < V) {
        memset(keep, 0, (size_t)V);
        for (int kept = 0; kept < top_k; kept++) {
            int arg = -1;
            for (int v = 0; v < V; v++)
                if (!keep[v] && (arg < 0 || logits[v] > logits[arg])) arg = v;
            keep[arg] = 1;
        }
    } else {
        memset(keep, 1, (size_t)V);
    }
    float maxv = logits[best] / temperature, sum = 0.0f;
    for (int v = 0; v < V; v++) if (keep[v]) sum += expf(logits[v] / temperature - maxv);
    float u = rng_uniform(r) * sum, cum = 0.0f;
    int last = best;
    for (int v = 0; v < V; v++) {
        if (!keep[v]) continue;
        cum += expf(logits[v] / temperature - maxv);
        last = v;
        if (u < cum) { free(keep); return v; }
    }
    free(keep);
    return last;  /* rounding left u at the very top */
}
