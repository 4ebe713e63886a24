/* tokenizer.h — byte-level BPE, the way GPT-2 does it (Radford et al. 2019,
 * section 2.2), on top of the byte-pair encoding of Sennrich et al. (2016).
 *
 * The vocabulary has three parts, always in this order:
 *
 *   ids 0 .. 255                       the 256 bytes: any input can be encoded
 *   ids 256 .. 256+nmerges-1           one token per learned merge, in rank order
 *   ids V-TOK_NSPECIAL .. V-1          the special tokens (enum below), at the top
 *
 * Training repeatedly merges the most frequent adjacent pair of tokens into a
 * new token (ties go to the smallest (left id, right id)), until the vocabulary
 * reaches its chosen size V (special tokens included) or no pair is left.
 * Encoding applies the merges in rank order. Decoding concatenates each
 * token's bytes, so any token sequence decodes (possibly to invalid UTF-8,
 * if it cuts a character in half: the bytes come out as they are).
 *
 * Pre-splitting. Merges never cross a word boundary. The text is first cut
 * into words by these rules (GPT-2's regex, simplified to ASCII classes):
 *
 *   letters      an optional single leading space, then a run of letters
 *                (A-Z, a-z, and every byte >= 0x80, so UTF-8 words stay whole)
 *   digits       an optional single leading space, then ONE digit: every digit
 *                is its own word, so numbers are always single-digit tokens
 *                (LLaMA splits numbers into digits too; the toy world's
 *                arithmetic needs it)
 *   punctuation  an optional single leading space, then a run of bytes that
 *                are none of the above and not whitespace
 *   whitespace   a run of spaces, tabs, newlines (\t \n \v \f \r and ' '),
 *                except that a space right before a non-space byte is left
 *                for that next word (" hello" is one word, as in GPT-2)
 *
 * GPT-2's special cases for English contractions ('s 't 're ...) are left
 * out: an apostrophe is punctuation.
 *
 * Special tokens are never produced by merging ordinary text: plain encode
 * (tokenizer_encode) treats "<|endoftext|>" in the text as 13 ordinary bytes,
 * and those bytes span three words, so no merge can rebuild them. Only
 * tokenizer_encode_with_special turns the exact strings into their ids.
 * Training skips the special strings in its text (so that documents joined by
 * "<|endoftext|>" do not waste merges on them).
 *
 * Files (formats in detail at the save functions below):
 *   PREFIX.merges  the tokenizer itself, readable text, one merge per line
 *   PREFIX.llmc-tokenizer.bin  a decode table in llm.c's tokenizer layout
 *                  (llm.c's gpt2_tokenizer.bin), so llm.c can print our tokens;
 *                  its own name, so that no token file PREFIX.bin replaces it
 *   X.bin          token files in llm.c's layout (uint16 tokens)
 * All binary files are little-endian, like llm.c's (we assume the host is).
 */
#ifndef GPTLADDER_TOKENIZER_H
#define GPTLADDER_TOKENIZER_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* ---- the vocabulary's fixed parts ---- */

#define TOK_NBYTES 256            /* ids 0..255 are the bytes */
#define TOK_MAX_VOCAB 65536       /* token files hold uint16 ids */
#define TOK_MAX_TOKEN_BYTES 255   /* llm.c's decode table stores a uint8 length */

/* The special tokens, in vocabulary order. Their ids are
 * V - TOK_NSPECIAL + k; ask tokenizer_special_id rather than computing it. */
enum {
    TOK_EOT,       /* "<|endoftext|>"  separates documents in the pretraining corpus */
    TOK_START,     /* "<|start|>"      GPT-1's input transformation: start ... */
    TOK_DELIM,     /* "<|delim|>"      ... delimiter between the parts ... */
    TOK_EXTRACT,   /* "<|extract|>"    ... extract: the classifier reads here */
    TOK_PROMPT,    /* "<|prompt|>"     SFT/chat: a user turn begins */
    TOK_ANSWER,    /* "<|answer|>"     SFT/chat: the model's turn begins */
    TOK_NSPECIAL
};

/* The text of special token k (TOK_EOT .. TOK_ANSWER), e.g. "<|endoftext|>". */
const char *tokenizer_special_string(int k);

/* ---- the tokenizer ---- */

typedef struct PairMap PairMap;       /* (left id, right id) -> a number; private */
typedef struct WordTable WordTable;   /* word bytes -> its tokens; private */

typedef struct {
    int vocab_size;       /* V = TOK_NBYTES + nmerges + TOK_NSPECIAL */
    int nmerges;
    int *merges;          /* (nmerges, 2): merge r joins tokens merges[2r], merges[2r+1]
                             into token TOK_NBYTES + r */
    long *merge_count;    /* (nmerges) how often merge r's pair occurred in the
                             training words when it was chosen (informative only) */
    int *tok_start;       /* (V+1) token i's bytes are tok_bytes[tok_start[i] .. tok_start[i+1]) */
    unsigned char *tok_bytes;
    PairMap *ranks;       /* for encoding: (left, right) -> its merge rank */
    WordTable *cache;     /* for encoding: words seen before and their tokens */
} Tokenizer;

/* Learns merges from text[0..len) until the vocabulary has vocab_size tokens
 * (specials included; vocab_size in [TOK_NBYTES + TOK_NSPECIAL, TOK_MAX_VOCAB])
 * or until no adjacent pair is left in any word; in that case the vocabulary
 * is smaller than asked, and t->vocab_size says how big it is. A pair whose
 * token would be longer than TOK_MAX_TOKEN_BYTES is never merged. Deterministic:
 * the same text and size give the same merges. Dies on a bad vocab_size, an
 * empty text, or a text of nothing but special tokens. Free with
 * tokenizer_free. */
void tokenizer_train(Tokenizer *t, const char *text, size_t len, int vocab_size);

/* Loads a PREFIX.merges file written by tokenizer_save_merges, checking every
 * line; a bad line dies with "PATH:LINE: <what is wrong>". Free with
 * tokenizer_free. */
void tokenizer_load(Tokenizer *t, const char *path);

/* Frees everything t owns and zeroes it. */
void tokenizer_free(Tokenizer *t);

/* ---- encode and decode ---- */

/* Encodes text[0..len) (any bytes, NULs included) into tokens; special-token
 * strings in the text are ordinary bytes. Returns a malloc'd array the caller
 * frees, and its length in *ntokens (0 for an empty text; never more than len).
 * Not thread-safe: it remembers the words it has seen in t->cache. */
int *tokenizer_encode(Tokenizer *t, const char *text, size_t len, size_t *ntokens);

/* Like tokenizer_encode, but every exact occurrence of a special-token string
 * ("<|endoftext|>", ...) becomes that token's id. The text between them is
 * encoded as by tokenizer_encode. */
int *tokenizer_encode_with_special(Tokenizer *t, const char *text, size_t len, size_t *ntokens);

/* Decodes tokens[0..n) into a malloc'd buffer of bytes, NUL-terminated for
 * convenience (the NUL is not counted in *len; the bytes may contain NULs and
 * invalid UTF-8). Special tokens decode to their strings. Dies if a token is
 * outside [0, V). */
char *tokenizer_decode(const Tokenizer *t, const int *tokens, size_t n, size_t *len);

/* The bytes of token id (not NUL-terminated), their count in *len. Dies if id
 * is outside [0, V). For printing tokens one at a time, as a sampler does. */
const unsigned char *tokenizer_token_bytes(const Tokenizer *t, int id, int *len);

/* The id of special token k (TOK_EOT .. TOK_ANSWER) in this vocabulary. */
int tokenizer_special_id(const Tokenizer *t, int k);

/* A 32-bit identity of the tokenizer (FNV-1a over its vocabulary size and
 * merges; never 0): checkpoints and token files record it, so that a model is
 * never paired with a tokenizer it was not trained with. */
uint32_t tokenizer_id(const Tokenizer *t);

/* Writes bytes[0..n) to f as a C-like string body: printable ASCII as is,
 * \" \\ \n \t \r, and \xNN for every other byte. Used by the merges file and
 * by `tokenizer show`. Returns the number of characters written. */
int tokenizer_print_escaped(FILE *f, const unsigned char *bytes, size_t n);

/* ---- save ---- */

/* Writes the merges file (atomically), a text file a learner can read:
 *
 *   gptladder-bpe version 1 vocab_size 512 merges 250 special 6
 *   # ... comment lines, starting with '#', explain the columns ...
 *   256 32 116 " t" 51234
 *   257 104 101 "he" 40012
 *   ...
 *
 * One line per merge in rank order: the new token's id (256 + rank), its left
 * and right parent ids, its bytes quoted and escaped (tokenizer_print_escaped),
 * and how often the pair occurred when it was learned. The loader checks that
 * the ids run in order, the parents exist, and the quoted bytes are exactly
 * the parents' bytes joined. The special tokens follow as comments. */
void tokenizer_save_merges(const Tokenizer *t, const char *path);

/* Writes the decode table in llm.c's tokenizer layout (atomically): a header of
 * 256 int32 {20240328 magic, 2 version, V vocab size, end-of-text id, 0...},
 * then for each token id 0..V-1 a uint8 length and that many bytes. */
void tokenizer_save_llmc(const Tokenizer *t, const char *path);

#define LLMC_TOKENIZER_SUFFIX ".llmc-tokenizer.bin"   /* `tokenizer train --out PREFIX` writes PREFIX + this */
#define LLMC_TOKENIZER_MAGIC 20240328
#define LLMC_TOKENIZER_VERSION 2

/* ---- token files (llm.c's data layout) ---- */

/* A header of 256 int32 {20240520 magic, 1 version, token count, tokenizer
 * id, 0...}, then the tokens as uint16. llm.c reads only the first three
 * slots; slot 3 records tokenizer_id of the tokenizer that wrote the file
 * (0: unknown, as in llm.c's own files and our older ones). */
#define TOKENS_MAGIC 20240520
#define TOKENS_VERSION 1
#define TOKENS_HEADER_INTS 256
#define TOKENS_HEADER_TOKENIZER 3

/* Writes tokens[0..n) to path (atomically), recording tokenizer_id(t)
 * (tokens_save_for) or none (tokens_save). Dies if a token does not fit in
 * uint16 or n does not fit in the header's int32. */
void tokens_save_for(const Tokenizer *t, const char *path, const int *tokens, size_t n);
void tokens_save(const char *path, const int *tokens, size_t n);

/* Reads a token file, checking the magic, the version, that the file is
 * exactly header + 2 * count bytes, and that every token is below vocab_size;
 * any problem dies with one line naming the file and the problem. Returns a
 * malloc'd array of *n tokens that the caller frees. */
int *tokens_load(const char *path, size_t *n, int vocab_size);

/* The same for the tokenizer t (read from tok_path, for the message): a file
 * that records another tokenizer is refused in one line, before its tokens
 * are looked at; one that records none is read as tokens_load reads it. */
int *tokens_load_for(const Tokenizer *t, const char *tok_path, const char *path, size_t *n);

#endif
