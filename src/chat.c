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
 * Left out: a system prompt, ChatGPT's moderation, any memory beyond the
 * window. The model's knowledge is the toy world's (data/README.md): ask
 * "what colour is the fox ?" or "where is the owl ?".
 */
#include "gpt.h"
#include "instruct.h"
#include "tokenizer.h"
#include "util.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- options ---- */

typedef struct {
    const char *tokenizer, *model, *compare_a, *compare_b;
    float temperature;
    int top_k, max_reply, seed, threads, history;
} Options;

static Options defaults(void) {
    Options o = {0};
    o.tokenizer = "out/tokenizer.merges";
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

/* Loads a checkpoint to talk to, with a message a user can act on if it is
 * missing or belongs to another tokenizer. */
static void speaker_load(Speaker *s, const char *path, const Tokenizer *tok, const char *tok_path) {
    memset(s, 0, sizeof *s);
    s->path = path;
    if (access(path, R_OK) != 0) {
        die("cannot read the checkpoint %s: %s (make run trains the ladder's models into out/; or pass --model)",
            path, strerror(errno));
    }
    gpt_load(&s->m, path);
    instruct_check_vocab(&s->m, path, tok, tok_path);
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

/* The speaker's answer to `line`: formats it in the chat format after the
 * conversation so far, samples the reply token by token (printing each one
 * to `out` as it comes), and keeps the whole turn — closed with end-of-text
 * — in the conversation. Returns 0, or -1 if the line cannot fit the window
 * even alone (nothing is kept then). */
static int speaker_turn(Speaker *s, Tokenizer *tok, const char *line, const Options *o, Rng *rng, FILE *out) {
    const GPTConfig *c = &s->m.config;
    int eot = tokenizer_special_id(tok, TOK_EOT);
    Chat q = chat_encode_prompt(tok, line);
    int need = q.len + o->max_reply + 1;  /* the prompt, the reply, its end-of-text */
    if (need > c->maxT) {
        fprintf(out, "%s> (your message is %d tokens: with room for a %d-token reply it does not fit my "
                     "%d-token context; say less)\n", s->label, q.len, o->max_reply, c->maxT);
        chat_free(&q);
        return -1;
    }
    if (!o->history) speaker_reset(s);
    int dropped = fit_window(s, need);
    if (dropped > 0) {
        fprintf(out, "%s> (the conversation outgrew my %d-token context: I forgot the oldest %d turn%s)\n",
                s->label, c->maxT, dropped, dropped > 1 ? "s" : "");
    }
    int start = s->len;
    memcpy(s->ctx + s->len, q.tokens, sizeof(int) * (size_t)q.len);
    s->len += q.len;
    fprintf(out, "%s> ", s->label);
    fflush(out);
    /* the reply goes straight after the prompt in ctx; the window has room
     * for it and its end-of-text (fit_window above) */
    Stream st = {tok, out, eot, 0};
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

/* ---- main ---- */

static void usage(void) {
    Options d = defaults();
    printf("usage: chat [flags]                 talk to a checkpoint: one line in, one reply out\n"
           "       chat --compare A B [flags]   every line answered by checkpoint A, then by B\n"
           "Reads lines from standard input until end of file (Ctrl-D). The conversation stays\n"
           "in the model's context until its window is full; then the oldest turns are dropped.\n"
           "A line /reset forgets the conversation.\n"
           "flags (default):\n"
           "  --model PATH        the checkpoint: out/gpt1.bin, out/sft.bin, out/ppo.bin, ... (%s)\n"
           "  --compare A B       two checkpoints side by side (e.g. out/sft.bin out/ppo.bin)\n"
           "  --tokenizer PATH    tokenizer merges (%s)\n"
           "  --temperature X     sampling temperature; 0 = greedy (%g)\n"
           "  --top-k N           sample among the N likeliest tokens; 0 = all (%d)\n"
           "  --max-reply N       tokens a reply may take (%d)\n"
           "  --no-history        answer every line on its own (no conversation)\n"
           "  --seed N            random seed (%d)\n"
           "  --threads N         OpenMP threads, 0 = all cores (%d: one sequence is too little to share)\n"
           "  --help              this text\n",
           d.model, d.tokenizer, (double)d.temperature, d.top_k, d.max_reply, d.seed, d.threads);
}

enum {
    OPT_MODEL = 256, OPT_COMPARE, OPT_TOKENIZER, OPT_TEMP, OPT_TOPK, OPT_MAXREPLY, OPT_NOHIST, OPT_SEED,
    OPT_THREADS, OPT_HELP
};

static void parse_flags(Options *o, int argc, char **argv) {
    static const struct option longopts[] = {
        {"model", 1, 0, OPT_MODEL}, {"compare", 1, 0, OPT_COMPARE}, {"tokenizer", 1, 0, OPT_TOKENIZER},
        {"temperature", 1, 0, OPT_TEMP}, {"top-k", 1, 0, OPT_TOPK}, {"max-reply", 1, 0, OPT_MAXREPLY},
        {"no-history", 0, 0, OPT_NOHIST}, {"seed", 1, 0, OPT_SEED}, {"threads", 1, 0, OPT_THREADS},
        {"help", 0, 0, OPT_HELP}, {0, 0, 0, 0}};
    int opt;
    opterr = 0;
    while ((opt = getopt_long(argc, argv, ":", longopts, NULL)) != -1) {
        const char *a = optarg;
        switch (opt) {
        case OPT_MODEL: o->model = a; break;
        case OPT_COMPARE: o->compare_a = a; break;
        case OPT_TOKENIZER: o->tokenizer = a; break;
        case OPT_TEMP: o->temperature = parse_float_flag("temperature", a, 0.0f, 10.0f); break;
        case OPT_TOPK: o->top_k = (int)parse_long_flag("top-k", a, 0, 1000000); break;
        case OPT_MAXREPLY: o->max_reply = (int)parse_long_flag("max-reply", a, 1, 100000); break;
        case OPT_NOHIST: o->history = 0; break;
        case OPT_SEED: o->seed = (int)parse_long_flag("seed", a, 0, 2147483647); break;
        case OPT_THREADS: o->threads = (int)parse_long_flag("threads", a, 0, 1024); break;
        case OPT_HELP: usage(); exit(0);
        case ':': die("%s needs a value (see chat --help)", argv[optind - 1]);
        default: die("unknown flag %s (see chat --help)", argv[optind - 1]);
        }
    }
    if (o->compare_a) {
        /* --compare A B: B is the one argument left after the flags */
        if (optind >= argc) die("--compare needs two checkpoints: --compare A B");
        o->compare_b = argv[optind++];
    }
    if (optind < argc) die("unexpected argument '%s' (see chat --help)", argv[optind]);
}

/* Strips the newline (and a '\r', and surrounding spaces) from a line in place. */
static char *trim_line(char *s) {
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == '\r' || s[n - 1] == ' ' || s[n - 1] == '\t')) s[--n] = '\0';
    while (*s == ' ' || *s == '\t') s++;
    return s;
}

#ifndef TESTING
int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    Options o = defaults();
    parse_flags(&o, argc, argv);
    set_threads(o.threads);
    Tokenizer tok;
    tokenizer_load(&tok, o.tokenizer);
    int nspeakers = o.compare_a ? 2 : 1;
    Speaker sp[2];
    speaker_load(&sp[0], o.compare_a ? o.compare_a : o.model, &tok, o.tokenizer);
    if (nspeakers == 2) speaker_load(&sp[1], o.compare_b, &tok, o.tokenizer);
    if (nspeakers == 2 && strcmp(sp[0].label, sp[1].label) == 0) {
        snprintf(sp[0].label, sizeof sp[0].label, "A");
        snprintf(sp[1].label, sizeof sp[1].label, "B");
    }
    for (int i = 0; i < nspeakers; i++) {
        const GPTConfig *c = &sp[i].m.config;
        printf("chat: %s is %s (%d layers, %d channels, a %d-token context)\n", sp[i].label, sp[i].path, c->L,
               c->C, c->maxT);
    }
    printf("chat: temperature %g, top-k %d%s. Ask about the toy world (\"where is the owl ?\"); "
           "end of file (Ctrl-D) quits.\n", (double)o.temperature, o.top_k, o.history ? "" : ", no history");
    Rng rng;
    rng_seed(&rng, (uint64_t)o.seed);
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
        for (int i = 0; i < nspeakers; i++) speaker_turn(&sp[i], &tok, line, &o, &rng, stdout);
    }
    if (ferror(stdin)) die("cannot read standard input: %s", strerror(errno));
    if (interactive) putchar('\n');
    free(buf);
    for (int i = 0; i < nspeakers; i++) speaker_free(&sp[i]);
    tokenizer_free(&tok);
    return 0;
}
#endif
