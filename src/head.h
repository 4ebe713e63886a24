/* head.h — a linear head on the transformer's final hidden states.
 *
 * Three rungs put a small linear layer on top of the GPT trunk and read it at
 * one position of each sequence:
 *   GPT-1's classifier   K = number of classes, read at the extract token;
 *   the reward model     K = 1, read at the last token of prompt + response;
 *   PPO's value head     K = 1, read at every response position.
 * This module is that layer: out = hidden[pos] @ w^T + b, with its backward
 * (which hands a gradient back to the trunk as gpt_backward's dhidden), its
 * AdamW state and a companion file beside the GPT checkpoint (the checkpoint
 * itself stays a plain llm.c file).
 *
 * Shapes: N rows of hidden states (N = B*T), C channels, K outputs.
 */
#ifndef GPTLADDER_HEAD_H
#define GPTLADDER_HEAD_H

#include <stdint.h>
#include "tensor.h"

#define HEAD_MAGIC 20241128
#define HEAD_VERSION 1
#define HEAD_HEADER_INTS 16

typedef struct {
    int K, C;
    float *w, *b;        /* (K, C), (K)                parameters, one buffer */
    float *dw, *db;      /* gradients, same shapes */
    float *mw, *vw;      /* AdamW moments of w and b, side by side (K*C + K) */
    int step;            /* AdamW steps taken */
    /* An affine map applied to output 0 after training, so that a reward
     * model's scores have mean 0 and std 1 on the SFT model's answers:
     * score = gain * raw + shift. gain 1, shift 0 for a fresh head. */
    float gain, shift;
} LinearHead;

/* A head with w ~ N(0, init_std) (0 gives zeros), b = 0, gain 1, shift 0. */
void head_build(LinearHead *h, int K, int C, float init_std, uint64_t seed);
void head_free(LinearHead *h);

/* out (n, K) = hidden[rows[i]] @ w^T + b for i < n: rows are indices into
 * hidden (N, C), e.g. b*T + t of the extract token of sequence b. */
void head_forward(const LinearHead *h, float *out, const float *hidden, const int *rows, int n);

/* Given dout (n, K): dw += dout^T hidden[rows], db += sum dout, and
 * dhidden[rows[i]] += dout[i] @ w (dhidden is (N, C), the trunk's gradient;
 * rows may repeat). Gradients accumulate; zero them with head_zero_grad. */
void head_backward(LinearHead *h, float *dhidden, const float *dout, const float *hidden,
                   const int *rows, int n);

void head_zero_grad(LinearHead *h);
/* Clips the trunk's gradients (trunk_grads, n floats) and the head's together
 * to a global norm of max_norm (<= 0: no clipping); returns the norm before. */
float head_clip_together(LinearHead *h, float *trunk_grads, size_t n, float max_norm);
/* One AdamW step: w decays (2-D), b does not. */
void head_update(LinearHead *h, float lr, const AdamWConfig *cfg);

/* Companion file: a header of 16 int32 {magic, version, K, C}, then gain and
 * shift (float32), then w and b. Written atomically. Loading checks magic,
 * version, K >= 1, that C equals expect_C (the trunk's width) and the exact
 * size; dies with one line naming the file and the problem. */
void head_save(const LinearHead *h, const char *path);
void head_load(LinearHead *h, const char *path, int expect_C);

/* "out/model.bin" -> "out/model.head" (malloc'd): where a checkpoint's head lives. */
char *head_path_for(const char *model_path);

#endif
