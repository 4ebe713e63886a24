/* gpt.c — the GPT-2 model: build, forward, backward, update, sampling and
 * llm.c-compatible checkpoints. The architecture and the shapes are described
 * in gpt.h; every op is a forward/backward pair from tensor.c.
 *
 * To watch one token flow through a block in gdb: break on block_forward,
 * then print m->acts.residual3[...] before and after; the backward is
 * block_backward, the same steps in reverse order.
 */
#include "gpt.h"
#include "util.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- sizes ---- */

#define INIT_STD 0.02f  /* GPT-2's initial standard deviation of every weight */

GPTConfig gpt_config(int maxT, int V, int L, int NH, int C) {
    GPTConfig c = {maxT, V, (V + GPT_VOCAB_PAD - 1) / GPT_VOCAB_PAD * GPT_VOCAB_PAD, L, NH, C};
    return c;
}

const char *gpt_config_problem(const GPTConfig *c) {
    static char msg[160];
    if (c->maxT < 1 || c->maxT > 65536) snprintf(msg, sizeof msg, "maxT (%d) is not in [1, 65536]", c->maxT);
    else if (c->V < 1 || c->V > 65536) snprintf(msg, sizeof msg, "V (%d) is not in [1, 65536] (tokens are uint16)", c->V);
    else if (c->Vp < c->V || c->Vp > c->V + 1024) snprintf(msg, sizeof msg, "Vp (%d) must be at least V (%d) and not far above it", c->Vp, c->V);
    else if (c->L < 1 || c->L > 256) snprintf(msg, sizeof msg, "L (%d) is not in [1, 256]", c->L);
    else if (c->C < 1 || c->C > 16384) snprintf(msg, sizeof msg, "C (%d) is not in [1, 16384]", c->C);
    else if (c->NH < 1 || c->C % c->NH != 0) snprintf(msg, sizeof msg, "C (%d) is not divisible by NH (%d)", c->C, c->NH);
    else return NULL;
    return msg;
}

static void param_sizes(size_t sizes[NUM_PARAM_TENSORS], const GPTConfig *cfg) {
    size_t Vp = cfg->Vp, C = cfg->C, L = cfg->L, maxT = cfg->maxT;
    sizes[P_WTE] = Vp * C;
    sizes[P_WPE] = maxT * C;
    sizes[P_LN1W] = L * C;
    sizes[P_LN1B] = L * C;
    sizes[P_QKVW] = L * 3 * C * C;
    sizes[P_QKVB] = L * 3 * C;
    sizes[P_ATTPROJW] = L * C * C;
    sizes[P_ATTPROJB] = L * C;
    sizes[P_LN2W] = L * C;
    sizes[P_LN2B] = L * C;
    sizes[P_FCW] = L * 4 * C * C;
    sizes[P_FCB] = L * 4 * C;
    sizes[P_FCPROJW] = L * C * 4 * C;
    sizes[P_FCPROJB] = L * C;
    sizes[P_LNFW] = C;
    sizes[P_LNFB] = C;
}

/* Which parameter tensors are 2-D matrices (AdamW decays those only). */
static const int param_is_matrix[NUM_PARAM_TENSORS] = {
    [P_WTE] = 1, [P_WPE] = 1, [P_QKVW] = 1, [P_ATTPROJW] = 1, [P_FCW] = 1, [P_FCPROJW] = 1,
};

size_t gpt_num_parameters(const GPTConfig *cfg) {
    size_t C = cfg->C;
    return (size_t)cfg->Vp * C + (size_t)cfg->maxT * C + (size_t)cfg->L * (12 * C * C + 13 * C) + 2 * C;
}

/* The fields of a ParamTensors, indexed by the enum. */
static void param_fields(ParamTensors *p, float **ptrs[NUM_PARAM_TENSORS]) {
    float **f[NUM_PARAM_TENSORS] = {
        &p->wte, &p->wpe, &p->ln1w, &p->ln1b, &p->qkvw, &p->qkvb, &p->attprojw, &p->attprojb,
        &p->ln2w, &p->ln2b, &p->fcw, &p->fcb, &p->fcprojw, &p->fcprojb, &p->lnfw, &p->lnfb,
    };
    memcpy(ptrs, f, sizeof f);
}

/* Points the fields of a ParamTensors (in enum order) into one buffer. */
static void point_params(ParamTensors *p, float *mem, const size_t sizes[NUM_PARAM_TENSORS]) {
    float **ptrs[NUM_PARAM_TENSORS];
    param_fields(p, ptrs);
    for (int i = 0; i < NUM_PARAM_TENSORS; i++) {
        *ptrs[i] = mem;
        mem += sizes[i];
    }
}

static void activation_sizes(size_t sizes[NUM_ACTIVATION_TENSORS], const GPTConfig *cfg, int B, int T) {
    size_t BT = (size_t)B * T, C = cfg->C, L = cfg->L, NH = cfg->NH, Vp = cfg->Vp;
    sizes[A_ENCODED] = BT * C;
    sizes[A_LN1] = L * BT * C;
    sizes[A_LN1_MEAN] = L * BT;
    sizes[A_LN1_RSTD] = L * BT;
    sizes[A_QKV] = L * BT * 3 * C;
    sizes[A_ATTY] = L * BT * C;
    sizes[A_PREATT] = L * B * NH * T * T;
    sizes[A_ATT] = L * B * NH * T * T;
    sizes[A_ATTPROJ] = L * BT * C;
    sizes[A_RESIDUAL2] = L * BT * C;
    sizes[A_LN2] = L * BT * C;
    sizes[A_LN2_MEAN] = L * BT;
    sizes[A_LN2_RSTD] = L * BT;
    sizes[A_FCH] = L * BT * 4 * C;
    sizes[A_FCH_GELU] = L * BT * 4 * C;
    sizes[A_FCPROJ] = L * BT * C;
    sizes[A_RESIDUAL3] = L * BT * C;
    sizes[A_LNF] = BT * C;
    sizes[A_LNF_MEAN] = BT;
    sizes[A_LNF_RSTD] = BT;
    sizes[A_LOGITS] = BT * Vp;
    sizes[A_PROBS] = BT * Vp;
    sizes[A_LOSSES] = BT;
}

static void point_activations(ActivationTensors *a, float *mem, const size_t sizes[NUM_ACTIVATION_TENSORS]) {
    float **ptrs[NUM_ACTIVATION_TENSORS] = {
        &a->encoded, &a->ln1, &a->ln1_mean, &a->ln1_rstd, &a->qkv, &a->atty, &a->preatt,
        &a->att, &a->attproj, &a->residual2, &a->ln2, &a->ln2_mean, &a->ln2_rstd, &a->fch,
        &a->fch_gelu, &a->fcproj, &a->residual3, &a->lnf, &a->lnf_mean, &a->lnf_rstd,
        &a->logits, &a->probs, &a->losses,
    };
    for (int i = 0; i < NUM_ACTIVATION_TENSORS; i++) {
        *ptrs[i] = mem;
        mem += sizes[i];
    }
}

LayerParams gpt_layer_params(const ParamTensors *p, const GPTConfig *cfg, int l) {
    size_t C = cfg->C;
    LayerParams lp = {
        p->ln1w + l * C, p->ln1b + l * C,
        p->qkvw + l * 3 * C * C, p->qkvb + l * 3 * C,
        p->attprojw + l * C * C, p->attprojb + l * C,
        p->ln2w + l * C, p->ln2b + l * C,
        p->fcw + l * 4 * C * C, p->fcb + l * 4 * C,
        p->fcprojw + l * 4 * C * C, p->fcprojb + l * C,
    };
    return lp;
}

/* The activations of one block, laid out for capacity Bmax x Tmax. */
typedef struct {
    float *ln1, *ln1_mean, *ln1_rstd, *qkv, *atty, *preatt, *att, *attproj, *residual2;
    float *ln2, *ln2_mean, *ln2_rstd, *fch, *fch_gelu, *fcproj, *residual3;
} LayerActs;

static LayerActs layer_acts(const ActivationTensors *a, const GPT *m, int l) {
    size_t BT = (size_t)m->Bmax * m->Tmax, C = m->config.C;
    size_t att = (size_t)m->Bmax * m->config.NH * m->Tmax * m->Tmax;
    LayerActs la = {
        a->ln1 + l * BT * C, a->ln1_mean + l * BT, a->ln1_rstd + l * BT,
        a->qkv + l * BT * 3 * C, a->atty + l * BT * C, a->preatt + l * att, a->att + l * att,
        a->attproj + l * BT * C, a->residual2 + l * BT * C,
        a->ln2 + l * BT * C, a->ln2_mean + l * BT, a->ln2_rstd + l * BT,
        a->fch + l * BT * 4 * C, a->fch_gelu + l * BT * 4 * C,
        a->fcproj + l * BT * C, a->residual3 + l * BT * C,
    };
    return la;
}

/* ---- build and free ---- */

static void alloc_params(GPT *m, GPTConfig cfg) {
    memset(m, 0, sizeof *m);
    const char *problem = gpt_config_problem(&cfg);
    if (problem) die("bad model config: %s", problem);
    m->config = cfg;
    param_sizes(m->param_sizes, &cfg);
    m->num_parameters = 0;
    for (int i = 0; i < NUM_PARAM_TENSORS; i++) m->num_parameters += m->param_sizes[i];
    m->params_memory = malloc_or_die(sizeof(float) * m->num_parameters, "the parameters");
    point_params(&m->params, m->params_memory, m->param_sizes);
}

void gpt_build(GPT *m, GPTConfig cfg, uint64_t seed) {
    alloc_params(m, cfg);
    Rng rng;
    rng_seed(&rng, seed);
    float **fields[NUM_PARAM_TENSORS];
    param_fields(&m->params, fields);
    float proj_std = INIT_STD / sqrtf(2.0f * cfg.L);  /* GPT-2: residual writes scaled by 1/sqrt(2L) */
    for (int i = 0; i < NUM_PARAM_TENSORS; i++) {
        float *w = *fields[i];
        size_t n = m->param_sizes[i];
        switch (i) {
        case P_LN1W: case P_LN2W: case P_LNFW:
            for (size_t j = 0; j < n; j++) w[j] = 1.0f;
            break;
        case P_QKVB: case P_ATTPROJB: case P_FCB: case P_FCPROJB:
        case P_LN1B: case P_LN2B: case P_LNFB:
            memset(w, 0, sizeof(float) * n);
            break;
        case P_ATTPROJW: case P_FCPROJW:
            for (size_t j = 0; j < n; j++) w[j] = proj_std * rng_normal(&rng);
            break;
        default:  /* wte, wpe, qkvw, fcw */
            for (size_t j = 0; j < n; j++) w[j] = INIT_STD * rng_normal(&rng);
        }
    }
    /* padded vocabulary rows stay zero: no real token ever uses them */
    memset(m->params.wte + (size_t)cfg.V * cfg.C, 0, sizeof(float) * (size_t)(cfg.Vp - cfg.V) * cfg.C);
}

void gpt_free(GPT *m) {
    free(m->params_memory);
    free(m->grads_memory);
    free(m->m_memory);
    free(m->v_memory);
    free(m->acts_memory);
    free(m->grads_acts_memory);
    free(m->inputs);
    free(m->dlogits);
    free(m->dhidden);
    memset(m, 0, sizeof *m);
}

/* ---- checkpoints ---- */

void gpt_save(const GPT *m, const char *path) {
    int header[GPT_HEADER_INTS] = {0};
    const GPTConfig *c = &m->config;
    header[0] = GPT_MAGIC;
    header[1] = GPT_VERSION;
    header[2] = c->maxT;
    header[3] = c->V;
    header[4] = c->L;
    header[5] = c->NH;
    header[6] = c->C;
    header[7] = c->Vp;
    header[GPT_HEADER_STEP] = m->step;  /* ours; llm.c ignores header slots it does not know */
    header[GPT_HEADER_TOKENIZER] = (int)m->tokenizer_id;
    AtomicFile af;
    atomic_open(&af, path);
    fwrite_or_die(header, sizeof(int), GPT_HEADER_INTS, af.f, af.tmp);
    fwrite_or_die(m->params_memory, sizeof(float), m->num_parameters, af.f, af.tmp);
    atomic_commit(&af);
}

void gpt_load(GPT *m, const char *path) {
    FILE *f = fopen_or_die(path, "rb");
    size_t fsize = file_size_or_die(f, path);
    if (fsize < sizeof(int) * GPT_HEADER_INTS) {
        die("%s is not a checkpoint: %zu bytes, shorter than the %zu-byte header", path, fsize,
            sizeof(int) * GPT_HEADER_INTS);
    }
    int header[GPT_HEADER_INTS];
    fread_or_die(header, sizeof(int), GPT_HEADER_INTS, f, path, "the header");
    if (header[0] != GPT_MAGIC) {
        die("%s is not a GPT-2 checkpoint: magic number %d, expected %d", path, header[0], GPT_MAGIC);
    }
    if (header[1] != GPT_VERSION) {
        die("%s has checkpoint version %d; only version %d (float32) is supported%s", path,
            header[1], GPT_VERSION, header[1] == 5 ? " (version 5 is llm.c's bfloat16)" : "");
    }
    GPTConfig cfg = {header[2], header[3], header[7], header[4], header[5], header[6]};
    const char *problem = gpt_config_problem(&cfg);
    if (problem) die("%s has a bad header: %s", path, problem);
    size_t expect = sizeof(int) * GPT_HEADER_INTS + sizeof(float) * gpt_num_parameters(&cfg);
    if (fsize != expect) {
        die("%s has the wrong size: %zu bytes, but its header (maxT=%d V=%d L=%d NH=%d C=%d Vp=%d) "
            "needs exactly %zu%s", path, fsize, cfg.maxT, cfg.V, cfg.L, cfg.NH, cfg.C, cfg.Vp,
            expect, fsize < expect ? " (truncated?)" : "");
    }
    alloc_params(m, cfg);
    fread_or_die(m->params_memory, sizeof(float), m->num_parameters, f, path, "the parameters");
    fclose(f);
    /* The optimiser starts afresh (step 0, zero moments) whatever the file
     * says: fine-tuning a loaded model is a new run. Only --resume, through
     * gpt_load_state, continues the recorded step. */
    m->saved_step = header[GPT_HEADER_STEP] > 0 ? header[GPT_HEADER_STEP] : 0;  /* 0 in llm.c's files */
    m->tokenizer_id = (uint32_t)header[GPT_HEADER_TOKENIZER];
    m->step = 0;
}

/* ---- optimizer state, for resuming ---- */

void gpt_save_state(const GPT *m, const char *path, uint64_t rng_state, float ema) {
    if (!m->m_memory) die("gpt_save_state: no optimizer state yet (call after gpt_update)");
    int header[GPT_STATE_HEADER_INTS] = {GPT_STATE_MAGIC, GPT_STATE_VERSION, m->step};
    size_t n = m->num_parameters;
    memcpy(&header[3], &n, sizeof n);
    memcpy(&header[5], &rng_state, sizeof rng_state);
    memcpy(&header[7], &ema, sizeof ema);
    AtomicFile af;
    atomic_open(&af, path);
    fwrite_or_die(header, sizeof(int), GPT_STATE_HEADER_INTS, af.f, af.tmp);
    fwrite_or_die(m->m_memory, sizeof(float), n, af.f, af.tmp);
    fwrite_or_die(m->v_memory, sizeof(float), n, af.f, af.tmp);
    atomic_commit(&af);
}

uint64_t gpt_load_state(GPT *m, const char *path, float *ema) {
    FILE *f = fopen_or_die(path, "rb");
    size_t fsize = file_size_or_die(f, path);
    int header[GPT_STATE_HEADER_INTS];
    if (fsize < sizeof header) die("%s is not an optimizer state file: only %zu bytes", path, fsize);
    fread_or_die(header, sizeof(int), GPT_STATE_HEADER_INTS, f, path, "the header");
    if (header[0] != GPT_STATE_MAGIC) die("%s is not an optimizer state file: magic %d, expected %d", path, header[0], GPT_STATE_MAGIC);
    if (header[1] != GPT_STATE_VERSION) die("%s has state version %d, expected %d", path, header[1], GPT_STATE_VERSION);
    size_t n;
    uint64_t rng_state;
    memcpy(&n, &header[3], sizeof n);
    memcpy(&rng_state, &header[5], sizeof rng_state);
    memcpy(ema, &header[7], sizeof *ema);
    if (n != m->num_parameters) die("%s holds state for %zu parameters, but the checkpoint has %zu", path, n, m->num_parameters);
    if (header[2] != m->saved_step) {
        die("%s was saved at step %d but the checkpoint at step %d: they are from different runs or a "
            "save was interrupted between them", path, header[2], m->saved_step);
    }
    size_t expect = sizeof header + 2 * sizeof(float) * n;
    if (fsize != expect) die("%s has the wrong size: %zu bytes, expected %zu", path, fsize, expect);
    free(m->m_memory);
    free(m->v_memory);
    m->m_memory = malloc_or_die(sizeof(float) * n, "AdamW's first moment");
    m->v_memory = malloc_or_die(sizeof(float) * n, "AdamW's second moment");
    fread_or_die(m->m_memory, sizeof(float), n, f, path, "the first moments");
    fread_or_die(m->v_memory, sizeof(float), n, f, path, "the second moments");
    fclose(f);
    m->step = m->saved_step;  /* the moments are back, so the step count continues too */
    return rng_state;
}

/* ---- forward ---- */

/* Makes room for a batch of B x T, growing (never shrinking) the buffers. */
static void ensure_activations(GPT *m, int B, int T) {
    if (T > m->config.maxT) die("sequence length %d exceeds the model's maxT %d", T, m->config.maxT);
    if (B < 1 || T < 1) die("empty batch (B=%d, T=%d)", B, T);
    m->B = B;
    m->T = T;
    if (m->acts_memory && B <= m->Bmax && T <= m->Tmax) return;
    int Bmax = B > m->Bmax ? B : m->Bmax, Tmax = T > m->Tmax ? T : m->Tmax;
    size_t sizes[NUM_ACTIVATION_TENSORS];
    activation_sizes(sizes, &m->config, Bmax, Tmax);
    size_t n = 0;
    for (int i = 0; i < NUM_ACTIVATION_TENSORS; i++) n += sizes[i];
    free(m->acts_memory);
    free(m->grads_acts_memory);
    free(m->inputs);
    free(m->dlogits);
    free(m->dhidden);
    m->acts_memory = malloc_or_die(sizeof(float) * n, "the activations");
    point_activations(&m->acts, m->acts_memory, sizes);
    m->grads_acts_memory = NULL;  /* allocated by the first backward */
    m->num_activations = n;
    m->Bmax = Bmax;
    m->Tmax = Tmax;
    size_t BT = (size_t)Bmax * Tmax;
    m->inputs = malloc_or_die(sizeof(int) * BT, "the inputs");
    m->dlogits = calloc_or_die(BT * m->config.Vp, sizeof(float), "the logit gradients");
    m->dhidden = calloc_or_die(BT * m->config.C, sizeof(float), "the hidden-state gradients");
}

/* One transformer block: x_out = x + attn(ln1(x)); then + mlp(ln2(.)) */
static void block_forward(const GPT *m, const LayerParams *p, const LayerActs *a,
                          const float *x, int B, int T) {
    int C = m->config.C, NH = m->config.NH, N = B * T;
    layernorm_forward(a->ln1, a->ln1_mean, a->ln1_rstd, x, p->ln1w, p->ln1b, N, C);
    matmul_forward(a->qkv, a->ln1, p->qkvw, p->qkvb, N, C, 3 * C);
    attention_forward(a->atty, a->preatt, a->att, a->qkv, B, T, C, NH);
    matmul_forward(a->attproj, a->atty, p->attprojw, p->attprojb, N, C, C);
    residual_forward(a->residual2, x, a->attproj, (size_t)N * C);
    layernorm_forward(a->ln2, a->ln2_mean, a->ln2_rstd, a->residual2, p->ln2w, p->ln2b, N, C);
    matmul_forward(a->fch, a->ln2, p->fcw, p->fcb, N, C, 4 * C);
    gelu_forward(a->fch_gelu, a->fch, (size_t)N * 4 * C);
    matmul_forward(a->fcproj, a->fch_gelu, p->fcprojw, p->fcprojb, N, 4 * C, C);
    residual_forward(a->residual3, a->residual2, a->fcproj, (size_t)N * C);
}

void gpt_forward(GPT *m, const int *inputs, int B, int T) {
    const GPTConfig *c = &m->config;
    for (int i = 0; i < B * T; i++) {
        if (inputs[i] < 0 || inputs[i] >= c->V) die("token %d at position %d is outside the vocabulary [0, %d)", inputs[i], i, c->V);
    }
    ensure_activations(m, B, T);
    memcpy(m->inputs, inputs, sizeof(int) * (size_t)B * T);
    ActivationTensors *a = &m->acts;
    embedding_forward(a->encoded, inputs, m->params.wte, m->params.wpe, B, T, c->C);
    const float *x = a->encoded;
    for (int l = 0; l < c->L; l++) {
        LayerParams p = gpt_layer_params(&m->params, c, l);
        LayerActs la = layer_acts(a, m, l);
        block_forward(m, &p, &la, x, B, T);
        x = la.residual3;
    }
    layernorm_forward(a->lnf, a->lnf_mean, a->lnf_rstd, x, m->params.lnfw, m->params.lnfb, B * T, c->C);
    /* the output layer is the token embedding, transposed: logits = lnf @ wte^T */
    matmul_forward(a->logits, a->lnf, m->params.wte, NULL, B * T, c->C, c->Vp);
}

float gpt_lm_loss(GPT *m, const int *targets, const float *weights) {
    const GPTConfig *c = &m->config;
    int N = m->B * m->T;
    for (int i = 0; i < N; i++) {
        if ((!weights || weights[i] != 0.0f) && (targets[i] < 0 || targets[i] >= c->V)) {
            die("target %d at position %d is outside the vocabulary [0, %d)", targets[i], i, c->V);
        }
    }
    return crossentropy_forward(m->acts.probs, m->acts.losses, m->acts.logits, targets, weights,
                                N, c->V, c->Vp);
}

void gpt_lm_loss_backward(GPT *m, const int *targets, const float *weights, float scale) {
    size_t n = (size_t)m->B * m->T * m->config.Vp;
    zero_floats(m->dlogits, n);
    crossentropy_backward(m->dlogits, m->acts.probs, targets, weights, scale, m->B * m->T,
                          m->config.V, m->config.Vp);
}

float gpt_lm_step(GPT *m, const int *inputs, const int *targets, const float *weights, int B, int T) {
    gpt_forward(m, inputs, B, T);
    float loss = gpt_lm_loss(m, targets, weights);
    gpt_zero_grad(m);
    gpt_lm_loss_backward(m, targets, weights, 1.0f);
    gpt_backward(m, m->dlogits, NULL);
    return loss;
}

/* ---- backward ---- */

void gpt_zero_grad(GPT *m) {
    if (!m->grads_memory) {
        m->grads_memory = malloc_or_die(sizeof(float) * m->num_parameters, "the gradients");
        point_params(&m->grads, m->grads_memory, m->param_sizes);
    }
    zero_floats(m->grads_memory, m->num_parameters);
}

/* The block's forward, differentiated step by step in reverse order.
 * dx_out is the gradient arriving at the block's output; dx receives (+=) the
 * gradient at its input x. */
static void block_backward(const GPT *m, const LayerParams *p, const LayerParams *g,
                           const LayerActs *a, const LayerActs *d, const float *x, float *dx,
                           const float *dx_out, int B, int T) {
    int C = m->config.C, NH = m->config.NH, N = B * T;
    /* residual3 = residual2 + fcproj */
    residual_backward(d->residual2, d->fcproj, dx_out, (size_t)N * C);
    /* fcproj = fch_gelu @ fcprojw^T + b;  fch_gelu = gelu(fch);  fch = ln2 @ fcw^T + b */
    matmul_backward(d->fch_gelu, g->fcprojw, g->fcprojb, d->fcproj, a->fch_gelu, p->fcprojw, N, 4 * C, C);
    gelu_backward(d->fch, d->fch_gelu, a->fch, (size_t)N * 4 * C);
    matmul_backward(d->ln2, g->fcw, g->fcb, d->fch, a->ln2, p->fcw, N, C, 4 * C);
    /* ln2 = layernorm(residual2) */
    layernorm_backward(d->residual2, g->ln2w, g->ln2b, d->ln2, a->residual2, p->ln2w,
                       a->ln2_mean, a->ln2_rstd, N, C);
    /* residual2 = x + attproj */
    residual_backward(dx, d->attproj, d->residual2, (size_t)N * C);
    /* attproj = atty @ attprojw^T + b;  atty = attention(qkv);  qkv = ln1 @ qkvw^T + b */
    matmul_backward(d->atty, g->attprojw, g->attprojb, d->attproj, a->atty, p->attprojw, N, C, C);
    attention_backward(d->qkv, d->preatt, d->att, d->atty, a->qkv, a->att, B, T, C, NH);
    matmul_backward(d->ln1, g->qkvw, g->qkvb, d->qkv, a->ln1, p->qkvw, N, C, 3 * C);
    /* ln1 = layernorm(x) */
    layernorm_backward(dx, g->ln1w, g->ln1b, d->ln1, x, p->ln1w, a->ln1_mean, a->ln1_rstd, N, C);
}

void gpt_backward(GPT *m, const float *dlogits, const float *dhidden) {
    const GPTConfig *c = &m->config;
    int B = m->B, T = m->T, N = B * T, C = c->C;
    if (!m->acts_memory) die("gpt_backward called before gpt_forward");
    if (!m->grads_memory) gpt_zero_grad(m);
    if (!m->grads_acts_memory) {
        m->grads_acts_memory = malloc_or_die(sizeof(float) * m->num_activations, "the activation gradients");
        size_t sizes[NUM_ACTIVATION_TENSORS];
        activation_sizes(sizes, c, m->Bmax, m->Tmax);
        point_activations(&m->grads_acts, m->grads_acts_memory, sizes);
    }
    /* activation gradients are scratch for this pass: they start at zero */
    zero_floats(m->grads_acts_memory, m->num_activations);
    ActivationTensors *a = &m->acts, *d = &m->grads_acts;
    ParamTensors *p = &m->params, *g = &m->grads;

    /* the gradient on the final hidden states: from a head, and from the logits */
    if (dhidden) memcpy(d->lnf, dhidden, sizeof(float) * (size_t)N * C);
    /* logits = lnf @ wte^T: the tied embedding gets its first gradient here */
    if (dlogits) matmul_backward(d->lnf, g->wte, NULL, dlogits, a->lnf, p->wte, N, C, c->Vp);

    /* lnf = layernorm(residual3 of the last block) */
    LayerActs last = layer_acts(a, m, c->L - 1), dlast = layer_acts(d, m, c->L - 1);
    layernorm_backward(dlast.residual3, g->lnfw, g->lnfb, d->lnf, last.residual3, p->lnfw,
                       a->lnf_mean, a->lnf_rstd, N, C);
    for (int l = c->L - 1; l >= 0; l--) {
        LayerParams lp = gpt_layer_params(p, c, l), lg = gpt_layer_params(g, c, l);
        LayerActs la = layer_acts(a, m, l), ld = layer_acts(d, m, l);
        const float *x = l == 0 ? a->encoded : layer_acts(a, m, l - 1).residual3;
        float *dx = l == 0 ? d->encoded : layer_acts(d, m, l - 1).residual3;
        block_backward(m, &lp, &lg, &la, &ld, x, dx, ld.residual3, B, T);
    }
    /* encoded = wte[token] + wpe[t]: the tied embedding's second gradient */
    embedding_backward(g->wte, g->wpe, d->encoded, m->inputs, B, T, C);
}

/* ---- update ---- */

float gpt_clip_grad(GPT *m, float max_norm) {
    return grad_clip(m->grads_memory, m->num_parameters, max_norm);
}

void gpt_update(GPT *m, float lr, const AdamWConfig *cfg) {
    if (!m->m_memory) {
        m->m_memory = calloc_or_die(m->num_parameters, sizeof(float), "AdamW's first moment");
        m->v_memory = calloc_or_die(m->num_parameters, sizeof(float), "AdamW's second moment");
    }
    m->step++;
    size_t off = 0;
    for (int i = 0; i < NUM_PARAM_TENSORS; i++) {
        size_t n = m->param_sizes[i];
        adamw_update(m->params_memory + off, m->grads_memory + off, m->m_memory + off,
                     m->v_memory + off, n, cfg, lr, m->step, param_is_matrix[i]);
        off += n;
    }
}

/* ---- token streams: training windows, evaluation ---- */

float gpt_eval_loss(GPT *m, const int *tokens, size_t n, int B, int T, int max_batches, int *inputs,
                    int *targets) {
    size_t windows = (n - 1) / (size_t)T;
    int nb = (int)(windows / (size_t)B);
    if (nb > max_batches) nb = max_batches;
    if (nb == 0) return NAN;
    double sum = 0.0;
    for (int k = 0; k < nb; k++) {
        for (int b = 0; b < B; b++) {
            size_t off = ((size_t)k * B + b) * (size_t)T;
            for (int t = 0; t < T; t++) {
                inputs[b * T + t] = tokens[off + t];
                targets[b * T + t] = tokens[off + t + 1];
            }
        }
        gpt_forward(m, inputs, B, T);
        sum += gpt_lm_loss(m, targets, NULL);
    }
    return (float)(sum / nb);
}

void gpt_random_windows(const int *tokens, size_t n, int B, int T, int *inputs, int *targets, Rng *rng) {
    if (n <= (size_t)T) die("a token stream of %zu tokens has no window of %d + 1", n, T);
    for (int b = 0; b < B; b++) {
        size_t off = (size_t)rng_below(rng, (int)(n - (size_t)T));
        for (int t = 0; t < T; t++) {
            inputs[b * T + t] = tokens[off + t];
            targets[b * T + t] = tokens[off + t + 1];
        }
    }
}

/* ---- a model and its tokenizer ---- */

void gpt_check_tokenizer(const GPT *m, const char *model_path, const Tokenizer *tok, const char *tok_path) {
    if (m->config.V != tok->vocab_size) {
        die("%s has a vocabulary of %d tokens, but the tokenizer %s has %d: they do not belong together",
            model_path, m->config.V, tok_path, tok->vocab_size);
    }
    uint32_t id = tokenizer_id(tok);
    if (m->tokenizer_id == 0) {
        fprintf(stderr, "note: %s records no tokenizer (an older checkpoint); assuming %s\n", model_path, tok_path);
    } else if (m->tokenizer_id != id) {
        die("%s was trained with another tokenizer (id %08x) than %s (id %08x): they do not belong together",
            model_path, m->tokenizer_id, tok_path, id);
    }
}
