/* chat.c — rung 7: ChatGPT, "Introducing ChatGPT" (OpenAI, November 2022):
 *
 *   "We trained this model using Reinforcement Learning from Human Feedback
 *    (RLHF), using the same methods as InstructGPT, but with slight
 *    differences in the data collection setup. [...] The dialogue format
 *    makes it possible for ChatGPT to answer followup questions [...]"
 *
 * What is left to build once a model follows instructions is the loop
 * around it: read what the user types, put it in the chat format the SFT,
 * reward and PPO rungs share (instruct.h), let the model write its turn one
 * token at a time, and keep the whole conversation as the context of the
 * next turn:
 *
 *   <|prompt|> q : where is the owl ? <|answer|> a : it is in the barn .<|endoftext|>
 *   <|prompt|> q : what colour is it ? <|answer|> a : ...
 *
 * The model sees only its last maxT tokens, so when the conversation
 * outgrows the window the oldest turns are dropped, whole, and the program
 * says so (fit_window). Any checkpoint of the ladder can talk: the
 * pretrained model (gpt1.bin, which has never seen the markers), the SFT
 * model and the PPO policy. `chat --compare A B` answers every line with two
 * checkpoints, one after the other, so the effect of a rung is visible
 * (SFT against PPO; PPO against the beta = 0 policy that hacked its reward).
 *
 * The reply is sampled by gpt_sampler_run (temperature, top-k), through the
 * key/value cache: the conversation goes through the model once, then each
 * new token through one row of each block. Its token callback prints every
 * token the moment it is drawn.
 *
 * `chat --plain` drops the chat format: each line is continued as plain text,
 * on its own (a model trained on one's own text has never seen the markers).
 * The tokenizer is the one the checkpoint records (find_tokenizer) unless
 * --tokenizer names one.
 *
 * Left out: a system prompt, ChatGPT's moderation, any memory beyond the
 * window. The model's knowledge is the toy world's (data/README.md): ask
 * "what colour is the fox ?" or "where is the owl ?".
 */
#include "cli.h"
#include "gpt.h"
#include "instruct.h"
#include "tokenizer.h"
#include "util.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- options ---- */

typedef struct {
    const char *tokenizer, *model, *compare_a, *compare_b;
    float temperature;
    int top_k, max_reply, seed, threads, history, plain;
} Options;

#define DEFAULT_TOKENIZER "out/tokenizer.merges"

static Options defaults(void) {
    Options o = {0};
    o.tokenizer = NULL;  /* the one the checkpoint records (find_tokenizer) */
    o.model = "out/ppo.bin";
    o.temperature = 0.7f;
    o.top_k = 20;
    o.max_reply = CHAT_MAX_ANSWER;
    o.seed = 1;
    o.history = 1;
    /* one thread: a reply runs one sequence through the model, too little work
     * per op to share, and on a busy machine OpenMP's waiting threads made a
     * reply 20x slower than one thread does */
    o.threads = 1;
    return o;
}

/* ---- a speaker: one checkpoint and its side of the conversation ---- */

typedef struct {
    const char *path;
    char label[32];   /* "ppo" for out/ppo.bin: what the transcript calls it */
    GPT m;
    GPTSampler sampler;  /* the key/value cache and weight copies, made once */
    int *ctx;         /* (maxT) the conversation so far: whole turns, oldest first */
    int len;
    int *turn_len;    /* (maxT) the length of each turn kept in ctx */
    int nturns;
} Speaker;

/* Dies with a message a user can act on if the checkpoint is missing. */
static void require_checkpoint(const char *path) {
    if (access(path, R_OK) != 0) {
        die("cannot read the checkpoint %s: %s (make run trains the ladder's models into out/; or pass --model)",
            path, strerror(errno));
    }
}

/* Loads a checkpoint to talk to, with a message a user can act on if it is
 * missing or belongs to another tokenizer. */
static void speaker_load(Speaker *s, const char *path, const Tokenizer *tok, const char *tok_path) {
    memset(s, 0, sizeof *s);
    s->path = path;
    require_checkpoint(path);
    gpt_load(&s->m, path);
    gpt_check_tokenizer(&s->m, path, tok, tok_path);
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    size_t n = strcspn(base, ".");
    if (n >= sizeof s->label) n = sizeof s->label - 1;
    memcpy(s->label, base, n);
    s->label[n] = '\0';
    s->ctx = malloc_or_die(sizeof(int) * (size_t)s->m.config.maxT, "the conversation");
    s->turn_len = malloc_or_die(sizeof(int) * (size_t)s->m.config.maxT, "the turn lengths");
    gpt_sampler_init(&s->sampler, &s->m);
}

static void speaker_free(Speaker *s) {
    free(s->ctx);
    free(s->turn_len);
    gpt_sampler_free(&s->sampler);
    gpt_free(&s->m);
}

/* Forgets the conversation. */
static void speaker_reset(Speaker *s) {
    s->len = 0;
    s->nturns = 0;
}

/* ---- the context window ---- */

/* Drops the oldest turns until `need` more tokens fit in the window after
 * the conversation. Returns how many turns it dropped. */
static int fit_window(Speaker *s, int need) {
    int dropped = 0, maxT = s->m.config.maxT;
    while (s->nturns > 0 && s->len + need > maxT) {
        int first = s->turn_len[0];
        memmove(s->ctx, s->ctx + first, sizeof(int) * (size_t)(s->len - first));
        memmove(s->turn_len, s->turn_len + 1, sizeof(int) * (size_t)(s->nturns - 1));
        s->len -= first;
        s->nturns--;
        dropped++;
    }
    return dropped;
}

/* ---- one turn ---- */

/* Prints a token's bytes; control bytes (a newline, a NUL from an untrained
 * model) are written as \n or \xNN so that a reply stays on one line and a
 * transcript stays text. */
static void print_token(FILE *out, const unsigned char *bytes, int n) {
    for (int i = 0; i < n; i++) {
        unsigned char b = bytes[i];
        if (b == '\n') fputs("\\n", out);
        else if (b < 0x20 || b == 0x7f) fprintf(out, "\\x%02x", b);
        else fputc(b, out);
    }
}

/* The reply as it streams: gpt_sampler_run calls show_token with each token
 * the moment it is drawn. */
typedef struct {
    const Tokenizer *tok;
    FILE *out;
    int eot, shown;
} Stream;

static int show_token(void *ctx, int token) {
    Stream *st = ctx;
    if (token == st->eot) return 0;  /* the end of the reply (sampling stops there): not printed */
    int nb;
    const unsigned char *bytes = tokenizer_token_bytes(st->tok, token, &nb);
    if (st->shown++ == 0 && nb > 0 && bytes[0] == ' ') { bytes++; nb--; }  /* " it": the label has the space */
    print_token(st->out, bytes, nb);
    fflush(st->out);
    return 0;
}

/* --plain: the line as plain text, after an end-of-text (where every
 * document of the pretraining text starts); no markers. */
static Chat plain_context(Tokenizer *tok, const char *line) {
    size_t n;
    int *t = tokenizer_encode(tok, line, strlen(line), &n);
    Chat c = {malloc_or_die(sizeof(int) * (n + 1), "the text"), (int)n + 1, (int)n + 1};
    c.tokens[0] = tokenizer_special_id(tok, TOK_EOT);
    memcpy(c.tokens + 1, t, sizeof(int) * n);
    free(t);
    return c;
}

/* The speaker's answer to `line`: formats it in the chat format after the
 * conversation so far, samples the reply token by token (printing each one
 * to `out` as it comes), and keeps the whole turn — closed with end-of-text
 * — in the conversation. Returns 0, or -1 if the line cannot fit the window
 * even alone (nothing is kept then). */
static int speaker_turn(Speaker *s, Tokenizer *tok, const char *line, const Options *o, Rng *rng, FILE *out) {
    const GPTConfig *c = &s->m.config;
    int eot = tokenizer_special_id(tok, TOK_EOT);
    Chat q = o->plain ? plain_context(tok, line) : chat_encode_prompt(tok, line);
    int need = q.len + o->max_reply + 1;  /* the prompt, the reply, its end-of-text */
    if (need > c->maxT) {
        fprintf(out, "%s> (your message is %d tokens: with room for a %d-token reply it does not fit my "
                     "%d-token context; say less)\n", s->label, q.len, o->max_reply, c->maxT);
        chat_free(&q);
        return -1;
    }
    if (!o->history || o->plain) speaker_reset(s);
    int dropped = fit_window(s, need);
    if (dropped > 0) {
        fprintf(out, "%s> (the conversation outgrew my %d-token context: I forgot the oldest %d turn%s)\n",
                s->label, c->maxT, dropped, dropped > 1 ? "s" : "");
    }
    int start = s->len;
    memcpy(s->ctx + s->len, q.tokens, sizeof(int) * (size_t)q.len);
    s->len += q.len;
    fprintf(out, "%s> %s", s->label, o->plain ? line : "");  /* --plain: the text, then its continuation */
    fflush(out);
    /* the reply goes straight after the prompt in ctx; the window has room
     * for it and its end-of-text (fit_window above) */
    Stream st = {tok, out, eot, o->plain};  /* a continuation keeps its first space */
    int n = gpt_sampler_run(&s->sampler, s->ctx, s->len, s->ctx + s->len, o->max_reply, eot, o->temperature,
                            o->top_k, rng, show_token, &st);
    int ended = n > 0 && s->ctx[s->len + n - 1] == eot;
    s->len += ended ? n - 1 : n;
    if (!ended) fprintf(out, " [cut: no end-of-text after %d tokens]", o->max_reply);
    fputc('\n', out);
    s->ctx[s->len++] = eot;  /* the turn is closed even if the model did not close it */
    s->turn_len[s->nturns++] = s->len - start;
    chat_free(&q);
    return 0;
}

/* ---- the tokenizer the checkpoint records ---- */

/* The tokenizer id and vocabulary a checkpoint's header records (slots
 * GPT_HEADER_TOKENIZER and 3), without loading it; 0 when it records none
 * or is not a checkpoint (gpt_load then says what is wrong with it). */
static uint32_t recorded_tokenizer(const char *path, int *V) {
    int32_t h[GPT_HEADER_INTS];
    FILE *f = fopen_or_die(path, "rb");
    int ok = fread(h, sizeof h, 1, f) == 1 && h[0] == GPT_MAGIC;
    fclose(f);
    *V = ok ? h[3] : 0;
    return ok ? (uint32_t)h[GPT_HEADER_TOKENIZER] : 0;
}

/* 1 if the merges file at path is the tokenizer `id` of V tokens. The
 * header line is read first, so that only a file of the right size is
 * loaded whole. */
static int merges_is(const char *path, uint32_t id, int V) {
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISREG(st.st_mode)) return 0;  /* (a FIFO would block the open) */
    FILE *f = fopen(path, "r");
    int vocab = 0;
    if (!f) return 0;
    int ok = fscanf(f, "gptladder-bpe version %*d vocab_size %d", &vocab) == 1 && vocab == V;
    fclose(f);
    if (!ok) return 0;
    Tokenizer t;
    tokenizer_load(&t, path);
    ok = tokenizer_id(&t) == id;
    tokenizer_free(&t);
    return ok;
}

static int is_merges_file(const struct dirent *e) {
    size_t n = strlen(e->d_name);
    return n > 7 && strcmp(e->d_name + n - 7, ".merges") == 0;
}

/* The merges file of the tokenizer the checkpoint at model_path was trained
 * with: a *.merges beside it (in name order) with the recorded id, else
 * out/tokenizer.merges. A checkpoint that records no tokenizer (an older
 * file, or llm.c's) gets out/tokenizer.merges (gpt_check_tokenizer notes
 * it). Dies with one line naming what it tried. Returns a malloc'd path. */
static char *find_tokenizer(const char *model_path) {
    int V;
    uint32_t id = recorded_tokenizer(model_path, &V);
    if (id == 0 || V <= 0) return strdup_or_die(DEFAULT_TOKENIZER);
    const char *slash = strrchr(model_path, '/');
    char dir[1024];
    snprintf(dir, sizeof dir, "%.*s", slash ? (int)(slash - model_path) + (slash == model_path) : 1,
             slash ? model_path : ".");
    struct dirent **names;
    int n = scandir(dir, &names, is_merges_file, alphasort);
    char *found = NULL;
    for (int i = 0; i < n; i++) {
        char path[2048];
        snprintf(path, sizeof path, "%s/%s", dir, names[i]->d_name);
        if (!found && merges_is(path, id, V)) found = strdup_or_die(path);
        free(names[i]);
    }
    if (n >= 0) free(names);
    if (!found && merges_is(DEFAULT_TOKENIZER, id, V)) found = strdup_or_die(DEFAULT_TOKENIZER);
    if (!found) {
        die("%s was trained with tokenizer %08x, but none of the %d .merges files in %s nor %s is it "
            "(pass --tokenizer PATH)", model_path, id, n > 0 ? n : 0, dir, DEFAULT_TOKENIZER);
    }
    return found;
}

/* ---- main ---- */

/* The flags, as data (cli.h). --compare takes two paths: the second is
 * taken out of argv before the table parses the rest. */
static void parse_flags(Options *o, int argc, char **argv) {
    const Flag flags[] = {
        FLAG_MODEL(&o->model, "the checkpoint: out/gpt1.bin, out/sft.bin, out/ppo.bin, ..."),
        {"compare", CLI_IN, &o->compare_a, 0, 0, "two checkpoints side by side (e.g. out/sft.bin out/ppo.bin)",
         NULL, "A B"},
        FLAG_IN("tokenizer", &o->tokenizer, "tokenizer merges; none: the one the checkpoint records, "
                                            "a .merges beside it or " DEFAULT_TOKENIZER),
        FLAG_FLOAT("temperature", &o->temperature, 0, 10, "sampling temperature; 0 = greedy", NULL),
        FLAG_INT("top-k", &o->top_k, 0, 1000000, "sample among the N likeliest tokens; 0 = all", NULL),
        FLAG_INT("max-reply", &o->max_reply, 1, 100000, "tokens a reply may take", NULL),
        FLAG_OFF("no-history", &o->history, "answer every line on its own (no conversation)"),
        FLAG_ON("plain", &o->plain, "continue each line as plain text: no chat format, no history"),
        FLAG_END};
    Cli cli = {"chat", "talk to a checkpoint: one line in, one reply out (standard input until\n"
                       "                    end of file; a line /reset forgets the conversation)",
               flags, &o->seed, &o->threads, NULL};
    char **args = malloc_or_die(sizeof(char *) * (size_t)(argc + 1), "the arguments");
    int n = 0;
    for (int a = 0; a < argc; a++) {
        args[n++] = argv[a];
        if (strcmp(argv[a], "--compare") != 0) continue;
        if (a + 2 >= argc || strncmp(argv[a + 1], "--", 2) == 0 || strncmp(argv[a + 2], "--", 2) == 0) {
            die("--compare needs two checkpoints: --compare A B (see chat --help)");
        }
        args[n++] = argv[++a];
        o->compare_b = argv[++a];
    }
    args[n] = NULL;
    cli_parse(&cli, n, args);
    free(args);
}

/* Strips the newline (and a '\r', and surrounding spaces) from a line in place. */
static char *trim_line(char *s) {
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == '\r' || s[n - 1] == ' ' || s[n - 1] == '\t')) s[--n] = '\0';
    while (*s == ' ' || *s == '\t') s++;
    return s;
}

/* Who is talking, and how. */
static void print_banner(const Speaker *sp, int nspeakers, const Options *o) {
    for (int i = 0; i < nspeakers; i++) {
        const GPTConfig *c = &sp[i].m.config;
        printf("chat: %s is %s (%d layers, %d channels, a %d-token context)\n", sp[i].label, sp[i].path, c->L,
               c->C, c->maxT);
    }
    if (o->plain) {
        printf("chat: temperature %g, top-k %d, plain continuation: type the start of a text and the model "
               "goes on; end of file (Ctrl-D) quits.\n", (double)o->temperature, o->top_k);
    } else {
        printf("chat: temperature %g, top-k %d%s. Ask about the toy world (\"where is the owl ?\"); "
               "end of file (Ctrl-D) quits.\n", (double)o->temperature, o->top_k, o->history ? "" : ", no history");
    }
}

/* Reads lines from standard input until end of file; each speaker answers
 * every line in turn. */
static void converse(Speaker *sp, int nspeakers, Tokenizer *tok, const Options *o) {
    Rng rng;
    rng_seed(&rng, (uint64_t)o->seed);
    int interactive = isatty(0);
    char *buf = NULL;
    size_t cap = 0;
    for (;;) {
        if (interactive) { fputs("you> ", stdout); fflush(stdout); }
        if (getline(&buf, &cap, stdin) < 0) break;
        char *line = trim_line(buf);
        if (*line == '\0') continue;
        if (!interactive) printf("you> %s\n", line);  /* a transcript shows both sides */
        if (strcmp(line, "/reset") == 0) {
            for (int i = 0; i < nspeakers; i++) speaker_reset(&sp[i]);
            printf("(conversation forgotten)\n");
            continue;
        }
        for (int i = 0; i < nspeakers; i++) speaker_turn(&sp[i], tok, line, o, &rng, stdout);
    }
    if (ferror(stdin)) die("cannot read standard input: %s", strerror(errno));
    if (interactive) putchar('\n');
    free(buf);
}

#ifndef TESTING
int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    Options o = defaults();
    parse_flags(&o, argc, argv);
    set_threads(o.threads);
    const char *first = o.compare_a ? o.compare_a : o.model;
    require_checkpoint(first);
    char *tok_path = o.tokenizer ? strdup_or_die(o.tokenizer) : find_tokenizer(first);
    Tokenizer tok;
    tokenizer_load(&tok, tok_path);
    int nspeakers = o.compare_a ? 2 : 1;
    Speaker sp[2];
    speaker_load(&sp[0], first, &tok, tok_path);
    if (nspeakers == 2) speaker_load(&sp[1], o.compare_b, &tok, tok_path);
    if (nspeakers == 2 && strcmp(sp[0].label, sp[1].label) == 0) {
        snprintf(sp[0].label, sizeof sp[0].label, "A");
        snprintf(sp[1].label, sizeof sp[1].label, "B");
    }
    print_banner(sp, nspeakers, &o);
    converse(sp, nspeakers, &tok, &o);
    for (int i = 0; i < nspeakers; i++) speaker_free(&sp[i]);
    tokenizer_free(&tok);
    free(tok_path);
    return 0;
}
#endif
