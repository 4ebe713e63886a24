/* test_tokenizer.c — the byte-level BPE tokenizer (src/tokenizer.[ch]) and the
 * `tokenizer` program: round trips, a hand-worked example of three merges,
 * special tokens, the pre-split rules, determinism, the file formats, and
 * bad files refused with one clear line. */
#include "testutil.h"

#include "tokenizer.h"
#include "util.h"

/* ---- fixtures ---- */

/* A small corpus in the spirit of the toy world: words, spaced digits,
 * punctuation, indentation, UTF-8, and documents joined by <|endoftext|>.
 * Deterministic. The caller frees it. */
static char *make_corpus(size_t *len) {
    static const char *const lines[] = {
        "the cat sat on the mat . max has a kite . it is black .",
        "question : what is 1 2 + 3 4 ? answer : 4 6",
        "in 2024 there were 1234567 kites, and 99 of them were red!",
        "  indented\tline with tabs\tand  double  spaces",
        "caf\xc3\xa9 na\xc3\xafve \xe2\x80\x94 the food was cold ; in short : bad",
        "ann has a ball . the ball is red . ann likes the ball .",
    };
    size_t nlines = sizeof lines / sizeof lines[0];
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    for (int rep = 0; rep < 120; rep++) {
        const char *s = lines[(size_t)rep % nlines];
        int k = snprintf(buf + n, cap - n, "%s\n%s", s, rep % 3 == 2 ? "<|endoftext|>" : "");
        assert_true(k > 0 && (size_t)k < cap - n);
        n += (size_t)k;
    }
    *len = n;
    return buf;
}

static void train_on_corpus(Tokenizer *t, int vocab) {
    size_t len;
    char *text = make_corpus(&len);
    tokenizer_train(t, text, len, vocab);
    free(text);
}

/* Asserts that decode(tokens) is exactly bytes[0..len). */
static void assert_decodes_to(const Tokenizer *t, const int *tokens, size_t n, const char *bytes, size_t len) {
    size_t got_len;
    char *got = tokenizer_decode(t, tokens, n, &got_len);
    assert_int_equal(got_len, len);
    assert_memory_equal(got, bytes, len);
    free(got);
}

/* A tiny deterministic generator for random bytes (tests need no quality). */
static uint32_t lcg(uint32_t *state) {
    *state = *state * 1664525u + 1013904223u;
    return *state >> 8;
}

/* ---- round trips ---- */

static void test_decode_of_encode_is_the_identity_on_arbitrary_bytes(void **state) {
    (void)state;
    Tokenizer t;
    train_on_corpus(&t, 400);
    /* Random byte strings: invalid UTF-8, NULs, lone continuation bytes,
     * pieces of special-token strings. Length 0 (the empty string) first. */
    uint32_t seed = 12345;
    char buf[300];
    for (int trial = 0; trial < 300; trial++) {
        size_t len = trial == 0 ? 0 : lcg(&seed) % sizeof buf;
        for (size_t i = 0; i < len; i++) {
            uint32_t r = lcg(&seed);
            /* half the time bytes from a small alphabet, so merges do apply */
            buf[i] = r % 2 ? (char)((r >> 1) & 0xff) : " the<|>.9\n"[(r >> 1) % 10];
        }
        size_t n;
        int *tokens = tokenizer_encode(&t, buf, len, &n);
        assert_true(n <= len);
        assert_decodes_to(&t, tokens, n, buf, len);
        free(tokens);
        tokens = tokenizer_encode_with_special(&t, buf, len, &n);
        assert_decodes_to(&t, tokens, n, buf, len);
        free(tokens);
    }
    /* A token sequence that cuts a UTF-8 character decodes to the raw bytes. */
    int cut[] = {0xc3, 'x'};
    assert_decodes_to(&t, cut, 2, "\xc3x", 2);
    tokenizer_free(&t);
}

/* ---- the hand-worked example ---- */

/* "aaabdaaabac" is one word (all letters). Its pairs: aa x4, ab x2, bd, da, ba,
 * ac x1. Merge 1: aa (4) -> 256, the word is now  aa a b d aa a b a c.
 * Now (a,b) and (aa,a) both occur twice: the tie goes to the smaller pair
 * (97,98) < (256,97), so merge 2: ab -> 257, giving  aa ab d aa ab a c.
 * Merge 3: (aa,ab) occurs twice -> 258 "aaab", giving  aaab d aaab a c.
 * (This is Wikipedia's example: Z=aa, Y=ab, X=ZY.) */
static void test_three_merges_on_aaabdaaabac_match_the_hand_worked_example(void **state) {
    (void)state;
    const char *text = "aaabdaaabac";
    Tokenizer t;
    tokenizer_train(&t, text, strlen(text), TOK_NBYTES + 3 + TOK_NSPECIAL);
    assert_int_equal(t.nmerges, 3);
    assert_int_equal(t.vocab_size, 265);
    int want_merges[] = {'a', 'a', 'a', 'b', 256, 257};
    assert_memory_equal(t.merges, want_merges, sizeof want_merges);
    long want_counts[] = {4, 2, 2};
    assert_memory_equal(t.merge_count, want_counts, sizeof want_counts);
    int n;
    const unsigned char *b = tokenizer_token_bytes(&t, 258, &n);
    assert_int_equal(n, 4);
    assert_memory_equal(b, "aaab", 4);

    size_t ntok;
    int *tokens = tokenizer_encode(&t, text, strlen(text), &ntok);
    int want[] = {258, 'd', 258, 'a', 'c'};
    assert_int_equal(ntok, 5);
    assert_memory_equal(tokens, want, sizeof want);
    free(tokens);
    /* Merges apply in rank order, not left to right: in "aab" the pair aa
     * (rank 0) beats ab (rank 1), so it is "aa" "b", not "a" "ab". */
    tokens = tokenizer_encode(&t, "aab", 3, &ntok);
    int want_aab[] = {256, 'b'};
    assert_int_equal(ntok, 2);
    assert_memory_equal(tokens, want_aab, sizeof want_aab);
    free(tokens);
    tokenizer_free(&t);
}

static void test_training_stops_when_every_word_is_a_single_token(void **state) {
    (void)state;
    /* One word of 11 bytes: after 3 merges it is 5 tokens, 4 more make it one.
     * Asking for 512 gives only what the text supports. */
    const char *text = "aaabdaaabac";
    Tokenizer t;
    tokenizer_train(&t, text, strlen(text), 512);
    assert_int_equal(t.nmerges, 7);
    assert_int_equal(t.vocab_size, TOK_NBYTES + 7 + TOK_NSPECIAL);
    assert_int_equal(tokenizer_special_id(&t, TOK_EOT), t.vocab_size - TOK_NSPECIAL);
    size_t ntok;
    int *tokens = tokenizer_encode(&t, text, strlen(text), &ntok);
    assert_int_equal(ntok, 1);
    free(tokens);
    tokenizer_free(&t);
}

static void test_no_token_grows_longer_than_llmc_can_store(void **state) {
    (void)state;
    /* One word of 600 'a's: merges double the token (a, aa, a^4 ... a^128);
     * a^256 would not fit llm.c's one-byte length, so that pair is passed
     * over and training goes on with the pairs that fit. */
    char text[600];
    memset(text, 'a', sizeof text);
    Tokenizer t;
    tokenizer_train(&t, text, sizeof text, 512);
    assert_true(t.nmerges >= 7);
    for (int id = 0; id < t.vocab_size; id++) {
        int len;
        tokenizer_token_bytes(&t, id, &len);
        assert_true(len >= 1 && len <= TOK_MAX_TOKEN_BYTES);
    }
    size_t n;
    int *tokens = tokenizer_encode(&t, text, sizeof text, &n);
    assert_true(n >= 3);  /* 600 bytes need at least three tokens of <= 255 */
    assert_decodes_to(&t, tokens, n, text, sizeof text);
    free(tokens);
    tokenizer_free(&t);
}

/* ---- special tokens ---- */

static void test_special_tokens_survive_encode_with_special_and_decode(void **state) {
    (void)state;
    Tokenizer t;
    train_on_corpus(&t, 350);
    int V = t.vocab_size;
    for (int k = 0; k < TOK_NSPECIAL; k++) assert_int_equal(tokenizer_special_id(&t, k), V - TOK_NSPECIAL + k);
    assert_string_equal(tokenizer_special_string(TOK_EOT), "<|endoftext|>");
    assert_string_equal(tokenizer_special_string(TOK_ANSWER), "<|answer|>");

    const char *text = "<|start|>the cat<|delim|>sat<|extract|><|prompt|> hi<|answer|> ok<|endoftext|>";
    size_t n;
    int *tokens = tokenizer_encode_with_special(&t, text, strlen(text), &n);
    int seen[TOK_NSPECIAL] = {0};
    for (size_t i = 0; i < n; i++) {
        if (tokens[i] >= V - TOK_NSPECIAL) seen[tokens[i] - (V - TOK_NSPECIAL)]++;
    }
    for (int k = 0; k < TOK_NSPECIAL; k++) assert_int_equal(seen[k], 1);
    assert_int_equal(tokens[0], tokenizer_special_id(&t, TOK_START));
    assert_int_equal(tokens[n - 1], tokenizer_special_id(&t, TOK_EOT));
    assert_decodes_to(&t, tokens, n, text, strlen(text));
    free(tokens);
    tokenizer_free(&t);
}

static void test_plain_encode_treats_special_strings_as_ordinary_bytes(void **state) {
    (void)state;
    Tokenizer t;
    train_on_corpus(&t, 350);
    int first_special = tokenizer_special_id(&t, 0);
    const char *text = "a<|endoftext|>b <|prompt|><|answer|>";
    size_t n;
    int *tokens = tokenizer_encode(&t, text, strlen(text), &n);
    for (size_t i = 0; i < n; i++) assert_true(tokens[i] < first_special);
    assert_true(n > 3);  /* "<|endoftext|>" alone spans three words */
    assert_decodes_to(&t, tokens, n, text, strlen(text));
    free(tokens);
    /* Training skipped the 40 "<|endoftext|>" in the corpus: no merge spells
     * any part of it ("<|", "|>" or "endoftext"). */
    for (int id = TOK_NBYTES; id < first_special; id++) {
        int len;
        const unsigned char *b = tokenizer_token_bytes(&t, id, &len);
        assert_null(memchr(b, '|', (size_t)len));
        for (int i = 0; i + 9 <= len; i++) assert_false(memcmp(b + i, "endoftext", 9) == 0);
    }
    tokenizer_free(&t);
}

/* ---- pre-split and digits ---- */

static int test_class(unsigned char c) {
    if (c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r') return 0;
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c >= 0x80) return 1;
    if (c >= '0' && c <= '9') return 2;
    return 3;
}

static void test_merges_never_cross_a_word_boundary(void **state) {
    (void)state;
    Tokenizer t;
    train_on_corpus(&t, 512);
    /* A word is whitespace only, or an optional space then bytes of one kind
     * (letters, one digit, or punctuation). So is every merged token. */
    for (int id = TOK_NBYTES; id < TOK_NBYTES + t.nmerges; id++) {
        int len;
        const unsigned char *b = tokenizer_token_bytes(&t, id, &len);
        int all_space = 1;
        for (int i = 0; i < len; i++) all_space &= test_class(b[i]) == 0;
        if (all_space) continue;
        int i = b[0] == ' ' ? 1 : 0;
        assert_true(i < len);
        int cls = test_class(b[i]);
        assert_true(cls != 0);
        for (; i < len; i++) assert_int_equal(test_class(b[i]), cls);
    }
    tokenizer_free(&t);
}

static void test_every_digit_is_its_own_token(void **state) {
    (void)state;
    /* The corpus repeats "1234567", "2024" and "99" many times: without the
     * rule, BPE would merge them into whole numbers. */
    Tokenizer t;
    train_on_corpus(&t, 512);
    for (int id = TOK_NBYTES; id < TOK_NBYTES + t.nmerges; id++) {
        int len, digits = 0;
        const unsigned char *b = tokenizer_token_bytes(&t, id, &len);
        for (int i = 0; i < len; i++) digits += b[i] >= '0' && b[i] <= '9';
        assert_true(digits <= 1);
    }
    const char *text = "in 2024 there were 1234567 kites, 3.14 and 99";
    size_t n;
    int *tokens = tokenizer_encode(&t, text, strlen(text), &n);
    int digit_tokens = 0;
    for (size_t i = 0; i < n; i++) {
        int len, digits = 0;
        const unsigned char *b = tokenizer_token_bytes(&t, tokens[i], &len);
        for (int k = 0; k < len; k++) digits += b[k] >= '0' && b[k] <= '9';
        assert_true(digits <= 1);
        digit_tokens += digits;
    }
    assert_int_equal(digit_tokens, 16);  /* 4 + 7 + 3 + 2 digits, one token each */
    free(tokens);
    tokenizer_free(&t);
}

/* ---- determinism ---- */

static void test_training_twice_on_the_same_text_learns_the_same_merges(void **state) {
    (void)state;
    Tokenizer a, b;
    train_on_corpus(&a, 450);
    train_on_corpus(&b, 450);
    assert_int_equal(a.vocab_size, b.vocab_size);
    assert_int_equal(a.nmerges, b.nmerges);
    assert_true(a.nmerges > 100);
    assert_memory_equal(a.merges, b.merges, sizeof(int) * 2 * (size_t)a.nmerges);
    assert_memory_equal(a.merge_count, b.merge_count, sizeof(long) * (size_t)a.nmerges);
    /* and the most frequent pair really was merged first */
    for (int r = 1; r < a.nmerges; r++) assert_true(a.merge_count[r - 1] >= a.merge_count[r]);
    tokenizer_free(&a);
    tokenizer_free(&b);
}

/* ---- files ---- */

static void test_saved_merges_file_reloads_to_the_same_tokenizer(void **state) {
    (void)state;
    char path[256];
    temp_path(path, sizeof path, "tok.merges");
    Tokenizer a, b;
    train_on_corpus(&a, 420);
    tokenizer_save_merges(&a, path);
    tokenizer_load(&b, path);
    assert_int_equal(b.vocab_size, a.vocab_size);
    assert_int_equal(b.nmerges, a.nmerges);
    assert_memory_equal(b.merges, a.merges, sizeof(int) * 2 * (size_t)a.nmerges);
    assert_memory_equal(b.merge_count, a.merge_count, sizeof(long) * (size_t)a.nmerges);
    for (int id = 0; id < a.vocab_size; id++) {
        int la, lb;
        const unsigned char *ba = tokenizer_token_bytes(&a, id, &la);
        const unsigned char *bb = tokenizer_token_bytes(&b, id, &lb);
        assert_int_equal(la, lb);
        assert_memory_equal(ba, bb, (size_t)la);
    }
    size_t len, na, nb;
    char *text = make_corpus(&len);
    int *ta = tokenizer_encode_with_special(&a, text, len, &na);
    int *tb = tokenizer_encode_with_special(&b, text, len, &nb);
    assert_int_equal(na, nb);
    assert_memory_equal(ta, tb, sizeof(int) * na);
    assert_true(na < len / 2);  /* it did compress */
    free(ta);
    free(tb);
    free(text);
    tokenizer_free(&a);
    tokenizer_free(&b);
    remove(path);
}

static void test_llmc_decode_table_has_the_right_header_and_bytes(void **state) {
    (void)state;
    char path[256];
    temp_path(path, sizeof path, "tok.bin");
    Tokenizer t;
    train_on_corpus(&t, 300);
    tokenizer_save_llmc(&t, path);
    size_t size;
    char *file = read_file_or_die(path, &size);
    int32_t header[256];
    assert_true(size > sizeof header);
    memcpy(header, file, sizeof header);
    assert_int_equal(header[0], 20240328);  /* llm.c's tokenizer magic */
    assert_int_equal(header[1], 2);         /* version 2: header[3] is the end-of-text id */
    assert_int_equal(header[2], t.vocab_size);
    assert_int_equal(header[3], tokenizer_special_id(&t, TOK_EOT));
    for (int i = 4; i < 256; i++) assert_int_equal(header[i], 0);
    size_t pos = sizeof header;
    for (int id = 0; id < t.vocab_size; id++) {
        int len;
        const unsigned char *b = tokenizer_token_bytes(&t, id, &len);
        assert_true(pos + 1 + (size_t)len <= size);
        assert_int_equal((unsigned char)file[pos], len);
        assert_memory_equal(file + pos + 1, b, (size_t)len);
        pos += 1 + (size_t)len;
    }
    assert_int_equal(pos, size);  /* nothing after the last token */
    free(file);
    tokenizer_free(&t);
    remove(path);
}

/* Death fixtures get their file through this. */
typedef struct {
    const char *path;
    int vocab;
} LoadArgs;

static void load_merges(void *arg) {
    Tokenizer t;
    tokenizer_load(&t, ((LoadArgs *)arg)->path);
}

static void test_a_bad_line_in_a_merges_file_is_refused_with_file_and_line(void **state) {
    (void)state;
    char path[256], phrase[300];
    temp_path(path, sizeof path, "bad.merges");
    LoadArgs args = {path, 0};
    const char *header = "gptladder-bpe version 1 vocab_size 264 merges 2 special 6\n# a comment\n";
    static const struct { const char *body; int line; const char *what; } cases[] = {
        {"256 97 97 \"aa\" 5\n257 97 98 \"ba\" 3\n", 4, "do not spell"},       /* bytes disagree */
        {"256 97 97 \"aa\" 5\n258 97 98 \"ab\" 3\n", 4, "expected token id 257"},
        {"256 97 300 \"aa\" 5\n", 3, "outside"},                                  /* parent later than itself */
        {"256 97 97 \"aa\" 5\n257 97 97 \"aa\" 3\n", 4, "already merged"},
        {"256 97 97 \"aa\"\n", 3, "pair count"},                                 /* missing column */
        {"256 97 97 \"aa\" 5\n", 0, "announces 2 merges"},                       /* too few lines */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char content[512];
        snprintf(content, sizeof content, "%s%s", header, cases[i].body);
        write_bytes(path, content, strlen(content));
        if (cases[i].line) snprintf(phrase, sizeof phrase, "%s:%d: ", path, cases[i].line);
        else snprintf(phrase, sizeof phrase, "%s", path);
        expect_death(load_merges, &args, phrase);
        expect_death(load_merges, &args, cases[i].what);
    }
    const char *wrong = "hello\n";
    write_bytes(path, wrong, strlen(wrong));
    expect_death(load_merges, &args, "not a gptladder merges file");
    remove(path);
}

static void test_token_file_round_trips_in_llmc_layout(void **state) {
    (void)state;
    char path[256];
    temp_path(path, sizeof path, "tokens.bin");
    int tokens[] = {0, 1, 511, 65535, 42};
    tokens_save(path, tokens, 5);
    size_t size;
    char *file = read_file_or_die(path, &size);
    assert_int_equal(size, 256 * 4 + 5 * 2);
    int32_t header[3];
    memcpy(header, file, sizeof header);
    assert_int_equal(header[0], 20240520);
    assert_int_equal(header[1], 1);
    assert_int_equal(header[2], 5);
    free(file);
    size_t n;
    int *back = tokens_load(path, &n, TOK_MAX_VOCAB);
    assert_int_equal(n, 5);
    assert_memory_equal(back, tokens, sizeof tokens);
    free(back);
    tokens_save(path, tokens, 0);  /* an empty file is a valid file */
    back = tokens_load(path, &n, 512);
    assert_int_equal(n, 0);
    free(back);
    remove(path);
}

static void load_tokens(void *arg) {
    size_t n;
    tokens_load(((LoadArgs *)arg)->path, &n, ((LoadArgs *)arg)->vocab);
}

/* Writes a token file whose header says `count` tokens but holds `have`. */
static void write_token_file(const char *path, int32_t magic, int32_t count, size_t have, uint16_t fill) {
    size_t size = 256 * sizeof(int32_t) + have * sizeof(uint16_t);
    char *buf = calloc(1, size);
    int32_t header[3] = {magic, 1, count};
    memcpy(buf, header, sizeof header);
    uint16_t *toks = (uint16_t *)(buf + 256 * sizeof(int32_t));
    for (size_t i = 0; i < have; i++) toks[i] = (uint16_t)(i % 2 ? fill : 7);
    write_bytes(path, buf, size);
    free(buf);
}

static void test_a_truncated_token_file_is_refused(void **state) {
    (void)state;
    char path[256];
    temp_path(path, sizeof path, "short.bin");
    LoadArgs args = {path, 512};
    write_token_file(path, 20240520, 1000, 750, 1);
    expect_death(load_tokens, &args, "is truncated: header says 1000 tokens (2000 bytes after the header), file has 1500");
    write_bytes(path, "abc", 3);  /* not even a header */
    expect_death(load_tokens, &args, "shorter than the 1024-byte header");
    write_token_file(path, 20240520, 10, 11, 1);
    expect_death(load_tokens, &args, "is too long");
    remove(path);
}

static void test_a_token_file_with_a_wrong_magic_is_refused(void **state) {
    (void)state;
    char path[256];
    temp_path(path, sizeof path, "magic.bin");
    LoadArgs args = {path, 512};
    write_token_file(path, 20240326, 4, 4, 1);  /* a model checkpoint's magic */
    expect_death(load_tokens, &args, "is not a token file: its magic number is 20240326, expected 20240520");
    remove(path);
}

static void test_a_token_file_with_a_token_outside_the_vocabulary_is_refused(void **state) {
    (void)state;
    char path[256];
    temp_path(path, sizeof path, "big.bin");
    LoadArgs args = {path, 512};
    write_token_file(path, 20240520, 4, 4, 512);  /* tokens 7 512 7 512 */
    expect_death(load_tokens, &args, "token 1 is 512, outside the vocabulary of 512 tokens");
    remove(path);
}

/* A token file remembers which tokenizer wrote it (header slot 3, which
 * llm.c does not read): the same tokenizer reads it back, another of the same
 * size is refused before a token is looked at, and a file that records none
 * (llm.c's, our older ones) is read as before. */
typedef struct {
    Tokenizer *tok;
    const char *path;
} LoadForArgs;

static void load_for(void *arg) {
    const LoadForArgs *a = arg;
    size_t n;
    tokens_load_for(a->tok, "other.merges", a->path, &n);
}

static void test_a_token_file_records_its_tokenizer_and_another_tokenizer_is_refused(void **state) {
    (void)state;
    Tokenizer t, other;
    train_on_corpus(&t, 300);
    size_t len;
    char *text = make_corpus(&len);
    for (size_t i = 0; i < len; i++) if (text[i] == 'e') text[i] = 'a';
    tokenizer_train(&other, text, len, 300);
    assert_int_equal(other.vocab_size, t.vocab_size);
    assert_true(tokenizer_id(&other) != tokenizer_id(&t));
    char path[256];
    temp_path(path, sizeof path, "recorded.bin");
    int tokens[] = {1, 2, 299, 42};
    tokens_save_for(&t, path, tokens, 4);
    char *file = read_file_or_die(path, &len);
    int32_t header[4];
    memcpy(header, file, sizeof header);
    assert_int_equal((uint32_t)header[TOKENS_HEADER_TOKENIZER], tokenizer_id(&t));
    free(file);
    size_t n;
    int *back = tokens_load_for(&t, "t.merges", path, &n);
    assert_int_equal(n, 4);
    assert_memory_equal(back, tokens, sizeof tokens);
    free(back);
    LoadForArgs args = {&other, path};
    expect_death(load_for, &args, "was encoded with another tokenizer");
    tokens_save(path, tokens, 4);  /* records none: any tokenizer of the size reads it */
    back = tokens_load_for(&other, "other.merges", path, &n);
    assert_int_equal(n, 4);
    free(back);
    free(text);
    tokenizer_free(&t);
    tokenizer_free(&other);
    remove(path);
}

/* ---- the program ---- */

static void test_tokenizer_program_rejects_an_unknown_flag(void **state) {
    (void)state;
    char *err;
    const char *args[] = {"train", "--bogus", "3", NULL};
    assert_int_equal(run_program("tokenizer", args, &err), 1);
    assert_non_null(strstr(err, "error: unknown flag --bogus for tokenizer train"));
    free(err);
    const char *wrong_cmd[] = {"show", "--vocab", "300", NULL};  /* a real flag, wrong command */
    assert_int_equal(run_program("tokenizer", wrong_cmd, &err), 1);
    assert_non_null(strstr(err, "error: unknown flag --vocab for tokenizer show"));
    free(err);
    const char *missing[] = {"train", "--data", "build/tmp/no-such-file.txt", "--out", "build/tmp/x", NULL};
    assert_int_equal(run_program("tokenizer", missing, &err), 1);
    assert_non_null(strstr(err, "error: cannot open build/tmp/no-such-file.txt"));
    free(err);
    const char *no_folder[] = {"train", "--out", "build/tmp/no-such-folder/tok", NULL};
    assert_int_equal(run_program("tokenizer", no_folder, &err), 1);
    assert_non_null(strstr(err, "folder build/tmp/no-such-folder does not exist"));
    free(err);
}

static void test_tokenizer_program_trains_and_encodes_like_the_library(void **state) {
    (void)state;
    char text_path[256], prefix[256], merges[300], bin[256];
    temp_path(text_path, sizeof text_path, "corpus.txt");
    temp_path(prefix, sizeof prefix, "prog");
    temp_path(bin, sizeof bin, "corpus.bin");
    snprintf(merges, sizeof merges, "%s.merges", prefix);
    size_t len;
    char *text = make_corpus(&len);
    write_bytes(text_path, text, len);

    const char *train[] = {"train", "--data", text_path, "--vocab", "320", "--out", prefix, NULL};
    assert_int_equal(run_program("tokenizer", train, NULL), 0);
    const char *encode[] = {"encode", "--model", merges, "--data", text_path, "--out", bin, NULL};
    assert_int_equal(run_program("tokenizer", encode, NULL), 0);

    Tokenizer lib;
    train_on_corpus(&lib, 320);
    size_t want_n, got_n;
    int *want = tokenizer_encode_with_special(&lib, text, len, &want_n);
    int *got = tokens_load(bin, &got_n, lib.vocab_size);
    assert_int_equal(got_n, want_n);
    assert_memory_equal(got, want, sizeof(int) * want_n);
    free(want);
    free(got);
    /* the token file records the tokenizer; the decode table has its own name */
    int32_t header[4];
    FILE *f = fopen_or_die(bin, "rb");
    fread_or_die(header, sizeof header[0], 4, f, bin, "the header");
    fclose(f);
    assert_int_equal((uint32_t)header[TOKENS_HEADER_TOKENIZER], tokenizer_id(&lib));
    free(text);
    tokenizer_free(&lib);
    char llmc[300], plain_bin[300];
    snprintf(llmc, sizeof llmc, "%s.llmc-tokenizer.bin", prefix);
    snprintf(plain_bin, sizeof plain_bin, "%s.bin", prefix);
    assert_true(file_exists(llmc));
    assert_false(file_exists(plain_bin));
    remove(text_path);
    remove(merges);
    remove(llmc);
    remove(bin);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_decode_of_encode_is_the_identity_on_arbitrary_bytes),
        cmocka_unit_test(test_three_merges_on_aaabdaaabac_match_the_hand_worked_example),
        cmocka_unit_test(test_training_stops_when_every_word_is_a_single_token),
        cmocka_unit_test(test_no_token_grows_longer_than_llmc_can_store),
        cmocka_unit_test(test_special_tokens_survive_encode_with_special_and_decode),
        cmocka_unit_test(test_plain_encode_treats_special_strings_as_ordinary_bytes),
        cmocka_unit_test(test_merges_never_cross_a_word_boundary),
        cmocka_unit_test(test_every_digit_is_its_own_token),
        cmocka_unit_test(test_training_twice_on_the_same_text_learns_the_same_merges),
        cmocka_unit_test(test_saved_merges_file_reloads_to_the_same_tokenizer),
        cmocka_unit_test(test_llmc_decode_table_has_the_right_header_and_bytes),
        cmocka_unit_test(test_a_bad_line_in_a_merges_file_is_refused_with_file_and_line),
        cmocka_unit_test(test_token_file_round_trips_in_llmc_layout),
        cmocka_unit_test(test_a_truncated_token_file_is_refused),
        cmocka_unit_test(test_a_token_file_with_a_wrong_magic_is_refused),
        cmocka_unit_test(test_a_token_file_with_a_token_outside_the_vocabulary_is_refused),
        cmocka_unit_test(test_a_token_file_records_its_tokenizer_and_another_tokenizer_is_refused),
        cmocka_unit_test(test_tokenizer_program_rejects_an_unknown_flag),
        cmocka_unit_test(test_tokenizer_program_trains_and_encodes_like_the_library),
    };
    return cmocka_run_group_tests_name("tokenizer", tests, NULL, NULL);
}
