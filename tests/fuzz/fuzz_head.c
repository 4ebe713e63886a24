/* fuzz_head.c — libFuzzer target for the linear head's companion file
 * (head_load, head.h).
 *
 * Each input is loaded twice: for a trunk of C=4 channels (the seeds' width),
 * and for the C its own header claims (when that is in [1, 4096]), so that
 * the fuzzer reaches the size checks without first guessing C. If it loads,
 * the file must have been exactly header + gain and shift + K*C + K floats,
 * and the parameters must equal the input's bytes. Any die() returns here
 * (fuzz.h). Run by `make fuzz`.
 */
#include "fuzz.h"

#include "head.h"

#define SEED_C 4
#define MAX_CLAIMED_C 4096

static const char *input_path;

typedef struct {
    LinearHead h;
    int C;
} LoadCall;

static void load(void *arg) {
    LoadCall *c = arg;
    head_load(&c->h, input_path, c->C);
}

static void try_width(const uint8_t *data, size_t size, int C) {
    LoadCall c;
    memset(&c, 0, sizeof c);
    c.C = C;
    if (!fuzz_call(load, &c)) return;
    size_t header = sizeof(int) * HEAD_HEADER_INTS;
    size_t nparams = (size_t)c.h.K * c.h.C + (size_t)c.h.K;
    if (c.h.C != C || c.h.K < 1) abort();
    if (size != header + sizeof(float) * (2 + nparams)) abort();
    if (memcmp(&c.h.gain, data + header, sizeof(float)) != 0) abort();
    if (memcmp(&c.h.shift, data + header + sizeof(float), sizeof(float)) != 0) abort();
    if (memcmp(c.h.w, data + header + 2 * sizeof(float), sizeof(float) * (size_t)c.h.K * c.h.C) != 0) abort();
    if (memcmp(c.h.b, data + header + sizeof(float) * (2 + (size_t)c.h.K * c.h.C), sizeof(float) * (size_t)c.h.K) != 0) abort();
    head_free(&c.h);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    input_path = fuzz_file(data, size, "head");
    try_width(data, size, SEED_C);
    if (size >= 4 * sizeof(int)) {
        int claimed;
        memcpy(&claimed, data + 3 * sizeof(int), sizeof claimed);
        if (claimed >= 1 && claimed <= MAX_CLAIMED_C && claimed != SEED_C) try_width(data, size, claimed);
    }
    return 0;
}
