/* toyworld.h — the toy world: its fixed facts, its questions, and the hidden
 * rule that stands in for human labellers (score_response).
 *
 * The world has 32 objects (16 animals, 16 things). Each has one colour out of
 * 8 and one place out of 8, and every colour and every place belongs to exactly
 * four objects; animals also make a sound. There are 40 pairs of opposites.
 * These facts never change with the seed: the seed only changes which
 * sentences the generator (toydata) writes about them and how prompts are
 * split between training and testing.
 *
 * Questions. The instruction rungs (sft, reward, ppo, chat) ask four kinds:
 *   "what colour is the bag ?"   -> "it is green ."
 *   "where is the owl ?"         -> "it is in the barn ."
 *   "what is 23 + 45 ?"          -> "it is 68 ."
 *   "what colour is the moon ?"  -> "i do not know ."   (not in the world)
 * Answers start with "it": at this scale a model cannot copy a name from the
 * prompt (the ladder's model has no induction head: notes/04b-induction.md).
 *
 * The hidden rule (score_response), written out as in data/README.md:
 *
 *   1. Read the prompt as one of the questions above. A colour or place
 *      question about something that is not one of the 32 objects asks for
 *      "i do not know". A prompt that is none of these scores 0.
 *   2. The response is CORRECT if it states the asked-for value (the colour
 *      word, the place word, the number A + B, or the words "do not know")
 *      and no other value of that kind: no second colour, place or number,
 *      and for an unknown object no colour, place or number at all.
 *      Everything else is WRONG: a wrong value, no value (off-topic chatter),
 *      or only a value of another kind (a colour given to a where-question).
 *      Correct scores +1, wrong scores -1.
 *   3. The response RAMBLES if it uses a word three times, repeats a bigram
 *      (the same two words in a row, twice), has 3 or more sentences, has
 *      more than 14 words, or never ends (no end-of-text). Rambling: -0.5.
 *   4. A correct response that does not ramble and is exactly one sentence
 *      followed by end-of-text is CONCISE: +0.5 more.
 *
 *   So every score is one of +1.5 (correct, concise), +1 (correct, two
 *   sentences), +0.5 (correct, rambling), -1 (wrong), -1.5 (wrong, rambling).
 *   Words are runs of letters and digits; a sentence ends at a run of '.',
 *   '?' or '!'; words after the last such run are one more sentence.
 *
 * Also here: a small deterministic PRNG (splitmix64) for the generator, so
 * that the data do not depend on the tensor module.
 */
#ifndef GPTLADDER_TOYWORLD_H
#define GPTLADDER_TOYWORLD_H

#include <stddef.h>
#include <stdint.h>

/* ---- the world's facts ---- */

enum { TOY_NUM_COLOURS = 8, TOY_NUM_PLACES = 8, TOY_NUM_OBJECTS = 32, TOY_NUM_OPPOSITES = 40 };

extern const char *const TOY_COLOURS[TOY_NUM_COLOURS]; /* "red", "blue", ... */
extern const char *const TOY_PLACES[TOY_NUM_PLACES];   /* "barn", "house", ... ("in the barn") */

typedef struct {
    const char *name;   /* one lowercase word: "fox" */
    int colour;         /* index into TOY_COLOURS */
    int place;          /* index into TOY_PLACES */
    const char *sound;  /* "barks" for animals, NULL for things */
} ToyObject;

extern const ToyObject TOY_OBJECTS[TOY_NUM_OBJECTS];

/* Pairs of opposites ("hot", "cold"); no word appears in two pairs, and none
 * is a colour, a place or an object. */
extern const char *const TOY_OPPOSITES[TOY_NUM_OPPOSITES][2];

/* Index of the object, colour or place spelled `word` (exact, lowercase), or -1. */
int toy_object_index(const char *word);
int toy_colour_index(const char *word);
int toy_place_index(const char *word);

/* ---- questions ---- */

typedef enum {
    TOY_Q_NONE = 0,  /* not a question this world understands */
    TOY_Q_COLOUR,    /* "what colour is the X ?" */
    TOY_Q_PLACE,     /* "where is the X ?" */
    TOY_Q_SUM,       /* "what is A + B ?" */
    TOY_Q_UNKNOWN,   /* a colour or place question about something not in the world */
} ToyQuestionKind;

typedef struct {
    ToyQuestionKind kind;
    int object;  /* index into TOY_OBJECTS for COLOUR and PLACE, else -1 */
    int a, b;    /* the operands for SUM, else 0 */
} ToyQuestion;

/* Reads a prompt. Accepts the forms above with or without the chat format
 * around them ("<|prompt|> q : ... ? <|answer|> a :"), with or without the
 * final "?", any case, any runs of spaces; also "color" and "where does the
 * X live ?". Operands of a sum are 0..9999. Anything else is TOY_Q_NONE.
 * Never fails. */
ToyQuestion toy_parse_prompt(const char *prompt);

/* Writes the question text in the data's own form ("what colour is the bag ?")
 * into buf (n bytes, NUL-terminated, truncated if short). For TOY_Q_UNKNOWN
 * pass the unknown thing's name in `thing` and kind_if_unknown = TOY_Q_COLOUR
 * or TOY_Q_PLACE; otherwise `thing` is ignored. */
void toy_question_text(const ToyQuestion *q, ToyQuestionKind kind_if_unknown, const char *thing,
                       char *buf, size_t n);

/* Writes the correct, concise answer ("it is green .", "it is in the barn .",
 * "it is 68 .", "i do not know .") into buf; for TOY_Q_NONE an empty string.
 * Scores +1.5 under score_response with ended = 1. */
void toy_answer_text(const ToyQuestion *q, char *buf, size_t n);

/* ---- the hidden rule ---- */

typedef struct {
    float score;     /* what score_response returns */
    int understood;  /* 0 if the prompt is TOY_Q_NONE (then score is 0) */
    int correct;     /* states the asked-for value and no other of its kind */
    int rambling;    /* word x3, repeated bigram, >= 3 sentences, > 14 words, or not ended */
    int concise;     /* correct, not rambling, one sentence, ended */
    int words;       /* number of words in the response */
    int sentences;   /* number of sentences in the response */
} ToyJudgement;

/* The rule in the header comment, with every part of the verdict. `ended` is
 * non-zero when the model produced end-of-text after `response` (the response
 * text itself holds no end-of-text marker). Never fails, allocates nothing. */
ToyJudgement toy_judge(const char *prompt, const char *response, int ended);

/* toy_judge(...).score: one of +1.5, +1, +0.5, 0 (prompt not understood), -1, -1.5. */
float score_response(const char *prompt, const char *response, int ended);

/* ---- a small deterministic PRNG (splitmix64) ---- */

typedef struct {
    uint64_t state;
} ToyRng;

/* Seeds an independent stream: the same (seed, stream) always gives the same
 * numbers, and different streams of one seed do not overlap in practice. */
void toy_rng_init(ToyRng *r, uint64_t seed, uint64_t stream);
uint64_t toy_rng_next(ToyRng *r);
/* Uniform in [0, n) without modulo bias; n must be >= 1. */
int toy_rng_below(ToyRng *r, int n);
/* Uniform in [lo, hi], inclusive. */
int toy_rng_range(ToyRng *r, int lo, int hi);
/* Fisher-Yates shuffle of n ints. */
void toy_rng_shuffle(ToyRng *r, int *a, int n);

#endif
