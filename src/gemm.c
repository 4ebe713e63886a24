/* gemm.c — the fast matrix products behind matmul_forward/matmul_backward.
 * The naive triple loops in tensor.c are the definition; these two kernels
 * compute exactly the same numbers, faster (gemm.h states the contract).
 *
 * The packed kernel is the structure of every fast BLAS (Goto & van de Geijn,
 * "Anatomy of high-performance matrix multiplication", 2008; BLIS's five loops
 * around a micro-kernel), written in plain C11 plus GCC/Clang vector types
 * (`__attribute__((vector_size))`): the same source compiles to AVX-512, AVX2,
 * SSE or NEON. No intrinsics, no assembly, no BLAS.
 *
 * Every multiply-add is gemm.h's muladd: one fused multiply-add instruction
 * where the CPU has one (x86 with FMA3, ARM64), as in the naive loops, which
 * use the same muladd; see notes/10-performance.md.
 */
#include "gemm.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

/* Below this many multiply-adds a product runs on one thread (as tensor.c). */
#define GEMM_PARALLEL_MIN_WORK 32768

/* The vector width the kernels are sized for (SIMD_LANES: gemm.h). */
#if defined(__AVX512F__)
#define VEC_BYTES 64   /* 32 registers of 16 floats */
#define MR 12
#elif defined(__AVX__)
#define VEC_BYTES 32   /* 16 registers of 8 floats */
#define MR 6
#else
#define VEC_BYTES 16   /* SSE2, NEON and the rest: 4 floats */
#define MR 6
#endif
#define VL (VEC_BYTES / 4)    /* floats per vector */
#define NR (2 * VL)           /* two vectors per tile row */


/* ---- the direct kernel: register tiles, operands read in place ----
 *
 * The output is cut into tiles of TILE_M rows x TILE_N columns. One tile's
 * partial sums live in a small local array that the compiler keeps in vector
 * registers, while k runs over the whole inner dimension: each step loads one
 * row segment of B (TILE_N floats), broadcasts TILE_M numbers of A, and does
 * TILE_M x TILE_N multiply-adds. */
#if defined(__AVX512F__)
#define TILE_M 8
#define TILE_N 32
#else
#define TILE_M 4   /* 16 vector registers (AVX2, SSE): 4 x 16 floats */
#define TILE_N 16
#endif

/* One tile of m <= TILE_M rows and n <= TILE_N columns of D (row stride ldd).
 * The sums start from D itself if accumulate, else from bias (n values) if
 * given, else from 0. Called with the constants m = TILE_M, n = TILE_N for
 * full tiles, so that gcc unrolls i and vectorises j. */
static inline void direct_tile(float *D, int ldd, const float *A, size_t ars, size_t acs,
                               const float *B, size_t brs, int K, const float *bias,
                               int accumulate, int m, int n) {
    float acc[TILE_M][TILE_N];
    for (int i = 0; i < m; i++)
        for (int j = 0; j < n; j++)
            acc[i][j] = accumulate ? D[(size_t)i * ldd + j] : (bias ? bias[j] : 0.0f);
    for (int k = 0; k < K; k++) {
        const float *b = B + (size_t)k * brs;
        for (int i = 0; i < m; i++) {
            float a = A[i * ars + k * acs];
            SIMD_LANES(VL)
            for (int j = 0; j < n; j++) acc[i][j] = muladd(a, b[j], acc[i][j]);
        }
    }
    for (int i = 0; i < m; i++)
        for (int j = 0; j < n; j++) D[(size_t)i * ldd + j] = acc[i][j];
}

void gemm_direct(float *D, const float *A, size_t ars, size_t acs, const float *B, size_t brs,
                 int M, int Nc, int K, const float *bias, int accumulate) {
    int mt = (M + TILE_M - 1) / TILE_M, nt = (Nc + TILE_N - 1) / TILE_N;
    #pragma omp parallel for collapse(2) schedule(static) if ((size_t)M * Nc * K > GEMM_PARALLEL_MIN_WORK)
    for (int ti = 0; ti < mt; ti++) {
        for (int tj = 0; tj < nt; tj++) {
            int i0 = ti * TILE_M, j0 = tj * TILE_N;
            int m = M - i0 < TILE_M ? M - i0 : TILE_M;
            int n = Nc - j0 < TILE_N ? Nc - j0 : TILE_N;
            float *d = D + (size_t)i0 * Nc + j0;
            const float *a = A + i0 * ars, *b = B + j0, *bias_j = bias ? bias + j0 : NULL;
            if (m == TILE_M && n == TILE_N)
                direct_tile(d, Nc, a, ars, acs, b, brs, K, bias_j, accumulate, TILE_M, TILE_N);
            else
                direct_tile(d, Nc, a, ars, acs, b, brs, K, bias_j, accumulate, m, n);
        }
    }
}

/* ---- the packed kernel ----
 *
 * The micro-kernel computes one MR x NR tile of D. Its MR x NR sums sit in
 * vector registers (acc[MR][NV], NV vectors of VL floats per row) for the
 * whole k loop; each step k loads NR floats of B (NV vector loads), and for
 * each of the MR rows broadcasts one float of A and does NV vector multiplies
 * and NV vector adds. Nothing but those loads touches memory inside the loop.
 *
 * For the loads to be cheap, A and B are first copied ("packed") into the
 * order the micro-kernel reads them:
 *   A panels: MR rows at a time, k-major:  Ap[k*MR + i]  (MR floats per step)
 *   B panels: NR columns at a time:        Bp[k*NR + j]  (NR floats per step)
 * so the micro-kernel reads both as two contiguous streams, whatever the
 * strides of the original (transposed operands included), and rows or
 * columns past the edge of the matrix are zeros in the panel.
 *
 * The loops around the micro-kernel (BLIS's names):
 *   for pk in passes over k:        all of k when packed B fits in L2
 *                                     (B_IN_L2_FLOATS), else KC at a time;
 *                                     all threads pack B's part of the pass
 *     for ic in steps of MC:        one row block per task, in parallel: its
 *                                     thread packs the A block (MC x pass)
 *       for jc in steps of NC:      the column blocks, one after another
 *         for pc in steps of KC:    a KC slice of the pass
 *           for jr in steps of NR:
 *             for ir in steps of MR:  one B micro-panel (KC x NR) stays in L1
 *               micro-kernel(KC)        while MC/MR A micro-panels stream past.
 * The k slices are summed one after the other into D, so each element still
 * gets its products in the order k = 0, 1, ..., K-1.
 */
#define KC 256                /* k per slice */
#define MC (4 * MR)           /* rows per task, at most */
#define NC (4 * NR)           /* columns per block */
#define B_IN_L2_FLOATS (256 * 1024)  /* 1 MB of packed B: half an L2 of 2 MB */


/* The tile T (MR x NR, row stride ldt) += Ap (kc x MR panel) @ Bp (kc x NR panel),
 * each sum started from T (from_t), or from bias (NR floats), or from 0.
 * acc is MR x NR floats = MR x 2 vector registers (24 of AVX-512's 32); each
 * step k loads two vectors of B, and for each row broadcasts one float of A
 * into two vector fused multiply-adds (vfmadd231ps on x86, fmla on ARM):
 * `objdump -d build/obj/gemm.o` shows the loop, inlined into packed_tile:
 * MR broadcasts and MR x 2 fused multiply-adds, all on registers. */
static void micro_kernel(float *T, size_t ldt, const float *Ap, const float *Bp, int kc,
                         const float *bias, int from_t) {
    float acc[MR][NR];
    for (int i = 0; i < MR; i++)
        for (int j = 0; j < NR; j++) acc[i][j] = from_t ? T[i * ldt + j] : bias ? bias[j] : 0.0f;
    for (int k = 0; k < kc; k++) {
        const float *b = Bp + (size_t)k * NR;              /* NR floats of B */
        for (int i = 0; i < MR; i++) {
            float a = Ap[(size_t)k * MR + i];                /* one float of A, broadcast */
            SIMD_LANES(VL)
            for (int j = 0; j < NR; j++) acc[i][j] = muladd(a, b[j], acc[i][j]);
        }
    }
    for (int i = 0; i < MR; i++)
        for (int j = 0; j < NR; j++) T[i * ldt + j] = acc[i][j];
}

/* One tile of D at (i0, j0), k slice [pc, pc + kc). Full tiles go straight to
 * D; a ragged edge tile (m < MR rows or n < NR columns) goes through a local
 * MR x NR copy, of which only the m x n real part is written back. */
static void packed_tile(float *D, int Nc, int i0, int j0, int m, int n, const float *Ap,
                        const float *Bp, int kc, const float *bias, int from_d) {
    float *d = D + (size_t)i0 * Nc + j0;
    if (m == MR && n == NR) {
        micro_kernel(d, (size_t)Nc, Ap, Bp, kc, bias ? bias + j0 : NULL, from_d);
        return;
    }
    float tile[MR * NR];
    for (int i = 0; i < MR; i++)
        for (int j = 0; j < NR; j++)
            tile[i * NR + j] = i >= m || j >= n ? 0.0f
                             : from_d ? d[(size_t)i * Nc + j] : bias ? bias[j0 + j] : 0.0f;
    micro_kernel(tile, NR, Ap, Bp, kc, NULL, 1);
    for (int i = 0; i < m; i++)
        for (int j = 0; j < n; j++) d[(size_t)i * Nc + j] = tile[i * NR + j];
}

/* Panel p of A (rows p*MR..) into Ap[k*MR + i], k over all K; zero rows past M.
 * The loops run along whichever stride of A is 1 (A^T in dweight has ars = 1),
 * so the copy reads memory in order. */
static void pack_a(float *Ap, const float *A, size_t ars, size_t acs, int M, int K, int p) {
    int i0 = p * MR, m = M - i0 < MR ? M - i0 : MR;
    if (m < MR) memset(Ap, 0, sizeof(float) * (size_t)K * MR);
    if (ars == 1) {
        for (int k = 0; k < K; k++)
            for (int i = 0; i < m; i++) Ap[(size_t)k * MR + i] = A[k * acs + (size_t)(i0 + i)];
    } else {
        for (int i = 0; i < m; i++)
            for (int k = 0; k < K; k++) Ap[(size_t)k * MR + i] = A[(size_t)(i0 + i) * ars + k * acs];
    }
}

/* Panel p of B (columns p*NR..) into Bp[k*NR + j]; zero columns past Nc.
 * Likewise along B's unit stride (weight^T in the forward has brs = 1). */
static void pack_b(float *Bp, const float *B, size_t brs, size_t bcs, int Nc, int K, int p) {
    int j0 = p * NR, n = Nc - j0 < NR ? Nc - j0 : NR;
    if (n < NR) memset(Bp, 0, sizeof(float) * (size_t)K * NR);
    if (brs == 1 && bcs != 1) {
        for (int j = 0; j < n; j++)
            for (int k = 0; k < K; k++) Bp[(size_t)k * NR + j] = B[(size_t)(j0 + j) * bcs + k];
    } else {
        for (int k = 0; k < K; k++)
            for (int j = 0; j < n; j++) Bp[(size_t)k * NR + j] = B[k * brs + (size_t)(j0 + j) * bcs];
    }
}

/* The packing buffers, kept between calls: training repeats the same shapes
 * every step, so after the first step nothing is allocated. */
static float *pack_buf[2];
static size_t pack_cap[2];

static float *pack_buffer(int which, size_t floats) {
    if (floats > pack_cap[which]) {
        free(pack_buf[which]);
        size_t bytes = (floats * sizeof(float) + 63) / 64 * 64;  /* aligned_alloc wants a multiple */
        pack_buf[which] = aligned_alloc(64, bytes);
        if (!pack_buf[which]) die("out of memory for a matmul packing buffer (%zu bytes)", bytes);
        pack_cap[which] = floats;
    }
    return pack_buf[which];
}

void gemm_release(void) {
    for (int w = 0; w < 2; w++) {
        free(pack_buf[w]);
        pack_buf[w] = NULL;
        pack_cap[w] = 0;
    }
}

/* One block of D, rows [ib, i1) x columns [jb, j1), for k in [k0, k1), one
 * KC slice after another. */
static void packed_block(float *D, const float *Ap, const float *Bp, int Nc, int K, int k0, int k1,
                         int ib, int i1, int jb, int j1, const float *bias, int accumulate) {
    for (int pc = k0; pc < k1 || pc == 0; pc += KC) {
        int kc = k1 - pc < KC ? k1 - pc : KC, from_d = accumulate || pc > 0;
        for (int j0 = jb; j0 < j1; j0 += NR) {
            const float *bp = Bp + (size_t)(j0 / NR) * K * NR + (size_t)pc * NR;
            for (int i0 = ib; i0 < i1; i0 += MR) {
                const float *ap = Ap + (size_t)(i0 / MR) * K * MR + (size_t)pc * MR;
                packed_tile(D, Nc, i0, j0, i1 - i0 < MR ? i1 - i0 : MR,
                            j1 - j0 < NR ? j1 - j0 : NR, ap, bp, kc, bias, from_d);
            }
        }
    }
}

/* A panels per row block (MC = that many times MR rows): 4, so that the
 * block's A stays in cache while every B panel streams past, or fewer when
 * that would leave under 4 blocks per thread to share out. */
static int panels_per_block(int pa) {
    int threads = 1;
#ifdef _OPENMP
    threads = omp_get_max_threads();
#endif
    int g = pa / (4 * threads);
    return g < 1 ? 1 : g > MC / MR ? MC / MR : g;
}

void gemm_packed(float *D, const float *A, size_t ars, size_t acs, const float *B, size_t brs,
                 size_t bcs, int M, int Nc, int K, const float *bias, int accumulate) {
    if (M <= 0 || Nc <= 0) return;
    int pa = (M + MR - 1) / MR, pb = (Nc + NR - 1) / NR;
    float *Ap = pack_buffer(0, (size_t)pa * MR * K);
    float *Bp = pack_buffer(1, (size_t)pb * NR * K);
    int g = panels_per_block(pa), mb = (pa + g - 1) / g;
    /* k in passes: all of it at once when packed B fits in L2 beside the A
     * blocks, else one KC slice per pass, so that B's slice stays there. */
    int kpass = K <= 0 ? 1 : (size_t)K * pb * NR <= B_IN_L2_FLOATS ? K : KC;
    /* One parallel region. For each pass: pack B's part, then the row blocks
     * of D, each computed whole by one thread, which first packs the block's
     * part of A itself, so it sits in its own core's cache for every column
     * block. The passes and their KC slices are summed into D in order, so
     * every element keeps the order k = 0, 1, ..., K-1. Row blocks are
     * handed out dynamically (a thread slowed by another program leaves its
     * share to the others); which thread computes a block never changes
     * what it computes. */
    #pragma omp parallel if ((size_t)M * Nc * K > GEMM_PARALLEL_MIN_WORK)
    {  /* every thread walks the passes; the two loops inside share the work */
        for (int k0 = 0; k0 < K || k0 == 0; k0 += kpass) {
            int k1 = k0 + kpass < K ? k0 + kpass : K;
            #pragma omp for schedule(static)
            for (int p = 0; p < pb; p++)
                pack_b(Bp + (size_t)p * NR * K + (size_t)k0 * NR, B + (size_t)k0 * brs, brs, bcs, Nc, k1 - k0, p);
            #pragma omp for schedule(dynamic, 1)
            for (int bi = 0; bi < mb; bi++) {
                int p1 = (bi + 1) * g < pa ? (bi + 1) * g : pa;
                for (int p = bi * g; p < p1; p++)
                    pack_a(Ap + (size_t)p * MR * K + (size_t)k0 * MR, A + (size_t)k0 * acs, ars, acs, M,
                           k1 - k0, p);
                int i0 = bi * g * MR, i1 = p1 * MR < M ? p1 * MR : M;
                for (int j0 = 0; j0 < Nc; j0 += NC)
                    packed_block(D, Ap, Bp, Nc, K, k0, k1, i0, i1, j0, j0 + NC < Nc ? j0 + NC : Nc, bias,
                                 accumulate);
            }
        }
    }
}
