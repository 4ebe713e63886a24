/* tensor.c — the ops of a GPT as forward/backward pairs, the optimiser and
 * the random numbers. Contracts and shape conventions are in tensor.h.
 *
 * Reading order: each op's forward, then its backward. Above every backward
 * loop the forward line it differentiates is quoted, and the gradient line is
 * written under it, so the derivative can be checked by eye.
 *
 * Speed without cleverness: inner loops run over contiguous memory so that
 * gcc -O3 vectorises them; OpenMP splits the outer loops so that each thread
 * writes its own slice (no atomics, and no sum split between threads: any
 * thread count gives the same bits). The matmuls' naive triple loops are here; the fast kernels that
 * replace them in training live in gemm.c and compute the very same bits.
 */
#include "tensor.h"
#include "gemm.h"
#include "util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
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

/* Between two parallel loops, OpenMP's idle threads wait for the next one by
 * spinning (libgomp: about 300,000 turns of a loop before they sleep). On an
 * idle machine that saves a few microseconds per loop. On a busy one it is a
 * disaster: a spinning thread takes the core its teammate needs, and every
 * loop waits for the one thread the system has paused. Measured on two cores
 * with other programs busy (notes/10-performance.md): `gpt1 pretrain --steps
 * 30` took 245 s with the spinning default and 18 s with
 * OMP_WAIT_POLICY=passive (threads sleep at once, and are woken per loop).
 * But sleeping at once costs an idle machine 17% of a training step and 4x
 * of cached sampling (a wake-up per loop), so the programs spin briefly
 * instead: GOMP_SPINCOUNT=3000 turns, then sleep. Idle, that is within 2% of
 * the spinning default; with a `yes` busy on one core it trains as fast as
 * passive (notes/10 has both tables).
 *
 * libgomp reads these variables once, while it is loaded, before main runs,
 * so a setenv in main comes too late. So every program that links this file
 * starts itself again, once, before main, with the variable set: the
 * constructor below runs after libgomp has loaded and before main, so nothing
 * has been printed, written or forked yet; exec keeps the process id, the open
 * files and the arguments. A setting the user made is kept (OMP_WAIT_POLICY
 * or GOMP_SPINCOUNT; OMP_WAIT_POLICY=active brings the long spin back).
 * libomp (clang's OpenMP) ignores GOMP_SPINCOUNT and keeps its own default. Not under a debugger (a
 * learner would see the program start twice) nor under valgrind (the new
 * program would run outside it). Linux only (/proc/self). */
#if defined(_OPENMP) && defined(__linux__)
/* 1 if a debugger is attached or valgrind is running us. */
static int being_watched(void) {
    const char *preload = getenv("LD_PRELOAD");
    if (preload && strstr(preload, "vgpreload")) return 1;
    FILE *f = fopen("/proc/self/status", "r");
    if (!f) return 0;
    char line[256];
    int tracer = 0;
    while (fgets(line, sizeof line, f))
        if (strncmp(line, "TracerPid:", 10) == 0) tracer = atoi(line + 10);
    fclose(f);
    return tracer != 0;
}

__attribute__((constructor)) static void restart_with_short_spin(void) {
    if (getenv("OMP_WAIT_POLICY") || getenv("GOMP_SPINCOUNT") || omp_get_num_procs() < 2 || being_watched()) return;
    FILE *f = fopen("/proc/self/cmdline", "rb");
    if (!f) return;
    char buf[65536];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    int complete = feof(f) && n > 0;
    fclose(f);
    if (!complete) return;  /* an unreadable or huge command line: keep spinning */
    buf[n] = '\0';
    char *argv[1024];
    int argc = 0;
    for (size_t i = 0; i < n && argc < 1023; i += strlen(buf + i) + 1) argv[argc++] = buf + i;
    argv[argc] = NULL;
    if (setenv("GOMP_SPINCOUNT", "3000", 1) != 0) return;
    execv("/proc/self/exe", argv);
    unsetenv("GOMP_SPINCOUNT");  /* exec failed: carry on as we were */
}
#endif

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
            for (int c = 0; c < C; c++) acc = muladd(inp[(size_t)n * C + c], weight[(size_t)o * C + c], acc);
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
                for (int c = 0; c < C; c++) {
                    float *d = &dinp[(size_t)n * C + c];
                    *d = muladd(dout[(size_t)n * OC + o], weight[(size_t)o * C + c], *d);
                }
    }
    if (dweight) {  /* dweight[o,c] += sum_n dout[n,o] * inp[n,c] */
        #pragma omp parallel for
        for (int o = 0; o < OC; o++)
            for (int n = 0; n < N; n++)
                for (int c = 0; c < C; c++) {
                    float *d = &dweight[(size_t)o * C + c];
                    *d = muladd(dout[(size_t)n * OC + o], inp[(size_t)n * C + c], *d);
                }
    }
    if (dbias) {  /* dbias[o] += sum_n dout[n,o] */
        for (int o = 0; o < OC; o++)
            for (int n = 0; n < N; n++) dbias[o] += dout[(size_t)n * OC + o];
    }
}

/* ---- matmul: the fast kernels (gemm.c) ----
 *
 * All three products of a linear layer have the same shape once written as
 *     D[i,j] (+)= sum_k A[i,k] * Bm[k,j]      D (M,Nc)
 * forward:  D = out  (N,OC),  A = inp      (N,C),  Bm = weight^T (C,OC)
 * dinp:     D = dinp (N,C),   A = dout     (N,OC), Bm = weight   (OC,C)
 * dweight:  D = dweight (OC,C), A = dout^T (OC,N), Bm = inp      (N,C)
 * gemm.c computes it from strides, so no operand is ever copied or transposed
 * here, and adds every element's products in the same order as the naive
 * loops above: the results are bit-identical to theirs.
 *
 * A product of a few rows (sampling: one) takes the direct kernel, which
 * reads B in place; packing B would cost as much as the product itself. */
#define GEMM_DIRECT_MAX_ROWS 24

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
    if (N <= GEMM_DIRECT_MAX_ROWS)
        gemm_direct(out, inp, (size_t)C, 1, weight_t, (size_t)OC, N, OC, C, bias, 0);
    else
        gemm_packed(out, inp, (size_t)C, 1, weight_t, (size_t)OC, 1, N, OC, C, bias, 0);
}

#ifdef LADDER_NAIVE_GEMM
/* `make bench-naive` builds the library with this: training runs on the
 * reference loops above instead of the fast kernels (gemm.c), so that a
 * profile shows what the kernels buy. Never the default. (Sampling's
 * matmul_forward_wt keeps the kernels.) */
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
    /* Bm[c,o] = weight[o,c]: row stride 1, column stride C */
    if (N <= GEMM_DIRECT_MAX_ROWS) {  /* the direct kernel needs weight^T in rows */
        float *wT = malloc_or_die(sizeof(float) * (size_t)C * OC, "a transposed weight");
        transpose(wT, weight, OC, C);
        matmul_forward_wt(out, inp, wT, bias, N, C, OC);
        free(wT);
    } else {
        gemm_packed(out, inp, (size_t)C, 1, weight, 1, (size_t)C, N, OC, C, bias, 0);
    }
}

void matmul_backward(float *dinp, float *dweight, float *dbias, const float *dout,
                     const float *inp, const float *weight, int N, int C, int OC) {
    /* forward: out[n,o] = bias[o] + sum_c inp[n,c] * weight[o,c] */
    /* dinp[n,c] += sum_o dout[n,o] * weight[o,c]      (dout @ weight) */
    if (dinp && N <= GEMM_DIRECT_MAX_ROWS)
        gemm_direct(dinp, dout, (size_t)OC, 1, weight, (size_t)C, N, C, OC, NULL, 1);
    else if (dinp)
        gemm_packed(dinp, dout, (size_t)OC, 1, weight, (size_t)C, 1, N, C, OC, NULL, 1);
    /* dweight[o,c] += sum_n dout[n,o] * inp[n,c]      (dout^T @ inp) */
    if (dweight) gemm_packed(dweight, dout, 1, (size_t)OC, inp, (size_t)C, 1, OC, C, N, NULL, 1);
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

void gelu_backward(float *dinp, const float *dout, const float *inp, size_t n) {
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

/* ---- causal multi-head self-attention ----
 *
 * The scores q.k of one query against all its keys are T dot products of
 * length hs. Written plainly (for each key: sum over i) each is a serial sum
 * that cannot use vector lanes. So each (batch, head) first copies its keys
 * (and, for backward, its values) into a transposed scratch kT[i][t2]; then
 * the dot products of consecutive key positions run side by side in the
 * lanes of a vector: lane t2 adds q[i] * k[t2][i] for i = 0, 1, ..., hs-1,
 * the very sum, in the very order, of the plain loop -- so the scores are the
 * same bits, only computed ATT_BLOCK at a time. Every multiply-add is gemm.h's
 * muladd (fused where the CPU can), as in the matmuls and the plain loops.
 * Parallel over (batch, head): everything one pair reads and writes is its own. */
#define ATT_LANES 8      /* channels per vector (AVX2 width; two NEON/SSE registers) */
#define ATT_BLOCK 32     /* key positions per step: two AVX-512 vectors, four AVX2 */

/* The head's slice x[t*stride + i] (i < hs, t < T) transposed into
 * xT[i*ld + t], with zeros for t in [T, ld) (ld is T rounded up to ATT_BLOCK). */
static void head_transposed(float *xT, int ld, const float *x, size_t stride, int T, int hs) {
    for (int i = 0; i < hs; i++)
        for (int t = 0; t < ld; t++) xT[(size_t)i * ld + t] = t < T ? x[(size_t)t * stride + i] : 0.0f;
}

/* dots[t2] = sum_i x[i] * yT[i*ld + t2] for t2 in [0, n) rounded up to
 * ATT_BLOCK (dots must have room); lane by lane the plain dot product. */
static void dots_across_positions(float *dots, const float *x, const float *yT, int ld, int hs, int n) {
    for (int t0 = 0; t0 < n; t0 += ATT_BLOCK) {
        float acc[ATT_BLOCK] = {0};
        for (int i = 0; i < hs; i++) {
            const float *y = yT + (size_t)i * ld + t0;
            SIMD_LANES(ATT_LANES)
            for (int j = 0; j < ATT_BLOCK; j++) acc[j] = muladd(x[i], y[j], acc[j]);
        }
        memcpy(dots + t0, acc, sizeof acc);
    }
}

/* y[i] += sum over t2 < n of (wscale * w[t2]) * x[t2*xs + i], for i < width
 * (a constant where it is called, so that acc stays in registers), the terms
 * added in ascending t2, as the plain loop adds them. */
static inline void weighted_sum_block(float *y, const float *w, float wscale, const float *x,
                                      size_t xs, int n, int width) {
    float acc[ATT_BLOCK];
    for (int j = 0; j < width; j++) acc[j] = y[j];
    for (int t2 = 0; t2 < n; t2++) {
        const float *xr = x + (size_t)t2 * xs;
        float wt = wscale * w[t2];
        SIMD_LANES(ATT_LANES)
        for (int j = 0; j < width; j++) acc[j] = muladd(wt, xr[j], acc[j]);
    }
    for (int j = 0; j < width; j++) y[j] = acc[j];
}

/* y[i] += sum over t2 < n of (wscale * w[t2]) * x[t2*xs + i], for i < hs:
 * 32 channels at a time (four independent chains of 8: a chain waits for its
 * last fused multiply-add before the next, so more chains keep the unit
 * busy), then 8, then one by one. */
static void weighted_sum_of_rows(float *y, const float *w, float wscale, const float *x,
                                 size_t xs, int n, int hs) {
    int c0 = 0;
    for (; c0 + ATT_BLOCK <= hs; c0 += ATT_BLOCK) weighted_sum_block(y + c0, w, wscale, x + c0, xs, n, ATT_BLOCK);
    for (; c0 + ATT_LANES <= hs; c0 += ATT_LANES) weighted_sum_block(y + c0, w, wscale, x + c0, xs, n, ATT_LANES);
    for (int i = c0; i < hs; i++)  /* the channels left over */
        for (int t2 = 0; t2 < n; t2++) y[i] = muladd(wscale * w[t2], x[(size_t)t2 * xs + i], y[i]);
}

/* The largest of x[0..n). Any order gives the same maximum, so each of
 * ATT_LANES lanes keeps the largest of its share (one vector compare per 8
 * scores; a plain running max waits on every comparison), then they meet. */
static float largest(const float *x, int n) {
    float lane[ATT_LANES];
    for (int j = 0; j < ATT_LANES; j++) lane[j] = -INFINITY;
    int i = 0;
    for (; i + ATT_LANES <= n; i += ATT_LANES) {
        SIMD_LANES(ATT_LANES)
        for (int j = 0; j < ATT_LANES; j++) lane[j] = x[i + j] > lane[j] ? x[i + j] : lane[j];
    }
    for (; i < n; i++) lane[0] = x[i] > lane[0] ? x[i] : lane[0];
    float m = lane[0];
    for (int j = 1; j < ATT_LANES; j++) m = lane[j] > m ? lane[j] : m;
    return m;
}

/* One (batch, head) of attention_forward. kT and row: scratch of hs*ld and ld floats. */
static void attention_head_forward(float *out, float *preatt, float *att, const float *inp,
                                   float *kT, float *row, int ld, int b, int h, int T, int C,
                                   int NH) {
    int hs = C / NH, C3 = 3 * C;
    float scale = 1.0f / sqrtf((float)hs);
    head_transposed(kT, ld, inp + (size_t)b * T * C3 + C + h * hs, (size_t)C3, T, hs);
    for (int t = 0; t < T; t++) {
        const float *q = inp + ((size_t)b * T + t) * C3 + h * hs;
        float *pre = preatt + (((size_t)b * NH + h) * T + t) * T;
        float *a = att + (((size_t)b * NH + h) * T + t) * T;
        /* scores against every earlier-or-equal position t2 <= t:
         * pre[t2] = scale * sum_i q[i] k[t2][i] */
        dots_across_positions(row, q, kT, ld, hs, t + 1);
        for (int t2 = 0; t2 <= t; t2++) pre[t2] = row[t2] * scale;
        float maxv = largest(pre, t + 1);
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
        weighted_sum_of_rows(o, a, 1.0f, inp + (size_t)b * T * C3 + 2 * C + h * hs, (size_t)C3, t + 1, hs);
    }
}

/* T rounded up to whole blocks of key positions: the scratch rows' length */
static int attention_ld(int T) { return (T + ATT_BLOCK - 1) / ATT_BLOCK * ATT_BLOCK; }

void attention_forward(float *out, float *preatt, float *att, const float *inp,
                       int B, int T, int C, int NH) {
    int hs = C / NH, ld = attention_ld(T);
    #pragma omp parallel if ((size_t)B * T * T * C > PARALLEL_MIN_WORK)
    {
        float *kT = malloc_or_die(sizeof(float) * (size_t)(hs + 1) * ld, "attention scratch");
        #pragma omp for collapse(2) schedule(dynamic, 1)
        for (int b = 0; b < B; b++)
            for (int h = 0; h < NH; h++)
                attention_head_forward(out, preatt, att, inp, kT, kT + (size_t)hs * ld, ld, b, h,
                                       T, C, NH);
        free(kT);
    }
}

/* y[t2][i] += sum over t = t2, ..., T-1 of (wscale * w[t][t2]) * x[t][i], for every
 * t2 < T and i < hs, each element's terms added in ascending t: what the plain
 * loop "for t: for t2 <= t: y[t2] += w[t][t2] x[t]" adds, in the same order.
 * w (T,T) row-major (only its causal part t2 <= t is read); x and y are rows
 * of hs floats at strides xs and ys. Blocks of 8 positions t2 x 8 channels
 * keep their sums in registers while t runs down the columns of w. */
#define ACC_POSITIONS 8
static void causal_accumulate(float *y, size_t ys, const float *x, size_t xs, const float *w,
                              float wscale, int T, int hs) {
    for (int t0 = 0; t0 < T; t0 += ACC_POSITIONS)
        for (int c0 = 0; c0 < hs; c0 += ATT_LANES) {
            int np = T - t0 < ACC_POSITIONS ? T - t0 : ACC_POSITIONS;
            int nc = hs - c0 < ATT_LANES ? hs - c0 : ATT_LANES;
            if (np < ACC_POSITIONS || nc < ATT_LANES) {  /* a ragged edge: the plain loop */
                for (int p = 0; p < np; p++)
                    for (int i = c0; i < c0 + nc; i++) {
                        float s = y[(size_t)(t0 + p) * ys + i];
                        for (int t = t0 + p; t < T; t++)
                            s = muladd(wscale * w[(size_t)t * T + t0 + p], x[(size_t)t * xs + i], s);
                        y[(size_t)(t0 + p) * ys + i] = s;
                    }
                continue;
            }
            float acc[ACC_POSITIONS][ATT_LANES];
            for (int p = 0; p < ACC_POSITIONS; p++) memcpy(acc[p], y + (size_t)(t0 + p) * ys + c0, sizeof acc[p]);
            /* position t0+p gathers from t = t0+p on: first the triangle where
             * some positions have not started (their sums kept as they are),
             * then every t from t0+7, where all 8 take a term (fixed loops:
             * the compiler keeps acc in 8 vector registers) */
            int t = t0;
            for (; t < t0 + ACC_POSITIONS - 1; t++) {
                const float *xr = x + (size_t)t * xs + c0, *wt = w + (size_t)t * T + t0;
                for (int p = 0; p < ACC_POSITIONS; p++) {
                    int started = p <= t - t0;
                    float wp = started ? wscale * wt[p] : 0.0f;
                    SIMD_LANES(ATT_LANES)
                    for (int j = 0; j < ATT_LANES; j++) acc[p][j] = started ? muladd(wp, xr[j], acc[p][j]) : acc[p][j];
                }
            }
            for (; t < T; t++) {
                const float *xr = x + (size_t)t * xs + c0, *wt = w + (size_t)t * T + t0;
                for (int p = 0; p < ACC_POSITIONS; p++) {
                    float wp = wscale * wt[p];
                    SIMD_LANES(ATT_LANES)
                    for (int j = 0; j < ATT_LANES; j++) acc[p][j] = muladd(wp, xr[j], acc[p][j]);
                }
            }
            for (int p = 0; p < ACC_POSITIONS; p++) memcpy(y + (size_t)(t0 + p) * ys + c0, acc[p], sizeof acc[p]);
        }
}

/* One (batch, head) of attention_backward. vT and row: scratch of hs*ld and ld floats.
 * First, for every query t, the gradients that belong to row t (da, dpre, dq);
 * then dv and dk, which gather from every later row t >= t2. */
static void attention_head_backward(float *dinp, float *dpreatt, float *datt, const float *dout,
                                    const float *inp, const float *att, float *vT, float *row,
                                    int ld, int b, int h, int T, int C, int NH) {
    int hs = C / NH, C3 = 3 * C;
    float scale = 1.0f / sqrtf((float)hs);
    const float *a0 = att + ((size_t)b * NH + h) * T * T;
    float *dpre0 = dpreatt + ((size_t)b * NH + h) * T * T;
    const float *d0 = dout + (size_t)b * T * C + h * hs, *in0 = inp + (size_t)b * T * C3 + h * hs;
    float *din0 = dinp + (size_t)b * T * C3 + h * hs;
    head_transposed(vT, ld, in0 + 2 * C, (size_t)C3, T, hs);
    for (int t = 0; t < T; t++) {
        const float *a = a0 + (size_t)t * T, *d = d0 + (size_t)t * C;
        float *da = datt + ((size_t)b * NH + h) * T * T + (size_t)t * T, *dpre = dpre0 + (size_t)t * T;
        /* forward: o = sum_t2 a[t2] v[t2]
         * backward: da[t2] = d . v[t2];  dv[t2] += a[t2] d  (the latter below) */
        dots_across_positions(row, d, vT, ld, hs, t + 1);
        for (int t2 = 0; t2 <= t; t2++) da[t2] = row[t2];
        /* forward: a = softmax(pre), a[t2] = exp(pre[t2]) / sum_t3 exp(pre[t3])
         * backward: the Jacobian is d a[t2] / d pre[t3] = a[t2] ([t2 == t3] - a[t3]), so
         *   dpre[t3] = sum_t2 da[t2] a[t2] ([t2 == t3] - a[t3]) = a[t3] (da[t3] - sum_t2 a[t2] da[t2]) */
        float dot = 0.0f;
        for (int t2 = 0; t2 <= t; t2++) dot += a[t2] * da[t2];
        for (int t2 = 0; t2 <= t; t2++) dpre[t2] = a[t2] * (da[t2] - dot);
        /* forward: pre[t2] = scale * q . k[t2]
         * backward: dq += scale dpre[t2] k[t2];  dk[t2] += scale dpre[t2] q  (the latter below) */
        weighted_sum_of_rows(din0 + (size_t)t * C3, dpre, scale, in0 + C, (size_t)C3, t + 1, hs);
    }
    causal_accumulate(din0 + 2 * C, (size_t)C3, d0, (size_t)C, a0, 1.0f, T, hs);       /* dv */
    causal_accumulate(din0 + C, (size_t)C3, in0, (size_t)C3, dpre0, scale, T, hs);     /* dk */
}

void attention_backward(float *dinp, float *dpreatt, float *datt, const float *dout,
                        const float *inp, const float *att, int B, int T, int C, int NH) {
    int hs = C / NH, ld = attention_ld(T);
    #pragma omp parallel if ((size_t)B * T * T * C > PARALLEL_MIN_WORK)
    {
        float *vT = malloc_or_die(sizeof(float) * (size_t)(hs + 1) * ld, "attention scratch");
        #pragma omp for collapse(2) schedule(dynamic, 1)
        for (int b = 0; b < B; b++)
            for (int h = 0; h < NH; h++)
                attention_head_backward(dinp, dpreatt, datt, dout, inp, att, vT,
                                        vT + (size_t)hs * ld, ld, b, h, T, C, NH);
        free(vT);
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
            for (int i = 0; i < hs; i++) s = muladd(qh[i], k[i], s);
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
            for (int i = 0; i < hs; i++) o[i] = muladd(w, v[i], o[i]);
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

void rng_split(Rng *r, Rng *out, int n) {
    for (int i = 0; i < n; i++) {
        uint64_t hi = rng_u32(r), lo = rng_u32(r);
        rng_seed(&out[i], hi << 32 | lo);
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
