/* tokenizer.c — byte-level BPE: train, encode, decode, save, load.
 *
 * Byte-pair encoding (Sennrich, Haddow & Birch 2016, "Neural Machine
 * Translation of Rare Words with Subword Units") as GPT-2 uses it (Radford et
 * al. 2019, section 2.2): the base vocabulary is the 256 bytes, so every input
 * can be encoded and nothing is ever "unknown"; text is pre-split into words
 * and merges never cross a word boundary. The pre-split rules, the vocabulary
 * layout and the file formats are described in tokenizer.h.
 *
 * Training works on the distinct words and their counts (a hash map), not on
 * the raw text: a corpus of a few megabytes has only thousands of distinct
 * words, so recounting every pair after each merge is instant. (A production
 * trainer updates the pair counts incrementally instead; this one keeps the
 * loop a learner can follow.) Encoding applies the merges in rank order
 * within each word and remembers each distinct word's tokens, as GPT-2's
 * encoder.py does, so a big file costs about one hash lookup per word.
 *
 * Left out: GPT-2's byte-to-unicode remapping (we print bytes escaped
 * instead), Unicode character classes in the pre-split (ASCII classes; bytes
 * >= 0x80 count as letters), and the contraction rules ('s 't ...).
 */
#include "tokenizer.h"
#include "util.h"

#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* ---- constants ---- */

#define MERGES_MAGIC "gptladder-bpe"  /* first word of a merges file */
#define MERGES_VERSION 1
#define CACHE_MAX_WORDS (1 << 16)     /* the encode cache stops growing here */
#define CACHE_MAX_WORD_BYTES 64       /* longer words are rare: encode them, don't cache */
#define EMPTY_KEY UINT64_MAX          /* a free slot in a PairMap */
#define EMPTY_SLOT (-1L)              /* a free slot in a WordTable */
#define TOKENS_WRITE_CHUNK 4096       /* tokens converted to uint16 per fwrite */

static const char *const SPECIAL_STRINGS[TOK_NSPECIAL] = {
    [TOK_EOT] = "<|endoftext|>", [TOK_START] = "<|start|>",   [TOK_DELIM] = "<|delim|>",
    [TOK_EXTRACT] = "<|extract|>", [TOK_PROMPT] = "<|prompt|>", [TOK_ANSWER] = "<|answer|>",
};

const char *tokenizer_special_string(int k) {
    if (k < 0 || k >= TOK_NSPECIAL) die("special token %d does not exist (0..%d)", k, TOK_NSPECIAL - 1);
    return SPECIAL_STRINGS[k];
}

/* ---- pre-splitting text into words ---- */

enum { CLASS_SPACE, CLASS_LETTER, CLASS_DIGIT, CLASS_PUNCT };

static int is_space(unsigned char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

/* Which of the four word kinds byte c belongs to. Bytes >= 0x80 (every byte
 * of a multi-byte UTF-8 character) are letters, so "café" stays one word. */
static int byte_class(unsigned char c) {
    if (is_space(c)) return CLASS_SPACE;
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c >= 0x80) return CLASS_LETTER;
    if (c >= '0' && c <= '9') return CLASS_DIGIT;
    return CLASS_PUNCT;
}

/* The length of the first word of s[0..len), len >= 1 (the rules are in
 * tokenizer.h). Always at least 1, so a loop over words always advances. */
static size_t next_word(const unsigned char *s, size_t len) {
    size_t i = 0;
    if (s[0] == ' ' && len > 1 && !is_space(s[1])) i = 1;  /* the optional leading space */
    int cls = byte_class(s[i]);
    if (cls == CLASS_DIGIT) return i + 1;                  /* one digit per word */
    size_t j = i + 1;
    if (cls == CLASS_SPACE) {
        /* A whitespace run, but a space followed by a non-space starts the
         * next word instead (i == 0 here: we did not take a leading space). */
        while (j < len && is_space(s[j]) && !(s[j] == ' ' && j + 1 < len && !is_space(s[j + 1]))) j++;
        return j;
    }
    while (j < len && byte_class(s[j]) == cls) j++;
    return j;
}

/* The offset of the first special-token string in s[0..len), or len if there
 * is none; *which receives its index (TOK_EOT ...). */
static size_t find_special(const unsigned char *s, size_t len, int *which) {
    const unsigned char *p = s, *end = s + len;
    while ((p = memchr(p, '<', (size_t)(end - p))) != NULL) {
        for (int k = 0; k < TOK_NSPECIAL; k++) {
            size_t n = strlen(SPECIAL_STRINGS[k]);
            if ((size_t)(end - p) >= n && memcmp(p, SPECIAL_STRINGS[k], n) == 0) {
                *which = k;
                return (size_t)(p - s);
            }
        }
        p++;
    }
    return len;
}

/* ---- PairMap: (left id, right id) -> long, open addressing ---- */

/* A fixed-size hash map. Training uses it to count pairs (and clears only the
 * slots it used, listed in `used`); encoding uses it to look up merge ranks.
 * It never grows: the caller sizes it for the most keys it will hold. */
struct PairMap {
    uint64_t *key;    /* (nslots) (left << 32) | right, or EMPTY_KEY */
    long *value;      /* (nslots) */
    size_t *used;     /* (nslots) the slots in use, in the order they were taken */
    size_t nused;
    size_t nslots;    /* a power of two, more than twice the most keys held */
};

static uint64_t pair_key(int left, int right) {
    return ((uint64_t)(uint32_t)left << 32) | (uint32_t)right;
}

static int pair_left(uint64_t key) { return (int)(key >> 32); }
static int pair_right(uint64_t key) { return (int)(uint32_t)key; }

/* A 64-bit mix (MurmurHash3's finaliser), so neighbouring ids spread out. */
static uint64_t mix64(uint64_t x) {
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    x ^= x >> 33;
    return x;
}

static size_t pow2_at_least(size_t n) {
    size_t p = 1;
    while (p < n) p *= 2;
    return p;
}

/* A map with room for max_keys keys. Free with pairmap_free. */
static PairMap *pairmap_new(size_t max_keys) {
    PairMap *m = malloc_or_die(sizeof *m, "a pair map");
    m->nslots = pow2_at_least(2 * max_keys + 2);
    m->key = malloc_or_die(sizeof(uint64_t) * m->nslots, "a pair map");
    m->value = malloc_or_die(sizeof(long) * m->nslots, "a pair map");
    m->used = malloc_or_die(sizeof(size_t) * m->nslots, "a pair map");
    m->nused = 0;
    for (size_t i = 0; i < m->nslots; i++) m->key[i] = EMPTY_KEY;
    return m;
}

static void pairmap_free(PairMap *m) {
    if (!m) return;
    free(m->key);
    free(m->value);
    free(m->used);
    free(m);
}

/* The slot holding (left, right), or the free slot where it would go. */
static size_t pairmap_slot(const PairMap *m, int left, int right) {
    uint64_t k = pair_key(left, right);
    size_t mask = m->nslots - 1;
    size_t i = (size_t)mix64(k) & mask;
    while (m->key[i] != EMPTY_KEY && m->key[i] != k) i = (i + 1) & mask;
    return i;
}

/* The value of (left, right), or -1 if the pair is not in the map. */
static long pairmap_get(const PairMap *m, int left, int right) {
    size_t i = pairmap_slot(m, left, right);
    return m->key[i] == EMPTY_KEY ? -1 : m->value[i];
}

/* Adds delta to the value of (left, right), inserting it at 0 first if new. */
static void pairmap_add(PairMap *m, int left, int right, long delta) {
    size_t i = pairmap_slot(m, left, right);
    if (m->key[i] == EMPTY_KEY) {
        if (2 * (m->nused + 1) > m->nslots) die("internal error: pair map over capacity");
        m->key[i] = pair_key(left, right);
        m->value[i] = 0;
        m->used[m->nused++] = i;
    }
    m->value[i] += delta;
}

/* Empties the map, touching only the slots in use. */
static void pairmap_clear(PairMap *m) {
    for (size_t u = 0; u < m->nused; u++) m->key[m->used[u]] = EMPTY_KEY;
    m->nused = 0;
}

/* ---- WordTable: distinct words, each with a count and a token list ---- */

/* Training keeps each distinct word's count and its current tokens (which
 * shrink as merges apply); encoding keeps each word's final tokens (a cache).
 * Words and tokens live in two growing arenas; entries point in by offset. */
typedef struct {
    size_t start, len;     /* the word is bytes[start .. start+len) */
    size_t tok_start;      /* its tokens are toks[tok_start .. tok_start+ntok) */
    size_t ntok;
    long count;            /* how often the word occurs (training only) */
} Word;

struct WordTable {
    Word *words;               /* (n), capacity cap */
    size_t n, cap;
    unsigned char *bytes;      /* all words back to back */
    size_t nbytes, bytes_cap;
    int *toks;                 /* all token lists back to back */
    size_t ntoks, toks_cap;
    long *slot;                /* (nslots) hash slots: an index into words, or EMPTY_SLOT */
    size_t nslots;             /* a power of two, more than twice n */
};

#define FNV_OFFSET_BASIS 1469598103934665603ULL
#define FNV_PRIME 1099511628211ULL

/* FNV-1a: a simple, good-enough hash of a byte string. */
static uint64_t hash_bytes(const unsigned char *s, size_t n) {
    uint64_t h = FNV_OFFSET_BASIS;
    for (size_t i = 0; i < n; i++) h = (h ^ s[i]) * FNV_PRIME;
    return h;
}

#define WORDTABLE_START_SLOTS 1024

static WordTable *wordtable_new(void) {
    WordTable *w = calloc_or_die(1, sizeof *w, "a word table");
    w->nslots = WORDTABLE_START_SLOTS;
    w->slot = malloc_or_die(sizeof(long) * w->nslots, "a word table");
    for (size_t i = 0; i < w->nslots; i++) w->slot[i] = EMPTY_SLOT;
    return w;
}

static void wordtable_free(WordTable *w) {
    if (!w) return;
    free(w->words);
    free(w->bytes);
    free(w->toks);
    free(w->slot);
    free(w);
}

/* The slot holding word s[0..len), or the free slot where it would go. */
static size_t wordtable_slot(const WordTable *w, const unsigned char *s, size_t len) {
    size_t mask = w->nslots - 1;
    size_t i = (size_t)hash_bytes(s, len) & mask;
    for (;;) {
        long e = w->slot[i];
        if (e == EMPTY_SLOT) return i;
        const Word *wd = &w->words[e];
        if (wd->len == len && memcmp(w->bytes + wd->start, s, len) == 0) return i;
        i = (i + 1) & mask;
    }
}

/* The index of word s[0..len), or -1 if it is not in the table. */
static long wordtable_find(const WordTable *w, const unsigned char *s, size_t len) {
    return w->slot[wordtable_slot(w, s, len)];
}

/* Doubles the slot array and re-inserts every word. */
static void wordtable_grow_slots(WordTable *w) {
    free(w->slot);
    w->nslots *= 2;
    w->slot = malloc_or_die(sizeof(long) * w->nslots, "a word table");
    for (size_t i = 0; i < w->nslots; i++) w->slot[i] = EMPTY_SLOT;
    for (size_t e = 0; e < w->n; e++) {
        const Word *wd = &w->words[e];
        w->slot[wordtable_slot(w, w->bytes + wd->start, wd->len)] = (long)e;
    }
}

/* Adds word s[0..len), which must not be in the table yet, with count 0 and
 * tokens toks[0..ntok) (or, if toks is NULL, its bytes as tokens). Returns its
 * index. */
static long wordtable_add(WordTable *w, const unsigned char *s, size_t len, const int *toks, size_t ntok) {
    if (2 * (w->n + 1) > w->nslots) wordtable_grow_slots(w);
    if (w->n == w->cap) {
        w->cap = w->cap ? 2 * w->cap : 256;
        w->words = realloc_or_die(w->words, sizeof(Word) * w->cap, "a word table");
    }
    while (w->nbytes + len > w->bytes_cap) {
        w->bytes_cap = w->bytes_cap ? 2 * w->bytes_cap : 4096;
        w->bytes = realloc_or_die(w->bytes, w->bytes_cap, "a word table");
    }
    if (!toks) ntok = len;
    while (w->ntoks + ntok > w->toks_cap) {
        w->toks_cap = w->toks_cap ? 2 * w->toks_cap : 4096;
        w->toks = realloc_or_die(w->toks, sizeof(int) * w->toks_cap, "a word table");
    }
    Word *wd = &w->words[w->n];
    wd->start = w->nbytes;
    wd->len = len;
    wd->tok_start = w->ntoks;
    wd->ntok = ntok;
    wd->count = 0;
    memcpy(w->bytes + w->nbytes, s, len);
    w->nbytes += len;
    for (size_t k = 0; k < ntok; k++) w->toks[w->ntoks + k] = toks ? toks[k] : s[k];
    w->ntoks += ntok;
    w->slot[wordtable_slot(w, s, len)] = (long)w->n;
    return (long)w->n++;
}

/* ---- merging one pair ---- */

/* Replaces every occurrence of (left, right) in toks[0..n), scanning left to
 * right, by new_id. Returns the new length. This is the one step of BPE,
 * shared by training and encoding. */
static size_t merge_pair(int *toks, size_t n, int left, int right, int new_id) {
    size_t j = 0;
    for (size_t k = 0; k < n; k++) {
        if (k + 1 < n && toks[k] == left && toks[k + 1] == right) {
            toks[j++] = new_id;
            k++;
        } else {
            toks[j++] = toks[k];
        }
    }
    return j;
}

/* ---- building the vocabulary: bytes, then merges, then specials ---- */

/* Starts an empty tokenizer with the 256 byte tokens and room for max_merges
 * merges. Add merges with vocab_add_merge, then call vocab_finish. */
static void vocab_begin(Tokenizer *t, int max_merges) {
    memset(t, 0, sizeof *t);
    int max_vocab = TOK_NBYTES + max_merges + TOK_NSPECIAL;
    t->merges = malloc_or_die(sizeof(int) * 2 * (size_t)max_merges, "the merges");
    t->merge_count = malloc_or_die(sizeof(long) * (size_t)max_merges, "the merge counts");
    t->tok_start = malloc_or_die(sizeof(int) * ((size_t)max_vocab + 1), "the token table");
    t->tok_bytes = malloc_or_die(TOK_NBYTES, "the token table");
    for (int b = 0; b < TOK_NBYTES; b++) {
        t->tok_start[b] = b;
        t->tok_bytes[b] = (unsigned char)b;
    }
    t->tok_start[TOK_NBYTES] = TOK_NBYTES;
    t->ranks = pairmap_new((size_t)max_merges);
    t->vocab_size = TOK_NBYTES;  /* grows as merges are added */
}

static int token_len(const Tokenizer *t, int id) {
    return t->tok_start[id + 1] - t->tok_start[id];
}

/* Appends bytes[0..n) as the next token's bytes. */
static void vocab_push_token(Tokenizer *t, const unsigned char *bytes, int n) {
    int id = t->vocab_size;
    int start = t->tok_start[id];
    t->tok_bytes = realloc_or_die(t->tok_bytes, (size_t)start + (size_t)n, "the token table");
    memcpy(t->tok_bytes + start, bytes, (size_t)n);
    t->tok_start[id + 1] = start + n;
    t->vocab_size++;
}

/* Adds merge number t->nmerges: token 256 + rank = left followed by right.
 * The caller has checked that both exist and the result fits in
 * TOK_MAX_TOKEN_BYTES. */
static void vocab_add_merge(Tokenizer *t, int left, int right, long count) {
    int r = t->nmerges++;
    t->merges[2 * r] = left;
    t->merges[2 * r + 1] = right;
    t->merge_count[r] = count;
    pairmap_add(t->ranks, left, right, r);
    unsigned char buf[2 * TOK_MAX_TOKEN_BYTES];
    int nl = token_len(t, left), nr = token_len(t, right);
    memcpy(buf, t->tok_bytes + t->tok_start[left], (size_t)nl);
    memcpy(buf + nl, t->tok_bytes + t->tok_start[right], (size_t)nr);
    vocab_push_token(t, buf, nl + nr);
}

/* Adds the special tokens at the top and the (empty) encode cache. */
static void vocab_finish(Tokenizer *t) {
    for (int k = 0; k < TOK_NSPECIAL; k++) {
        vocab_push_token(t, (const unsigned char *)SPECIAL_STRINGS[k], (int)strlen(SPECIAL_STRINGS[k]));
    }
    t->cache = wordtable_new();
}

void tokenizer_free(Tokenizer *t) {
    free(t->merges);
    free(t->merge_count);
    free(t->tok_start);
    free(t->tok_bytes);
    pairmap_free(t->ranks);
    wordtable_free(t->cache);
    memset(t, 0, sizeof *t);
}

/* ---- training ---- */

/* Counts the distinct words of text[0..len), skipping special-token strings.
 * Each word's tokens start as its bytes. */
static WordTable *count_words(const unsigned char *s, size_t len) {
    WordTable *w = wordtable_new();
    size_t i = 0;
    while (i < len) {
        int which = 0;
        size_t seg_end = i + find_special(s + i, len - i, &which);
        while (i < seg_end) {
            size_t n = next_word(s + i, seg_end - i);
            long e = wordtable_find(w, s + i, n);
            if (e < 0) e = wordtable_add(w, s + i, n, NULL, 0);
            w->words[e].count++;
            i += n;
        }
        if (seg_end < len) i += strlen(SPECIAL_STRINGS[which]);  /* skip the special string */
    }
    return w;
}

void tokenizer_train(Tokenizer *t, const char *text, size_t len, int vocab_size) {
    int min_vocab = TOK_NBYTES + TOK_NSPECIAL;
    if (vocab_size < min_vocab || vocab_size > TOK_MAX_VOCAB) {
        die("vocabulary size %d is outside [%d, %d] (256 bytes + %d special tokens at least; "
            "token files hold uint16)", vocab_size, min_vocab, TOK_MAX_VOCAB, TOK_NSPECIAL);
    }
    if (len == 0) die("cannot train a tokenizer on an empty text");
    int max_merges = vocab_size - min_vocab;
    vocab_begin(t, max_merges);

    WordTable *w = count_words((const unsigned char *)text, len);
    if (w->n == 0) die("the training text holds only special tokens: nothing to learn merges from");
    /* No word has more distinct adjacent pairs than it has tokens. */
    PairMap *pairs = pairmap_new(w->ntoks);

    for (int r = 0; r < max_merges; r++) {
        /* 1. Count every adjacent pair in every word, weighted by the word's count. */
        pairmap_clear(pairs);
        for (size_t e = 0; e < w->n; e++) {
            const Word *wd = &w->words[e];
            const int *tk = w->toks + wd->tok_start;
            for (size_t k = 0; k + 1 < wd->ntok; k++) pairmap_add(pairs, tk[k], tk[k + 1], wd->count);
        }
        /* 2. The most frequent pair wins; a tie goes to the smallest (left, right),
         *    whose key is the smallest number. Pairs too long for llm.c's table
         *    are passed over. */
        uint64_t best_key = EMPTY_KEY;
        long best_count = 0;
        for (size_t u = 0; u < pairs->nused; u++) {
            size_t i = pairs->used[u];
            uint64_t key = pairs->key[i];
            long c = pairs->value[i];
            int left = pair_left(key), right = pair_right(key);
            if (token_len(t, left) + token_len(t, right) > TOK_MAX_TOKEN_BYTES) continue;
            if (c > best_count || (c == best_count && key < best_key)) {
                best_count = c;
                best_key = key;
            }
        }
        if (best_key == EMPTY_KEY) break;  /* no pair left (that fits): the vocabulary stays smaller */
        int left = pair_left(best_key), right = pair_right(best_key);
        int new_id = TOK_NBYTES + r;
        vocab_add_merge(t, left, right, best_count);
        /* 3. Replace the pair by the new token in every word. */
        for (size_t e = 0; e < w->n; e++) {
            Word *wd = &w->words[e];
            if (wd->ntok >= 2) wd->ntok = merge_pair(w->toks + wd->tok_start, wd->ntok, left, right, new_id);
        }
    }
    pairmap_free(pairs);
    wordtable_free(w);
    vocab_finish(t);
}

/* ---- encode ---- */

/* Applies the merges to toks[0..n) in rank order: while some adjacent pair is
 * a merge, merge every occurrence of the lowest-ranked one. Returns the new
 * length. (Each pass applies a higher rank than the last, so this stops.) */
static size_t apply_merges(const Tokenizer *t, int *toks, size_t n) {
    for (;;) {
        long best = LONG_MAX;
        for (size_t k = 0; k + 1 < n; k++) {
            long r = pairmap_get(t->ranks, toks[k], toks[k + 1]);
            if (r >= 0 && r < best) best = r;
        }
        if (best == LONG_MAX) return n;
        n = merge_pair(toks, n, t->merges[2 * best], t->merges[2 * best + 1], TOK_NBYTES + (int)best);
    }
}

/* Encodes one word into out (room for len tokens); returns the token count. */
static size_t encode_word(Tokenizer *t, const unsigned char *s, size_t len, int *out) {
    long e = wordtable_find(t->cache, s, len);
    if (e >= 0) {
        const Word *wd = &t->cache->words[e];
        memcpy(out, t->cache->toks + wd->tok_start, sizeof(int) * wd->ntok);
        return wd->ntok;
    }
    for (size_t k = 0; k < len; k++) out[k] = s[k];
    size_t n = apply_merges(t, out, len);
    if (len <= CACHE_MAX_WORD_BYTES && t->cache->n < CACHE_MAX_WORDS) wordtable_add(t->cache, s, len, out, n);
    return n;
}

/* Encodes s[0..len) word by word into out (room for len tokens). */
static size_t encode_plain(Tokenizer *t, const unsigned char *s, size_t len, int *out) {
    size_t i = 0, n = 0;
    while (i < len) {
        size_t w = next_word(s + i, len - i);
        n += encode_word(t, s + i, w, out + n);
        i += w;
    }
    return n;
}

int *tokenizer_encode(Tokenizer *t, const char *text, size_t len, size_t *ntokens) {
    /* Every token covers at least one byte, so len tokens is always enough. */
    int *out = malloc_or_die(sizeof(int) * len, "the encoded tokens");
    *ntokens = encode_plain(t, (const unsigned char *)text, len, out);
    return out;
}

int *tokenizer_encode_with_special(Tokenizer *t, const char *text, size_t len, size_t *ntokens) {
    const unsigned char *s = (const unsigned char *)text;
    int *out = malloc_or_die(sizeof(int) * len, "the encoded tokens");
    size_t i = 0, n = 0;
    while (i < len) {
        int which = 0;
        size_t seg_end = i + find_special(s + i, len - i, &which);
        n += encode_plain(t, s + i, seg_end - i, out + n);
        i = seg_end;
        if (i < len) {
            out[n++] = tokenizer_special_id(t, which);
            i += strlen(SPECIAL_STRINGS[which]);
        }
    }
    *ntokens = n;
    return out;
}

/* ---- decode ---- */

const unsigned char *tokenizer_token_bytes(const Tokenizer *t, int id, int *len) {
    if (id < 0 || id >= t->vocab_size) die("token id %d is outside the vocabulary [0, %d)", id, t->vocab_size);
    *len = token_len(t, id);
    return t->tok_bytes + t->tok_start[id];
}

char *tokenizer_decode(const Tokenizer *t, const int *tokens, size_t n, size_t *len) {
    size_t total = 0;
    int k;
    for (size_t i = 0; i < n; i++) {
        tokenizer_token_bytes(t, tokens[i], &k);
        total += (size_t)k;
    }
    char *out = malloc_or_die(total + 1, "the decoded text");
    size_t pos = 0;
    for (size_t i = 0; i < n; i++) {
        const unsigned char *b = tokenizer_token_bytes(t, tokens[i], &k);
        memcpy(out + pos, b, (size_t)k);
        pos += (size_t)k;
    }
    out[pos] = '\0';
    *len = pos;
    return out;
}

int tokenizer_special_id(const Tokenizer *t, int k) {
    if (k < 0 || k >= TOK_NSPECIAL) die("special token %d does not exist (0..%d)", k, TOK_NSPECIAL - 1);
    return t->vocab_size - TOK_NSPECIAL + k;
}

/* ---- the merges file ---- */

int tokenizer_print_escaped(FILE *f, const unsigned char *bytes, size_t n) {
    int written = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = bytes[i];
        switch (c) {
        case '"': written += fprintf(f, "\\\""); break;
        case '\\': written += fprintf(f, "\\\\"); break;
        case '\n': written += fprintf(f, "\\n"); break;
        case '\t': written += fprintf(f, "\\t"); break;
        case '\r': written += fprintf(f, "\\r"); break;
        default:
            if (c >= 0x20 && c < 0x7f) written += fprintf(f, "%c", c);
            else written += fprintf(f, "\\x%02x", c);
        }
    }
    return written;
}

static void print_quoted_token(FILE *f, const Tokenizer *t, int id) {
    int n;
    const unsigned char *b = tokenizer_token_bytes(t, id, &n);
    fputc('"', f);
    tokenizer_print_escaped(f, b, (size_t)n);
    fputc('"', f);
}

void tokenizer_save_merges(const Tokenizer *t, const char *path) {
    AtomicFile af;
    atomic_open(&af, path);
    FILE *f = af.f;
    fprintf(f, "%s version %d vocab_size %d merges %d special %d\n", MERGES_MAGIC, MERGES_VERSION,
            t->vocab_size, t->nmerges, TOK_NSPECIAL);
    fprintf(f, "# Byte-level BPE (GPT-2 style), learned by `tokenizer train`.\n"
               "# Token ids 0..255 are the bytes themselves. Each line below is one merge,\n"
               "# in the order they were learned (rank order, which is also encoding order):\n"
               "#   id left right \"bytes\" count\n"
               "# token `id` is token `left` followed by token `right`; \"bytes\" is what it\n"
               "# spells (escaped: \\\" \\\\ \\n \\t \\r \\xNN); count is how often the pair\n"
               "# occurred in the training words when it was merged.\n");
    for (int r = 0; r < t->nmerges; r++) {
        fprintf(f, "%d %d %d ", TOK_NBYTES + r, t->merges[2 * r], t->merges[2 * r + 1]);
        print_quoted_token(f, t, TOK_NBYTES + r);
        fprintf(f, " %ld\n", t->merge_count[r]);
    }
    fprintf(f, "# The special tokens are not merges; they take the last %d ids:\n", TOK_NSPECIAL);
    for (int k = 0; k < TOK_NSPECIAL; k++) {
        fprintf(f, "# %d \"%s\"\n", tokenizer_special_id(t, k), SPECIAL_STRINGS[k]);
    }
    if (ferror(f)) die("cannot write %s: %s", af.tmp, strerror(errno));
    atomic_commit(&af);
}

/* A cursor over one line of the merges file, for error messages. */
typedef struct {
    const char *p;      /* the next character */
    const char *path;
    int line;
} LineCursor;

static void skip_blanks(LineCursor *c) {
    while (*c->p == ' ' || *c->p == '\t') c->p++;
}

/* Reads a decimal integer in [lo, hi], or dies "PATH:LINE: expected WHAT ...". */
static long read_long(LineCursor *c, const char *what, long lo, long hi) {
    skip_blanks(c);
    char *end;
    errno = 0;
    long v = strtol(c->p, &end, 10);
    if (end == c->p || errno != 0 || (*end != '\0' && *end != ' ' && *end != '\t')) {
        die("%s:%d: expected %s (an integer), found '%.20s'", c->path, c->line, what, c->p);
    }
    if (v < lo || v > hi) die("%s:%d: %s %ld is outside [%ld, %ld]", c->path, c->line, what, v, lo, hi);
    c->p = end;
    return v;
}

/* Expects the exact word `word` next. */
static void expect_word(LineCursor *c, const char *word) {
    skip_blanks(c);
    size_t n = strlen(word);
    if (strncmp(c->p, word, n) != 0 || (c->p[n] != '\0' && c->p[n] != ' ' && c->p[n] != '\t')) {
        die("%s:%d: expected '%s', found '%.20s'", c->path, c->line, word, c->p);
    }
    c->p += n;
}

static int hex_value(char ch) {
    if (ch >= '0' && ch <= '9') return ch - '0';
    if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F') return ch - 'A' + 10;
    return -1;
}

/* Reads a quoted, escaped byte string into out (room for `cap` bytes);
 * returns its length. */
static int read_quoted(LineCursor *c, unsigned char *out, int cap) {
    skip_blanks(c);
    if (*c->p != '"') die("%s:%d: expected the token's bytes in double quotes, found '%.20s'", c->path, c->line, c->p);
    c->p++;
    int n = 0;
    while (*c->p != '"') {
        if (*c->p == '\0') die("%s:%d: the quoted bytes have no closing '\"'", c->path, c->line);
        if (n == cap) die("%s:%d: the quoted bytes are longer than %d", c->path, c->line, cap);
        char ch = *c->p++;
        if (ch != '\\') { out[n++] = (unsigned char)ch; continue; }
        char e = *c->p++;
        switch (e) {
        case '"': out[n++] = '"'; break;
        case '\\': out[n++] = '\\'; break;
        case 'n': out[n++] = '\n'; break;
        case 't': out[n++] = '\t'; break;
        case 'r': out[n++] = '\r'; break;
        case 'x': {
            int hi = hex_value(c->p[0]), lo = hi < 0 ? -1 : hex_value(c->p[1]);
            if (hi < 0 || lo < 0) die("%s:%d: '\\x' must be followed by two hex digits", c->path, c->line);
            out[n++] = (unsigned char)(hi * 16 + lo);
            c->p += 2;
            break;
        }
        default: die("%s:%d: unknown escape '\\%c' (known: \\\" \\\\ \\n \\t \\r \\xNN)", c->path, c->line, e ? e : '0');
        }
    }
    c->p++;
    return n;
}

/* Dies unless only blanks are left on the line. */
static void expect_end(LineCursor *c) {
    skip_blanks(c);
    if (*c->p != '\0') die("%s:%d: unexpected '%.20s' at the end of the line", c->path, c->line, c->p);
}

/* Parses the header line; returns the number of merges it announces. */
static int read_merges_header(LineCursor *c) {
    const char *start = c->p;
    if (strncmp(start, MERGES_MAGIC " ", strlen(MERGES_MAGIC) + 1) != 0) {
        die("%s:1: not a gptladder merges file (it should start with '%s version %d')", c->path,
            MERGES_MAGIC, MERGES_VERSION);
    }
    expect_word(c, MERGES_MAGIC);
    expect_word(c, "version");
    long version = read_long(c, "the version", 0, INT_MAX);
    if (version != MERGES_VERSION) die("%s:1: merges file version %ld, this program reads version %d", c->path, version, MERGES_VERSION);
    expect_word(c, "vocab_size");
    long vocab = read_long(c, "the vocabulary size", TOK_NBYTES + TOK_NSPECIAL, TOK_MAX_VOCAB);
    expect_word(c, "merges");
    long nmerges = read_long(c, "the number of merges", 0, TOK_MAX_VOCAB - TOK_NBYTES - TOK_NSPECIAL);
    expect_word(c, "special");
    long nspecial = read_long(c, "the number of special tokens", 0, INT_MAX);
    expect_end(c);
    if (nspecial != TOK_NSPECIAL) die("%s:1: %ld special tokens, this program has %d", c->path, nspecial, TOK_NSPECIAL);
    if (vocab != TOK_NBYTES + nmerges + TOK_NSPECIAL) {
        die("%s:1: vocab_size %ld is not %d bytes + %ld merges + %d special tokens", c->path, vocab,
            TOK_NBYTES, nmerges, TOK_NSPECIAL);
    }
    return (int)nmerges;
}

/* Parses one merge line and adds the merge to t. */
static void read_merge_line(Tokenizer *t, LineCursor *c, int declared) {
    if (t->nmerges == declared) die("%s:%d: more merges than the %d the header announces", c->path, c->line, declared);
    int want_id = TOK_NBYTES + t->nmerges;
    long id = read_long(c, "the token id", 0, INT_MAX);
    if (id != want_id) die("%s:%d: expected token id %d (merges are numbered in order), found %ld", c->path, c->line, want_id, id);
    int left = (int)read_long(c, "the left parent id", 0, id - 1);
    int right = (int)read_long(c, "the right parent id", 0, id - 1);
    unsigned char bytes[TOK_MAX_TOKEN_BYTES];
    int n = read_quoted(c, bytes, TOK_MAX_TOKEN_BYTES);
    long count = read_long(c, "the pair count", 0, LONG_MAX);
    expect_end(c);
    long earlier = pairmap_get(t->ranks, left, right);
    if (earlier >= 0) die("%s:%d: the pair %d %d was already merged into token %ld", c->path, c->line, left, right, TOK_NBYTES + earlier);
    int nl = token_len(t, left), nr = token_len(t, right);
    if (nl + nr > TOK_MAX_TOKEN_BYTES) {
        die("%s:%d: the token would be %d bytes, more than the %d llm.c's table can hold", c->path, c->line, nl + nr, TOK_MAX_TOKEN_BYTES);
    }
    vocab_add_merge(t, left, right, count);
    int got_len;
    const unsigned char *got = tokenizer_token_bytes(t, (int)id, &got_len);
    if (got_len != n || memcmp(got, bytes, (size_t)n) != 0) {
        die("%s:%d: the quoted bytes do not spell token %d followed by token %d", c->path, c->line, left, right);
    }
}

void tokenizer_load(Tokenizer *t, const char *path) {
    size_t len;
    char *buf = read_file_or_die(path, &len);
    if (memchr(buf, '\0', len)) die("%s contains a NUL byte: not a merges file", path);
    LineCursor c = {.p = buf, .path = path, .line = 0};
    int declared = -1;
    char *p = buf, *end = buf + len;
    while (p < end) {
        char *nl = memchr(p, '\n', (size_t)(end - p));
        char *line_end = nl ? nl : end;
        *line_end = '\0';
        if (line_end > p && line_end[-1] == '\r') line_end[-1] = '\0';
        c.p = p;
        c.line++;
        p = nl ? nl + 1 : end;
        if (c.line == 1) {
            declared = read_merges_header(&c);
            vocab_begin(t, declared);
            continue;
        }
        skip_blanks(&c);
        if (*c.p == '\0' || *c.p == '#') continue;  /* blank or comment */
        read_merge_line(t, &c, declared);
    }
    if (declared < 0) die("%s is empty: not a merges file", path);
    if (t->nmerges != declared) die("%s: the header announces %d merges, the file has %d", path, declared, t->nmerges);
    free(buf);
    vocab_finish(t);
}

/* ---- the llm.c decode table ---- */

void tokenizer_save_llmc(const Tokenizer *t, const char *path) {
    int32_t header[TOKENS_HEADER_INTS] = {0};
    header[0] = LLMC_TOKENIZER_MAGIC;
    header[1] = LLMC_TOKENIZER_VERSION;
    header[2] = t->vocab_size;
    header[3] = tokenizer_special_id(t, TOK_EOT);
    AtomicFile af;
    atomic_open(&af, path);
    fwrite_or_die(header, sizeof header, 1, af.f, af.tmp);
    for (int id = 0; id < t->vocab_size; id++) {
        int n;
        const unsigned char *b = tokenizer_token_bytes(t, id, &n);
        unsigned char len8 = (unsigned char)n;  /* 1..TOK_MAX_TOKEN_BYTES by construction */
        fwrite_or_die(&len8, 1, 1, af.f, af.tmp);
        fwrite_or_die(b, 1, (size_t)n, af.f, af.tmp);
    }
    atomic_commit(&af);
}

/* ---- token files ---- */

/* Writes the file, recording `id` (0: unknown) in the header. */
static void tokens_write(const char *path, const int *tokens, size_t n, uint32_t id) {
    if (n > INT32_MAX) die("cannot write %s: %zu tokens do not fit in the header's int32 count", path, n);
    int32_t header[TOKENS_HEADER_INTS] = {0};
    header[0] = TOKENS_MAGIC;
    header[1] = TOKENS_VERSION;
    header[2] = (int32_t)n;
    header[TOKENS_HEADER_TOKENIZER] = (int32_t)id;
    AtomicFile af;
    atomic_open(&af, path);
    fwrite_or_die(header, sizeof header, 1, af.f, af.tmp);
    uint16_t chunk[TOKENS_WRITE_CHUNK];
    for (size_t i = 0; i < n; i += TOKENS_WRITE_CHUNK) {
        size_t m = n - i < TOKENS_WRITE_CHUNK ? n - i : TOKENS_WRITE_CHUNK;
        for (size_t k = 0; k < m; k++) {
            int tok = tokens[i + k];
            if (tok < 0 || tok > UINT16_MAX) die("cannot write %s: token %d at position %zu does not fit in uint16", path, tok, i + k);
            chunk[k] = (uint16_t)tok;
        }
        fwrite_or_die(chunk, sizeof(uint16_t), m, af.f, af.tmp);
    }
    atomic_commit(&af);
}

void tokens_save(const char *path, const int *tokens, size_t n) { tokens_write(path, tokens, n, 0); }

void tokens_save_for(const Tokenizer *t, const char *path, const int *tokens, size_t n) {
    tokens_write(path, tokens, n, tokenizer_id(t));
}

/* Reads the file; with t (not NULL), refuses one that records another
 * tokenizer before looking at a single token. */
static int *tokens_read(const char *path, size_t *n, int vocab_size, const Tokenizer *t, const char *tok_path) {
    if (vocab_size < 1 || vocab_size > TOK_MAX_VOCAB) die("tokens_load: vocab_size %d is outside [1, %d]", vocab_size, TOK_MAX_VOCAB);
    FILE *f = fopen_or_die(path, "rb");
    size_t size = file_size_or_die(f, path);
    int32_t header[TOKENS_HEADER_INTS];
    if (size < sizeof header) {
        die("%s is truncated: %zu bytes, shorter than the %zu-byte header of a token file", path, size, sizeof header);
    }
    fread_or_die(header, sizeof header, 1, f, path, "the header");
    if (header[0] != TOKENS_MAGIC) {
        die("%s is not a token file: its magic number is %d, expected %d", path, header[0], TOKENS_MAGIC);
    }
    if (header[1] != TOKENS_VERSION) die("%s has token file version %d, expected %d", path, header[1], TOKENS_VERSION);
    uint32_t id = (uint32_t)header[TOKENS_HEADER_TOKENIZER];
    if (t && id != 0 && id != tokenizer_id(t)) {
        die("%s was encoded with another tokenizer (id %08x) than %s (id %08x): they do not belong together",
            path, id, tok_path, tokenizer_id(t));
    }
    if (header[2] < 0) die("%s has a negative token count %d in its header", path, header[2]);
    size_t count = (size_t)header[2];
    size_t have = size - sizeof header, want = count * sizeof(uint16_t);
    if (have < want) {
        die("%s is truncated: header says %zu tokens (%zu bytes after the header), file has %zu", path, count, want, have);
    }
    if (have > want) {
        die("%s is too long: header says %zu tokens (%zu bytes after the header), file has %zu", path, count, want, have);
    }
    uint16_t *raw = malloc_or_die(want, path);
    if (count > 0) fread_or_die(raw, sizeof(uint16_t), count, f, path, "tokens");
    fclose(f);
    int *tokens = malloc_or_die(sizeof(int) * count, path);
    for (size_t i = 0; i < count; i++) {
        if (raw[i] >= vocab_size) {
            die("%s: token %zu is %d, outside the vocabulary of %d tokens (was it encoded with another tokenizer?)",
                path, i, raw[i], vocab_size);
        }
        tokens[i] = raw[i];
    }
    free(raw);
    *n = count;
    return tokens;
}

int *tokens_load(const char *path, size_t *n, int vocab_size) { return tokens_read(path, n, vocab_size, NULL, NULL); }

int *tokens_load_for(const Tokenizer *t, const char *tok_path, const char *path, size_t *n) {
    return tokens_read(path, n, t->vocab_size, t, tok_path);
}

/* ---- identity ---- */

uint32_t tokenizer_id(const Tokenizer *t) {
    uint32_t h = 2166136261u;  /* FNV-1a, over the ints that define the tokenizer */
    int n = 2 + 2 * t->nmerges;
    for (int i = 0; i < n; i++) {
        int v = i == 0 ? t->vocab_size : i == 1 ? t->nmerges : t->merges[i - 2];
        for (int b = 0; b < 4; b++) {
            h ^= (uint32_t)((unsigned)v >> (8 * b)) & 0xffu;
            h *= 16777619u;
        }
    }
    return h ? h : 1;
}
