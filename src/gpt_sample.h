/* gpt_sample.h — sampling from a GPT (gpt.h): the reference sampler that
 * recomputes everything, and the sampler with a key/value cache, for one
 * sequence (chat) or a batch of them (PPO's rollouts, the rungs' answers
 * through chat_answers).
 *
 * Shapes: C channels, L layers, NH heads, maxT the context, Vp the padded
 * vocabulary (gpt.h); nseq sequences sampled together.
 */
#ifndef GPTLADDER_GPT_SAMPLE_H
#define GPTLADDER_GPT_SAMPLE_H

#include "gpt.h"

/* Continues tokens[0..n) (n >= 1) by up to max_new tokens, writing them to
 * out, stopping after stop_token (written, counted) if stop_token >= 0.
 * Sampling as sample_logits (temperature <= 0: greedy; top_k 0: no cut).
 * When the sequence outgrows maxT, only the last maxT tokens are seen.
 * Returns the number of tokens written. Uses a key/value cache: the prompt
 * goes through one pass (all its rows in each matmul), then each new token
 * through one row of each block, O(T C) per layer instead of recomputing the
 * whole prefix. */
int gpt_sample(GPT *m, const int *tokens, int n, int *out, int max_new, int stop_token,
               float temperature, int top_k, Rng *rng);

/* The same without the cache: recomputes the whole window for every token.
 * The reference the cached sampler is tested against (same tokens). The
 * activations of the last gpt_forward are overwritten. */
int gpt_sample_uncached(GPT *m, const int *tokens, int n, int *out, int max_new, int stop_token,
                        float temperature, int top_k, Rng *rng);

/* A sampler the caller keeps, for many samples from the same weights.
 * gpt_sample makes one per call: it allocates the key/value cache and copies
 * every weight matrix transposed (the layout the few-row kernel reads), work
 * worth a few sampled tokens at our sizes. PPO samples 64 responses from each
 * version of the policy, so it makes one sampler per run and refreshes it
 * once per iteration, after that iteration's updates (ppo.c, ppo_run).
 *
 * Memory: the cache holds the keys and values of every layer for the
 * sequences of one call, L * (prompt + max_new) * 2C floats a sequence,
 * packed one after another; it grows to the largest call so far and is kept
 * (nothing is allocated at init: the first run allocates it). A batch
 * larger than GPT_SAMPLER_SEQS is sampled that many sequences at a time.
 * Each pass through the model runs at most GPT_SAMPLER_ROWS rows (token
 * positions) at a time, through per-row scratch of that many rows. */
#define GPT_SAMPLER_ROWS 512
#define GPT_SAMPLER_SEQS 256

typedef struct {
    GPT *m;
    int step;      /* m->step when the weights were copied: a stale copy is refused */
    int cap_seq;   /* sequences the per-sequence buffers have room for */
    size_t cap_kv; /* floats the cache has room for */
    float *kv;     /* sequence i at kv + seq_kv[i]: (L, seq_room[i], 2C), keys in
                      columns 0..C, values in C..2C */
    size_t *seq_kv;
    int *seq_room; /* positions room for: its prompt + max_new */
    float *logits; /* (cap_seq, Vp): each sequence's next-token logits */
    /* scratch, GPT_SAMPLER_ROWS rows each: */
    float *x, *ln, *qkv, *atty, *proj, *fch, *att, *mean, *rstd, *rowlogits;
    int *row_seq, *row_pos, *row_tok, *row_out;  /* what each row of a pass is */
    float *wt, *qkvwt, *attprojwt, *fcwt, *fcprojwt, *wtet;  /* transposed weights */
} GPTSampler;

/* Called with each token the moment it is drawn (chat prints it); a nonzero
 * return stops the sampling after that token. */
typedef int (*GPTTokenFn)(void *ctx, int token);

void gpt_sampler_init(GPTSampler *s, GPT *m);
/* Copies the weights again: call it after gpt_update changed them. The
 * stale-copy check counts gpt_update's steps only: after changing the
 * weights any other way (gpt_load into the same GPT, writing parameters
 * directly), refresh by hand. */
void gpt_sampler_refresh(GPTSampler *s);
void gpt_sampler_free(GPTSampler *s);

/* gpt_sample with a kept sampler and an optional on_token (NULL: none).
 * The prompt and the new tokens must fit the context (n + max_new <= maxT+1);
 * dies otherwise, and if the model was updated since the weights were copied.
 * The model's activations (m->acts) are not touched. */
int gpt_sampler_run(GPTSampler *s, const int *tokens, int n, int *out, int max_new, int stop_token,
                    float temperature, int top_k, Rng *rng, GPTTokenFn on_token, void *ctx);

/* Samples nseq sequences together: sequence i continues prompts[i][0..plen[i])
 * by up to max_new tokens written to outs[i], drawing from its own rngs[i],
 * and stops after stop_token; produced[i] receives how many it wrote. The
 * prompts go through the model together (all their rows in each matmul);
 * then each step sends one row per live sequence (not yet stopped) through
 * each matmul, and a sequence that stops drops out of the batch. Sequence
 * i's tokens are exactly those gpt_sampler_run gives for prompts[i] with
 * rngs[i], whichever sequences share the batch: every op computes each row
 * on its own, and the matmul kernels give the same bits for any number of
 * rows (tests/test_gemm.c). The same checks as gpt_sampler_run. */
void gpt_sampler_run_batch(GPTSampler *s, int nseq, const int *const *prompts, const int *plen,
                           int *const *outs, int *produced, int max_new, int stop_token,
                           float temperature, int top_k, Rng *rngs);

#endif
