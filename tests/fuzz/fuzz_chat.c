/* fuzz_chat.c — libFuzzer target for the chat format (instruct.h) and the
 * toy world's reading of a prompt (toy_parse_prompt, score_response), which
 * every typed line of `chat` and every row of the SFT, preference and PPO
 * files passes through.
 *
 * The input is split at its first tab into a prompt and a response (bytes
 * after a NUL are dropped: C strings end there). Then, for any bytes:
 *   - the pair encodes as <|prompt|> ... <|answer|> ... <|endoftext|>: the
 *     first token is the prompt marker, the context ends just after the one
 *     answer marker, the last token is the end-of-text, and no other token
 *     of the text is a special one (typed "<|endoftext|>" stays 13 bytes);
 *   - the response decodes back (chat_decode_response) to itself with its
 *     leading and trailing white space dropped, and is marked as ended;
 *   - the prompt alone encodes to exactly the pair's context;
 *   - toy_parse_prompt never reads outside the text, and score_response
 *     stays inside [-1.5, +1.5] whatever it is given.
 * The tokenizer is trained once on a small fixed text (LLVMFuzzerInitialize).
 * Run by `make fuzz`.
 */
#include "fuzz.h"
#include "instruct.h"
#include "toyworld.h"

static Tokenizer tok;

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    static const char text[] =
        "q : what colour is the fox ? a : it is red .<|endoftext|>\n"
        "q : where is the owl ? a : it is in the barn .<|endoftext|>\n"
        "q : what is 12 + 7 ? a : 12 + 7 = 19 .<|endoftext|>\n"
        "the cat sat on the mat and the dog ran to the park . in short : good\n";
    tokenizer_train(&tok, text, sizeof text - 1, 300);
    return 0;
}

/* s with leading and trailing white space (space, tab, CR, LF) dropped, as
 * the chat format does */
static int white(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }
static void trimmed(const char *s, const char **start, size_t *n) {
    while (white(*s)) s++;
    size_t len = strlen(s);
    while (len > 0 && white(s[len - 1])) len--;
    *start = s;
    *n = len;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *text = malloc(size + 1);
    if (!text) abort();
    memcpy(text, data, size);
    text[size] = '\0';
    char *tab = strchr(text, '\t');
    const char *prompt = text, *response = "";
    if (tab) { *tab = '\0'; response = tab + 1; }

    int prompt_id = tokenizer_special_id(&tok, TOK_PROMPT), answer_id = tokenizer_special_id(&tok, TOK_ANSWER);
    int eot = tokenizer_special_id(&tok, TOK_EOT);
    Chat pair = chat_encode_pair(&tok, prompt, response);
    Chat ctx = chat_encode_prompt(&tok, prompt);
    if (pair.len < 3 || pair.tokens[0] != prompt_id || pair.tokens[pair.len - 1] != eot) abort();
    if (ctx.len != pair.context_len || memcmp(ctx.tokens, pair.tokens, sizeof(int) * (size_t)ctx.len) != 0) abort();
    int answers = 0;
    for (int i = 1; i < pair.len - 1; i++) {
        int t = pair.tokens[i];
        if (t == answer_id) {
            answers++;
            if (i >= pair.context_len) abort();  /* the marker lies inside the context */
        } else if (t >= tok.vocab_size - TOK_NSPECIAL) {
            abort();  /* typed text never becomes a special token */
        }
    }
    if (answers != 1) abort();

    int ended = 0;
    char *back = chat_decode_response(&tok, pair.tokens + pair.context_len, pair.len - pair.context_len, &ended);
    const char *want;
    size_t want_n;
    trimmed(response, &want, &want_n);
    if (!ended || strlen(back) != want_n || memcmp(back, want, want_n) != 0) abort();
    free(back);

    (void)toy_parse_prompt(prompt);
    float s = score_response(prompt, response, 1);
    float s2 = score_response(prompt, response, 0);
    if (!(s >= -1.5f && s <= 1.5f) || !(s2 >= -1.5f && s2 <= 1.5f)) abort();
    chat_free(&pair);
    chat_free(&ctx);
    free(text);
    return 0;
}
