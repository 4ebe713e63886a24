/* toyworld.c — the toy world's facts, its questions and the hidden rule.
 *
 * The facts are a hand-written table, the same for every seed, so that a
 * learner can read them here and check a model's answer by eye. The rule is
 * spelled out in toyworld.h and data/README.md; score_response is the code
 * the reward and PPO rungs treat as the "true" human judgement.
 * Left out on purpose: any learning, any tokenizer: the rule reads plain text.
 */
#include "toyworld.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- the world's facts ---- */

const char *const TOY_COLOURS[TOY_NUM_COLOURS] = {
    "red", "blue", "green", "yellow", "black", "white", "brown", "pink",
};

const char *const TOY_PLACES[TOY_NUM_PLACES] = {
    "barn", "house", "garden", "forest", "park", "kitchen", "shed", "field",
};

enum { RED, BLUE, GREEN, YELLOW, BLACK, WHITE, BROWN, PINK };
enum { BARN, HOUSE, GARDEN, FOREST, PARK, KITCHEN, SHED, FIELD };

/* Four objects per colour and four per place, so that guessing the commonest
 * answer is no better than chance (1/8). */
const ToyObject TOY_OBJECTS[TOY_NUM_OBJECTS] = {
    {"fox", RED, FOREST, "yelps"},     {"owl", WHITE, BARN, "hoots"},
    {"dog", BROWN, HOUSE, "barks"},    {"cat", BLACK, HOUSE, "meows"},
    {"hen", RED, BARN, "clucks"},      {"cow", WHITE, FIELD, "moos"},
    {"pig", PINK, BARN, "oinks"},      {"duck", YELLOW, PARK, "quacks"},
    {"frog", GREEN, GARDEN, "croaks"}, {"wolf", BROWN, FOREST, "howls"},
    {"bear", BLACK, FOREST, "growls"}, {"goat", WHITE, SHED, "bleats"},
    {"horse", BROWN, FIELD, "neighs"}, {"sheep", WHITE, FIELD, "baas"},
    {"mouse", BROWN, KITCHEN, "squeaks"}, {"bee", YELLOW, GARDEN, "buzzes"},
    {"kite", BLACK, PARK, NULL},       {"bag", GREEN, HOUSE, NULL},
    {"ball", RED, PARK, NULL},         {"cup", BLUE, KITCHEN, NULL},
    {"hat", PINK, HOUSE, NULL},        {"box", YELLOW, SHED, NULL},
    {"lamp", YELLOW, KITCHEN, NULL},   {"book", BLUE, SHED, NULL},
    {"boat", BLUE, FIELD, NULL},       {"key", GREEN, KITCHEN, NULL},
    {"drum", PINK, BARN, NULL},        {"sock", PINK, GARDEN, NULL},
    {"bell", GREEN, GARDEN, NULL},     {"car", RED, SHED, NULL},
    {"pen", BLACK, FOREST, NULL},      {"coat", BLUE, PARK, NULL},
};

const char *const TOY_OPPOSITES[TOY_NUM_OPPOSITES][2] = {
    {"hot", "cold"},       {"big", "small"},      {"fast", "slow"},     {"up", "down"},
    {"wet", "dry"},        {"old", "new"},        {"happy", "sad"},     {"day", "night"},
    {"full", "empty"},     {"open", "shut"},      {"loud", "quiet"},    {"hard", "soft"},
    {"tall", "short"},     {"early", "late"},     {"high", "low"},      {"thick", "thin"},
    {"near", "far"},       {"strong", "weak"},    {"heavy", "light"},   {"rich", "poor"},
    {"first", "last"},     {"left", "right"},     {"clean", "dirty"},   {"sweet", "sour"},
    {"inside", "outside"}, {"win", "lose"},       {"buy", "sell"},      {"push", "pull"},
    {"come", "go"},        {"give", "take"},      {"love", "hate"},     {"start", "stop"},
    {"true", "false"},     {"awake", "asleep"},   {"wide", "narrow"},   {"deep", "shallow"},
    {"rough", "smooth"},   {"loose", "tight"},    {"alive", "dead"},    {"friend", "enemy"},
};

static int find_word(const char *const *list, int n, const char *word) {
    for (int i = 0; i < n; i++) {
        if (strcmp(list[i], word) == 0) return i;
    }
    return -1;
}

int toy_object_index(const char *word) {
    for (int i = 0; i < TOY_NUM_OBJECTS; i++) {
        if (strcmp(TOY_OBJECTS[i].name, word) == 0) return i;
    }
    return -1;
}

int toy_colour_index(const char *word) { return find_word(TOY_COLOURS, TOY_NUM_COLOURS, word); }
int toy_place_index(const char *word) { return find_word(TOY_PLACES, TOY_NUM_PLACES, word); }

/* ---- reading text as words ---- */

/* A response or prompt split into lowercase words (runs of letters and
 * digits) and sentence ends. Fixed-size, so judging allocates nothing: words
 * past the first MAX_WORDS are counted (so such a response rambles) but not
 * read for facts. */
#define MAX_WORDS 64
#define MAX_WORD_LEN 24

typedef struct {
    char word[MAX_WORDS][MAX_WORD_LEN];  /* truncated to MAX_WORD_LEN - 1 chars */
    int nstored;                         /* words stored, <= MAX_WORDS */
    int nwords;                          /* all words, stored or not */
    int nsentences;
} Words;

static int is_word_char(char c) { return isalnum((unsigned char)c) != 0; }
static int is_sentence_end(char c) { return c == '.' || c == '?' || c == '!'; }

static void split_words(Words *w, const char *s) {
    w->nstored = w->nwords = w->nsentences = 0;
    int words_since_end = 0;
    const char *p = s;
    while (*p) {
        if (is_word_char(*p)) {
            int len = 0;
            char *dst = w->nstored < MAX_WORDS ? w->word[w->nstored] : NULL;
            while (is_word_char(*p)) {
                if (dst && len < MAX_WORD_LEN - 1) dst[len] = (char)tolower((unsigned char)*p);
                len++;
                p++;
            }
            if (dst) {
                dst[len < MAX_WORD_LEN - 1 ? len : MAX_WORD_LEN - 1] = '\0';
                w->nstored++;
            }
            w->nwords++;
            words_since_end++;
        } else if (is_sentence_end(*p)) {
            while (is_sentence_end(*p)) p++;  /* "..." ends one sentence */
            if (words_since_end > 0) w->nsentences++;
            words_since_end = 0;
        } else {
            p++;
        }
    }
    if (words_since_end > 0) w->nsentences++;
}

static int is_number(const char *word) {
    if (!*word) return 0;
    for (const char *p = word; *p; p++) {
        if (!isdigit((unsigned char)*p)) return 0;
    }
    return 1;
}

/* Parses a whole word of 1-4 digits into *v. */
static int small_number(const char *word, int *v) {
    if (!is_number(word) || strlen(word) > 4) return 0;
    *v = atoi(word);
    return 1;
}

/* ---- questions ---- */

ToyQuestion toy_parse_prompt(const char *prompt) {
    ToyQuestion q = {TOY_Q_NONE, -1, 0, 0};
    Words w;
    split_words(&w, prompt);
    if (w.nwords != w.nstored) return q;  /* far too long to be a question */
    /* Skip the chat format's words around the question, in case a rung passes
     * the whole context: "<|prompt|> q : ... ? <|answer|> a :". */
    int i = 0, n = w.nstored;
    while (i < n && (strcmp(w.word[i], "prompt") == 0 || strcmp(w.word[i], "q") == 0)) i++;
    while (n > i && (strcmp(w.word[n - 1], "answer") == 0 || strcmp(w.word[n - 1], "a") == 0)) n--;
    const char *thing = NULL;
    int kind = TOY_Q_NONE;
    /* what colour|color is the|a|an X */
    if (n - i == 5 && strcmp(w.word[i], "what") == 0 &&
        (strcmp(w.word[i + 1], "colour") == 0 || strcmp(w.word[i + 1], "color") == 0) &&
        strcmp(w.word[i + 2], "is") == 0 &&
        (strcmp(w.word[i + 3], "the") == 0 || strcmp(w.word[i + 3], "a") == 0 ||
         strcmp(w.word[i + 3], "an") == 0)) {
        kind = TOY_Q_COLOUR;
        thing = w.word[i + 4];
    }
    /* where is the X */
    else if (n - i == 4 && strcmp(w.word[i], "where") == 0 && strcmp(w.word[i + 1], "is") == 0 &&
             strcmp(w.word[i + 2], "the") == 0) {
        kind = TOY_Q_PLACE;
        thing = w.word[i + 3];
    }
    /* where does the X live */
    else if (n - i == 5 && strcmp(w.word[i], "where") == 0 && strcmp(w.word[i + 1], "does") == 0 &&
             strcmp(w.word[i + 2], "the") == 0 && strcmp(w.word[i + 4], "live") == 0) {
        kind = TOY_Q_PLACE;
        thing = w.word[i + 3];
    }
    /* what is A + B: the words are what, is, A, B; check the '+' in the text */
    else if (n - i == 4 && strcmp(w.word[i], "what") == 0 && strcmp(w.word[i + 1], "is") == 0 &&
             small_number(w.word[i + 2], &q.a) && small_number(w.word[i + 3], &q.b) &&
             strchr(prompt, '+') != NULL) {
        q.kind = TOY_Q_SUM;
        return q;
    }
    if (kind == TOY_Q_NONE) {
        q.a = q.b = 0;
        return q;
    }
    q.object = toy_object_index(thing);
    q.kind = q.object >= 0 ? (ToyQuestionKind)kind : TOY_Q_UNKNOWN;
    return q;
}

void toy_question_text(const ToyQuestion *q, ToyQuestionKind kind_if_unknown, const char *thing,
                       char *buf, size_t n) {
    if (n == 0) return;
    const char *name = q->object >= 0 ? TOY_OBJECTS[q->object].name : thing;
    ToyQuestionKind kind = q->kind == TOY_Q_UNKNOWN ? kind_if_unknown : q->kind;
    buf[0] = '\0';
    switch (kind) {
    case TOY_Q_COLOUR: snprintf(buf, n, "what colour is the %s ?", name ? name : ""); break;
    case TOY_Q_PLACE: snprintf(buf, n, "where is the %s ?", name ? name : ""); break;
    case TOY_Q_SUM: snprintf(buf, n, "what is %d + %d ?", q->a, q->b); break;
    default: break;
    }
}

void toy_answer_text(const ToyQuestion *q, char *buf, size_t n) {
    if (n == 0) return;
    buf[0] = '\0';
    switch (q->kind) {
    case TOY_Q_COLOUR:
        snprintf(buf, n, "it is %s .", TOY_COLOURS[TOY_OBJECTS[q->object].colour]);
        break;
    case TOY_Q_PLACE:
        snprintf(buf, n, "it is in the %s .", TOY_PLACES[TOY_OBJECTS[q->object].place]);
        break;
    case TOY_Q_SUM: snprintf(buf, n, "it is %d .", q->a + q->b); break;
    case TOY_Q_UNKNOWN: snprintf(buf, n, "i do not know ."); break;
    default: break;
    }
}

/* ---- the hidden rule ---- */

/* Constants of the rule (toyworld.h explains them). */
#define SCORE_CORRECT 1.0f
#define SCORE_WRONG (-1.0f)
#define SCORE_CONCISE_BONUS 0.5f
#define SCORE_RAMBLE_PENALTY 0.5f
#define RAMBLE_MAX_WORDS 14       /* more words than this is rambling */
#define RAMBLE_MIN_SENTENCES 3    /* this many sentences or more is rambling */
#define RAMBLE_WORD_REPEATS 3     /* a word used this often is rambling */

/* What one response states: how many colour, place and number words it uses,
 * and whether the asked-for value and "do not know" are among them. */
typedef struct {
    int colours, places, numbers;  /* counts of distinct values */
    int has_target;                /* the asked-for value is stated */
    int knows_not;                 /* "do not know" occurs */
} Statements;

static Statements read_statements(const Words *w, const ToyQuestion *q) {
    Statements s = {0, 0, 0, 0, 0};
    int seen_colour[TOY_NUM_COLOURS] = {0}, seen_place[TOY_NUM_PLACES] = {0};
    int seen_numbers[MAX_WORDS], nnum = 0;
    char target[16] = "";
    if (q->kind == TOY_Q_SUM) snprintf(target, sizeof target, "%d", q->a + q->b);
    for (int i = 0; i < w->nstored; i++) {
        const char *word = w->word[i];
        int c = toy_colour_index(word), p = toy_place_index(word);
        if (c >= 0 && !seen_colour[c]) { seen_colour[c] = 1; s.colours++; }
        if (p >= 0 && !seen_place[p]) { seen_place[p] = 1; s.places++; }
        if (is_number(word)) {
            int v = strlen(word) > 9 ? -1 : atoi(word), dup = 0;
            for (int k = 0; k < nnum; k++) dup |= seen_numbers[k] == v;
            if (!dup) { seen_numbers[nnum++] = v; s.numbers++; }
            if (q->kind == TOY_Q_SUM && strcmp(word, target) == 0) s.has_target = 1;
        }
        if (q->kind == TOY_Q_COLOUR && c == TOY_OBJECTS[q->object].colour) s.has_target = 1;
        if (q->kind == TOY_Q_PLACE && p == TOY_OBJECTS[q->object].place) s.has_target = 1;
        if (i + 2 < w->nstored && strcmp(word, "do") == 0 && strcmp(w->word[i + 1], "not") == 0 &&
            strcmp(w->word[i + 2], "know") == 0) {
            s.knows_not = 1;
        }
    }
    return s;
}

static int is_correct(const ToyQuestion *q, const Statements *s) {
    switch (q->kind) {
    case TOY_Q_COLOUR: return s->has_target && s->colours == 1;
    case TOY_Q_PLACE: return s->has_target && s->places == 1;
    case TOY_Q_SUM: return s->has_target && s->numbers == 1;
    case TOY_Q_UNKNOWN: return s->knows_not && s->colours + s->places + s->numbers == 0;
    default: return 0;
    }
}

static int rambles(const Words *w, int ended) {
    if (!ended) return 1;
    if (w->nwords > RAMBLE_MAX_WORDS) return 1;
    if (w->nsentences >= RAMBLE_MIN_SENTENCES) return 1;
    for (int i = 0; i < w->nstored; i++) {
        int count = 0;
        for (int j = 0; j < w->nstored; j++) count += strcmp(w->word[i], w->word[j]) == 0;
        if (count >= RAMBLE_WORD_REPEATS) return 1;
        for (int j = i + 1; j + 1 < w->nstored; j++) {
            if (i + 1 < w->nstored && strcmp(w->word[i], w->word[j]) == 0 &&
                strcmp(w->word[i + 1], w->word[j + 1]) == 0) {
                return 1;
            }
        }
    }
    return 0;
}

ToyJudgement toy_judge(const char *prompt, const char *response, int ended) {
    ToyJudgement j = {0.0f, 0, 0, 0, 0, 0, 0};
    ToyQuestion q = toy_parse_prompt(prompt);
    Words w;
    split_words(&w, response);
    j.words = w.nwords;
    j.sentences = w.nsentences;
    if (q.kind == TOY_Q_NONE) return j;
    j.understood = 1;
    Statements s = read_statements(&w, &q);
    j.correct = is_correct(&q, &s);
    j.rambling = rambles(&w, ended);
    j.concise = j.correct && !j.rambling && w.nsentences == 1 && ended;
    j.score = j.correct ? SCORE_CORRECT : SCORE_WRONG;
    if (j.concise) j.score += SCORE_CONCISE_BONUS;
    if (j.rambling) j.score -= SCORE_RAMBLE_PENALTY;
    return j;
}

float score_response(const char *prompt, const char *response, int ended) {
    return toy_judge(prompt, response, ended).score;
}

/* ---- a small deterministic PRNG (splitmix64, Steele et al. 2014) ---- */

static uint64_t mix64(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

void toy_rng_init(ToyRng *r, uint64_t seed, uint64_t stream) {
    r->state = mix64(seed + 0x9E3779B97F4A7C15ULL * (mix64(stream + 1) | 1));
}

uint64_t toy_rng_next(ToyRng *r) {
    r->state += 0x9E3779B97F4A7C15ULL;
    return mix64(r->state);
}

int toy_rng_below(ToyRng *r, int n) {
    uint64_t un = (uint64_t)n;
    uint64_t limit = UINT64_MAX - UINT64_MAX % un;  /* reject the biased tail */
    uint64_t x;
    do x = toy_rng_next(r);
    while (x >= limit);
    return (int)(x % un);
}

int toy_rng_range(ToyRng *r, int lo, int hi) { return lo + toy_rng_below(r, hi - lo + 1); }

void toy_rng_shuffle(ToyRng *r, int *a, int n) {
    for (int i = n - 1; i > 0; i--) {
        int j = toy_rng_below(r, i + 1);
        int t = a[i];
        a[i] = a[j];
        a[j] = t;
    }
}
