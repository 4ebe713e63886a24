/* tokenizer_main.c — the `tokenizer` program (rung 0): train a byte-level BPE
 * tokenizer (GPT-2 style, Sennrich et al. 2016) on a text file, turn text into
 * an llm.c token file and back, and show what the merges learned.
 *
 *   tokenizer train   [--data data/pretrain.txt] [--vocab 512] [--out out/try/tokenizer]
 *   tokenizer encode  [--model out/tokenizer.merges] --data FILE.txt --out FILE.bin
 *   tokenizer decode  [--model out/tokenizer.merges] --data FILE.bin
 *   tokenizer show    [--model out/tokenizer.merges]
 *
 * The algorithm lives in tokenizer.c; this file is flags, files and printing.
 */
#include "cli.h"
#include "tokenizer.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* ---- defaults ---- */

#define DEFAULT_DATA "data/pretrain.txt"
#define DEFAULT_VOCAB 512
#define DEFAULT_OUT TRY_DIR "/tokenizer"   /* `make data` passes --out out/tokenizer */
#define DEFAULT_MODEL "out/tokenizer.merges"
#define SUMMARY_MERGES 12       /* how many of the first merges `train` prints */
#define SHOW_BYTES_WIDTH 16     /* column width of the quoted bytes in `show` */

/* ---- flags: one table per command (cli.h) ---- */

typedef struct {
    const char *data;    /* NULL: not given */
    const char *out;
    const char *model;
    int vocab;
} Options;

enum { CMD_TRAIN, CMD_ENCODE, CMD_DECODE, CMD_SHOW, NUM_COMMANDS };
static const char *const COMMANDS[NUM_COMMANDS] = {"train", "encode", "decode", "show"};

/* Parses the flags of `tokenizer COMMAND` (argv[0] is the command); with
 * argc < 0, prints that command's help instead. */
static Options parse_flags(int command, int argc, char **argv) {
    Options o = {.data = NULL, .out = NULL, .model = DEFAULT_MODEL, .vocab = DEFAULT_VOCAB};
    if (command == CMD_TRAIN) { o.data = DEFAULT_DATA; o.out = DEFAULT_OUT; }
    const Flag model = FLAG_MODEL(&o.model, "the merges file");
    const Flag train[] = {
        FLAG_IN("data", &o.data, "text to learn from"),
        FLAG_INT("vocab", &o.vocab, TOK_NBYTES + TOK_NSPECIAL, TOK_MAX_VOCAB,
                 "vocabulary size, special tokens included", NULL),
        FLAG_TEXT("out", &o.out, "PREFIX", "writes PREFIX.merges (readable) and PREFIX" LLMC_TOKENIZER_SUFFIX
                                           " (llm.c's decode table)"),
        FLAG_END};
    const Flag encode[] = {model, FLAG_IN("data", &o.data, "the text to encode (required)"),
                           FLAG_OUT("out", &o.out, "the token file to write (required)"), FLAG_END};
    const Flag decode[] = {model, FLAG_IN("data", &o.data, "the token file to decode (required)"), FLAG_END};
    const Flag show[] = {model, FLAG_END};
    static const char *const purpose[NUM_COMMANDS] = {
        "learn merges from a text file",
        "turn a text file into an llm.c token file (<|endoftext|> and the other special\n"
        "                    strings in the text become their tokens; the file records the tokenizer)",
        "print a token file back as text (refused if it records another tokenizer)",
        "print every token: its id, its bytes, and for a merge its parents"};
    static const char *const program[NUM_COMMANDS] = {"tokenizer train", "tokenizer encode", "tokenizer decode",
                                                      "tokenizer show"};
    const Flag *const tables[NUM_COMMANDS] = {train, encode, decode, show};
    Cli cli = {program[command], purpose[command], tables[command], NULL, NULL, NULL};
    if (argc < 0) cli_help(&cli); else cli_parse(&cli, argc, argv);
    return o;
}

static void usage(void) {
    printf("usage: tokenizer COMMAND [flags]\n"
           "\n"
           "Byte-level BPE (GPT-2 style): ids 0..255 are bytes, then the learned merges,\n"
           "then %d special tokens (<|endoftext|> ...) at the top of the vocabulary.\n"
           "Output folders must exist (make creates out/; out/try/ is made on first use).\n\n",
           TOK_NSPECIAL);
    for (int c = 0; c < NUM_COMMANDS; c++) {
        parse_flags(c, -1, NULL);
        printf("\n");
    }
}

/* ---- printing tokens ---- */

/* Prints "\"bytes\"" padded to SHOW_BYTES_WIDTH columns. */
static void print_token_quoted(const Tokenizer *t, int id, int width) {
    int n;
    const unsigned char *b = tokenizer_token_bytes(t, id, &n);
    putchar('"');
    int w = 2 + tokenizer_print_escaped(stdout, b, (size_t)n);
    putchar('"');
    if (w < width) printf("%*s", width - w, "");
}

/* One line about token id: its bytes and where it came from. */
static void print_token_line(const Tokenizer *t, int id) {
    printf("%6d  ", id);
    print_token_quoted(t, id, SHOW_BYTES_WIDTH);
    if (id < TOK_NBYTES) {
        printf("  byte 0x%02x\n", id);
    } else if (id < TOK_NBYTES + t->nmerges) {
        int r = id - TOK_NBYTES, left = t->merges[2 * r], right = t->merges[2 * r + 1];
        printf("  = %d ", left);
        print_token_quoted(t, left, 0);
        printf(" + %d ", right);
        print_token_quoted(t, right, 0);
        printf("  (pair seen %ld times)\n", t->merge_count[r]);
    } else {
        printf("  special token\n");
    }
}

/* ---- the commands ---- */

/* PREFIX + suffix (malloc'd), proven writable before any work, and not the
 * text being read. */
static char *output_path(const char *prefix, const char *suffix, const char *data) {
    size_t n = strlen(prefix) + strlen(suffix) + 1;
    char *path = malloc_or_die(n, "a file name");
    snprintf(path, n, "%s%s", prefix, suffix);
    if (strncmp(path, TRY_DIR "/", strlen(TRY_DIR) + 1) == 0) make_folder(TRY_DIR);
    require_writable(path);
    if (same_file(path, data)) die("--out %s would overwrite --data %s (see tokenizer train --help)", prefix, data);
    return path;
}

static void cmd_train(int argc, char **argv) {
    Options o = parse_flags(CMD_TRAIN, argc, argv);
    const char *data = o.data, *prefix = o.out;
    char *merges_path = output_path(prefix, ".merges", data);
    char *table_path = output_path(prefix, LLMC_TOKENIZER_SUFFIX, data);

    size_t len;
    char *text = read_file_or_die(data, &len);
    if (len == 0) die("%s is empty: nothing to train on", data);
    double t0 = now_seconds();
    Tokenizer tok;
    tokenizer_train(&tok, text, len, o.vocab);
    double t1 = now_seconds();
    printf("learned %d merges from %s (%zu bytes) in %.2f s\n", tok.nmerges, data, len, t1 - t0);
    if (tok.vocab_size < o.vocab) {
        printf("note: the text ran out of pairs to merge (nearly every word is one token): "
               "the vocabulary has %d tokens, not the %d asked for\n", tok.vocab_size, o.vocab);
    }
    printf("vocabulary: %d tokens = %d bytes + %d merges + %d special tokens (ids %d..%d)\n",
           tok.vocab_size, TOK_NBYTES, tok.nmerges, TOK_NSPECIAL,
           tokenizer_special_id(&tok, 0), tok.vocab_size - 1);
    int shown = tok.nmerges < SUMMARY_MERGES ? tok.nmerges : SUMMARY_MERGES;
    if (shown > 0) printf("the first merges (the most frequent pairs):\n");
    for (int r = 0; r < shown; r++) print_token_line(&tok, TOK_NBYTES + r);

    size_t ntok;
    int *tokens = tokenizer_encode_with_special(&tok, text, len, &ntok);
    double t2 = now_seconds();
    printf("compression on %s: %zu bytes -> %zu tokens, %.2f bytes/token (encoded in %.2f s)\n",
           data, len, ntok, (double)len / (double)(ntok ? ntok : 1), t2 - t1);

    tokenizer_save_merges(&tok, merges_path);
    tokenizer_save_llmc(&tok, table_path);
    printf("wrote %s (the merges, readable) and %s (llm.c's decode table)\n", merges_path, table_path);
    free(tokens);
    free(text);
    free(merges_path);
    free(table_path);
    tokenizer_free(&tok);
}

static void cmd_encode(int argc, char **argv) {
    Options o = parse_flags(CMD_ENCODE, argc, argv);
    if (!o.data) die("'tokenizer encode' needs --data FILE.txt (the text to encode)");
    if (!o.out) die("'tokenizer encode' needs --out FILE.bin (the token file to write)");
    Tokenizer tok;
    tokenizer_load(&tok, o.model);
    size_t len;
    char *text = read_file_or_die(o.data, &len);
    if (len == 0) die("%s is empty: nothing to encode", o.data);
    double t0 = now_seconds();
    size_t ntok;
    int *tokens = tokenizer_encode_with_special(&tok, text, len, &ntok);
    double t1 = now_seconds();
    tokens_save_for(&tok, o.out, tokens, ntok);  /* the file records its tokenizer */
    printf("encoded %s: %zu bytes -> %zu tokens, %.2f bytes/token, in %.2f s; wrote %s\n", o.data, len,
           ntok, (double)len / (double)(ntok ? ntok : 1), t1 - t0, o.out);
    free(tokens);
    free(text);
    tokenizer_free(&tok);
}

static void cmd_decode(int argc, char **argv) {
    Options o = parse_flags(CMD_DECODE, argc, argv);
    if (!o.data) die("'tokenizer decode' needs --data FILE.bin (the token file to decode)");
    Tokenizer tok;
    tokenizer_load(&tok, o.model);
    size_t ntok, len;
    int *tokens = tokens_load_for(&tok, o.model, o.data, &ntok);
    char *text = tokenizer_decode(&tok, tokens, ntok, &len);
    if (fwrite(text, 1, len, stdout) != len || fflush(stdout) != 0) die("cannot write the text to stdout");
    free(text);
    free(tokens);
    tokenizer_free(&tok);
}

static void cmd_show(int argc, char **argv) {
    Options o = parse_flags(CMD_SHOW, argc, argv);
    Tokenizer tok;
    tokenizer_load(&tok, o.model);
    printf("%s: %d tokens = %d bytes + %d merges + %d special tokens\n", o.model, tok.vocab_size,
           TOK_NBYTES, tok.nmerges, TOK_NSPECIAL);
    printf("%6s  %-*s  %s\n", "id", SHOW_BYTES_WIDTH, "bytes", "made of");
    for (int id = 0; id < tok.vocab_size; id++) print_token_line(&tok, id);
    tokenizer_free(&tok);
}

/* ---- main ---- */

int main(int argc, char **argv) {
    if (argc < 2) die("missing command: train, encode, decode or show (see tokenizer --help)");
    if (strcmp(argv[1], "help") == 0) argv[1] = "--help";
    int command = cli_command(argc, argv, "tokenizer", COMMANDS, NUM_COMMANDS);
    if (command < 0) {
        usage();
        return 0;
    }
    /* Hand the command its own argv, starting at the command's name. */
    static void (*const run[NUM_COMMANDS])(int, char **) = {cmd_train, cmd_encode, cmd_decode, cmd_show};
    run[command](argc - 1, argv + 1);
    return 0;
}
