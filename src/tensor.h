/* tensor.h — the shared tensor module: every operation a GPT needs, as
 * forward/backward pairs on plain float buffers, plus AdamW, gradient
 * clipping, the learning-rate schedule and a seeded random generator.
 *
 * Conventions (the same in every file of gptladder):
 *   shapes:  B batch, T time (sequence length), C channels, OC output channels,
 *            NH attention heads, hs = C/NH head size, V vocabulary, Vp V padded
 *            up to a multiple of 64 (extra rows/columns are never read as real
 *            tokens), N = B*T rows when an op does not care about time.
 *   layout:  row-major; "(B,T,C)" means index [b*T*C + t*C + c].
 *   forward: op_forward(out, [cache,] inp, weights..., dims) overwrites out.
 *   backward: op_backward(dinp, dweights..., dout, inp, weights..., [cache...], dims):
 *            what it writes, then the gradient coming in, then what forward
 *            read, then what forward saved (gelu_backward(dinp, dout, inp, n);
 *            the losses take their scalar dloss after their cache). It
 *            ACCUMULATES (+=) into every gradient it writes, so a tensor used
 *            twice (the tied token embedding) simply gets both contributions.
 *            Zeroing gradients is the caller's explicit job.
 *   threads: OpenMP on the outer loops; every thread writes a disjoint slice,
 *            and no sum is split between threads, so results are
 *            bit-identical for any thread count (test_gpt.c trains on one
 *            and on two). No atomics, no hidden state.
 *
 * Each backward is checked against central finite differences in
 * tests/test_tensor.c. Deliberately absent: dropout, mixed precision, autograd.
 */
#ifndef GPTLADDER_TENSOR_H
#define GPTLADDER_TENSOR_H

#include <stddef.h>
#include <stdint.h>

/* ---- embedding: token + position ---- */

/* out[b,t,:] = wte[tokens[b,t],:] + wpe[t,:]
 * out (B,T,C), tokens (B,T), wte (Vp,C), wpe (maxT,C) with maxT >= T. */
void embedding_forward(float *out, const int *tokens, const float *wte, const float *wpe,
                       int B, int T, int C);
/* dwte[tokens[b,t],:] += dout[b,t,:]; dwpe[t,:] += dout[b,t,:] */
void embedding_backward(float *dwte, float *dwpe, const float *dout, const int *tokens,
                        int B, int T, int C);

/* ---- matmul with bias (a fully connected layer) ---- */

/* out[n,o] = bias[o] + sum_c inp[n,c] * weight[o,c]
 * out (N,OC), inp (N,C), weight (OC,C) as in PyTorch's nn.Linear, bias (OC) or NULL.
 * The fast version (the packed kernel of gemm.c); matmul_forward_naive is the
 * reference, and the two give the same bits (tests/test_gemm.c). */
void matmul_forward(float *out, const float *inp, const float *weight, const float *bias,
                    int N, int C, int OC);
/* The same with the weight already transposed: weight_t (C,OC). Sampling
 * transposes every weight once and then runs one row at a time. */
void matmul_forward_wt(float *out, const float *inp, const float *weight_t, const float *bias,
                       int N, int C, int OC);
/* dst (Cn,R) = src (R,Cn) transposed. */
void transpose(float *dst, const float *src, int R, int Cn);
/* dinp += dout @ weight;  dweight += dout^T @ inp;  dbias += sum_n dout.
 * dinp, dweight, dbias may each be NULL (not needed). */
void matmul_backward(float *dinp, float *dweight, float *dbias, const float *dout,
                     const float *inp, const float *weight, int N, int C, int OC);
/* The plain triple loops: the definition, and the reference the fast kernels
 * are tested against, bit for bit (each output's products are added in k order). */
void matmul_forward_naive(float *out, const float *inp, const float *weight, const float *bias,
                          int N, int C, int OC);
void matmul_backward_naive(float *dinp, float *dweight, float *dbias, const float *dout,
                           const float *inp, const float *weight, int N, int C, int OC);

/* ---- layer normalisation ---- */

#define LAYERNORM_EPS 1e-5f  /* PyTorch's and GPT-2's default */

/* out[n,:] = (inp[n,:] - mean) * rstd * weight + bias, per row n.
 * out (N,C), mean (N) and rstd (N) are saved for backward, inp (N,C), weight/bias (C). */
void layernorm_forward(float *out, float *mean, float *rstd, const float *inp,
                       const float *weight, const float *bias, int N, int C);
void layernorm_backward(float *dinp, float *dweight, float *dbias, const float *dout,
                        const float *inp, const float *weight, const float *mean,
                        const float *rstd, int N, int C);

/* ---- GELU, tanh approximation (as GPT-2) ---- */

/* out = 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))), elementwise over n values;
 * dinp += gelu'(inp) * dout */
void gelu_forward(float *out, const float *inp, size_t n);
void gelu_backward(float *dinp, const float *dout, const float *inp, size_t n);

/* ---- causal multi-head self-attention ---- */

/* inp (B,T,3C) holds q, k, v side by side for each position (the output of the
 * qkv matmul); head h uses channels [h*hs, (h+1)*hs) of each.
 * preatt (B,NH,T,T) = q.k / sqrt(hs) for key positions <= query position;
 * att (B,NH,T,T) = softmax over those positions, 0 for future positions (the
 * causal mask); out (B,T,C) = att @ v, heads side by side. */
void attention_forward(float *out, float *preatt, float *att, const float *inp,
                       int B, int T, int C, int NH);
/* dinp (B,T,3C) += gradient through q, k and v; dpreatt and datt (B,NH,T,T)
 * are scratch buffers that this function overwrites (they need no zeroing). */
void attention_backward(float *dinp, float *dpreatt, float *datt, const float *dout,
                        const float *inp, const float *att, int B, int T, int C, int NH);

/* One new query against cached keys and values, for sampling with a KV cache:
 * the row of attention_forward for the last position t = T-1, computed from
 * q (C) and the keys and values of positions 0..T-1 stored as rows of kcache
 * and vcache (T, ld) with row stride ld (head h at channels h*hs..). att is
 * scratch of NH*T floats. out (C). */
void attention_forward_one(float *out, float *att, const float *q, const float *kcache,
                           const float *vcache, int ld, int T, int C, int NH);

/* ---- zeroing a gradient buffer ---- */

/* x[0..n) = 0, each thread clearing its own contiguous part: one thread alone
 * cannot keep the memory bus busy, and the model clears ~100 MB every step. */
void zero_floats(float *x, size_t n);

/* ---- residual connection ---- */

/* out = a + b over n values */
void residual_forward(float *out, const float *a, const float *b, size_t n);
/* da += dout; db += dout */
void residual_backward(float *da, float *db, const float *dout, size_t n);

/* ---- softmax + cross-entropy, with a per-position weight ---- */

/* For each of N positions: probs[n,:V] = softmax(logits[n,:V]) (columns V..Vp-1
 * are padding, ignored and set to 0), losses[n] = -log probs[n, targets[n]].
 * Returns the weighted mean  sum_n w[n] losses[n] / sum_n w[n]  where
 * w = weights (N) or all ones if weights is NULL. A position with weight 0
 * (a prompt token in SFT) contributes nothing, and its target is not read.
 * Returns 0 if all weights are 0. logits, probs (N,Vp); targets (N). */
float crossentropy_forward(float *probs, float *losses, const float *logits,
                           const int *targets, const float *weights, int N, int V, int Vp);
/* Gradient of (dloss * the weighted mean returned above) with respect to the logits:
 * dlogits[n,v] += dloss * w[n]/sum(w) * (probs[n,v] - [v == targets[n]]). */
void crossentropy_backward(float *dlogits, const float *probs, const int *targets,
                           const float *weights, float dloss, int N, int V, int Vp);

/* ---- log-probability of chosen tokens (for scoring and PPO) ---- */

/* logp[n] = log softmax(logits[n,:V] / temperature)[tokens[n]].
 * Used to score candidate answers (temperature 1) and for PPO's ratio, where
 * the temperature must equal the one used for sampling. logits (N,Vp). */
void logprob_forward(float *logp, const float *logits, const int *tokens, float temperature,
                     int N, int V, int Vp);
/* dlogits[n,v] += dlogp[n] / temperature * ([v == tokens[n]] - softmax(logits[n]/temperature)[v]) */
void logprob_backward(float *dlogits, const float *dlogp, const float *logits, const int *tokens,
                      float temperature, int N, int V, int Vp);

/* ---- optimisation ---- */

typedef struct {
    float beta1;         /* 0.9: decay of the first moment (the mean of gradients) */
    float beta2;         /* 0.95 or 0.999: decay of the second moment */
    float eps;           /* 1e-8: keeps the step finite where the second moment is ~0 */
    float weight_decay;  /* 0.1: decoupled decay, applied only where decay != 0 */
} AdamWConfig;

/* One AdamW step on n parameters (Loshchilov & Hutter 2019):
 *   m = b1 m + (1-b1) g;  v = b2 v + (1-b2) g^2
 *   p -= lr * ( m/(1-b1^t) / (sqrt(v/(1-b2^t)) + eps) + decay * wd * p )
 * t is the 1-based step count. decay is 1 for 2-D tensors (weight matrices and
 * the embedding tables, as nanoGPT does) and 0 for 1-D ones (biases, LayerNorm
 * gains and shifts): shrinking those towards 0 has no regularising meaning. */
void adamw_update(float *params, const float *grads, float *m, float *v, size_t n,
                  const AdamWConfig *cfg, float lr, int t, int decay);

/* The global L2 norm of a gradient buffer, summed in a fixed order of fixed
 * chunks (so it is the same for every thread count). */
float grad_norm(const float *grads, size_t n);
/* If norm > max_norm, scales grads by max_norm / norm. Returns the norm
 * before clipping. max_norm <= 0 disables clipping. */
float grad_clip(float *grads, size_t n, float max_norm);

/* Learning rate at 0-based step `step` of `total`: linear warm-up from
 * max_lr/warmup to max_lr over `warmup` steps, then cosine decay to min_lr. */
float lr_cosine(int step, int total, int warmup, float max_lr, float min_lr);

/* ---- random numbers ---- */

/* xorshift64* (Marsaglia; Vigna): small, fast, good enough for init and sampling. */
typedef struct { uint64_t state; } Rng;

void rng_seed(Rng *r, uint64_t seed);   /* any seed, 0 included */
uint32_t rng_u32(Rng *r);
float rng_uniform(Rng *r);              /* in [0, 1) */
float rng_normal(Rng *r);               /* standard normal (Box-Muller) */
int rng_below(Rng *r, int n);           /* uniform integer in [0, n) */
/* a[0..n) in a uniformly random order (Fisher-Yates, from the end) */
void rng_shuffle(Rng *r, int *a, int n);
/* n streams out[0..n), each seeded from two draws of r, in order: what a
 * batch of samples draws from, one stream each, so that what sample i
 * draws does not depend on the others (gpt_sampler_run_batch). */
void rng_split(Rng *r, Rng *out, int n);

/* Samples an index in [0, V) from softmax(logits / temperature), keeping only
 * the top_k largest logits when 0 < top_k < V (ties kept by lower index).
 * temperature <= 0 means greedy: the argmax (lowest index on ties). */
int sample_logits(Rng *r, const float *logits, int V, float temperature, int top_k);

/* ---- fast exp and tanh ---- */

/* The vectorisable expf and tanhf the ops use (see tensor.c); exported so the
 * tests can compare them with libm's. Relative error of exp < 1e-7 on
 * [-87, 88] (clamped outside); absolute error of tanh < 2e-7. */
float tensor_expf(float x);
float tensor_tanhf(float x);

/* ---- threads ---- */

/* Sets the OpenMP thread count (n <= 0: all cores); a no-op without OpenMP.
 * (Idle threads sleep rather than spin: on Linux, unless OMP_WAIT_POLICY is
 * set, a program linking tensor.c starts itself again before main with
 * OMP_WAIT_POLICY=passive; see tensor.c. So a busy machine slows a run down
 * gracefully instead of stalling it.) */
void set_threads(int n);
int get_threads(void);

#endif
