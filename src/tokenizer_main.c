/* tokenizer_main.c — the `tokenizer` program (rung 0): train a byte-level BPE
 * tokenizer (GPT-2 style, Sennrich et al. 2016) on a text file, turn text into
 * an llm.c token file and back, and show what the merges learned.
 *
 *   tokenizer train   [--data data/pretrain.txt] [--vocab 512] [--out out/tokenizer]
 *   tokenizer encode  [--model out/tokenizer.merges] --data FILE.txt --out FILE.bin
 *   tokenizer decode  [--model out/tokenizer.merges] --data FILE.bin
 *   tokenizer show    [--model out/tokenizer.merges]
 *
 * The algorithm lives in tokenizer.c; this file is flags, files and printing.
 */
#include "tokenizer.h"
#include "util.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* ---- defaults ---- */

#define DEFAULT_DATA "data/pretrain.txt"
#define DEFAULT_VOCAB 512
#define DEFAULT_OUT "out/tokenizer"
#define DEFAULT_MODEL "out/tokenizer.merges"
#define SUMMARY_MERGES 12       /* how many of the first merges `train` prints */
#define SHOW_BYTES_WIDTH 16     /* column width of the quoted bytes in `show` */

static void usage(FILE *f) {
    fprintf(f,
        "usage: tokenizer COMMAND [flags]\n"
        "\n"
        "Byte-level BPE (GPT-2 style): ids 0..255 are bytes, then the learned merges,\n"
        "then %d special tokens (<|endoftext|> ...) at the top of the vocabulary.\n"
        "\n"
        "commands:\n"
        "  train    learn merges from a text file; writes OUT.merges (readable) and\n"
        "           OUT.bin (llm.c's decode table)\n"
        "  encode   turn a text file into an llm.c token file (<|endoftext|> and the\n"
        "           other special strings in the text become their tokens)\n"
        "  decode   print a token file back as text\n"
        "  show     print every token: its id, its bytes, and for a merge its parents\n"
        "\n"
        "flags:\n"
        "  --data PATH    train: text to learn from (default %s)\n"
        "                 encode: text to encode (required); decode: token file (required)\n"
        "  --vocab N      train: vocabulary size, special tokens included (default %d)\n"
        "  --out PATH     train: output prefix (default %s)\n"
        "                 encode: the token file to write (required)\n"
        "  --model PATH   encode, decode, show: the merges file (default %s)\n"
        "  --help         this text\n"
        "\n"
        "Output folders must exist (make creates out/).\n",
        TOK_NSPECIAL, DEFAULT_DATA, DEFAULT_VOCAB, DEFAULT_OUT, DEFAULT_MODEL);
}

/* ---- flags ---- */

typedef struct {
    const char *data;    /* NULL: not given */
    const char *out;
    const char *model;
    int vocab;
} Options;

enum { FLAG_DATA = 'd', FLAG_VOCAB = 'v', FLAG_OUT = 'o', FLAG_MODEL = 'm', FLAG_HELP = 'h' };

/* The long name of the flag whose getopt value is c. */
static const char *flag_name(const struct option *longopts, int c) {
    for (int i = 0; longopts[i].name; i++) {
        if (longopts[i].val == c) return longopts[i].name;
    }
    return "?";
}

/* Parses the flags after COMMAND (argv[0] is the command). `allowed` lists the
 * flag letters this command takes. Dies with one line on an unknown flag, a
 * flag the command does not take, a missing value or a stray argument;
 * prints the usage and exits 0 on --help. */
static Options parse_flags(int argc, char **argv, const char *allowed) {
    static const struct option longopts[] = {
        {"data", required_argument, NULL, FLAG_DATA},   {"vocab", required_argument, NULL, FLAG_VOCAB},
        {"out", required_argument, NULL, FLAG_OUT},     {"model", required_argument, NULL, FLAG_MODEL},
        {"help", no_argument, NULL, FLAG_HELP},         {NULL, 0, NULL, 0},
    };
    Options o = {.data = NULL, .out = NULL, .model = DEFAULT_MODEL, .vocab = DEFAULT_VOCAB};
    const char *command = argv[0];
    opterr = 0;  /* we print our own one-line errors */
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
        if (c == '?' && optopt) die("unknown flag '-%c' (see tokenizer --help)", optopt);
        if (c == '?') die("unknown flag '%s' (see tokenizer --help)", argv[optind - 1]);
        if (c == ':') die("flag '%s' needs a value (see tokenizer --help)", argv[optind - 1]);
        if (c == FLAG_HELP) { usage(stdout); exit(0); }
        if (!strchr(allowed, c)) die("'tokenizer %s' does not take --%s (see tokenizer --help)", command, flag_name(longopts, c));
        switch (c) {
        case FLAG_DATA: o.data = optarg; break;
        case FLAG_OUT: o.out = optarg; break;
        case FLAG_MODEL: o.model = optarg; break;
        case FLAG_VOCAB:
            o.vocab = (int)parse_long_flag("vocab", optarg, TOK_NBYTES + TOK_NSPECIAL, TOK_MAX_VOCAB);
            break;
        }
    }
    if (optind < argc) die("unexpected argument '%s' (see tokenizer --help)", argv[optind]);
    return o;
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

static void cmd_train(int argc, char **argv) {
    Options o = parse_flags(argc, argv, "dvo");
    const char *data = o.data ? o.data : DEFAULT_DATA;
    const char *prefix = o.out ? o.out : DEFAULT_OUT;
    size_t plen = strlen(prefix) + sizeof ".merges";
    char *merges_path = malloc_or_die(plen, "a file name");
    char *table_path = malloc_or_die(plen, "a file name");
    snprintf(merges_path, plen, "%s.merges", prefix);
    snprintf(table_path, plen, "%s.bin", prefix);
    require_folder_of(merges_path);

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
    Options o = parse_flags(argc, argv, "dom");
    if (!o.data) die("'tokenizer encode' needs --data FILE.txt (the text to encode)");
    if (!o.out) die("'tokenizer encode' needs --out FILE.bin (the token file to write)");
    require_folder_of(o.out);
    Tokenizer tok;
    tokenizer_load(&tok, o.model);
    size_t len;
    char *text = read_file_or_die(o.data, &len);
    if (len == 0) die("%s is empty: nothing to encode", o.data);
    double t0 = now_seconds();
    size_t ntok;
    int *tokens = tokenizer_encode_with_special(&tok, text, len, &ntok);
    double t1 = now_seconds();
    tokens_save(o.out, tokens, ntok);
    printf("encoded %s: %zu bytes -> %zu tokens, %.2f bytes/token, in %.2f s; wrote %s\n", o.data, len,
           ntok, (double)len / (double)(ntok ? ntok : 1), t1 - t0, o.out);
    free(tokens);
    free(text);
    tokenizer_free(&tok);
}

static void cmd_decode(int argc, char **argv) {
    Options o = parse_flags(argc, argv, "dm");
    if (!o.data) die("'tokenizer decode' needs --data FILE.bin (the token file to decode)");
    Tokenizer tok;
    tokenizer_load(&tok, o.model);
    size_t ntok, len;
    int *tokens = tokens_load(o.data, &ntok, tok.vocab_size);
    char *text = tokenizer_decode(&tok, tokens, ntok, &len);
    if (fwrite(text, 1, len, stdout) != len || fflush(stdout) != 0) die("cannot write the text to stdout");
    free(text);
    free(tokens);
    tokenizer_free(&tok);
}

static void cmd_show(int argc, char **argv) {
    Options o = parse_flags(argc, argv, "m");
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
    const char *command = argv[1];
    if (strcmp(command, "--help") == 0 || strcmp(command, "-h") == 0 || strcmp(command, "help") == 0) {
        usage(stdout);
        return 0;
    }
    /* Hand the command its own argv, starting at the command's name. */
    if (strcmp(command, "train") == 0) cmd_train(argc - 1, argv + 1);
    else if (strcmp(command, "encode") == 0) cmd_encode(argc - 1, argv + 1);
    else if (strcmp(command, "decode") == 0) cmd_decode(argc - 1, argv + 1);
    else if (strcmp(command, "show") == 0) cmd_show(argc - 1, argv + 1);
    else die("unknown command '%s': expected train, encode, decode or show (see tokenizer --help)", command);
    return 0;
}
