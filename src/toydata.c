/* toydata.c — rung 0's other half: writes the toy corpora every rung trains on.
 *
 *   build/toydata [--out data] [--seed 1] [--pretrain-tokens 2000000]
 *                 [--induction-share 0.3]
 *
 * One seed makes every file, byte for byte. Each file draws from its own
 * random stream, so the small files (the task sets, the instruction data,
 * val.txt, induction_test.txt) do not change when --pretrain-tokens does;
 * only pretrain.txt, its excerpt and induction_train.txt do.
 *
 * The world's facts and the hidden ranking rule live in toyworld.[ch]; the
 * sentences and documents about them, and the pretraining mix, in
 * toycorpus.[ch]. This file decides what goes in which file, in the order
 * main writes them. data/README.md describes every file.
 * The pretraining mix: world facts with the colour after the object, reviews
 * of which half end "in short : good|bad", pairings written without a
 * separator, known relations in arrow format (never the colour), two-digit
 * sums direct or worked digit by digit, and a little question/answer dialogue.
 *
 * Rung 3b's corpus (induction_train.txt) is the same documents in the same
 * order with synthetic "repeated block" documents interleaved, and its
 * held-out set (induction_test.txt) is "a random block, then the same block"
 * (write_induction_train, write_induction_test).
 *
 * Kept out of the pretraining text on purpose: every labelled review, every
 * sum that a task or an instruction asks about, the arrow format for colours
 * and opposites, and every colour or place question.
 */
#include "cli.h"
#include "toycorpus.h"
#include "toyworld.h"
#include "util.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- constants ---- */

#define VAL_TOKENS 50000L          /* held-out text for validation loss */
#define EXCERPT_LINES 200          /* pretrain_excerpt.txt: the first lines of pretrain.txt */

#define CLASSIFY_TRAIN 1000
#define CLASSIFY_TEST 400
#define ZEROSHOT_REVIEWS 200       /* each asked twice: with and without the hint */
#define ZEROSHOT_PER_OBJECT 6      /* colour and place prompts per object: 192 each */
#define FEWSHOT_PAIRING 100        /* per file (pool, test) */
#define FEWSHOT_ARITH 100          /* per file (pool, test) */
#define FEWSHOT_COLOUR_POOL_PER_COLOUR 1   /* 8 in the pool, the other 24 objects in test */
#define FEWSHOT_OPPOSITE_POOL_PAIRS 16     /* the other 24 pairs in test; both directions */
#define FEWSHOT_OPPOSITE_CANDIDATES 8
#define SFT_SUMS 8                 /* per file (train, test) */
#define SFT_REFUSALS 4             /* per file (train, test) */
#define PREF_ROWS_PER_PROMPT 4     /* four rankings per prompt, varied templates */
#define DEFAULT_INDUCTION_SHARE 0.30f  /* of induction_train.txt's estimated tokens */
#define INDUCTION_MIN_BLOCK 2      /* a training document's block: 2-16 distinct words */
#define INDUCTION_MAX_BLOCK 16
#define INDUCTION_DOC_WORDS 64     /* ... repeated (the last time cut short) to 64 words */
#define INDUCTION_TEST_DOCS 256    /* induction_test.txt: a 12-word block, then the same 12 */
#define INDUCTION_TEST_BLOCK 12
enum {
    STREAM_RESERVED_REVIEWS = 1, STREAM_RESERVED_SUMS, STREAM_SPLIT, STREAM_PRETRAIN, STREAM_VAL,
    STREAM_ZEROSHOT, STREAM_FEWSHOT, STREAM_SFT, STREAM_PREFS, STREAM_INDUCTION,
    STREAM_INDUCTION_TEST,
};

/* The command line (parse_flags, at the end). */
typedef struct {
    const char *out;       /* the folder every file goes to */
    int seed, pretrain_tokens;
    float induction_share;
} Options;

/* ---- the task files' own words (the corpus's are in toycorpus.c) ---- */

/* Things the world does not contain: the right answer about them is
 * "i do not know .". None of these words occurs in the pretraining text. */
static const char *const UNKNOWN_THINGS[2 * SFT_REFUSALS] = {"moon", "sun", "sky", "sea",
                                                             "star", "cloud", "rain", "snow"};

/* Off-topic chatter for the preference data: no colour, place, number or
 * "do not know", so it answers nothing. */
static const char *const CHATTER[] = {
    "i like to sing .", "max is happy .", "we can play later .", "that is a nice question .",
    "i had tea today .", "ann likes to read .", "let us talk about cake .", "i want to dance .",
    "tom is my friend .", "it is a lovely day .", "i am a little tired .", "sue has a new song ."};
#define NUM_CHATTER ((int)(sizeof CHATTER / sizeof CHATTER[0]))

/* ---- the held-out reviews and sums ---- */

/* The held-out reviews: every labelled review in every file, all distinct.
 * The pretraining text never contains any of them. */
typedef struct {
    char *text;
    int label;  /* 0 negative, 1 positive */
} Review;

typedef struct {
    Review classify_train[CLASSIFY_TRAIN];
    Review classify_test[CLASSIFY_TEST];
    Review zeroshot[ZEROSHOT_REVIEWS];
    StrSet all;
} HeldOutReviews;

/* Fills n reviews, exactly half of each label in shuffled order, none already in `all`. */
static void fill_reviews(Review *out, int n, ToyRng *r, StrSet *all) {
    int *labels = malloc_or_die(sizeof(int) * (size_t)n, "labels");
    for (int i = 0; i < n; i++) labels[i] = i % 2;
    toy_rng_shuffle(r, labels, n);
    Str b = {0};
    for (int i = 0; i < n; i++) {
        do {
            str_clear(&b);
            review(&b, r, labels[i]);
        } while (!set_add(all, b.s));
        out[i].text = str_dup(&b);
        out[i].label = labels[i];
    }
    str_free(&b);
    free(labels);
}

static void held_out_reviews(HeldOutReviews *h, uint64_t seed) {
    ToyRng r;
    toy_rng_init(&r, seed, STREAM_RESERVED_REVIEWS);
    h->all = (StrSet){0};
    fill_reviews(h->classify_test, CLASSIFY_TEST, &r, &h->all);
    fill_reviews(h->zeroshot, ZEROSHOT_REVIEWS, &r, &h->all);
    fill_reviews(h->classify_train, CLASSIFY_TRAIN, &r, &h->all);
}

static void free_reviews(HeldOutReviews *h) {
    for (int i = 0; i < CLASSIFY_TRAIN; i++) free(h->classify_train[i].text);
    for (int i = 0; i < CLASSIFY_TEST; i++) free(h->classify_test[i].text);
    for (int i = 0; i < ZEROSHOT_REVIEWS; i++) free(h->zeroshot[i].text);
    set_free(&h->all);
}

/* The sums that tasks and instructions ask about (few-shot pool and test,
 * SFT train and test): all different as unordered pairs, and never written in
 * the pretraining text in either order. */
typedef struct {
    Sum fewshot_pool[FEWSHOT_ARITH], fewshot_test[FEWSHOT_ARITH];
    Sum sft_train[SFT_SUMS], sft_test[SFT_SUMS];
    SumSet all;
} HeldOutSums;

static void fill_sums(Sum *out, int n, ToyRng *r, HeldOutSums *h) {
    for (int i = 0; i < n; i++) {
        out[i] = free_sum(r, &h->all);
        sum_set_add(&h->all, out[i]);
    }
}

static void held_out_sums(HeldOutSums *h, uint64_t seed) {
    ToyRng r;
    toy_rng_init(&r, seed, STREAM_RESERVED_SUMS);
    h->all = (SumSet){0};
    fill_sums(h->fewshot_test, FEWSHOT_ARITH, &r, h);
    fill_sums(h->fewshot_pool, FEWSHOT_ARITH, &r, h);
    fill_sums(h->sft_test, SFT_SUMS, &r, h);
    fill_sums(h->sft_train, SFT_SUMS, &r, h);
}

/* ---- pretrain.txt, val.txt and rung 3b's induction_*.txt ---- */

/* induction_train.txt: the pretraining documents in pretrain.txt's order,
 * with a synthetic document (a block of 2-16 distinct words repeated to 64
 * words) inserted after a natural one whenever the synthetic documents hold
 * less than `share` of the estimated tokens written so far. A natural
 * document's tokens are estimated from its bytes at the corpus's own rate. */
static void write_induction_train(const Corpus *c, const int *order, float share, uint64_t seed,
                                  const char *path) {
    ToyRng r;
    toy_rng_init(&r, seed, STREAM_INDUCTION);
    double per_byte = corpus_tokens(c) / (double)c->text.len, natural = 0.0, synthetic = 0.0;
    double doc_tokens = INDUCTION_DOC_WORDS + TOKENS_PER_DOC;  /* every word one token */
    long ndocs = 0;
    Str doc = {0};
    AtomicFile af;
    atomic_open(&af, path);
    for (int i = 0; i < c->ndocs; i++) {
        put_doc(c, order[i], af.f, path);
        natural += per_byte * (double)(c->start[order[i] + 1] - c->start[order[i]]) + TOKENS_PER_DOC;
        while (synthetic < share * (natural + synthetic)) {
            str_clear(&doc);
            repeated_block(&doc, &r, toy_rng_range(&r, INDUCTION_MIN_BLOCK, INDUCTION_MAX_BLOCK),
                           INDUCTION_DOC_WORDS);
            fprintf(af.f, "%s" TOY_EOT "\n", doc.s);
            synthetic += doc_tokens;
            ndocs++;
        }
    }
    if (ferror(af.f)) die("cannot write %s", path);
    atomic_commit(&af);
    str_free(&doc);
    printf("%-26s %8ld synthetic docs among %d (%.1f%% of %.0f est. tokens)\n", "induction_train.txt",
           ndocs, c->ndocs, 100.0 * synthetic / (natural + synthetic), natural + synthetic);
}

/* induction_test.txt: one document per line, a random block of 12 distinct
 * words and then the same block ("fox two barn ... fox two barn ..."), no
 * end-of-text (the reader adds the document start). Its own random stream. */
static void write_induction_test(const char *dir, uint64_t seed) {
    ToyRng r;
    toy_rng_init(&r, seed, STREAM_INDUCTION_TEST);
    char path[4096];
    snprintf(path, sizeof path, "%s/induction_test.txt", dir);
    AtomicFile af;
    atomic_open(&af, path);
    Str doc = {0};
    for (int i = 0; i < INDUCTION_TEST_DOCS; i++) {
        str_clear(&doc);
        repeated_block(&doc, &r, INDUCTION_TEST_BLOCK, 2 * INDUCTION_TEST_BLOCK);
        fprintf(af.f, "%s\n", doc.s);
    }
    if (ferror(af.f)) die("cannot write %s", path);
    atomic_commit(&af);
    str_free(&doc);
    printf("%-26s %8d docs\n", "induction_test.txt", INDUCTION_TEST_DOCS);
}

/* pretrain.txt (with its excerpt), induction_train.txt (the same documents
 * in the same order, with synthetic ones among them) and val.txt. */
static void write_corpora(const Options *o, const HeldOutReviews *reviews, const HeldOutSums *sums) {
    char path[4096], excerpt[4096];
    uint64_t s = (uint64_t)o->seed;
    Corpus corpus;
    ToyRng r;
    toy_rng_init(&r, s, STREAM_PRETRAIN);
    make_corpus(&corpus, o->pretrain_tokens, &r, &reviews->all, &sums->all);
    int *order = shuffled_order(&corpus, &r);
    snprintf(path, sizeof path, "%s/pretrain.txt", o->out);
    snprintf(excerpt, sizeof excerpt, "%s/pretrain_excerpt.txt", o->out);
    write_corpus(&corpus, order, path, excerpt, EXCERPT_LINES);
    report_corpus("pretrain.txt", &corpus);
    snprintf(path, sizeof path, "%s/induction_train.txt", o->out);
    write_induction_train(&corpus, order, o->induction_share, s, path);
    free(order);
    free_corpus(&corpus);

    toy_rng_init(&r, s, STREAM_VAL);
    make_corpus(&corpus, VAL_TOKENS, &r, &reviews->all, &sums->all);
    order = shuffled_order(&corpus, &r);
    snprintf(path, sizeof path, "%s/val.txt", o->out);
    write_corpus(&corpus, order, path, NULL, 0);
    report_corpus("val.txt", &corpus);
    free(order);
    free_corpus(&corpus);
}

/* ---- TSV files ---- */

/* A TSV being written: each row is its fields joined by tabs. Fields never
 * hold tabs or newlines (the generator writes neither). */
typedef struct {
    AtomicFile af;
    int rows;
} TsvOut;

static void tsv_open(TsvOut *t, const char *dir, const char *name, const char *header) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    atomic_open(&t->af, path);
    fprintf(t->af.f, "%s\n", header);
    t->rows = 0;
}

/* Writes one row of n fields. */
static void tsv_row(TsvOut *t, int n, ...) {
    va_list ap;
    va_start(ap, n);
    for (int i = 0; i < n; i++) {
        const char *field = va_arg(ap, const char *);
        if (strpbrk(field, "\t\n")) die("internal: a TSV field holds a tab or newline: %s", field);
        fprintf(t->af.f, "%s%s", i ? "\t" : "", field);
    }
    va_end(ap);
    fputc('\n', t->af.f);
    t->rows++;
}

static void tsv_close(TsvOut *t) {
    if (ferror(t->af.f)) die("cannot write %s", t->af.tmp);
    printf("%-26s %8d rows\n", strrchr(t->af.path, '/') + 1, t->rows);
    atomic_commit(&t->af);
}

/* ---- classify_*.tsv ---- */

static void write_classify(const char *dir, const char *name, const Review *rv, int n) {
    TsvOut t;
    tsv_open(&t, dir, name, "label\ttext");
    for (int i = 0; i < n; i++) tsv_row(&t, 2, rv[i].label ? "1" : "0", rv[i].text);
    tsv_close(&t);
}

/* ---- zeroshot_test.tsv ---- */

static void join_candidates(Str *b, const char *const *words, int n) {
    str_clear(b);
    for (int i = 0; i < n; i++) {
        if (i) str_add(b, "|");
        str_add(b, words[i]);
    }
}

static void write_zeroshot(const char *dir, uint64_t seed, const HeldOutReviews *h) {
    ToyRng r;
    toy_rng_init(&r, seed, STREAM_ZEROSHOT);
    TsvOut t;
    tsv_open(&t, dir, "zeroshot_test.tsv", "task\tprompt\tanswer\tcandidates");
    Str prompt = {0}, cands = {0};
    for (int i = 0; i < ZEROSHOT_REVIEWS; i++) {  /* the hint the corpus sometimes gives */
        str_clear(&prompt);
        say(&prompt, "%s in short :", h->zeroshot[i].text);
        tsv_row(&t, 4, "sentiment", prompt.s, LABEL_WORD[h->zeroshot[i].label], "good|bad");
    }
    for (int i = 0; i < ZEROSHOT_REVIEWS; i++) {  /* the same reviews, no hint */
        tsv_row(&t, 4, "sentiment_nohint", h->zeroshot[i].text, LABEL_WORD[h->zeroshot[i].label],
                "good|bad");
    }
    /* Facts: the corpus's own sentences cut before the colour or place. Per
     * object, the forms without a name once each, the rest with distinct names. */
    StrSet seen = {0};
    join_candidates(&cands, TOY_COLOURS, TOY_NUM_COLOURS);
    for (int obj = 0; obj < TOY_NUM_OBJECTS; obj++) {
        for (int k = 0; k < ZEROSHOT_PER_OBJECT;) {
            int form = k < 2 ? (k == 0 ? 0 : 4) : toy_rng_range(&r, 1, 3);
            str_clear(&prompt);
            colour_prefix(&prompt, form, obj, random_name(&r));
            if (!set_add(&seen, prompt.s)) continue;
            tsv_row(&t, 4, "colour", prompt.s, colour_of(obj), cands.s);
            k++;
        }
    }
    join_candidates(&cands, TOY_PLACES, TOY_NUM_PLACES);
    for (int obj = 0; obj < TOY_NUM_OBJECTS; obj++) {
        for (int k = 0; k < ZEROSHOT_PER_OBJECT;) {
            int form = k < 3 ? (k == 0 ? 0 : k == 1 ? 3 : 2) : 1;
            str_clear(&prompt);
            place_prefix(&prompt, form, obj, random_name(&r));
            if (!set_add(&seen, prompt.s)) continue;
            tsv_row(&t, 4, "place", prompt.s, place_of(obj), cands.s);
            k++;
        }
    }
    tsv_close(&t);
    str_free(&prompt);
    str_free(&cands);
    set_free(&seen);
}

/* ---- fewshot_pool.tsv and fewshot_test.tsv ---- */

/* colour: a known fact in a format the corpus never uses for colours.
 * The pool holds one object of each colour; the test, the other 24. */
static void fewshot_colour(ToyRng *r, TsvOut *pool, TsvOut *test, Str *cands) {
    join_candidates(cands, TOY_COLOURS, TOY_NUM_COLOURS);
    int in_pool[TOY_NUM_OBJECTS] = {0};
    for (int c = 0; c < TOY_NUM_COLOURS; c++) {
        int of_colour[TOY_NUM_OBJECTS], n = 0;
        for (int i = 0; i < TOY_NUM_OBJECTS; i++) {
            if (TOY_OBJECTS[i].colour == c) of_colour[n++] = i;
        }
        toy_rng_shuffle(r, of_colour, n);
        for (int i = 0; i < FEWSHOT_COLOUR_POOL_PER_COLOUR; i++) in_pool[of_colour[i]] = 1;
    }
    int objs[TOY_NUM_OBJECTS];
    for (int i = 0; i < TOY_NUM_OBJECTS; i++) objs[i] = i;
    toy_rng_shuffle(r, objs, TOY_NUM_OBJECTS);
    for (int i = 0; i < TOY_NUM_OBJECTS; i++) {
        tsv_row(in_pool[objs[i]] ? pool : test, 5, "colour", name_of(objs[i]), colour_of(objs[i]),
                "", cands->s);
    }
}

/* opposite: known from sentences ("the opposite of hot is cold ."), never
 * in arrow format. Whole pairs go to one file, both directions. Candidates:
 * the answer, the input itself, and six other opposite words. */
static void fewshot_opposite(ToyRng *r, TsvOut *pool, TsvOut *test, Str *cands) {
    int pairs[TOY_NUM_OPPOSITES];
    for (int i = 0; i < TOY_NUM_OPPOSITES; i++) pairs[i] = i;
    toy_rng_shuffle(r, pairs, TOY_NUM_OPPOSITES);
    for (int i = 0; i < TOY_NUM_OPPOSITES; i++) {
        for (int d = 0; d < 2; d++) {
            int p = pairs[i];
            const char *c[FEWSHOT_OPPOSITE_CANDIDATES];
            c[0] = TOY_OPPOSITES[p][1 - d];
            c[1] = TOY_OPPOSITES[p][d];
            int others[TOY_NUM_OPPOSITES], n = 0;
            for (int q = 0; q < TOY_NUM_OPPOSITES; q++) if (q != p) others[n++] = q;
            toy_rng_shuffle(r, others, n);
            for (int k = 2; k < FEWSHOT_OPPOSITE_CANDIDATES; k++) {
                c[k] = TOY_OPPOSITES[others[k - 2]][toy_rng_below(r, 2)];
            }
            int order[FEWSHOT_OPPOSITE_CANDIDATES];
            for (int k = 0; k < FEWSHOT_OPPOSITE_CANDIDATES; k++) order[k] = k;
            toy_rng_shuffle(r, order, FEWSHOT_OPPOSITE_CANDIDATES);
            const char *shuffled[FEWSHOT_OPPOSITE_CANDIDATES];
            for (int k = 0; k < FEWSHOT_OPPOSITE_CANDIDATES; k++) shuffled[k] = c[order[k]];
            join_candidates(cands, shuffled, FEWSHOT_OPPOSITE_CANDIDATES);
            tsv_row(i < FEWSHOT_OPPOSITE_POOL_PAIRS ? pool : test, 5, "opposite",
                    TOY_OPPOSITES[p][d], TOY_OPPOSITES[p][1 - d], "", cands->s);
        }
    }
}

/* pairing: a fresh random object -> number word, knowable only from the
 * prompt itself (the rung puts the item's own line among its shots).
 * Pool and test share no (object, word) pair. */
static void fewshot_pairing(ToyRng *r, TsvOut *pool, TsvOut *test, Str *cands) {
    char input[64];
    join_candidates(cands, NUMBER_WORDS, NUM_NUMBER_WORDS);
    StrSet seen = {0};
    for (int f = 0; f < 2; f++) {
        for (int i = 0; i < FEWSHOT_PAIRING;) {
            int obj = toy_rng_below(r, TOY_NUM_OBJECTS), v = toy_rng_below(r, NUM_NUMBER_WORDS);
            snprintf(input, sizeof input, "%s %s", name_of(obj), NUMBER_WORDS[v]);
            if (!set_add(&seen, input)) continue;
            tsv_row(f ? pool : test, 5, "pairing", name_of(obj), NUMBER_WORDS[v], "", cands->s);
            i++;
        }
    }
    set_free(&seen);
}

/* arith: held-out sums, answered greedily; `worked` is what follows "= ?". */
static void fewshot_arith(const HeldOutSums *hs, TsvOut *pool, TsvOut *test) {
    char input[64], answer[32];
    Str worked = {0};
    for (int f = 0; f < 2; f++) {
        const Sum *sums = f ? hs->fewshot_pool : hs->fewshot_test;
        for (int i = 0; i < FEWSHOT_ARITH; i++) {
            snprintf(input, sizeof input, "%d + %d", sums[i].a, sums[i].b);
            snprintf(answer, sizeof answer, "%d", sums[i].a + sums[i].b);
            str_clear(&worked);
            worked_steps(&worked, sums[i].a, sums[i].b);
            tsv_row(f ? pool : test, 5, "arith", input, answer, worked.s, "");
        }
    }
    str_free(&worked);
}

/* The four tasks, in this order (they share one random stream). */
static void write_fewshot(const char *dir, uint64_t seed, const HeldOutSums *hs) {
    ToyRng r;
    toy_rng_init(&r, seed, STREAM_FEWSHOT);
    TsvOut pool, test;
    const char *header = "task\tinput\tanswer\tworked\tcandidates";
    tsv_open(&pool, dir, "fewshot_pool.tsv", header);
    tsv_open(&test, dir, "fewshot_test.tsv", header);
    Str cands = {0};
    fewshot_colour(&r, &pool, &test, &cands);
    fewshot_opposite(&r, &pool, &test, &cands);
    fewshot_pairing(&r, &pool, &test, &cands);
    fewshot_arith(hs, &pool, &test);
    tsv_close(&pool);
    tsv_close(&test);
    str_free(&cands);
}

/* ---- the instruction data: sft_*, prefs_*, ppo_prompts ---- */

/* The 64 world questions (32 objects x colour, place) in three disjoint sets:
 * 32 demonstrated by SFT (and compared by the reward model), 16 for PPO
 * (compared, never demonstrated), 16 held out (used by nothing, only
 * measured). Stratified: of the four objects of each colour,
 * two colour questions go to SFT, one to PPO, one is held out; the same for
 * the four objects of each place. */
enum { SET_SFT, SET_PPO, SET_HELDOUT, NUM_SETS };
typedef struct {
    ToyQuestion q[NUM_SETS][2 * TOY_NUM_OBJECTS];
    int n[NUM_SETS];
} Split;

static void split_questions(Split *s, uint64_t seed) {
    ToyRng r;
    toy_rng_init(&r, seed, STREAM_SPLIT);
    memset(s->n, 0, sizeof s->n);
    static const int SET_OF_RANK[4] = {SET_SFT, SET_SFT, SET_PPO, SET_HELDOUT};
    for (int kind = TOY_Q_COLOUR; kind <= TOY_Q_PLACE; kind++) {
        for (int v = 0; v < 8; v++) {
            int objs[TOY_NUM_OBJECTS], n = 0;
            for (int i = 0; i < TOY_NUM_OBJECTS; i++) {
                int value = kind == TOY_Q_COLOUR ? TOY_OBJECTS[i].colour : TOY_OBJECTS[i].place;
                if (value == v) objs[n++] = i;
            }
            if (n != 4) die("internal: %d objects with %s %d, want 4", n,
                            kind == TOY_Q_COLOUR ? "colour" : "place", v);
            toy_rng_shuffle(&r, objs, n);
            for (int k = 0; k < n; k++) {
                int set = SET_OF_RANK[k];
                s->q[set][s->n[set]++] = (ToyQuestion){(ToyQuestionKind)kind, objs[k], 0, 0};
            }
        }
    }
    for (int set = 0; set < NUM_SETS; set++) {  /* mix colour and place questions */
        for (int i = s->n[set] - 1; i > 0; i--) {
            int j = toy_rng_below(&r, i + 1);
            ToyQuestion t = s->q[set][i];
            s->q[set][i] = s->q[set][j];
            s->q[set][j] = t;
        }
    }
}

/* An SFT row: the question and its concise correct answer. */
static void sft_row(TsvOut *t, const ToyQuestion *q, ToyQuestionKind kind_if_unknown,
                    const char *thing) {
    char prompt[128], answer[64];
    toy_question_text(q, kind_if_unknown, thing, prompt, sizeof prompt);
    toy_answer_text(q, answer, sizeof answer);
    tsv_row(t, 2, prompt, answer);
}

static void write_sft(const char *dir, uint64_t seed, const Split *s, const HeldOutSums *hs) {
    ToyRng r;
    toy_rng_init(&r, seed, STREAM_SFT);
    for (int f = 0; f < 2; f++) {
        TsvOut t;
        tsv_open(&t, dir, f ? "sft_test.tsv" : "sft_train.tsv", "prompt\tresponse");
        /* Rows in a random order of three kinds: world questions, sums, refusals. */
        const ToyQuestion *world = s->q[f ? SET_HELDOUT : SET_SFT];
        int nworld = s->n[f ? SET_HELDOUT : SET_SFT];
        const Sum *sums = f ? hs->sft_test : hs->sft_train;
        int nrows = nworld + SFT_SUMS + SFT_REFUSALS;
        int order[2 * TOY_NUM_OBJECTS + SFT_SUMS + SFT_REFUSALS];
        for (int i = 0; i < nrows; i++) order[i] = i;
        toy_rng_shuffle(&r, order, nrows);
        for (int i = 0; i < nrows; i++) {
            int k = order[i];
            if (k < nworld) {
                sft_row(&t, &world[k], TOY_Q_NONE, NULL);
            } else if (k < nworld + SFT_SUMS) {
                ToyQuestion q = {TOY_Q_SUM, -1, sums[k - nworld].a, sums[k - nworld].b};
                sft_row(&t, &q, TOY_Q_NONE, NULL);
            } else {
                int u = k - nworld - SFT_SUMS;  /* train: things 0-3, test: things 4-7 */
                ToyQuestion q = {TOY_Q_UNKNOWN, -1, 0, 0};
                sft_row(&t, &q, u % 2 ? TOY_Q_PLACE : TOY_Q_COLOUR,
                        UNKNOWN_THINGS[f * SFT_REFUSALS + u]);
            }
        }
        tsv_close(&t);
    }
}

/* Four responses of distinct grades under score_response (ended = 1):
 *   r1 correct and concise            "it is green ."                  +1.5
 *   r2 correct but repeated            "it is green . it is green ."    +0.5
 *   r3 wrong (a wrong value, concise)  "it is red ."                    -1
 *   r4 off-topic chatter, rambling     "i like to sing . max is ..."    -1.5
 * The chatter states no fact, and no response gives the object's true fact of
 * the other kind: PPO without KL can learn exactly that hack when the reward
 * model never saw it. `variant` picks the templates. */
static void pref_responses(Str r[4], const ToyQuestion *q, int variant, ToyRng *rng) {
    int colour = q->kind == TOY_Q_COLOUR;
    int truth = colour ? TOY_OBJECTS[q->object].colour : TOY_OBJECTS[q->object].place;
    char value[48], wrong[48];
    int w = (truth + 1 + (variant + toy_rng_below(rng, 2) * 4) % 7) % 8;  /* never the truth */
    if (colour) {
        snprintf(value, sizeof value, "%s", TOY_COLOURS[truth]);
        snprintf(wrong, sizeof wrong, "%s", TOY_COLOURS[w]);
    } else {
        snprintf(value, sizeof value, "in the %s", TOY_PLACES[truth]);
        snprintf(wrong, sizeof wrong, "in the %s", TOY_PLACES[w]);
    }
    for (int i = 0; i < 4; i++) str_clear(&r[i]);
    say(&r[0], "it is %s .", value);
    switch (variant % 4) {
    case 0: say(&r[1], "it is %s . it is %s .", value, value); break;
    case 1: say(&r[1], "it is %s . it is %s . it is %s .", value, value, value); break;
    case 2: say(&r[1], "it is %s and it is %s .", value, value); break;
    default: say(&r[1], "it is %s . yes it is %s .", value, value); break;
    }
    say(&r[2], "it is %s .", wrong);
    int c[NUM_CHATTER];
    for (int i = 0; i < NUM_CHATTER; i++) c[i] = i;
    toy_rng_shuffle(rng, c, NUM_CHATTER);
    say(&r[3], "%s %s %s", CHATTER[c[0]], CHATTER[c[1]], CHATTER[c[2]]);
}

static void write_prefs(const char *dir, uint64_t seed, const Split *s) {
    ToyRng r;
    toy_rng_init(&r, seed, STREAM_PREFS);
    Str resp[4] = {{0}};
    for (int f = 0; f < 2; f++) {
        TsvOut t;
        tsv_open(&t, dir, f ? "prefs_test.tsv" : "prefs_train.tsv", "prompt\tr1\tr2\tr3\tr4");
        /* train: the SFT and PPO sets (a reward model does not carry facts to
         * prompts it never compared); test: the held-out set. */
        int sets[2] = {f ? SET_HELDOUT : SET_SFT, f ? -1 : SET_PPO};
        for (int si = 0; si < 2 && sets[si] >= 0; si++) {
            for (int i = 0; i < s->n[sets[si]]; i++) {
                const ToyQuestion *q = &s->q[sets[si]][i];
                char prompt[128];
                toy_question_text(q, TOY_Q_NONE, NULL, prompt, sizeof prompt);
                for (int v = 0; v < PREF_ROWS_PER_PROMPT; v++) {
                    pref_responses(resp, q, v, &r);
                    for (int k = 0; k + 1 < 4; k++) {  /* the rule must rank them strictly */
                        float better = score_response(prompt, resp[k].s, 1);
                        float worse = score_response(prompt, resp[k + 1].s, 1);
                        if (!(better > worse)) die("internal: responses out of order: %s", prompt);
                    }
                    tsv_row(&t, 5, prompt, resp[0].s, resp[1].s, resp[2].s, resp[3].s);
                }
            }
        }
        tsv_close(&t);
    }
    for (int i = 0; i < 4; i++) str_free(&resp[i]);
}

static void write_ppo_prompts(const char *dir, const Split *s) {
    TsvOut t;
    tsv_open(&t, dir, "ppo_prompts.tsv", "set\tprompt");
    const int sets[2] = {SET_PPO, SET_HELDOUT};
    for (int si = 0; si < 2; si++) {
        for (int i = 0; i < s->n[sets[si]]; i++) {
            char prompt[128];
            toy_question_text(&s->q[sets[si]][i], TOY_Q_NONE, NULL, prompt, sizeof prompt);
            tsv_row(&t, 2, si ? "heldout" : "ppo", prompt);
        }
    }
    tsv_close(&t);
}

/* ---- main ---- */

static void parse_flags(Options *o, int argc, char **argv) {
    const Flag flags[] = {
        FLAG_TEXT("out", &o->out, "DIR", "where to write the files (created if missing)"),
        FLAG_INT("pretrain-tokens", &o->pretrain_tokens, 100, 200000000,
                 "size of pretrain.txt in estimated tokens; only it, its excerpt and induction_train.txt depend on it",
                 NULL),
        FLAG_FLOAT("induction-share", &o->induction_share, 0, 0.9,
                   "share of induction_train.txt's tokens in synthetic repeated-block documents", NULL),
        FLAG_END};
    Cli cli = {"toydata", "write the toy world's corpora and task sets (see data/README.md);\n"
                          "                    the same seed, the same bytes",
               flags, &o->seed, NULL, NULL};
    cli_parse(&cli, argc, argv);
}

int main(int argc, char **argv) {
    Options o = {"data", 1, 2000000, DEFAULT_INDUCTION_SHARE};
    parse_flags(&o, argc, argv);
    make_folder(o.out);

    double t0 = now_seconds();
    uint64_t s = (uint64_t)o.seed;
    static HeldOutReviews reviews;  /* static: a few tens of kB, off the stack */
    static HeldOutSums sums;
    static Split split;
    held_out_reviews(&reviews, s);
    held_out_sums(&sums, s);
    split_questions(&split, s);

    write_corpora(&o, &reviews, &sums);
    write_classify(o.out, "classify_train.tsv", reviews.classify_train, CLASSIFY_TRAIN);
    write_classify(o.out, "classify_test.tsv", reviews.classify_test, CLASSIFY_TEST);
    write_zeroshot(o.out, s, &reviews);
    write_fewshot(o.out, s, &sums);
    write_sft(o.out, s, &split, &sums);
    write_prefs(o.out, s, &split);
    write_ppo_prompts(o.out, &split);
    write_induction_test(o.out, s);
    free_reviews(&reviews);
    printf("wrote %s/ in %.1f s (seed %d)\n", o.out, now_seconds() - t0, o.seed);
    return 0;
}
