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
 * The world's facts and the hidden ranking rule live in toyworld.[ch]; this
 * file only writes sentences about them. data/README.md describes every file.
 * The pretraining mix: world facts with the colour after the object, reviews
 * of which half end "in short : good|bad", pairings written without a
 * separator, known relations in arrow format (never the colour), two-digit
 * sums direct or worked digit by digit, and a little question/answer dialogue.
 *
 * Rung 3b's corpus (induction_train.txt) is the same documents in the same
 * order with synthetic "repeated block" documents interleaved, and its
 * held-out set (induction_test.txt) is "a random block, then the same block"
 * (write_induction).
 *
 * Kept out of the pretraining text on purpose: every labelled review, every
 * sum that a task or an instruction asks about, the arrow format for colours
 * and opposites, and every colour or place question.
 */
#include "cli.h"
#include "toyworld.h"
#include "util.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- constants ---- */

#define VAL_TOKENS 50000L          /* held-out text for validation loss */
#define EXCERPT_LINES 200          /* pretrain_excerpt.txt: the first lines of pretrain.txt */
#define EOT "<|endoftext|>"        /* the tokenizer maps this string to end-of-text */

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

/* The mix of pretrain.txt and val.txt, in estimated tokens. */
typedef enum { K_WORLD, K_REVIEW, K_PAIRING, K_ARROW, K_ARITH, K_DIALOGUE, K_COUNT } DocKind;
static const char *const KIND_NAME[K_COUNT] = {"world facts", "reviews", "pairings",
                                               "arrow relations", "arithmetic", "dialogue"};
static const double KIND_SHARE[K_COUNT] = {0.18, 0.15, 0.27, 0.05, 0.31, 0.04};

/* Estimated tokens per word (other than digits, which are one token each) for
 * each kind, measured with a reference 512-token byte-level BPE (GPT-2
 * pre-tokenizer, digits split) trained on the seed-1 corpus: reviews use the
 * rarest words, so they split most. See data/README.md. */
static const double KIND_TOKENS_PER_WORD[K_COUNT] = {1.20, 1.54, 1.04, 1.30, 1.00, 1.32};

/* The end-of-text token and the newline after it. */
#define TOKENS_PER_DOC 2.0

/* One random stream per file (see the top of the file). */
enum {
    STREAM_RESERVED_REVIEWS = 1, STREAM_RESERVED_SUMS, STREAM_SPLIT, STREAM_PRETRAIN, STREAM_VAL,
    STREAM_ZEROSHOT, STREAM_FEWSHOT, STREAM_SFT, STREAM_PREFS, STREAM_INDUCTION,
    STREAM_INDUCTION_TEST,
};

/* ---- the corpus's own vocabulary (the facts are in toyworld.c) ---- */

static const char *const NAMES[] = {"max", "ann", "tom", "sue", "ben", "kim", "sam", "eva"};
#define NUM_NAMES ((int)(sizeof NAMES / sizeof NAMES[0]))

static const char *const NUMBER_WORDS[] = {
    "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
    "eleven", "twelve"};
#define NUM_NUMBER_WORDS ((int)(sizeof NUMBER_WORDS / sizeof NUMBER_WORDS[0]))

/* Things the world does not contain: the right answer about them is
 * "i do not know .". None of these words occurs in the pretraining text. */
static const char *const UNKNOWN_THINGS[2 * SFT_REFUSALS] = {"moon", "sun", "sky", "sea",
                                                             "star", "cloud", "rain", "snow"};

/* Reviews: an opener, 1-3 sentences of one sentiment (sometimes a neutral one
 * among them), a closer. Openers and closers occur nowhere else, so a review
 * can only occur inside another text as that whole review: checking exact
 * equality is enough to keep held-out reviews out of the pretraining text.
 * The label words "good" and "bad" never occur in a review; the negations
 * ("it was not boring", "it was not fun") use other words. */
typedef struct {
    const char *noun;
    const char *verb[2];
} Subject;
static const Subject SUBJECTS[] = {
    {"film", {"watched", "saw"}},          {"song", {"heard", "sang"}},
    {"game", {"played", "bought"}},        {"cafe", {"went to", "ate at"}},
    {"show", {"watched", "saw"}},          {"play", {"saw", "went to"}},
    {"meal", {"had", "cooked"}},           {"trip", {"went on", "planned"}},
    {"class", {"took", "joined"}},         {"hotel", {"stayed at", "booked"}},
};
#define NUM_SUBJECTS ((int)(sizeof SUBJECTS / sizeof SUBJECTS[0]))
static const char *const REVIEWERS[] = {"i",   "we",  "max", "ann", "tom",
                                        "sue", "ben", "kim", "sam", "eva"};
#define NUM_REVIEWERS ((int)(sizeof REVIEWERS / sizeof REVIEWERS[0]))

#define NUM_BODY 16
static const char *const BODY[2][NUM_BODY] = {
    {   /* negative */
        "it was awful .", "i hated it .", "it was dull .", "it was boring .",
        "it was a waste of money .", "it was a waste of time .", "it made me angry .",
        "it was not fun .", "it was not worth the money .", "i did not enjoy it .",
        "the staff were rude .", "everything went wrong .", "it was the worst one yet .",
        "i was bored the whole time .", "it was not lovely at all .", "it was a mess .",
    },
    {   /* positive */
        "it was great .", "i loved it .", "it was fun .", "it was lovely .", "it was a joy .",
        "we had a great time .", "it was worth the money .", "it made me smile .",
        "it was not boring .", "it was not dull .", "i was not bored at all .",
        "the staff were kind .", "it was a lot of fun .", "everything was perfect .",
        "it was the best one yet .", "i was happy the whole time .",
    },
};
static const char *const NEUTRAL[] = {"it was busy .", "it took an hour .",
                                      "we went with friends .",
                                      "there were many people .", "it started at noon ."};
#define NUM_NEUTRAL ((int)(sizeof NEUTRAL / sizeof NEUTRAL[0]))
#define NUM_CLOSER 5
static const char *const CLOSER[2][NUM_CLOSER] = {
    {"i will not go again .", "never again .", "i want my money back .",
     "i told my friends to stay away .", "i am not going back ."},
    {"i would go again .", "i will be back .", "i told all my friends to go .",
     "i loved every minute .", "i can not wait to go back ."},
};
static const char *const LABEL_WORD[2] = {"bad", "good"};

/* Off-topic chatter for the preference data: no colour, place, number or
 * "do not know", so it answers nothing. */
static const char *const CHATTER[] = {
    "i like to sing .", "max is happy .", "we can play later .", "that is a nice question .",
    "i had tea today .", "ann likes to read .", "let us talk about cake .", "i want to dance .",
    "tom is my friend .", "it is a lovely day .", "i am a little tired .", "sue has a new song ."};
#define NUM_CHATTER ((int)(sizeof CHATTER / sizeof CHATTER[0]))

/* ---- growing strings ---- */

typedef struct {
    char *s;
    size_t len, cap;
} Str;

static void str_add_n(Str *b, const char *text, size_t n) {
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n + 1) cap *= 2;
        b->s = realloc_or_die(b->s, cap, "text");
        b->cap = cap;
    }
    memcpy(b->s + b->len, text, n);
    b->len += n;
    b->s[b->len] = '\0';
}

static void str_add(Str *b, const char *text) { str_add_n(b, text, strlen(text)); }

/* Appends a formatted piece of text, with one space before it unless the
 * string is empty: the corpus separates every word and mark by one space. */
static void say(Str *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void say(Str *b, const char *fmt, ...) {
    char piece[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(piece, sizeof piece, fmt, ap);
    va_end(ap);
    if (n < 0 || n >= (int)sizeof piece) {
        die("internal: a sentence longer than %zu bytes", sizeof piece);
    }
    if (b->len > 0) str_add(b, " ");
    str_add_n(b, piece, (size_t)n);
}

static void str_clear(Str *b) {
    b->len = 0;
    if (b->s) b->s[0] = '\0';
}

static void str_free(Str *b) {
    free(b->s);
    b->s = NULL;
    b->len = b->cap = 0;
}

/* A copy of the string's text ("" if empty), to free. */
static char *str_dup(const Str *b) { return strdup_or_die(b->s ? b->s : ""); }

/* ---- a set of strings (open addressing, FNV-1a) ---- */

typedef struct {
    char **slot;
    size_t cap, n;
} StrSet;

static uint64_t fnv1a(const char *s) {
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

static size_t set_find(const StrSet *set, const char *s) {
    size_t i = (size_t)(fnv1a(s) & (set->cap - 1));
    while (set->slot[i] && strcmp(set->slot[i], s) != 0) i = (i + 1) & (set->cap - 1);
    return i;
}

static int set_has(const StrSet *set, const char *s) {
    return set->cap > 0 && set->slot[set_find(set, s)] != NULL;
}

/* Adds a copy of s; returns 1 if it was new, 0 if it was already there. */
static int set_add(StrSet *set, const char *s) {
    if (2 * (set->n + 1) > set->cap) {  /* keep the table at most half full */
        size_t cap = set->cap ? 2 * set->cap : 1024;
        StrSet bigger = {calloc_or_die(cap, sizeof(char *), "a string set"), cap, set->n};
        for (size_t i = 0; i < set->cap; i++) {
            if (set->slot[i]) bigger.slot[set_find(&bigger, set->slot[i])] = set->slot[i];
        }
        free(set->slot);
        *set = bigger;
    }
    size_t i = set_find(set, s);
    if (set->slot[i]) return 0;
    set->slot[i] = strdup_or_die(s);
    set->n++;
    return 1;
}

static void set_free(StrSet *set) {
    for (size_t i = 0; i < set->cap; i++) free(set->slot[i]);
    free(set->slot);
    set->slot = NULL;
    set->cap = set->n = 0;
}

/* ---- sentences about the world ---- */

static const char *name_of(int obj) { return TOY_OBJECTS[obj].name; }
static const char *colour_of(int obj) { return TOY_COLOURS[TOY_OBJECTS[obj].colour]; }
static const char *place_of(int obj) { return TOY_PLACES[TOY_OBJECTS[obj].place]; }
static int is_animal(int obj) { return TOY_OBJECTS[obj].sound != NULL; }
static const char *article(const char *noun) { return strchr("aeiou", noun[0]) ? "an" : "a"; }

/* The forms that state a colour: each writes everything up to the colour, so
 * that the zero-shot prompts are exactly the corpus's own sentences cut short.
 * The colour always comes after the object. */
enum { COLOUR_FORMS = 5, PLACE_FORMS = 4 };

static void colour_prefix(Str *b, int form, int obj, const char *who) {
    const char *x = name_of(obj);
    switch (form) {
    case 0: say(b, "the %s is", x); break;
    case 1: say(b, "%s has %s %s . it is", who, article(x), x); break;
    case 2: say(b, "%s sees the %s . it is", who, x); break;
    case 3: say(b, "%s likes the %s . it is", who, x); break;
    default: say(b, "there is %s %s in the %s . it is", article(x), x, place_of(obj)); break;
    }
}

static void place_prefix(Str *b, int form, int obj, const char *who) {
    const char *x = name_of(obj);
    switch (form) {
    case 0: say(b, "the %s is in the", x); break;
    case 1: say(b, "%s sees the %s . it is in the", who, x); break;
    case 2:
        if (is_animal(obj)) say(b, "the %s lives in the", x);
        else say(b, "%s finds the %s in the", who, x);
        break;
    default: say(b, "the %s is %s and it is in the", x, colour_of(obj)); break;
    }
}

static const char *random_name(ToyRng *r) { return NAMES[toy_rng_below(r, NUM_NAMES)]; }

/* 1-3 objects, each with 1-3 of its facts (colour, place, sound), now and
 * then a pair of opposites stated in a sentence (never in arrow format). */
static void world_passage(Str *b, ToyRng *r) {
    int objs[TOY_NUM_OBJECTS];
    for (int i = 0; i < TOY_NUM_OBJECTS; i++) objs[i] = i;
    toy_rng_shuffle(r, objs, TOY_NUM_OBJECTS);
    int nobj = toy_rng_range(r, 1, 3);
    int opposite_at = toy_rng_below(r, 2) ? toy_rng_below(r, nobj) : -1;
    for (int k = 0; k < nobj; k++) {
        int obj = objs[k];
        int facts[3] = {0, 1, 2};  /* colour, place, sound */
        int nfacts = is_animal(obj) ? 3 : 2;
        toy_rng_shuffle(r, facts, nfacts);
        int nsay = toy_rng_range(r, 1, nfacts);
        for (int f = 0; f < nsay; f++) {
            switch (facts[f]) {
            case 0: colour_prefix(b, toy_rng_below(r, COLOUR_FORMS), obj, random_name(r));
                    say(b, "%s .", colour_of(obj)); break;
            case 1: place_prefix(b, toy_rng_below(r, PLACE_FORMS), obj, random_name(r));
                    say(b, "%s .", place_of(obj)); break;
            default:
                if (toy_rng_below(r, 2)) {
                    say(b, "the %s %s .", name_of(obj), TOY_OBJECTS[obj].sound);
                } else {
                    say(b, "%s hears the %s . it %s .", random_name(r), name_of(obj),
                        TOY_OBJECTS[obj].sound);
                }
                break;
            }
        }
        if (k == opposite_at) {
            int p = toy_rng_below(r, TOY_NUM_OPPOSITES), d = toy_rng_below(r, 2);
            say(b, "the opposite of %s is %s .", TOY_OPPOSITES[p][d], TOY_OPPOSITES[p][1 - d]);
        }
    }
}

/* ---- reviews ---- */

/* A review of the given sentiment (0 negative, 1 positive), with no summary. */
static void review(Str *b, ToyRng *r, int positive) {
    const Subject *s = &SUBJECTS[toy_rng_below(r, NUM_SUBJECTS)];
    say(b, "%s %s the %s .", REVIEWERS[toy_rng_below(r, NUM_REVIEWERS)],
        s->verb[toy_rng_below(r, 2)], s->noun);
    int body[NUM_BODY];
    for (int i = 0; i < NUM_BODY; i++) body[i] = i;
    toy_rng_shuffle(r, body, NUM_BODY);
    int n = toy_rng_range(r, 1, 3);
    int neutral_at = toy_rng_below(r, 10) < 3 ? toy_rng_below(r, n + 1) : -1;
    for (int i = 0; i <= n; i++) {
        if (i == neutral_at) say(b, "%s", NEUTRAL[toy_rng_below(r, NUM_NEUTRAL)]);
        if (i < n) say(b, "%s", BODY[positive][body[i]]);
    }
    say(b, "%s", CLOSER[positive][toy_rng_below(r, NUM_CLOSER)]);
}

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

/* ---- sums ---- */

typedef struct {
    int a, b;
} Sum;

/* The sums that tasks and instructions ask about (few-shot pool and test,
 * SFT train and test): all different as unordered pairs, and never written in
 * the pretraining text in either order. */
typedef struct {
    Sum fewshot_pool[FEWSHOT_ARITH], fewshot_test[FEWSHOT_ARITH];
    Sum sft_train[SFT_SUMS], sft_test[SFT_SUMS];
    unsigned char taken[100][100];  /* [min][max] of the operands */
} HeldOutSums;

static void fill_sums(Sum *out, int n, ToyRng *r, HeldOutSums *h) {
    for (int i = 0; i < n; i++) {
        int a, b;
        do {
            a = toy_rng_range(r, 10, 99);
            b = toy_rng_range(r, 10, 99);
        } while (h->taken[a < b ? a : b][a < b ? b : a]);
        h->taken[a < b ? a : b][a < b ? b : a] = 1;
        out[i] = (Sum){a, b};
    }
}

static void held_out_sums(HeldOutSums *h, uint64_t seed) {
    ToyRng r;
    toy_rng_init(&r, seed, STREAM_RESERVED_SUMS);
    memset(h->taken, 0, sizeof h->taken);
    fill_sums(h->fewshot_test, FEWSHOT_ARITH, &r, h);
    fill_sums(h->fewshot_pool, FEWSHOT_ARITH, &r, h);
    fill_sums(h->sft_test, SFT_SUMS, &r, h);
    fill_sums(h->sft_train, SFT_SUMS, &r, h);
}

/* A random two-digit + two-digit sum that no task or instruction uses. */
static Sum free_sum(ToyRng *r, const HeldOutSums *h) {
    for (;;) {
        int a = toy_rng_range(r, 10, 99), b = toy_rng_range(r, 10, 99);
        if (!h->taken[a < b ? a : b][a < b ? b : a]) return (Sum){a, b};
    }
}

/* "3 + 8 + 0 = 11 , 5 + 3 + 1 = 9 , so 91": digit by digit from the right,
 * each step with its carry in. */
static void worked_steps(Str *b, int x, int y) {
    int units = x % 10 + y % 10;
    say(b, "%d + %d + 0 = %d ,", x % 10, y % 10, units);
    say(b, "%d + %d + %d = %d ,", x / 10, y / 10, units / 10, x / 10 + y / 10 + units / 10);
    say(b, "so %d", x + y);
}

/* ---- the other kinds of pretraining document ---- */

/* "hen sixteen . lamp seven . cup two ." then the same pairs again in random
 * order. Written without a separator, which keeps "->" for known relations. */
static void pairing_passage(Str *b, ToyRng *r) {
    int keys[TOY_NUM_OBJECTS], values[NUM_NUMBER_WORDS];
    for (int i = 0; i < TOY_NUM_OBJECTS; i++) keys[i] = i;
    for (int i = 0; i < NUM_NUMBER_WORDS; i++) values[i] = i;
    toy_rng_shuffle(r, keys, TOY_NUM_OBJECTS);
    toy_rng_shuffle(r, values, NUM_NUMBER_WORDS);
    int n = toy_rng_range(r, 3, 5);
    for (int i = 0; i < n; i++) say(b, "%s %s .", name_of(keys[i]), NUMBER_WORDS[values[i]]);
    int reuse = toy_rng_range(r, 4, 8);
    for (int i = 0; i < reuse; i++) {
        int k = toy_rng_below(r, n);
        say(b, "%s %s .", name_of(keys[k]), NUMBER_WORDS[values[k]]);
    }
}

/* Known relations in arrow format, one relation per passage: animal -> sound,
 * object -> place, number word -> digits. Never colour, never opposites: for
 * those the arrow format is new at few-shot time. */
static void arrow_passage(Str *b, ToyRng *r) {
    int items[TOY_NUM_OBJECTS];
    int relation = toy_rng_below(r, 3);
    int n = toy_rng_range(r, 4, 8);
    if (relation == 0) {  /* sounds: the 16 animals come first in TOY_OBJECTS */
        int animals = 0;
        for (int i = 0; i < TOY_NUM_OBJECTS; i++) if (is_animal(i)) items[animals++] = i;
        toy_rng_shuffle(r, items, animals);
        for (int i = 0; i < n; i++) {
            say(b, "%s -> %s .", name_of(items[i]), TOY_OBJECTS[items[i]].sound);
        }
    } else if (relation == 1) {
        for (int i = 0; i < TOY_NUM_OBJECTS; i++) items[i] = i;
        toy_rng_shuffle(r, items, TOY_NUM_OBJECTS);
        for (int i = 0; i < n; i++) say(b, "%s -> %s .", name_of(items[i]), place_of(items[i]));
    } else {
        for (int i = 0; i < NUM_NUMBER_WORDS; i++) items[i] = i;
        toy_rng_shuffle(r, items, NUM_NUMBER_WORDS);
        for (int i = 0; i < n; i++) say(b, "%s -> %d .", NUMBER_WORDS[items[i]], items[i] + 1);
    }
}

/* Two-digit sums, each passage all direct ("42 + 58 = 100 .") or all worked
 * ("53 + 38 = ? 3 + 8 + 0 = 11 , 5 + 3 + 1 = 9 , so 91 ."). Worked sums are
 * about three times longer, so their passages hold fewer. */
static void arith_passage(Str *b, ToyRng *r, const HeldOutSums *h) {
    int worked = toy_rng_below(r, 2);
    int n = worked ? toy_rng_range(r, 2, 3) : toy_rng_range(r, 5, 9);
    for (int i = 0; i < n; i++) {
        Sum s = free_sum(r, h);
        if (worked) {
            say(b, "%d + %d = ?", s.a, s.b);
            worked_steps(b, s.a, s.b);
            say(b, ".");
        } else {
            say(b, "%d + %d = %d .", s.a, s.b, s.a + s.b);
        }
    }
}

/* One question and its answer in the chat format's words ("q : ... a : ..."),
 * on what the instruction data never asks: sounds, opposites, free sums.
 * Never a colour or place question: those are for SFT to teach. */
static void dialogue(Str *b, ToyRng *r, const HeldOutSums *h) {
    int kind = toy_rng_below(r, 3);
    if (kind == 0) {
        int obj;
        do obj = toy_rng_below(r, TOY_NUM_OBJECTS);
        while (!is_animal(obj));
        say(b, "q : what sound does the %s make ? a : it %s .", name_of(obj),
            TOY_OBJECTS[obj].sound);
    } else if (kind == 1) {
        int p = toy_rng_below(r, TOY_NUM_OPPOSITES), d = toy_rng_below(r, 2);
        say(b, "q : what is the opposite of %s ? a : it is %s .", TOY_OPPOSITES[p][d],
            TOY_OPPOSITES[p][1 - d]);
    } else {
        Sum s = free_sum(r, h);
        say(b, "q : what is %d + %d ? a : it is %d .", s.a, s.b, s.a + s.b);
    }
}

/* ---- pretrain.txt and val.txt ---- */

/* Estimated tokens of a text: each digit one token, every other
 * space-separated piece `per_word` tokens. */
static double estimate_tokens(const char *text, double per_word, long *words) {
    double tokens = 0.0;
    const char *p = text;
    while (*p) {
        while (*p == ' ') p++;
        if (!*p) break;
        const char *start = p;
        int digits = 0;
        while (*p && *p != ' ') digits += (*p >= '0' && *p <= '9'), p++;
        (*words)++;
        tokens += digits == p - start ? digits : per_word;
    }
    return tokens;
}

typedef struct {
    Str text;        /* all documents, back to back */
    size_t *start;   /* (ndocs + 1) offsets into text */
    int ndocs, cap;
    long words[K_COUNT];
    long docs[K_COUNT];
    double tokens[K_COUNT];
} Corpus;

/* Writes documents of every kind until each has its share of `target` estimated
 * tokens (counting end-of-text as one), then shuffles them (they are written
 * in that order). Held-out reviews and sums are skipped. */
static void make_corpus(Corpus *c, long target, ToyRng *r, const HeldOutReviews *hr,
                        const HeldOutSums *hs) {
    memset(c, 0, sizeof *c);
    Str doc = {0};
    for (int k = 0; k < K_COUNT; k++) {
        double budget = KIND_SHARE[k] * (double)target;
        while (c->tokens[k] < budget) {
            str_clear(&doc);
            switch ((DocKind)k) {
            case K_WORLD: world_passage(&doc, r); break;
            case K_REVIEW: {
                int positive = toy_rng_below(r, 2);
                do {
                    str_clear(&doc);
                    review(&doc, r, positive);
                } while (set_has(&hr->all, doc.s));
                if (toy_rng_below(r, 2)) say(&doc, "in short : %s .", LABEL_WORD[positive]);
                break;
            }
            case K_PAIRING: pairing_passage(&doc, r); break;
            case K_ARROW: arrow_passage(&doc, r); break;
            case K_ARITH: arith_passage(&doc, r, hs); break;
            default: dialogue(&doc, r, hs); break;
            }
            c->tokens[k] += estimate_tokens(doc.s, KIND_TOKENS_PER_WORD[k], &c->words[k]);
            c->tokens[k] += TOKENS_PER_DOC;
            c->docs[k]++;
            if (c->ndocs + 1 >= c->cap) {
                c->cap = c->cap ? 2 * c->cap : 4096;
                c->start = realloc_or_die(c->start, sizeof(size_t) * (size_t)(c->cap + 1),
                                          "documents");
            }
            c->start[c->ndocs++] = c->text.len;
            str_add(&c->text, doc.s);
        }
    }
    if (c->ndocs == 0) die("--pretrain-tokens is too small to hold a single document");
    c->start[c->ndocs] = c->text.len;
    str_free(&doc);
}

static void free_corpus(Corpus *c) {
    str_free(&c->text);
    free(c->start);
}

/* The order the documents are written in: a shuffle of 0..ndocs-1 (malloc'd). */
static int *shuffled_order(const Corpus *c, ToyRng *r) {
    int *order = malloc_or_die(sizeof(int) * (size_t)c->ndocs, "document order");
    for (int i = 0; i < c->ndocs; i++) order[i] = i;
    toy_rng_shuffle(r, order, c->ndocs);
    return order;
}

/* Writes document i as one line ending in the end-of-text string. */
static void put_doc(const Corpus *c, int i, FILE *f, const char *path) {
    fwrite_or_die(c->text.s + c->start[i], 1, c->start[i + 1] - c->start[i], f, path);
    fputs(EOT "\n", f);
}

/* Writes the documents in the given order, each as one line ending in the
 * end-of-text string: "doc<|endoftext|>\n". Also the first `excerpt_lines`
 * lines to excerpt_path, if that is not NULL. */
static void write_corpus(const Corpus *c, const int *order, const char *path, const char *excerpt_path,
                         int excerpt_lines) {
    AtomicFile af, ex;
    atomic_open(&af, path);
    if (excerpt_path) atomic_open(&ex, excerpt_path);
    for (int i = 0; i < c->ndocs; i++) {
        put_doc(c, order[i], af.f, path);
        if (excerpt_path && i < excerpt_lines) put_doc(c, order[i], ex.f, excerpt_path);
    }
    if (ferror(af.f)) die("cannot write %s", path);
    atomic_commit(&af);
    if (excerpt_path) {
        if (ferror(ex.f)) die("cannot write %s", excerpt_path);
        atomic_commit(&ex);
    }
}

static void report_corpus(const char *name, const Corpus *c) {
    double total = 0.0;
    long words = 0;
    for (int k = 0; k < K_COUNT; k++) total += c->tokens[k], words += c->words[k];
    printf("%-26s %8d docs %9ld words %9.0f est. tokens\n", name, c->ndocs, words, total);
    for (int k = 0; k < K_COUNT; k++) {
        printf("  %-24s %8ld docs %9ld words %9.0f est. tokens (%4.1f%%)\n", KIND_NAME[k],
               c->docs[k], c->words[k], c->tokens[k], 100.0 * c->tokens[k] / total);
    }
}

/* ---- induction_train.txt and induction_test.txt (rung 3b) ---- */

/* The words of the synthetic documents: every object, colour, place and
 * number word. Each is a single token of the 512-token BPE (a multi-token
 * word would teach its own second half, not a lookup). Returns how many. */
enum { INDUCTION_WORDS = TOY_NUM_OBJECTS + TOY_NUM_COLOURS + TOY_NUM_PLACES + NUM_NUMBER_WORDS };
static void induction_words(const char **w) {
    int n = 0;
    for (int i = 0; i < TOY_NUM_OBJECTS; i++) w[n++] = name_of(i);
    for (int i = 0; i < TOY_NUM_COLOURS; i++) w[n++] = TOY_COLOURS[i];
    for (int i = 0; i < TOY_NUM_PLACES; i++) w[n++] = TOY_PLACES[i];
    for (int i = 0; i < NUM_NUMBER_WORDS; i++) w[n++] = NUMBER_WORDS[i];
}

/* Appends `len` words: a block of n distinct random words, repeated (the
 * last repeat cut short when len is not a multiple of n). */
static void repeated_block(Str *b, ToyRng *r, int n, int len) {
    const char *words[INDUCTION_WORDS];
    induction_words(words);
    int idx[INDUCTION_WORDS];
    for (int i = 0; i < INDUCTION_WORDS; i++) idx[i] = i;
    for (int i = 0; i < n; i++) {  /* a partial Fisher-Yates: the first n are the block */
        int j = i + toy_rng_below(r, INDUCTION_WORDS - i);
        int t = idx[i]; idx[i] = idx[j]; idx[j] = t;
    }
    for (int i = 0; i < len; i++) say(b, "%s", words[idx[i % n]]);
}

/* induction_train.txt: the pretraining documents in pretrain.txt's order,
 * with a synthetic document (a block of 2-16 distinct words repeated to 64
 * words) inserted after a natural one whenever the synthetic documents hold
 * less than `share` of the estimated tokens written so far. A natural
 * document's tokens are estimated from its bytes at the corpus's own rate. */
static void write_induction_train(const Corpus *c, const int *order, float share, uint64_t seed,
                                  const char *path) {
    ToyRng r;
    toy_rng_init(&r, seed, STREAM_INDUCTION);
    double total = 0.0;
    for (int k = 0; k < K_COUNT; k++) total += c->tokens[k];
    double per_byte = total / (double)c->text.len, natural = 0.0, synthetic = 0.0;
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
            fprintf(af.f, "%s" EOT "\n", doc.s);
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

typedef struct {
    const char *out;       /* the folder every file goes to */
    int seed, pretrain_tokens;
    float induction_share;
} Options;

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

/* pretrain.txt (with its excerpt), induction_train.txt (the same documents
 * in the same order, with synthetic ones among them) and val.txt. */
static void write_corpora(const Options *o, const HeldOutReviews *reviews, const HeldOutSums *sums) {
    char path[4096], excerpt[4096];
    uint64_t s = (uint64_t)o->seed;
    Corpus corpus;
    ToyRng r;
    toy_rng_init(&r, s, STREAM_PRETRAIN);
    make_corpus(&corpus, o->pretrain_tokens, &r, reviews, sums);
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
    make_corpus(&corpus, VAL_TOKENS, &r, reviews, sums);
    order = shuffled_order(&corpus, &r);
    snprintf(path, sizeof path, "%s/val.txt", o->out);
    write_corpus(&corpus, order, path, NULL, 0);
    report_corpus("val.txt", &corpus);
    free(order);
    free_corpus(&corpus);
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
