/* toycorpus.h — the toy world's text: the sentences and documents that
 * toydata (rung 0) writes its files from.
 *
 * Here: a growing string (Str, say) and a set of strings (StrSet); the
 * corpus's own words (names, number words, reviews); the sentences about the
 * world's facts; the pretraining documents of every kind, mixed into a Corpus
 * by estimated tokens and written one document a line; and the
 * "repeated block" documents of rung 3b.
 * Not here: which file gets what, the held-out sets and the random streams
 * (toydata.c); the facts themselves and the hidden rule (toyworld.[ch]).
 *
 * Every generator draws only from the ToyRng it is given, in a fixed order,
 * so one seed gives the same bytes. Text is lowercase words and marks, each
 * separated by one space ("the fox is red ."), never a tab or newline.
 */
#ifndef GPTLADDER_TOYCORPUS_H
#define GPTLADDER_TOYCORPUS_H

#include "toyworld.h"

#include <stddef.h>
#include <stdio.h>

/* ---- growing strings ---- */

/* A NUL-terminated string that grows as text is added. {0} is empty. */
typedef struct {
    char *s;          /* NULL until something is added */
    size_t len, cap;
} Str;

/* Appends the first n bytes of text / all of text. */
void str_add_n(Str *b, const char *text, size_t n);
void str_add(Str *b, const char *text);
/* Appends a formatted piece (at most 511 bytes, else dies), with one space
 * before it unless b is empty: the corpus separates every word and mark by
 * one space. */
void say(Str *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Empties b (keeps its memory); frees it (back to {0}). */
void str_clear(Str *b);
void str_free(Str *b);
/* A copy of b's text ("" if empty), to free. */
char *str_dup(const Str *b);

/* ---- a set of strings ---- */

/* Copies of distinct strings (open addressing, FNV-1a). {0} is empty. */
typedef struct {
    char **slot;
    size_t cap, n;
} StrSet;

/* 1 if s is in the set, else 0. */
int set_has(const StrSet *set, const char *s);
/* Adds a copy of s; returns 1 if it was new, 0 if it was already there. */
int set_add(StrSet *set, const char *s);
/* Frees every copy and the table (back to {0}). */
void set_free(StrSet *set);

/* ---- the corpus's own words ---- */

enum { NUM_NUMBER_WORDS = 12 };
extern const char *const NUMBER_WORDS[NUM_NUMBER_WORDS];  /* "one" .. "twelve" */
extern const char *const LABEL_WORD[2];                   /* "bad", "good": a review's label */

/* obj: an index into TOY_OBJECTS. Its name ("fox"), colour word, place word. */
const char *name_of(int obj);
const char *colour_of(int obj);
const char *place_of(int obj);
/* One of the 8 people's names ("max", "ann", ...), drawn from r. */
const char *random_name(ToyRng *r);

/* ---- sentences ---- */

/* The forms that state a colour (COLOUR_FORMS) or a place (PLACE_FORMS):
 * each appends everything up to the value, so that a zero-shot prompt is
 * exactly one of the corpus's own sentences cut short. form in [0, FORMS);
 * `who` is the name some forms use. The value always comes after the object:
 *   colour_prefix(b, 1, fox, "max")  -> "max has a fox . it is"
 *   place_prefix(b, 0, fox, NULL)    -> "the fox is in the" */
enum { COLOUR_FORMS = 5, PLACE_FORMS = 4 };
void colour_prefix(Str *b, int form, int obj, const char *who);
void place_prefix(Str *b, int form, int obj, const char *who);

/* Appends a review of the given sentiment (0 negative, 1 positive), with no
 * label: "tom saw the film . it was dull . never again ." Its opener and
 * closer occur nowhere else, so a review can only occur inside another text
 * as that whole review. The words "good" and "bad" never occur in it. */
void review(Str *b, ToyRng *r, int positive);

/* ---- sums ---- */

/* A two-digit + two-digit sum, a and b in [10, 99]. */
typedef struct {
    int a, b;
} Sum;

/* A set of sums as unordered pairs (a + b is b + a). {0} is empty. */
typedef struct {
    unsigned char taken[100][100];  /* [min][max] of the operands */
} SumSet;

int sum_set_has(const SumSet *set, Sum s);
void sum_set_add(SumSet *set, Sum s);
/* A random sum that is not in `held` (draws until it finds one). */
Sum free_sum(ToyRng *r, const SumSet *held);
/* Appends the worked steps of x + y, digit by digit from the right, each
 * step with its carry in: 38 + 53 -> "8 + 3 + 0 = 11 , 3 + 5 + 1 = 9 , so 91". */
void worked_steps(Str *b, int x, int y);

/* ---- the pretraining corpus ---- */

/* The kinds of pretraining document, in the order they are made. */
typedef enum { K_WORLD, K_REVIEW, K_PAIRING, K_ARROW, K_ARITH, K_DIALOGUE, K_COUNT } DocKind;

/* The end-of-text string (the tokenizer maps it to end-of-text), and the
 * estimated tokens it and the newline after it add to every document. */
#define TOY_EOT "<|endoftext|>"
#define TOKENS_PER_DOC 2.0

/* Documents of every kind, back to back, with what each kind holds. */
typedef struct {
    Str text;        /* all documents, back to back */
    size_t *start;   /* [ndocs + 1] offsets into text: document i is [start[i], start[i+1]) */
    int ndocs, cap;
    long words[K_COUNT];
    long docs[K_COUNT];
    double tokens[K_COUNT];  /* estimated, TOKENS_PER_DOC included */
} Corpus;

/* Makes documents of every kind until each has its share of `target`
 * estimated tokens (the mix is fixed: data/README.md), never a review in
 * `held_reviews` nor a sum in `held_sums`. Dies if target holds no document.
 * Free with free_corpus. */
void make_corpus(Corpus *c, long target, ToyRng *r, const StrSet *held_reviews,
                 const SumSet *held_sums);
void free_corpus(Corpus *c);
/* The estimated tokens of all the documents. */
double corpus_tokens(const Corpus *c);
/* The order the documents are written in: a shuffle of 0..ndocs-1 (to free). */
int *shuffled_order(const Corpus *c, ToyRng *r);
/* Writes document i to f as one line: "doc<|endoftext|>\n". path: for errors. */
void put_doc(const Corpus *c, int i, FILE *f, const char *path);
/* Writes every document in `order` to path (atomically), and the first
 * `excerpt_lines` of them to excerpt_path unless it is NULL. */
void write_corpus(const Corpus *c, const int *order, const char *path, const char *excerpt_path,
                  int excerpt_lines);
/* Prints the corpus's size under `name`, then one line per kind. */
void report_corpus(const char *name, const Corpus *c);

/* ---- rung 3b's synthetic documents ---- */

/* Appends `len` words: a block of n distinct random words (objects, colours,
 * places, number words: each a single token of the ladder's BPE), repeated,
 * the last repeat cut short when len is not a multiple of n. 1 <= n <= 60. */
void repeated_block(Str *b, ToyRng *r, int n, int len);

#endif
