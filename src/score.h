/* score.h — asking a language model questions without training it: the
 * shared tools of rung 2 (GPT-2 zero-shot) and rung 3 (GPT-3 few-shot).
 *
 * A task posed as text is answered in one of two ways:
 *
 *   ranking     append each candidate answer to the prompt and ask how
 *               likely the model finds it:
 *                   log P(a | x) = sum_i log P(a_i | x, a_1 .. a_{i-1})
 *               (the sum, as GPT-2 scores), and the same divided by the
 *               number of tokens (the per-token mean, which GPT-3 uses for
 *               most tasks so that long answers are not penalised for their
 *               length). The best candidate is the argmax.
 *   generation  continue the prompt greedily, one most-likely token at a
 *               time, until a stop token (end-of-text, ".", a newline).
 *
 * Both are plain forward passes: no gradient, no state kept between calls.
 * Generation is gpt_sample's (see gpt.h) at temperature 0.
 *
 * Looking inside: the attention weights of the last forward pass, and the
 * induction-head probe that rung 3 runs on its pairing task.
 *
 * Shapes: T time, V vocabulary, Vp V padded; a candidate is a token array.
 */
#ifndef GPTLADDER_SCORE_H
#define GPTLADDER_SCORE_H

#include "gpt.h"
#include "tokenizer.h"

/* ---- ranking candidates by log-probability ---- */

typedef struct {
    float sum;    /* sum over the candidate's tokens of log P(token | prompt, tokens before it) */
    float mean;   /* sum / ntokens: GPT-3's per-token normalisation */
    int ntokens;  /* tokens in the candidate */
} Score;

/* Scores cand[0..ncand) as the continuation of ctx[0..nctx): ONE gpt_forward
 * on the sequence ctx+cand, then logprob_forward on the rows that predict the
 * candidate's tokens (row nctx-1+i predicts cand[i]). Needs nctx >= 1,
 * ncand >= 1 and nctx + ncand <= maxT (the caller trims prompts to fit; see
 * score_fit); dies otherwise. */
Score score_continuation(GPT *m, const int *ctx, int nctx, const int *cand, int ncand);

/* The same for n candidates at once, in one batched gpt_forward (B = n): row b
 * holds ctx + cands[b], right-padded to the longest candidate. Causal
 * attention keeps the padding out of every scored position, so each score
 * equals score_continuation's (to float rounding). When every candidate is
 * one token, one forward of the prompt alone (B = 1) serves them all.
 * Writes out[0..n). */
void score_candidates(GPT *m, const int *ctx, int nctx, int *const *cands, const int *lens, int n,
                      Score *out);

/* The index of the best of n scores: by the sum (by_mean 0) or by the mean
 * (by_mean 1); the lowest index wins a tie. n >= 1. */
int score_best(const Score *s, int n, int by_mean);

/* ---- looking inside: attention weights ---- */

/* The attention weights of block l, head h, batch row b of the last
 * gpt_forward: a (T, T) matrix, row t = the query position t, column s = how
 * much it attends to position s (0 for s > t). gpt.c lays each block's
 * activations out for the buffers' capacity (Bmax x Tmax), with the current
 * batch (B, NH, T, T) packed at the start of the block's slice; this
 * function is the one place that knows it. */
const float *score_attention(const GPT *m, int l, int b, int h);

/* The induction-head probe (rung 3's pairing task). In a prompt "car -> four
 * . owl -> seven . car ->" the answer is the token after the earlier "car
 * ->". An induction head does exactly that lookup: at the last position it
 * attends to the token that followed the previous occurrence of the current
 * context. So for every block and head the probe sums the attention from the
 * prompt's last position to the matching definition's value ("four"), and,
 * for contrast, the mean attention to the other shots' values ("seven"). A
 * head that has formed puts most of its weight on the match and little on
 * the others. */
typedef struct {
    int L, NH;
    double *match, *other;  /* (L*NH) summed attention */
    double uniform;         /* summed 1/(positions seen): what attending evenly gives */
    int n, nother;          /* prompts summed (with at least two shots, for other) */
} Induction;

/* Zeroed sums for a model of config c; free with induction_free. */
void induction_init(Induction *ind, const GPTConfig *c);
void induction_free(Induction *ind);

/* Adds one prompt: the attention of the last gpt_forward's batch row 0 from
 * position `last` to the values at pos[0..k), pos[match] being the one that
 * answers (k >= 1). */
void induction_add(Induction *ind, const GPT *m, int last, const int *pos, int k, int match);

/* The head that attends most to the matching value, for k shots (one line),
 * and every head's two sums as a grid; nothing when no prompt was added. */
void induction_print(const Induction *ind, int k);
void induction_print_grid(const Induction *ind, int k);

/* ---- greedy generation with stop tokens ---- */

/* Continues ctx[0..nctx) greedily (gpt_sample at temperature 0) for at most
 * max_new tokens, writing them to out (room for max_new). The output ends
 * at the first token t with stop[t] != 0; that token is written and counted
 * (positions after it in out may hold scratch tokens). stop (V) may be NULL
 * (no stops). Returns the number of tokens up to and including the stop. When the
 * sequence outgrows maxT the model sees only its last maxT tokens. */
int generate_greedy(GPT *m, const int *ctx, int nctx, int *out, int max_new, const unsigned char *stop);

/* The same with sampling: softmax(logits / temperature) cut to the top_k
 * likeliest tokens (top_k 0: no cut), as GPT-2 sampled its TL;DR summaries.
 * temperature <= 0 is greedy (and rng is then not used). */
int generate_sampled(GPT *m, const int *ctx, int nctx, int *out, int max_new, const unsigned char *stop,
                     float temperature, int top_k, Rng *rng);

/* A stop table (V) for generate_greedy: 1 for every token whose bytes contain
 * any byte of `chars` (e.g. ".\n"), and for end-of-text if with_eot. The
 * caller frees it. */
unsigned char *stop_tokens(const Tokenizer *tok, const char *chars, int with_eot);

/* ---- prompts and candidates as text ---- */

/* The tokens of a prompt posed as the start of a document, the way every
 * document of the pretraining stream starts: <|endoftext|> "\n" text (the
 * token files hold "...<|endoftext|>\n" between documents). Returns a malloc'd
 * array, its length in *n. */
int *encode_prompt(Tokenizer *tok, const char *text, int *n);

/* The index in tokens[0..n) (encode_prompt's: <|endoftext|>, then "\n" and
 * the text) of the token that holds byte `at` of the text, or -1: where in
 * the prompt a word of its text sits (the induction probe reads there). */
int prompt_token_at(const Tokenizer *tok, const int *tokens, int n, int at);

/* The tokens of " " + word: how a candidate answer follows a prompt in the
 * corpus's one-space-between-words text. Malloc'd, length in *n (>= 1). */
int *encode_answer(Tokenizer *tok, const char *word, int *n);

/* Candidate answers parsed from a TSV field "good|bad": their text and their
 * tokens (encode_answer). */
typedef struct {
    int n;
    char **text;    /* (n) NUL-terminated copies */
    int **tokens;   /* (n) tokens of " " + text */
    int *len;       /* (n) */
    int maxlen;     /* the longest candidate, in tokens */
} Candidates;

/* Parses `field`; dies with "WHERE: ..." (WHERE is e.g. "data/x.tsv:12") if
 * the field is empty, has an empty candidate, a duplicate, or more than
 * SCORE_MAX_CANDIDATES. Free with candidates_free. */
#define SCORE_MAX_CANDIDATES 64
void candidates_parse(Candidates *c, Tokenizer *tok, const char *field, const char *where);
void candidates_free(Candidates *c);
/* The index of `answer` among the candidates, or -1. */
int candidates_find(const Candidates *c, const char *answer);

/* ---- the context window ---- */

/* The rule both rungs state in --help: a prompt followed by `room` tokens (the
 * longest candidate, or the generation budget) must fit in maxT. If
 * *n + room > maxT, keeps only the last maxT - room tokens of tokens[0..*n),
 * moving them to the front and updating *n. room is capped at maxT/2 so that
 * some prompt is always left. Returns the number of tokens cut (0: it fit). */
int score_fit(int *tokens, int *n, int room, int maxT);

#endif
