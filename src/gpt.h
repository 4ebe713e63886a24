/* gpt.h — a GPT-2 style decoder built from the ops of tensor.h.
 *
 * Architecture (Radford et al. 2019, as in karpathy/llm.c and nanoGPT):
 * learned token and position embeddings; L pre-LayerNorm blocks, each
 *     x = x + attn(ln1(x));  x = x + mlp(ln2(x)),  mlp = fcproj(gelu(fc(.)))
 * with causal multi-head attention and an MLP 4C wide; a final LayerNorm; the
 * output layer tied to the token embedding (logits = lnf(x) @ wte^T).
 *
 * Files: checkpoints use llm.c's layout, so a learner can move them between
 * the two projects unchanged: 256 int32 of header (magic 20240326, version 3,
 * maxT, V, L, NH, C, Vp; slot 8 holds our AdamW step count, which llm.c
 * ignores), then every parameter as float32 in the order of the enum below.
 *
 * Memory: one buffer each for parameters, gradients, AdamW's two moments,
 * activations and activation gradients; structs of named pointers into them.
 *
 * Shapes: B batch, T time, C channels, NH heads, L layers, V vocabulary,
 * Vp = V padded to a multiple of 64 (padded rows of wte are zero and never
 * sampled), maxT the longest context.
 */
#ifndef GPTLADDER_GPT_H
#define GPTLADDER_GPT_H

#include <stddef.h>
#include <stdint.h>
#include "tensor.h"
#include "tokenizer.h"

#define GPT_MAGIC 20240326
#define GPT_VERSION 3          /* llm.c's float32 checkpoint */
#define GPT_HEADER_INTS 256
#define GPT_VOCAB_PAD 64       /* Vp is V rounded up to a multiple of this */
#define GPT_HEADER_STEP 8      /* header slot where we record the AdamW step (llm.c ignores it) */
#define GPT_HEADER_TOKENIZER 9 /* header slot for the tokenizer's identity (tokenizer_id); 0: unknown */
#define GPT_STATE_MAGIC 20241129
#define GPT_STATE_VERSION 1
#define GPT_STATE_HEADER_INTS 16

typedef struct {
    int maxT;  /* longest sequence the position table covers */
    int V;     /* vocabulary size */
    int Vp;    /* V padded up to a multiple of GPT_VOCAB_PAD */
    int L;     /* number of blocks */
    int NH;    /* attention heads; C % NH == 0 */
    int C;     /* channels */
} GPTConfig;

/* ---- parameters: names, shapes and order (llm.c's) ---- */

enum {
    P_WTE, P_WPE, P_LN1W, P_LN1B, P_QKVW, P_QKVB, P_ATTPROJW, P_ATTPROJB,
    P_LN2W, P_LN2B, P_FCW, P_FCB, P_FCPROJW, P_FCPROJB, P_LNFW, P_LNFB,
    NUM_PARAM_TENSORS
};

typedef struct {
    float *wte;       /* (Vp, C)     token embedding, also the output layer */
    float *wpe;       /* (maxT, C)   position embedding */
    float *ln1w;      /* (L, C)      */
    float *ln1b;      /* (L, C)      */
    float *qkvw;      /* (L, 3C, C)  query, key, value projections, stacked */
    float *qkvb;      /* (L, 3C)     */
    float *attprojw;  /* (L, C, C)   attention output projection */
    float *attprojb;  /* (L, C)      */
    float *ln2w;      /* (L, C)      */
    float *ln2b;      /* (L, C)      */
    float *fcw;       /* (L, 4C, C)  MLP up */
    float *fcb;       /* (L, 4C)     */
    float *fcprojw;   /* (L, C, 4C)  MLP down */
    float *fcprojb;   /* (L, C)      */
    float *lnfw;      /* (C)         final LayerNorm */
    float *lnfb;      /* (C)         */
} ParamTensors;

/* ---- activations kept for the backward pass ---- */

enum {
    A_ENCODED, A_LN1, A_LN1_MEAN, A_LN1_RSTD, A_QKV, A_ATTY, A_PREATT, A_ATT,
    A_ATTPROJ, A_RESIDUAL2, A_LN2, A_LN2_MEAN, A_LN2_RSTD, A_FCH, A_FCH_GELU,
    A_FCPROJ, A_RESIDUAL3, A_LNF, A_LNF_MEAN, A_LNF_RSTD, A_LOGITS, A_PROBS, A_LOSSES,
    NUM_ACTIVATION_TENSORS
};

typedef struct {
    float *encoded;    /* (B, T, C)        token + position embedding */
    float *ln1;        /* (L, B, T, C)     */
    float *ln1_mean;   /* (L, B, T)        */
    float *ln1_rstd;   /* (L, B, T)        */
    float *qkv;        /* (L, B, T, 3C)    */
    float *atty;       /* (L, B, T, C)     attention output, heads side by side */
    float *preatt;     /* (L, B, NH, T, T) scores before softmax */
    float *att;        /* (L, B, NH, T, T) attention weights */
    float *attproj;    /* (L, B, T, C)     */
    float *residual2;  /* (L, B, T, C)     x after the attention half of the block */
    float *ln2;        /* (L, B, T, C)     */
    float *ln2_mean;   /* (L, B, T)        */
    float *ln2_rstd;   /* (L, B, T)        */
    float *fch;        /* (L, B, T, 4C)    */
    float *fch_gelu;   /* (L, B, T, 4C)    */
    float *fcproj;     /* (L, B, T, C)     */
    float *residual3;  /* (L, B, T, C)     x after the whole block */
    float *lnf;        /* (B, T, C)        final hidden states: heads read these */
    float *lnf_mean;   /* (B, T)           */
    float *lnf_rstd;   /* (B, T)           */
    float *logits;     /* (B, T, Vp)       */
    float *probs;      /* (B, T, Vp)       softmax, filled by gpt_lm_loss */
    float *losses;     /* (B, T)           per-position loss, filled by gpt_lm_loss */
} ActivationTensors;

typedef struct {
    GPTConfig config;
    /* parameters, their gradients, AdamW moments: one buffer each */
    ParamTensors params;
    size_t param_sizes[NUM_PARAM_TENSORS];
    float *params_memory;
    size_t num_parameters;
    ParamTensors grads;
    float *grads_memory;
    float *m_memory;   /* AdamW first moment, allocated on the first update */
    float *v_memory;   /* AdamW second moment */
    int step;          /* AdamW steps taken so far (0 after gpt_load: a new run) */
    int saved_step;    /* the step recorded in the loaded checkpoint (for --resume) */
    uint32_t tokenizer_id;  /* tokenizer_id() of the tokenizer it was trained with; 0: not recorded */
    /* activations for the batch shape last used (capacity Bmax x Tmax) */
    ActivationTensors acts;
    float *acts_memory;
    ActivationTensors grads_acts;
    float *grads_acts_memory;
    size_t num_activations;
    int Bmax, Tmax;    /* capacity of the activation buffers */
    int B, T;          /* shape of the current batch */
    int *inputs;       /* (B, T) tokens of the last forward */
    /* gradient inputs to gpt_backward, for callers that want a buffer */
    float *dlogits;    /* (B, T, Vp) */
    float *dhidden;    /* (B, T, C) */
} GPT;

/* ---- build, load, save, free ---- */

/* Checks a config; returns NULL if it is usable, else a static message
 * ("C (100) is not divisible by NH (3)") for the caller to report. */
const char *gpt_config_problem(const GPTConfig *cfg);

/* Fills in Vp from V (rounding up to GPT_VOCAB_PAD). */
GPTConfig gpt_config(int maxT, int V, int L, int NH, int C);

/* Allocates a model and initialises it as GPT-2 does: weights ~ N(0, 0.02),
 * the two projections that write into the residual stream (attprojw, fcprojw)
 * scaled down by 1/sqrt(2L), biases 0, LayerNorm gains 1. Dies on a bad config. */
void gpt_build(GPT *m, GPTConfig cfg, uint64_t seed);

/* Loads a checkpoint written by gpt_save or by llm.c (float32, version 3).
 * Validates magic, version, every dimension and the exact file size before
 * allocating; dies with one line naming the file and the problem. */
void gpt_load(GPT *m, const char *path);

/* Writes the checkpoint atomically (PATH.tmp, then rename). */
void gpt_save(const GPT *m, const char *path);

/* The optimizer state that --resume needs beside a checkpoint: AdamW's two
 * moments, its step count, the data sampler's RNG state and the loss EMA.
 * Layout: 16 int32 {magic 20241129, version 1, step, num_parameters (as a
 * size_t in slots 3-4), rng state (uint64, slots 5-6), ema (float, slot 7)},
 * then m and v as float32. Written atomically. gpt_load_state dies unless the
 * file matches the loaded checkpoint exactly (parameter count, and the same
 * step as the checkpoint's header) and returns the RNG state. */
void gpt_save_state(const GPT *m, const char *path, uint64_t rng_state, float ema);
uint64_t gpt_load_state(GPT *m, const char *path, float *ema);

/* Frees everything gpt_build/gpt_load/gpt_forward allocated. */
void gpt_free(GPT *m);

/* The number of parameters in closed form (the test checks it against the
 * allocation): Vp C + maxT C + L (12 C^2 + 13 C) + 2 C. */
size_t gpt_num_parameters(const GPTConfig *cfg);

/* ---- forward, loss, backward, update ---- */

/* Runs the model on inputs (B, T) with T <= maxT and every token < V.
 * Afterwards m->acts.lnf (B,T,C) holds the final hidden states and
 * m->acts.logits (B,T,Vp) the next-token logits (row b*T+t predicts the token
 * after position t). Grows the activation buffers if needed. */
void gpt_forward(GPT *m, const int *inputs, int B, int T);

/* The language-modelling loss of the last forward: cross-entropy of the
 * logits against targets (B,T), averaged with per-position weights (NULL: all
 * 1; 0 masks a position, as SFT does for prompt tokens). Fills acts.probs and
 * acts.losses. */
float gpt_lm_loss(GPT *m, const int *targets, const float *weights);

/* Sets m->dlogits to the gradient of (scale * the loss of gpt_lm_loss with the
 * same targets and weights); call after gpt_lm_loss. */
void gpt_lm_loss_backward(GPT *m, const int *targets, const float *weights, float scale);

/* One language-modelling step without the update: forward, gpt_lm_loss,
 * zeroed gradients, backward. Leaves the gradient of the (weighted) loss in
 * m->grads and returns the loss. Pre-training, SFT, induction and scaling all
 * train with it; the optimiser step is the caller's. */
float gpt_lm_step(GPT *m, const int *inputs, const int *targets, const float *weights, int B, int T);


/* Sets the parameter gradients to zero (gradients accumulate otherwise). */
void gpt_zero_grad(GPT *m);

/* Backpropagates from a gradient on the logits (B,T,Vp) and/or a gradient on
 * the final hidden states (B,T,C) — either may be NULL — of the last forward,
 * ADDING into m->grads. Heads (a classifier, a reward or a value head) pass
 * their gradient as dhidden; the LM loss passes m->dlogits. */
void gpt_backward(GPT *m, const float *dlogits, const float *dhidden);

/* Clips the global gradient norm to max_norm (<= 0: no clipping) and returns
 * the norm before clipping. */
float gpt_clip_grad(GPT *m, float max_norm);

/* One AdamW step with learning rate lr; decay only on 2-D tensors. */
void gpt_update(GPT *m, float lr, const AdamWConfig *cfg);

/* ---- token streams ---- */

/* The mean LM loss over consecutive windows of a token stream, the same
 * windows every time: at most max_batches batches of B x T (inputs and
 * targets are scratch of B*T each). NAN if the stream has no full batch.
 * Rung 1's validation loss, and PPO's measure of forgetting. */
#define GPT_EVAL_BATCHES 16
float gpt_eval_loss(GPT *m, const int *tokens, size_t n, int B, int T, int max_batches, int *inputs,
                    int *targets);

/* B random windows of T+1 consecutive tokens from a token stream of n > T:
 * inputs (B,T) are the first T of each, targets (B,T) the last T (each
 * position predicts the next token). The batches of pre-training and of
 * PPO-ptx. */
void gpt_random_windows(const int *tokens, size_t n, int B, int T, int *inputs, int *targets, Rng *rng);

/* ---- views ---- */

/* The parameters of one block, so that forward and backward read like the
 * architecture and not like pointer arithmetic. */
typedef struct {
    float *ln1w, *ln1b, *qkvw, *qkvb, *attprojw, *attprojb;
    float *ln2w, *ln2b, *fcw, *fcb, *fcprojw, *fcprojb;
} LayerParams;
LayerParams gpt_layer_params(const ParamTensors *p, const GPTConfig *cfg, int l);

/* ---- a model and its tokenizer ---- */

/* The one check that a checkpoint and a tokenizer belong together: the same
 * vocabulary size, and the tokenizer the checkpoint records (tokenizer_id in
 * header slot GPT_HEADER_TOKENIZER) is this one. Dies with one line naming
 * both files otherwise. A checkpoint that records none (an older file, or
 * llm.c's) is accepted with a one-line note on stderr. */
void gpt_check_tokenizer(const GPT *m, const char *model_path, const Tokenizer *tok, const char *tok_path);

/* sampling (gpt_sample, the key/value-cache sampler) lives in gpt_sample.c */
#include "gpt_sample.h"

#endif
