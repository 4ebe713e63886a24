/* fuzz_tokens.c — libFuzzer target for the token-file loader (tokens_load,
 * tokenizer.h).
 *
 * Each input is loaded as a token file twice: against the toy world's
 * vocabulary of 512 and against the largest one (65536, every uint16). If it
 * loads, the file must have been exactly the 1 KiB header plus 2 bytes per
 * token, the count must match the header, and every token must equal the
 * input's uint16 and lie below the vocabulary size. Any die() returns here
 * (fuzz.h). Run by `make fuzz`.
 */
#include "fuzz.h"

#include "tokenizer.h"

static const char *input_path;

typedef struct {
    int vocab;
    int *tokens;
    size_t n;
} LoadCall;

static void load(void *arg) {
    LoadCall *c = arg;
    c->tokens = tokens_load(input_path, &c->n, c->vocab);
}

static void check(const uint8_t *data, size_t size, const LoadCall *c) {
    size_t header = sizeof(int32_t) * TOKENS_HEADER_INTS;
    if (size != header + 2 * c->n) abort();
    int32_t count;
    memcpy(&count, data + 2 * sizeof(int32_t), sizeof count);
    if ((size_t)count != c->n) abort();
    for (size_t i = 0; i < c->n; i++) {
        uint16_t want;
        memcpy(&want, data + header + 2 * i, sizeof want);
        if (c->tokens[i] != want || c->tokens[i] >= c->vocab) abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    input_path = fuzz_file(data, size, "tokens");
    static const int vocabs[] = {512, TOK_MAX_VOCAB};
    for (size_t k = 0; k < sizeof vocabs / sizeof vocabs[0]; k++) {
        LoadCall c = {vocabs[k], NULL, 0};
        if (fuzz_call(load, &c)) {
            check(data, size, &c);
            free(c.tokens);
        }
    }
    return 0;
}
