/* fuzz_tokenizer.c — libFuzzer target for the BPE tokenizer (tokenizer.h):
 * its merges-file loader, and its encoder and decoder.
 *
 * Each input is
 *   1. loaded as a merges file (tokenizer_load). If it loads, the vocabulary
 *      must add up (256 bytes + merges + specials), and the tokenizer must
 *      encode and decode the input itself back to the same bytes;
 *   2. encoded as text with a fixed tokenizer, trained once at start-up on a
 *      small mixed corpus (words, digits, punctuation, UTF-8, special
 *      strings): decode(encode(x)) must be x byte for byte, with no more
 *      tokens than bytes and every token inside the vocabulary; the same for
 *      encode_with_special (special strings come back as their text).
 * A broken round trip aborts, which libFuzzer reports as a crash. The fixed
 * tokenizer's word cache grows with every new word, so it is trained afresh
 * (the same merges, an empty cache) every RELOAD_EVERY inputs. Any die() returns here
 * (fuzz.h). Run by `make fuzz`.
 */
#include "fuzz.h"

#include "tokenizer.h"

#define FIXED_VOCAB 400
#define RELOAD_EVERY 20000

static const char *input_path;
static Tokenizer fixed;
static long runs;

/* The fixed tokenizer's training text: every pre-split class, and the
 * special strings (which training skips). */
static const char *const corpus_lines[] = {
    "the cat sat on the mat . the dog ran to the log . a bird looked at a tree .",
    "question : what is 1 2 + 3 4 ? answer : 4 6 <|endoftext|>",
    "in 2024 there were 1234567 kites, and 99 of them were red!!! (really?)",
    "  indented\tline with tabs\tand  double  spaces\r\n",
    "caf\xc3\xa9 na\xc3\xafve \xe2\x80\x94 the food was cold ; in short : bad",
    "<|start|> good film <|extract|> <|prompt|> hello <|answer|> hi there",
};

static void train_fixed(void) {
    size_t cap = 1 << 16, n = 0;
    size_t nlines = sizeof corpus_lines / sizeof corpus_lines[0];
    char *text = malloc(cap);
    for (int rep = 0; rep < 60; rep++) {
        int k = snprintf(text + n, cap - n, "%s\n", corpus_lines[(size_t)rep % nlines]);
        n += (size_t)k;
    }
    tokenizer_train(&fixed, text, n, FIXED_VOCAB);
    free(text);
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    train_fixed();
    return 0;
}

static void load(void *arg) { tokenizer_load((Tokenizer *)arg, input_path); }

/* decode(encode(x)) == x, or abort. */
static void round_trip(Tokenizer *t, const uint8_t *data, size_t size, int with_special) {
    size_t ntok, len;
    int *tokens = with_special ? tokenizer_encode_with_special(t, (const char *)data, size, &ntok)
                               : tokenizer_encode(t, (const char *)data, size, &ntok);
    if (ntok > size) abort();
    for (size_t i = 0; i < ntok; i++) if (tokens[i] < 0 || tokens[i] >= t->vocab_size) abort();
    if (!with_special) {
        int first_special = tokenizer_special_id(t, 0);
        for (size_t i = 0; i < ntok; i++) if (tokens[i] >= first_special) abort();
    }
    char *text = tokenizer_decode(t, tokens, ntok, &len);
    if (len != size || memcmp(text, data, size) != 0) {
        fprintf(stderr, "round trip broken (%s): %zu bytes -> %zu tokens -> %zu bytes\n",
                with_special ? "encode_with_special" : "encode", size, ntok, len);
        abort();
    }
    free(text);
    free(tokens);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    input_path = fuzz_file(data, size, "merges");

    /* 1. as a merges file */
    Tokenizer t;
    memset(&t, 0, sizeof t);
    if (fuzz_call(load, &t)) {
        if (t.vocab_size != TOK_NBYTES + t.nmerges + TOK_NSPECIAL) abort();
        round_trip(&t, data, size, 0);
        tokenizer_free(&t);
    }

    /* 2. as text for the fixed tokenizer */
    if (++runs % RELOAD_EVERY == 0) {
        tokenizer_free(&fixed);
        train_fixed();  /* deterministic: the same merges, an empty cache */
    }
    round_trip(&fixed, data, size, 0);
    round_trip(&fixed, data, size, 1);
    return 0;
}
