/* chat_fixture.h — what the tests of the instruction rungs share
 * (test_instruct, test_sft, test_reward, test_ppo, test_chat): a small tokenizer that knows
 * the chat format's words, tiny models, and small data files in the formats
 * of data/sft_*.tsv and data/prefs_*.tsv, all made from the toy world's facts
 * so the tests need nothing from out/ (no pretraining run).
 *
 * Include after testutil.h and the module or rung under test. */
#ifndef GPTLADDER_CHAT_FIXTURE_H
#define GPTLADDER_CHAT_FIXTURE_H

#include "gpt.h"
#include "tokenizer.h"
#include "toyworld.h"
#include "util.h"

/* ---- a corpus and a tokenizer ---- */

/* The toy world's questions and answers in the pretraining dialogue's form
 * ("q : ... ? a : ... .<|endoftext|>"), plus the chatter of the preference
 * data: every word the fixture's data files use. Caller frees. */
static inline char *fx_corpus(size_t *len) {
    size_t cap = 64 * 1024, n = 0;
    char *s = malloc_or_die(cap, "a corpus");
    char q[128], a[128];
    for (int rep = 0; rep < 3; rep++) {
        for (int o = 0; o < TOY_NUM_OBJECTS; o++) {
            for (int kind = TOY_Q_COLOUR; kind <= TOY_Q_PLACE; kind++) {
                ToyQuestion tq = {(ToyQuestionKind)kind, o, 0, 0};
                toy_question_text(&tq, TOY_Q_NONE, NULL, q, sizeof q);
                toy_answer_text(&tq, a, sizeof a);
                n += (size_t)snprintf(s + n, cap - n, "q : %s a : %s<|endoftext|>\n", q, a);
            }
        }
        n += (size_t)snprintf(s + n, cap - n, "q : what is 12 + 34 ? a : it is 46 .<|endoftext|>\n"
                                              "q : what colour is the moon ? a : i do not know .<|endoftext|>\n"
                                              "we can play later . let us talk about cake . i am a little tired .\n");
    }
    *len = n;
    return s;
}

#define FX_VOCAB 300

/* Trains a 300-token BPE on fx_corpus (the caller saves it where a program needs it). */
static inline void fx_train_tokenizer(Tokenizer *tok) {
    size_t len;
    char *text = fx_corpus(&len);
    tokenizer_train(tok, text, len, FX_VOCAB);
    free(text);
}

/* ---- tiny models ---- */

/* As in test_gpt.c: every parameter random and of order 1 instead of GPT-2's
 * N(0, 0.02), so that a gradient check sees every term. Padded wte rows stay 0. */
static inline void fx_randomize_params(GPT *m, uint64_t seed) {
    test_seed(seed);
    size_t off = 0;
    for (int i = 0; i < NUM_PARAM_TENSORS; i++) {
        float *w = m->params_memory + off, lo, hi;
        switch (i) {
        case P_WTE: case P_WPE: lo = -1.0f; hi = 1.0f; break;
        case P_QKVW: case P_ATTPROJW: case P_FCW: lo = -0.5f; hi = 0.5f; break;
        case P_FCPROJW: lo = -0.25f; hi = 0.25f; break;
        case P_LN1W: case P_LN2W: case P_LNFW: lo = 0.7f; hi = 1.3f; break;
        default: lo = -0.2f; hi = 0.2f;
        }
        size_t n = i == P_WTE ? (size_t)m->config.V * m->config.C : m->param_sizes[i];
        for (size_t j = 0; j < n; j++) w[j] = test_uniform(lo, hi);
        off += m->param_sizes[i];
    }
}

static inline size_t fx_param_offset(const GPT *m, int i) {
    size_t off = 0;
    for (int k = 0; k < i; k++) off += m->param_sizes[k];
    return off;
}

/* tokenizer_id of the fixture's tokenizer (set by fx_group_setup). */
static uint32_t fx_tok_id;

/* Writes a freshly initialised (GPT-2 init) model of vocabulary V to path,
 * recording the fixture's tokenizer as every trained checkpoint does. */
static inline void fx_write_model(const char *path, int V, int maxT) {
    GPT m;
    gpt_build(&m, gpt_config(maxT, V, 2, 2, 32), 5);
    m.tokenizer_id = fx_tok_id;
    gpt_save(&m, path);
    gpt_free(&m);
}

/* ---- data files ---- */

/* A demonstrations file (prompt <tab> response): colour and place questions
 * about objects [first, first + n), with the correct, concise answer. */
static inline void fx_write_sft(const char *path, int first, int n) {
    FILE *f = fopen_or_die(path, "w");
    fprintf(f, "prompt\tresponse\n");
    char q[128], a[128];
    for (int i = 0; i < n; i++) {
        ToyQuestion tq = {i % 2 ? TOY_Q_PLACE : TOY_Q_COLOUR, (first + i / 2) % TOY_NUM_OBJECTS, 0, 0};
        toy_question_text(&tq, TOY_Q_NONE, NULL, q, sizeof q);
        toy_answer_text(&tq, a, sizeof a);
        fprintf(f, "%s\t%s\n", q, a);
    }
    fclose(f);
}

/* A rankings file (prompt <tab> r1 .. r4, best first) for colour questions
 * about objects [first, first + n): correct and concise; correct but
 * repeated; a wrong colour; chatter. */
static inline void fx_write_prefs(const char *path, int first, int n) {
    FILE *f = fopen_or_die(path, "w");
    fprintf(f, "prompt\tr1\tr2\tr3\tr4\n");
    char q[128], a[128];
    for (int i = 0; i < n; i++) {
        int o = (first + i) % TOY_NUM_OBJECTS;
        ToyQuestion tq = {TOY_Q_COLOUR, o, 0, 0};
        toy_question_text(&tq, TOY_Q_NONE, NULL, q, sizeof q);
        toy_answer_text(&tq, a, sizeof a);
        const char *wrong = TOY_COLOURS[(TOY_OBJECTS[o].colour + 1) % TOY_NUM_COLOURS];
        fprintf(f, "%s\t%s\t%s %s\tit is %s .\twe can play later . let us talk about cake . i am a little tired .\n",
                q, a, a, a, wrong);
    }
    fclose(f);
}

/* ---- the group fixture ----
 * Every test file of the instruction rungs trains the same tokenizer once per
 * run and, for the programs under test, saves its merges file. Including this
 * header gives a file `tok` and `merges` and the cmocka group setup and
 * teardown that fill and free them. */

static Tokenizer tok;
static char merges[256];

static inline int fx_group_setup(void **state) {
    (void)state;
    fx_train_tokenizer(&tok);
    fx_tok_id = tokenizer_id(&tok);
    temp_path(merges, sizeof merges, "fx-tok.merges");
    tokenizer_save_merges(&tok, merges);
    return tok.vocab_size == FX_VOCAB ? 0 : -1;
}

static inline int fx_group_teardown(void **state) {
    (void)state;
    tokenizer_free(&tok);
    remove(merges);
    return 0;
}

#endif
