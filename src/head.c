/* head.c — the linear head shared by the classifier, the reward model and
 * the value model. See head.h. */
#include "head.h"
#include "util.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void head_build(LinearHead *h, int K, int C, float init_std, uint64_t seed) {
    memset(h, 0, sizeof *h);
    if (K < 1 || C < 1) die("a head needs K >= 1 outputs and C >= 1 channels (got K=%d, C=%d)", K, C);
    h->K = K;
    h->C = C;
    size_t n = (size_t)K * C + K;
    h->w = calloc_or_die(n, sizeof(float), "the head's parameters");
    h->b = h->w + (size_t)K * C;
    h->dw = calloc_or_die(n, sizeof(float), "the head's gradients");
    h->db = h->dw + (size_t)K * C;
    h->mw = calloc_or_die(n, sizeof(float), "the head's AdamW moments");
    h->vw = calloc_or_die(n, sizeof(float), "the head's AdamW moments");
    h->gain = 1.0f;
    h->shift = 0.0f;
    Rng rng;
    rng_seed(&rng, seed);
    for (size_t i = 0; i < (size_t)K * C; i++) h->w[i] = init_std * rng_normal(&rng);
}

void head_free(LinearHead *h) {
    free(h->w);
    free(h->dw);
    free(h->mw);
    free(h->vw);
    memset(h, 0, sizeof *h);
}

/* Gathers the selected rows of hidden into a contiguous (n, C) block, so the
 * head is an ordinary matmul. */
static float *gather_rows(const float *hidden, const int *rows, int n, int C) {
    float *x = malloc_or_die(sizeof(float) * (size_t)n * C, "the head's input rows");
    for (int i = 0; i < n; i++) memcpy(x + (size_t)i * C, hidden + (size_t)rows[i] * C, sizeof(float) * C);
    return x;
}

void head_forward(const LinearHead *h, float *out, const float *hidden, const int *rows, int n) {
    float *x = gather_rows(hidden, rows, n, h->C);
    matmul_forward(out, x, h->w, h->b, n, h->C, h->K);
    free(x);
}

void head_backward(LinearHead *h, float *dhidden, const float *dout, const float *hidden,
                   const int *rows, int n) {
    float *x = gather_rows(hidden, rows, n, h->C);
    float *dx = calloc_or_die((size_t)n * h->C, sizeof(float), "the head's input gradient");
    /* forward: out = x @ w^T + b;  backward: dx = dout @ w, dw += dout^T x, db += sum dout */
    matmul_backward(dx, h->dw, h->db, dout, x, h->w, n, h->C, h->K);
    /* scatter back; serial because two rows may name the same position */
    for (int i = 0; i < n; i++) {
        float *d = dhidden + (size_t)rows[i] * h->C;
        for (int c = 0; c < h->C; c++) d[c] += dx[(size_t)i * h->C + c];
    }
    free(dx);
    free(x);
}

void head_zero_grad(LinearHead *h) {
    memset(h->dw, 0, sizeof(float) * ((size_t)h->K * h->C + h->K));
}

float head_clip_together(LinearHead *h, float *trunk_grads, size_t n, float max_norm) {
    size_t nh = (size_t)h->K * h->C + h->K;
    float trunk = grad_norm(trunk_grads, n), head = grad_norm(h->dw, nh);
    float norm = sqrtf(trunk * trunk + head * head);
    if (max_norm > 0.0f && norm > max_norm) {
        float s = max_norm / norm;
        for (size_t i = 0; i < n; i++) trunk_grads[i] *= s;
        for (size_t i = 0; i < nh; i++) h->dw[i] *= s;
    }
    return norm;
}

void head_update(LinearHead *h, float lr, const AdamWConfig *cfg) {
    size_t nw = (size_t)h->K * h->C;
    h->step++;
    adamw_update(h->w, h->dw, h->mw, h->vw, nw, cfg, lr, h->step, 1);
    adamw_update(h->b, h->db, h->mw + nw, h->vw + nw, (size_t)h->K, cfg, lr, h->step, 0);
}

void head_save(const LinearHead *h, const char *path) {
    int header[HEAD_HEADER_INTS] = {HEAD_MAGIC, HEAD_VERSION, h->K, h->C};
    float affine[2] = {h->gain, h->shift};
    AtomicFile af;
    atomic_open(&af, path);
    fwrite_or_die(header, sizeof(int), HEAD_HEADER_INTS, af.f, af.tmp);
    fwrite_or_die(affine, sizeof(float), 2, af.f, af.tmp);
    fwrite_or_die(h->w, sizeof(float), (size_t)h->K * h->C + h->K, af.f, af.tmp);
    atomic_commit(&af);
}

void head_load(LinearHead *h, const char *path, int expect_C) {
    FILE *f = fopen_or_die(path, "rb");
    size_t fsize = file_size_or_die(f, path);
    int header[HEAD_HEADER_INTS];
    if (fsize < sizeof header) die("%s is not a head file: only %zu bytes", path, fsize);
    fread_or_die(header, sizeof(int), HEAD_HEADER_INTS, f, path, "the header");
    if (header[0] != HEAD_MAGIC) die("%s is not a head file: magic number %d, expected %d", path, header[0], HEAD_MAGIC);
    if (header[1] != HEAD_VERSION) die("%s has head version %d, expected %d", path, header[1], HEAD_VERSION);
    int K = header[2], C = header[3];
    if (K < 1 || K > 65536) die("%s has a bad number of outputs K=%d", path, K);
    if (C != expect_C) die("%s is a head for C=%d channels, but the model has C=%d", path, C, expect_C);
    size_t expect = sizeof header + 2 * sizeof(float) + sizeof(float) * ((size_t)K * C + K);
    if (fsize != expect) die("%s has the wrong size: %zu bytes, expected %zu for K=%d, C=%d", path, fsize, expect, K, C);
    head_build(h, K, C, 0.0f, 0);
    float affine[2];
    fread_or_die(affine, sizeof(float), 2, f, path, "the gain and shift");
    h->gain = affine[0];
    h->shift = affine[1];
    fread_or_die(h->w, sizeof(float), (size_t)K * C + K, f, path, "the head's parameters");
    fclose(f);
}

char *head_path_for(const char *model_path) {
    size_t n = strlen(model_path);
    const char *dot = strrchr(model_path, '.');
    const char *slash = strrchr(model_path, '/');
    size_t stem = (dot && (!slash || dot > slash)) ? (size_t)(dot - model_path) : n;
    char *p = malloc_or_die(stem + 6, "a file name");
    memcpy(p, model_path, stem);
    memcpy(p + stem, ".head", 6);
    return p;
}
