/* make_corpus.c — writes the fuzzers' seed inputs, tests/fuzz/corpus/NAME/.
 *
 * The seeds are committed; this program says how each was made, so that a
 * learner can tell what a binary seed is and regenerate them after a format
 * change:
 *
 *   gcc -std=c11 -D_GNU_SOURCE -Wno-unknown-pragmas -Isrc -o build/fuzz/make_corpus tests/fuzz/make_corpus.c \
 *       src/util.c src/gpt.c src/tensor.c src/tokenizer.c src/head.c -lm
 *   build/fuzz/make_corpus tests/fuzz/corpus
 *
 * Each seed is small (a few KB at most): a valid file of each format, and
 * the classic ways a file goes wrong (cut short, wrong magic, wrong version,
 * impossible dimensions, one byte too many). The folders must exist.
 */
#include "gpt.h"
#include "head.h"
#include "tokenizer.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *root;

/* ---- writing seeds ---- */

static void put(const char *target, const char *name, const void *data, size_t n) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s/%s", root, target, name);
    FILE *f = fopen_or_die(path, "wb");
    fwrite_or_die(data, 1, n, f, path);
    if (fclose(f) != 0) die("cannot write %s", path);
}

static void put_text(const char *target, const char *name, const char *text) {
    put(target, name, text, strlen(text));
}

/* The bytes of a file written by one of the library's savers. */
static char *saved_bytes(const char *path, size_t *n) {
    char *b = read_file_or_die(path, n);
    remove(path);
    return b;
}

/* ---- fuzz_checkpoint: checkpoints and optimizer state files ---- */

static void checkpoint_seeds(void) {
    const char *T = "fuzz_checkpoint";
    const char *tmp = "build/fuzz/seed-checkpoint.bin";
    GPT m;
    gpt_build(&m, gpt_config(4, 8, 1, 2, 4), 1);  /* maxT 4, V 8 (Vp 64), L 1, NH 2, C 4 */
    gpt_save(&m, tmp);
    gpt_free(&m);
    size_t n;
    char *b = saved_bytes(tmp, &n);
    int *h = (int *)b;
    put(T, "valid_tiny.bin", b, n);
    /* Found by fuzz_checkpoint: two finite but huge weights (wte[0][0] and
     * lnfb[0] = 1e30) make logit 0 = +inf, so softmax computes inf - inf = NaN
     * and fast_expf converts the NaN to int (undefined; UBSan stops). */
    float *p = (float *)(b + sizeof(int) * GPT_HEADER_INTS);
    float keep_wte = p[0], keep_lnfb = p[520];  /* 520: lnfb's offset in this shape */
    p[0] = p[520] = 1e30f;
    put(T, "found_inf_logit_makes_nan_in_fast_expf.bin", b, n);
    p[0] = keep_wte;
    p[520] = keep_lnfb;
    put(T, "cut_in_parameters.bin", b, n - 1000);
    put(T, "header_only.bin", b, 1024);
    put(T, "shorter_than_header.bin", b, 100);
    char *longer = malloc_or_die(n + 4, "a seed");
    memcpy(longer, b, n);
    memset(longer + n, 0, 4);
    put(T, "one_float_too_many.bin", longer, n + 4);
    free(longer);
    h[0] = 12345;
    put(T, "wrong_magic.bin", b, n);
    h[0] = GPT_MAGIC;
    h[1] = 5;  /* llm.c's bfloat16 */
    put(T, "version_5.bin", b, n);
    h[1] = GPT_VERSION;
    h[5] = 3;  /* NH 3 does not divide C 4 */
    put(T, "channels_not_divisible_by_heads.bin", b, n);
    h[5] = 2;
    h[4] = -1;  /* L */
    put(T, "negative_layers.bin", b, n);
    h[4] = 1;
    free(b);

    /* llm.c pads V to Vp; a checkpoint with Vp == V is also valid */
    GPTConfig unpadded = gpt_config(4, 8, 1, 2, 4);
    unpadded.Vp = 8;
    gpt_build(&m, unpadded, 2);
    gpt_save(&m, tmp);
    gpt_free(&m);
    b = saved_bytes(tmp, &n);
    put(T, "unpadded_vocab.bin", b, n);
    free(b);

    /* the optimizer state of fuzz_checkpoint.c's fixed model (maxT 2, V 1,
     * L 1, NH 1, C 1; step 0), written by hand as gpt_save_state lays it out */
    GPTConfig fixed = gpt_config(2, 1, 1, 1, 1);
    size_t np = gpt_num_parameters(&fixed);
    size_t sn = sizeof(int) * GPT_STATE_HEADER_INTS + 2 * sizeof(float) * np;
    char *s = calloc_or_die(sn, 1, "a seed");
    int *sh = (int *)s;
    sh[0] = GPT_STATE_MAGIC;
    sh[1] = GPT_STATE_VERSION;
    sh[2] = 0;
    memcpy(&sh[3], &np, sizeof np);
    uint64_t rng = 0x9e3779b97f4a7c15ull;
    memcpy(&sh[5], &rng, sizeof rng);
    float ema = 2.5f;
    memcpy(&sh[7], &ema, sizeof ema);
    float *v = (float *)(s + sizeof(int) * GPT_STATE_HEADER_INTS);
    for (size_t i = 0; i < 2 * np; i++) v[i] = 0.001f * (float)i;
    put(T, "state_valid.bin", s, sn);
    put(T, "state_cut.bin", s, sn - 8);
    sh[2] = 7;
    put(T, "state_other_step.bin", s, sn);
    sh[2] = 0;
    sh[0] = GPT_MAGIC;
    put(T, "state_wrong_magic.bin", s, sn);
    free(s);
}

/* ---- fuzz_tokens: token files ---- */

static void tokens_seeds(void) {
    const char *T = "fuzz_tokens";
    const char *tmp = "build/fuzz/seed-tokens.bin";
    int toks[20];
    for (int i = 0; i < 20; i++) toks[i] = (i * 37) % 300;
    tokens_save(tmp, toks, 20);
    size_t n;
    char *b = saved_bytes(tmp, &n);
    int32_t *h = (int32_t *)b;
    put(T, "valid_20_tokens.bin", b, n);
    put(T, "cut_in_tokens.bin", b, n - 3);
    put(T, "cut_in_header.bin", b, 500);
    put(T, "zero_tokens.bin", b, 1024);  /* count says 20 */
    h[2] = 0;
    put(T, "empty_but_valid.bin", b, 1024);
    h[2] = 19;
    put(T, "one_token_too_many.bin", b, n);
    h[2] = -1;
    put(T, "negative_count.bin", b, n);
    h[2] = 20;
    h[0] = GPT_MAGIC;
    put(T, "wrong_magic.bin", b, n);
    h[0] = TOKENS_MAGIC;
    h[1] = 2;
    put(T, "wrong_version.bin", b, n);
    h[1] = TOKENS_VERSION;
    uint16_t *t = (uint16_t *)(b + 1024);
    t[5] = 600;  /* outside a vocabulary of 512, inside 65536 */
    put(T, "token_600.bin", b, n);
    t[5] = 65535;
    put(T, "token_65535.bin", b, n);
    free(b);
}

/* ---- fuzz_head: linear head files ---- */

static void head_seeds(void) {
    const char *T = "fuzz_head";
    const char *tmp = "build/fuzz/seed-head.bin";
    LinearHead h;
    head_build(&h, 2, 4, 0.5f, 3);  /* K 2, C 4: the fuzzer's SEED_C */
    h.gain = 2.0f;
    h.shift = -1.0f;
    head_save(&h, tmp);
    head_free(&h);
    size_t n;
    char *b = saved_bytes(tmp, &n);
    int *hd = (int *)b;
    put(T, "valid_k2_c4.bin", b, n);
    put(T, "cut_in_weights.bin", b, n - 4);
    put(T, "header_only.bin", b, 64);
    put(T, "shorter_than_header.bin", b, 10);
    hd[0] = GPT_MAGIC;
    put(T, "wrong_magic.bin", b, n);
    hd[0] = HEAD_MAGIC;
    hd[1] = 2;
    put(T, "wrong_version.bin", b, n);
    hd[1] = HEAD_VERSION;
    hd[2] = 0;
    put(T, "zero_outputs.bin", b, n);
    hd[2] = 2;
    hd[3] = 8;  /* the trunk has C=4 */
    put(T, "other_width.bin", b, n);
    free(b);
    head_build(&h, 1, 8, 0.5f, 4);  /* K 1, C 8: a reward or value head */
    head_save(&h, tmp);
    head_free(&h);
    b = saved_bytes(tmp, &n);
    put(T, "valid_k1_c8.bin", b, n);
    free(b);
}

/* ---- fuzz_tsv: TSV files ---- */

static void tsv_seeds(void) {
    const char *T = "fuzz_tsv";
    put_text(T, "classify.tsv", "label\ttext\n1\tthe food was good\n0\tthe food was cold\n");
    put_text(T, "crlf.tsv", "label\ttext\r\n1\tgood\r\n0\tbad\r\n");
    put_text(T, "empty_fields.tsv", "a\tb\tc\n\t\t\n1\t\t3\n");
    put_text(T, "header_only.tsv", "label\ttext\n");
    put_text(T, "missing_column.tsv", "prompt\tchosen\trejected\nhi\thello\n");
    static const char nul[] = "a\tb\n1\t\0x\n";
    put(T, "nul_byte.tsv", nul, sizeof nul - 1);
    put_text(T, "no_final_newline.tsv", "n\tsum\n12\t3\n-7\t+4");
    put_text(T, "blank_lines.tsv", "\n\nk\tv\n\n1\t2\n\n");
    put_text(T, "integers.tsv", "a\tb\tc\td\n1000\t-1000\t1001\t99999999999999999999\n 5\t5 \t0x10\t-\n");
    put_text(T, "double_cr.tsv", "a\tb\r\r\n1\t2\r\r\n");
    put_text(T, "utf8_and_bytes.tsv", "t\tx\ncaf\xc3\xa9\t\xff\xfe\n");
}

/* ---- fuzz_tokenizer: merges files and texts ---- */

static void tokenizer_seeds(void) {
    const char *T = "fuzz_tokenizer";
    const char *tmp = "build/fuzz/seed-tok.merges";
    const char *text = "the cat sat on the mat . the cat ran . 1 2 + 3 4 = 4 6 !\n"
                       "caf\xc3\xa9 caf\xc3\xa9 \"quoted\" \\back\\slash\\ tab\there\n";
    Tokenizer tok;
    tokenizer_train(&tok, text, strlen(text), TOK_NBYTES + TOK_NSPECIAL + 24);
    tokenizer_save_merges(&tok, tmp);
    tokenizer_free(&tok);
    size_t n;
    char *b = saved_bytes(tmp, &n);
    put(T, "valid.merges", b, n);
    /* cut after the header and the first merge lines: fewer merges than announced */
    size_t cut = 0;
    for (int lines = 0; cut < n && lines < 12; cut++) lines += b[cut] == '\n';
    put(T, "fewer_merges_than_announced.merges", b, cut);
    put(T, "cut_mid_line.merges", b, cut + 9);
    free(b);
    put_text(T, "wrong_version.merges", "gptladder-bpe version 2 vocab_size 262 merges 0 special 6\n");
    put_text(T, "vocab_too_small.merges", "gptladder-bpe version 1 vocab_size 261 merges 0 special 6\n");
    put_text(T, "no_merges.merges", "gptladder-bpe version 1 vocab_size 262 merges 0 special 6\n");
    put_text(T, "escapes.merges",
             "gptladder-bpe version 1 vocab_size 265 merges 3 special 6\n"
             "256 92 34 \"\\\\\\\"\" 3\n"
             "257 10 13 \"\\n\\r\" 2\n"
             "258 255 9 \"\\xff\\t\" 1\n");
    put_text(T, "bad_escape.merges",
             "gptladder-bpe version 1 vocab_size 263 merges 1 special 6\n256 97 98 \"a\\qb\" 1\n");
    put_text(T, "unclosed_quote.merges",
             "gptladder-bpe version 1 vocab_size 263 merges 1 special 6\n256 97 98 \"ab 1\n");
    put_text(T, "wrong_spelling.merges",
             "gptladder-bpe version 1 vocab_size 263 merges 1 special 6\n256 97 98 \"ba\" 1\n");
    put_text(T, "crlf.merges",
             "gptladder-bpe version 1 vocab_size 263 merges 1 special 6\r\n# comment\r\n256 97 98 \"ab\" 1\r\n");
    put_text(T, "text_with_specials.txt",
             "<|endoftext|>the cat<|start|> 1 2 <|extract|><|prompt|>hi<|answer|>yo<|endof");
    put_text(T, "text_spaces.txt", "  a  b\t\tc \n\n d   \r\n");
    static const char non_utf8[] = "caf\xe9 \xff\xfe\xc3\x28 \x80" "abc\0def";  /* Latin-1, stray bytes, a NUL */
    put(T, "text_non_utf8.txt", non_utf8, sizeof non_utf8 - 1);
    put_text(T, "empty.txt", "");
}

int main(int argc, char **argv) {
    if (argc != 2) die("usage: make_corpus DIR (e.g. tests/fuzz/corpus)");
    root = argv[1];
    checkpoint_seeds();
    tokens_seeds();
    head_seeds();
    tsv_seeds();
    tokenizer_seeds();
    printf("wrote the seeds under %s/\n", root);
    return 0;
}
