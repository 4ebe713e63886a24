/* gemm_vs_blas.c — our matmul against OpenBLAS's sgemm on the model's own shapes
 * (`make bench-blas`, built only when OpenBLAS is installed; nothing else
 * depends on it).
 *
 * For each shape (N rows, C inputs, OC outputs) and thread count it times
 *   forward:  matmul_forward (out = inp @ weight^T + bias)   vs one cblas_sgemm
 *   backward: matmul_backward (dinp and dweight, no dbias)   vs two cblas_sgemm
 * takes the best of REPS runs of each (the best, not the median: on a shared
 * machine most runs are interrupted, and the fastest is the one that was
 * not; one thread is timed in CPU time, see clock_seconds), and prints GFLOP/s
 * and the ratio ours / OpenBLAS, one line per shape, as a markdown table.
 *
 * Our kernel adds every product in the naive loops' order with no fused
 * multiply-add (gemm.c); OpenBLAS uses FMA and its own order, so its results
 * differ in the last bits and it may run up to twice as fast per instruction.
 * This is a measurement tool: no test depends on it.
 */
#include "tensor.h"
#include "util.h"

#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void openblas_set_num_threads(int);  /* OpenBLAS's own, not in every cblas.h */

#define REPS 25
#define ROWS 1024

static const int shapes[][2] = {{192, 576}, {192, 192}, {192, 768}, {768, 192}, {192, 512}, {128, 512}};

static float *filled(size_t n, unsigned seed) {
    float *x = malloc_or_die(n * sizeof(float), "a bench matrix");
    for (size_t i = 0; i < n; i++) {
        seed = seed * 1664525u + 1013904223u;
        x[i] = (float)(seed >> 8) / 16777216.0f - 0.5f;
    }
    return x;
}

typedef struct {
    int N, C, OC;
    float *inp, *weight, *bias, *out, *dout, *dinp, *dweight;
} Problem;

static void run(const Problem *p, int blas, int backward) {
    int N = p->N, C = p->C, OC = p->OC;
    if (!blas && !backward) matmul_forward(p->out, p->inp, p->weight, p->bias, N, C, OC);
    if (!blas && backward) matmul_backward(p->dinp, p->dweight, NULL, p->dout, p->inp, p->weight, N, C, OC);
    if (blas && !backward)  /* out (N,OC) = inp (N,C) @ weight^T (C,OC); the bias is cblas's C */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, N, OC, C, 1.0f, p->inp, C, p->weight, C,
                    0.0f, p->out, OC);
    if (blas && backward) {
        /* dinp (N,C) += dout (N,OC) @ weight (OC,C);  dweight (OC,C) += dout^T @ inp */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, N, C, OC, 1.0f, p->dout, OC, p->weight,
                    C, 1.0f, p->dinp, C);
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, OC, C, N, 1.0f, p->dout, OC, p->inp, C,
                    1.0f, p->dweight, C);
    }
}

/* Seconds on a clock: with one thread, the CPU time of this thread (both
 * libraries then compute in the calling thread), which other programs on a
 * busy machine do not inflate; with more, wall time. */
static double clock_seconds(int threads) {
    if (threads > 1) return now_seconds();
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* best GFLOP/s of REPS timed runs (after one untimed warm-up) */
static double gflops(const Problem *p, int blas, int backward, int threads) {
    double flops = 2.0 * p->N * p->C * p->OC * (backward ? 2 : 1), best = 1e30;
    run(p, blas, backward);
    for (int r = 0; r < REPS; r++) {
        double t0 = clock_seconds(threads);
        run(p, blas, backward);
        double dt = clock_seconds(threads) - t0;
        if (dt < best) best = dt;
    }
    return flops / best / 1e9;
}

int main(int argc, char **argv) {
    int threads[8] = {1, 2}, nt = 2;
    if (argc > 1) {
        nt = 0;
        for (int i = 1; i < argc && nt < 8; i++) threads[nt++] = (int)parse_long_flag("threads", argv[i], 1, 1024);
    }
    printf("| N x C x OC | threads | fwd ours | fwd OpenBLAS | ratio | bwd ours | bwd OpenBLAS | ratio |\n");
    printf("| --- | --- | --- | --- | --- | --- | --- | --- |\n");
    /* Ours first, then OpenBLAS, for each thread count: OpenBLAS's threads
     * spin for a while after each call and would steal the cores from ours. */
    enum { NS = sizeof shapes / sizeof shapes[0] };
    for (int t = 0; t < nt; t++) {
        double g[NS][4];
        for (int blas = 0; blas <= 1; blas++) {
            set_threads(threads[t]);
            openblas_set_num_threads(blas ? threads[t] : 1);
            for (int s = 0; s < NS; s++) {
                Problem p = {ROWS, shapes[s][0], shapes[s][1], NULL, NULL, NULL, NULL, NULL, NULL, NULL};
                size_t nin = (size_t)p.N * p.C, nw = (size_t)p.OC * p.C, nout = (size_t)p.N * p.OC;
                p.inp = filled(nin, 1); p.weight = filled(nw, 2); p.bias = filled((size_t)p.OC, 3);
                p.out = filled(nout, 4); p.dout = filled(nout, 5); p.dinp = filled(nin, 6);
                p.dweight = filled(nw, 7);
                g[s][blas] = gflops(&p, blas, 0, threads[t]);
                g[s][2 + blas] = gflops(&p, blas, 1, threads[t]);
                free(p.inp); free(p.weight); free(p.bias); free(p.out); free(p.dout); free(p.dinp);
                free(p.dweight);
            }
        }
        for (int s = 0; s < NS; s++)
            printf("| %d x %d x %d | %d | %.1f | %.1f | %.2f | %.1f | %.1f | %.2f |\n", ROWS,
                   shapes[s][0], shapes[s][1], threads[t], g[s][0], g[s][1], g[s][0] / g[s][1],
                   g[s][2], g[s][3], g[s][2] / g[s][3]);
        fflush(stdout);
    }
    return 0;
}
