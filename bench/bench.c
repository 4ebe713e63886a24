/* bench.c — how fast does gptladder train and sample? (`make bench`)
 *
 * Trains two fixed configs from random init for a fixed number of steps on
 * random tokens (speed does not depend on the data) and prints one line per
 * config that scripts can read:
 *   bench config=A threads=2 tokens_per_s=... gflops=... peak_rss_mb=... buffers_mb=...
 * then the sampling speed:
 *   bench sample config=B cache=off threads=2 tokens_per_s=...   (and cache=on)
 *
 * FLOPs per trained token: 6 per parameter (2 forward, 4 backward) plus the
 * attention scores and the weighted sum of values: 2 * 2 * L * T * C forward
 * per token at full causal length, halved for the mask, times 3 for backward.
 * This is a measurement tool only: no test depends on timing.
 */
#include "gpt.h"
#include "util.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    const char *name;
    int V, L, NH, C, B, T, steps;
} BenchConfig;

static const BenchConfig configs[] = {
    {"A", 256, 4, 4, 128, 16, 64, 20},
    {"B", 512, 6, 6, 192, 8, 128, 10},
};

static double flops_per_token(const GPT *m, int T) {
    const GPTConfig *c = &m->config;
    double params = (double)m->num_parameters - (double)c->maxT * c->C;  /* wpe is a lookup */
    double attention = 2.0 * 2.0 * c->L * (double)T * c->C * 0.5;    /* q.k and att@v, causal */
    return 6.0 * params + 3.0 * attention;
}

/* Bytes the model's own buffers need: parameters, gradients, two AdamW
 * moments, activations and activation gradients (plus the dlogits scratch). */
static double buffers_mb(const GPT *m) {
    double floats = 4.0 * m->num_parameters + 2.0 * m->num_activations +
                    (double)m->Bmax * m->Tmax * (m->config.Vp + m->config.C);
    return floats * sizeof(float) / (1024.0 * 1024.0);
}

static void bench_train(const BenchConfig *bc, int threads) {
    GPT m;
    gpt_build(&m, gpt_config(bc->T, bc->V, bc->L, bc->NH, bc->C), 42);
    int n = bc->B * bc->T;
    int *inputs = malloc_or_die(sizeof(int) * (size_t)n, "inputs");
    int *targets = malloc_or_die(sizeof(int) * (size_t)n, "targets");
    Rng rng;
    rng_seed(&rng, 7);
    for (int i = 0; i < n; i++) {
        inputs[i] = rng_below(&rng, bc->V);
        targets[i] = rng_below(&rng, bc->V);
    }
    AdamWConfig opt = {0.9f, 0.95f, 1e-8f, 0.1f};
    double elapsed = 0.0;
    float loss = 0.0f;
    for (int step = 0; step <= bc->steps; step++) {
        double t0 = now_seconds();
        gpt_forward(&m, inputs, bc->B, bc->T);
        loss = gpt_lm_loss(&m, targets, NULL);
        gpt_zero_grad(&m);
        gpt_lm_loss_backward(&m, targets, NULL, 1.0f);
        gpt_backward(&m, m.dlogits, NULL);
        gpt_clip_grad(&m, 1.0f);
        gpt_update(&m, 1e-4f, &opt);
        if (step > 0) elapsed += now_seconds() - t0;  /* step 0 warms up caches and pages */
    }
    double tokens = (double)n * bc->steps;
    /* loss: the last step's, to nine digits; params_hash: FNV-1a of the
     * bytes of every trained weight. Two builds that compute the same numbers
     * print the same hash; a change of a single last bit anywhere (fused
     * multiply-add or not, another summation order) changes it, where the
     * loss, an average of 1,024 terms, often shows nothing. */
    unsigned hash = 2166136261u;
    const unsigned char *bytes = (const unsigned char *)m.params_memory;
    for (size_t i = 0; i < m.num_parameters * sizeof(float); i++) hash = (hash ^ bytes[i]) * 16777619u;
    printf("bench config=%s threads=%d tokens_per_s=%.0f gflops=%.1f peak_rss_mb=%.1f buffers_mb=%.1f"
           " loss=%.9g params_hash=%08x\n", bc->name, threads, tokens / elapsed,
           tokens * flops_per_token(&m, bc->T) / elapsed / 1e9, peak_rss_mb(), buffers_mb(&m), loss, hash);
    fflush(stdout);
    free(inputs);
    free(targets);
    gpt_free(&m);
}

static void bench_sample(const BenchConfig *bc, int threads) {
    GPT m;
    gpt_build(&m, gpt_config(bc->T, bc->V, bc->L, bc->NH, bc->C), 42);
    int prompt[1] = {0};
    int *out = malloc_or_die(sizeof(int) * (size_t)bc->T, "samples");
    Rng rng;
    rng_seed(&rng, 1);
    for (int cache = 0; cache <= 1; cache++) {
        double t0 = now_seconds();
        int made = cache ? gpt_sample(&m, prompt, 1, out, bc->T - 1, -1, 1.0f, 0, &rng)
                         : gpt_sample_uncached(&m, prompt, 1, out, bc->T - 1, -1, 1.0f, 0, &rng);
        double dt = now_seconds() - t0;
        unsigned hash = 2166136261u;  /* FNV-1a of the sampled tokens: same model, same bits */
        for (int i = 0; i < made; i++) hash = (hash ^ (unsigned)out[i]) * 16777619u;
        printf("bench sample config=%s cache=%s threads=%d tokens_per_s=%.0f tokens_hash=%08x\n",
               bc->name, cache ? "on" : "off", threads, made / dt, hash);
    }
    free(out);
    gpt_free(&m);
}

static void usage(void) {
    printf("usage: bench [--threads N] [--config A|B] [--no-sample]\n"
           "  --threads N   OpenMP threads (default: all cores)\n"
           "  --config X    run only config A or B (default: both)\n"
           "  --no-sample   skip the sampling lines (bench/compare.sh)\n");
}

int main(int argc, char **argv) {
    int threads = 0;
    const char *only = NULL;
    int sample = 1;
    static const struct option longopts[] = {
        {"threads", required_argument, 0, 't'}, {"config", required_argument, 0, 'c'},
        {"no-sample", no_argument, 0, 's'}, {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    int opt;
    while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (opt) {
        case 't': threads = (int)parse_long_flag("threads", optarg, 0, 1024); break;
        case 'c': only = optarg; break;
        case 's': sample = 0; break;
        case 'h': usage(); return 0;
        default: die("unknown flag (see bench --help)");
        }
    }
    if (optind < argc) die("unexpected argument '%s' (see bench --help)", argv[optind]);
    set_threads(threads);
    threads = get_threads();
    int n = (int)(sizeof configs / sizeof configs[0]);
    for (int i = 0; i < n; i++) {
        if (only && strcmp(only, configs[i].name) != 0) continue;
        bench_train(&configs[i], threads);
    }
    if (sample) bench_sample(&configs[n - 1], threads);
    return 0;
}
