/* fuzz_checkpoint.c — libFuzzer target for the checkpoint loaders (gpt.h).
 *
 * Each input is tried as
 *   1. a checkpoint: gpt_load. If it loads, the file must have been exactly
 *      the header plus the parameters (which must equal the input's bytes),
 *      its config must pass gpt_config_problem, and a forward pass with the
 *      LM loss must run (the values may be NaN: only memory safety counts);
 *   2. an optimizer state file (gpt_load_state) for a fixed tiny model at
 *      step 0 (FIXED_* below): the seeds in corpus/fuzz_checkpoint/ include
 *      one such file.
 * Any die() returns here (fuzz.h). Run by `make fuzz`.
 */
#include "fuzz.h"

#include "gpt.h"

/* ---- the fixed model whose state files we try ---- */

#define FIXED_MAXT 2
#define FIXED_V 1
#define FIXED_L 1
#define FIXED_NH 1
#define FIXED_C 1
#define MAX_FORWARD_T 4   /* tokens in the forward pass of a loaded model */

static const char *input_path;

typedef struct {
    GPT *m;
    float ema;
    uint64_t rng;
} StateCall;

static void load_checkpoint(void *arg) { gpt_load((GPT *)arg, input_path); }

static void load_state(void *arg) {
    StateCall *c = arg;
    c->rng = gpt_load_state(c->m, input_path, &c->ema);
}

/* A forward pass and the loss on a few tokens of the loaded model. */
static void forward(void *arg) {
    GPT *m = arg;
    int T = m->config.maxT < MAX_FORWARD_T ? m->config.maxT : MAX_FORWARD_T;
    int inputs[MAX_FORWARD_T], targets[MAX_FORWARD_T];
    for (int t = 0; t < T; t++) {
        inputs[t] = t % m->config.V;
        targets[t] = (t + 1) % m->config.V;
    }
    gpt_forward(m, inputs, 1, T);
    (void)gpt_lm_loss(m, targets, NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    input_path = fuzz_file(data, size, "checkpoint");

    /* 1. as a checkpoint */
    GPT m;
    memset(&m, 0, sizeof m);
    if (fuzz_call(load_checkpoint, &m)) {
        if (gpt_config_problem(&m.config)) abort();  /* loaded a config it should have refused */
        size_t header = sizeof(int) * GPT_HEADER_INTS;
        if (size != header + sizeof(float) * m.num_parameters) abort();
        if (memcmp(m.params_memory, data + header, sizeof(float) * m.num_parameters) != 0) abort();
        if (!fuzz_call(forward, &m)) abort();  /* a loaded model must run */
        gpt_free(&m);
    }

    /* 2. as the optimizer state of the fixed model (only the fields
     * gpt_load_state reads are set) */
    GPTConfig cfg = gpt_config(FIXED_MAXT, FIXED_V, FIXED_L, FIXED_NH, FIXED_C);
    GPT s;
    memset(&s, 0, sizeof s);
    s.config = cfg;
    s.num_parameters = gpt_num_parameters(&cfg);
    s.step = 0;
    StateCall c = {&s, 0.0f, 0};
    if (fuzz_call(load_state, &c)) {
        if (size != sizeof(int) * GPT_STATE_HEADER_INTS + 2 * sizeof(float) * s.num_parameters) abort();
        free(s.m_memory);
        free(s.v_memory);
    }
    return 0;
}
