/* toycorpus.c — the toy world's text: growing strings, the corpus's own
 * words, the sentences and documents toydata (rung 0) writes, and the mix of
 * the pretraining corpus. Shapes and contracts are in toycorpus.h.
 * Left out on purpose: files other than the corpus, held-out sets and random
 * streams (toydata.c), and the world's facts (toyworld.c).
 */
#include "toycorpus.h"
#include "util.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

/* ---- the mix of the pretraining corpus ---- */

/* Each kind's name in the report, and its share of the corpus in estimated tokens. */
static const char *const KIND_NAME[K_COUNT] = {"world facts", "reviews", "pairings",
                                               "arrow relations", "arithmetic", "dialogue"};
static const double KIND_SHARE[K_COUNT] = {0.18, 0.15, 0.27, 0.05, 0.31, 0.04};

/* Estimated tokens per word (other than digits, which are one token each) for
 * each kind, measured with a reference 512-token byte-level BPE (GPT-2
 * pre-tokenizer, digits split) trained on the seed-1 corpus: reviews use the
 * rarest words, so they split most. See data/README.md. */
static const double KIND_TOKENS_PER_WORD[K_COUNT] = {1.20, 1.54, 1.04, 1.30, 1.00, 1.32};

/* ---- the corpus's own vocabulary (the facts are in toyworld.c) ---- */

static const char *const NAMES[] = {"max", "ann", "tom", "sue", "ben", "kim", "sam", "eva"};
#define NUM_NAMES ((int)(sizeof NAMES / sizeof NAMES[0]))

const char *const NUMBER_WORDS[NUM_NUMBER_WORDS] = {
    "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
    "eleven", "twelve"};

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
const char *const LABEL_WORD[2] = {"bad", "good"};

/* ---- growing strings ---- */

void str_add_n(Str *b, const char *text, size_t n) {
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

void str_add(Str *b, const char *text) { str_add_n(b, text, strlen(text)); }

void say(Str *b, const char *fmt, ...) {
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

void str_clear(Str *b) {
    b->len = 0;
    if (b->s) b->s[0] = '\0';
}

void str_free(Str *b) {
    free(b->s);
    b->s = NULL;
    b->len = b->cap = 0;
}

char *str_dup(const Str *b) { return strdup_or_die(b->s ? b->s : ""); }

/* ---- a set of strings (open addressing, FNV-1a) ---- */

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

int set_has(const StrSet *set, const char *s) {
    return set->cap > 0 && set->slot[set_find(set, s)] != NULL;
}

int set_add(StrSet *set, const char *s) {
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

void set_free(StrSet *set) {
    for (size_t i = 0; i < set->cap; i++) free(set->slot[i]);
    free(set->slot);
    set->slot = NULL;
    set->cap = set->n = 0;
}

/* ---- sentences about the world ---- */

const char *name_of(int obj) { return TOY_OBJECTS[obj].name; }
const char *colour_of(int obj) { return TOY_COLOURS[TOY_OBJECTS[obj].colour]; }
const char *place_of(int obj) { return TOY_PLACES[TOY_OBJECTS[obj].place]; }
static int is_animal(int obj) { return TOY_OBJECTS[obj].sound != NULL; }
static const char *article(const char *noun) { return strchr("aeiou", noun[0]) ? "an" : "a"; }

void colour_prefix(Str *b, int form, int obj, const char *who) {
    const char *x = name_of(obj);
    switch (form) {
    case 0: say(b, "the %s is", x); break;
    case 1: say(b, "%s has %s %s . it is", who, article(x), x); break;
    case 2: say(b, "%s sees the %s . it is", who, x); break;
    case 3: say(b, "%s likes the %s . it is", who, x); break;
    default: say(b, "there is %s %s in the %s . it is", article(x), x, place_of(obj)); break;
    }
}

void place_prefix(Str *b, int form, int obj, const char *who) {
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

const char *random_name(ToyRng *r) { return NAMES[toy_rng_below(r, NUM_NAMES)]; }

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

void review(Str *b, ToyRng *r, int positive) {
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

/* ---- sums ---- */

int sum_set_has(const SumSet *set, Sum s) {
    return set->taken[s.a < s.b ? s.a : s.b][s.a < s.b ? s.b : s.a];
}

void sum_set_add(SumSet *set, Sum s) { set->taken[s.a < s.b ? s.a : s.b][s.a < s.b ? s.b : s.a] = 1; }

Sum free_sum(ToyRng *r, const SumSet *held) {
    for (;;) {
        int a = toy_rng_range(r, 10, 99), b = toy_rng_range(r, 10, 99);
        if (!sum_set_has(held, (Sum){a, b})) return (Sum){a, b};
    }
}

void worked_steps(Str *b, int x, int y) {
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
static void arith_passage(Str *b, ToyRng *r, const SumSet *h) {
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
static void dialogue(Str *b, ToyRng *r, const SumSet *h) {
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

/* ---- the pretraining corpus ---- */

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

/* Kind by kind, in DocKind's order, until each has its share; a review
 * without its label or with it ("in short : good ."), half and half. */
void make_corpus(Corpus *c, long target, ToyRng *r, const StrSet *held_reviews,
                 const SumSet *held_sums) {
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
                } while (set_has(held_reviews, doc.s));
                if (toy_rng_below(r, 2)) say(&doc, "in short : %s .", LABEL_WORD[positive]);
                break;
            }
            case K_PAIRING: pairing_passage(&doc, r); break;
            case K_ARROW: arrow_passage(&doc, r); break;
            case K_ARITH: arith_passage(&doc, r, held_sums); break;
            default: dialogue(&doc, r, held_sums); break;
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

void free_corpus(Corpus *c) {
    str_free(&c->text);
    free(c->start);
}

int *shuffled_order(const Corpus *c, ToyRng *r) {
    int *order = malloc_or_die(sizeof(int) * (size_t)c->ndocs, "document order");
    for (int i = 0; i < c->ndocs; i++) order[i] = i;
    toy_rng_shuffle(r, order, c->ndocs);
    return order;
}

void put_doc(const Corpus *c, int i, FILE *f, const char *path) {
    fwrite_or_die(c->text.s + c->start[i], 1, c->start[i + 1] - c->start[i], f, path);
    fputs(TOY_EOT "\n", f);
}

void write_corpus(const Corpus *c, const int *order, const char *path, const char *excerpt_path,
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

double corpus_tokens(const Corpus *c) {
    double total = 0.0;
    for (int k = 0; k < K_COUNT; k++) total += c->tokens[k];
    return total;
}

void report_corpus(const char *name, const Corpus *c) {
    double total = corpus_tokens(c);
    long words = 0;
    for (int k = 0; k < K_COUNT; k++) words += c->words[k];
    printf("%-26s %8d docs %9ld words %9.0f est. tokens\n", name, c->ndocs, words, total);
    for (int k = 0; k < K_COUNT; k++) {
        printf("  %-24s %8ld docs %9ld words %9.0f est. tokens (%4.1f%%)\n", KIND_NAME[k],
               c->docs[k], c->words[k], c->tokens[k], 100.0 * c->tokens[k] / total);
    }
}

/* ---- rung 3b's repeated blocks ---- */

/* The words of the synthetic documents: every object, colour, place and
 * number word. Each is a single token of the 512-token BPE (a multi-token
 * word would teach its own second half, not a lookup). Fills w[INDUCTION_WORDS]. */
enum { INDUCTION_WORDS = TOY_NUM_OBJECTS + TOY_NUM_COLOURS + TOY_NUM_PLACES + NUM_NUMBER_WORDS };
static void induction_words(const char **w) {
    int n = 0;
    for (int i = 0; i < TOY_NUM_OBJECTS; i++) w[n++] = name_of(i);
    for (int i = 0; i < TOY_NUM_COLOURS; i++) w[n++] = TOY_COLOURS[i];
    for (int i = 0; i < TOY_NUM_PLACES; i++) w[n++] = TOY_PLACES[i];
    for (int i = 0; i < NUM_NUMBER_WORDS; i++) w[n++] = NUMBER_WORDS[i];
}

void repeated_block(Str *b, ToyRng *r, int n, int len) {
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
