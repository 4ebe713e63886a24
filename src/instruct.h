/* instruct.h — what the InstructGPT rungs (sft, reward, ppo, chat) share:
 * the chat format, answer generation, and the reward model.
 *
 * The chat format (data/README.md). A prompt and its response are one
 * sequence of tokens:
 *
 *   <|prompt|> q : what colour is the bag ? <|answer|> a : it is green .<|endoftext|>
 *   |---------------------- the context --------------------|-- response --|
 *
 * built as: the <|prompt|> id, the tokens of "q : " + prompt, the <|answer|>
 * id, the tokens of " a :" (the context ends here: it is all a model is given
 * when asked), then the tokens of " " + response and the <|endoftext|> id.
 * The words and spaces are the pretraining dialogue's ("q : what is 54 + 97 ?
 * a : it is 151 .<|endoftext|>", a document that follows a newline), so the
 * pretrained model meets a form it knows; only the two markers are new.
 *
 * What each rung reads from a chat:
 *   sft     the next-token loss on the response and the end-of-text only
 *           (ChatBatch.weights): the prompt is context, not a target;
 *   reward  a scalar head on the final hidden state at the last token, the
 *           end-of-text (ChatBatch.last): it has seen prompt and response;
 *   ppo     the log-probabilities of the response tokens (the weighted
 *           positions) and a value at each of them;
 *   chat    chat_answer.
 *
 * Shapes: B chats in a batch, T the longest chat (shorter ones are padded on
 * the right with end-of-text, which causal attention keeps out of every
 * position before it), C channels.
 */
#ifndef GPTLADDER_INSTRUCT_H
#define GPTLADDER_INSTRUCT_H

#include "gpt.h"
#include "head.h"
#include "tokenizer.h"

/* ---- the chat format ---- */

#define CHAT_PROMPT_PREFIX "q : "   /* after <|prompt|>, before the prompt text */
#define CHAT_ANSWER_PREFIX " a :"   /* after <|answer|>: the model's turn begins */
#define CHAT_MAX_ANSWER 20          /* tokens a generated answer may take (the data's longest is 14 words) */

typedef struct {
    int *tokens;      /* (len) context, then (for a pair) response and end-of-text */
    int len;
    int context_len;  /* tokens up to and including "a :": what the model is given */
} Chat;

/* The context of a prompt: <|prompt|> q : {prompt} <|answer|> a :.
 * Leading and trailing spaces of the prompt are dropped. The caller frees
 * with chat_free. Never fails (any bytes encode). */
Chat chat_encode_prompt(Tokenizer *tok, const char *prompt);

/* A prompt and its response: the context, " " + response, <|endoftext|>. */
Chat chat_encode_pair(Tokenizer *tok, const char *prompt, const char *response);

void chat_free(Chat *c);

/* Decodes a generated answer: the tokens up to the first end-of-text (not
 * included), as text with leading and trailing spaces dropped (malloc'd, the
 * caller frees). *ended (if not NULL) is 1 if an end-of-text was found. */
char *chat_decode_response(const Tokenizer *tok, const int *tokens, int n, int *ended);

/* The model's answer to a prompt: the context, continued by gpt_sample for
 * up to max_new tokens, stopping at end-of-text; temperature 0 is greedy
 * (then rng may be NULL). Returns the decoded response (malloc'd) and sets
 * *ended (if not NULL) to whether the model ended it. */
char *chat_answer(GPT *m, Tokenizer *tok, const char *prompt, int max_new, float temperature,
                  Rng *rng, int *ended);

/* The same for n prompts at once (the fast path the rungs evaluate with),
 * through one key/value-cached sampler (gpt_sampler_run_batch): the prompts
 * go through the model in one pass, then each step sends one row per
 * unfinished chat through each matmul. Chat i draws from its own stream,
 * seeded from rng in prompt order (rng_split; NULL for greedy), so its
 * answer does not depend on which other prompts share the call.
 * answers[i] (malloc'd) and ended[i] (may be NULL) receive each result. A
 * chat that reaches the model's context maxT stops there (not ended).
 * chat_answer, one prompt through gpt_sample, is the reference it is tested
 * against. */
void chat_answers(GPT *m, Tokenizer *tok, const char *const *prompts, int n, int max_new,
                  float temperature, Rng *rng, char **answers, int *ended);

/* ---- a batch of chats ---- */

typedef struct {
    int B, T;          /* shape of the current batch */
    int *inputs;       /* (B, T) the chats, right-padded with end-of-text */
    int *targets;      /* (B, T) position t predicts token t+1 (end-of-text past the end) */
    float *weights;    /* (B, T) 1 where the target is a response token or the end-of-text, else 0 */
    int *last;         /* (B)    b*T + len-1: the row of each chat's last token */
    size_t cap_bt;     /* capacity of the (B, T) buffers */
    int cap_b;         /* capacity of last */
} ChatBatch;

/* Lays out n chats as one right-padded batch (T = the longest), growing the
 * buffers as needed. Start from a zeroed ChatBatch; free with chat_batch_free.
 * For a chat of a prompt only (no response) every weight is 0. */
void chat_batch_fill(ChatBatch *bt, const Chat *const *chats, int n, int eot);
void chat_batch_free(ChatBatch *bt);

/* ---- checks shared by every rung that loads a model ---- */

/* (That a checkpoint and a tokenizer belong together is gpt_check_tokenizer's
 * job, in gpt.h.) */

/* Dies with "WHERE: the chat is N tokens, longer than the model's context"
 * if a chat does not fit (where: "PATH:LINE" of the row it came from). */
void instruct_check_fits(const Chat *c, const GPT *m, const char *where);

/* ---- the reward model (InstructGPT §3.5) ---- */

/* A GPT trunk, started from the SFT model, with its output layer replaced by
 * a scalar head read at the last token of prompt + response:
 *     raw r(x, y) = w . h_L[last] + b,     reward = gain * raw + shift
 * (the trunk still computes its logits: gpt_forward always does; nothing reads
 * them). gain and shift are set after training (reward_set_normalisation) and
 * are saved with the head, so every user of the model sees the same scale. */
typedef struct {
    GPT gpt;
    LinearHead head;   /* K = 1 */
    ChatBatch batch;   /* scratch for reward_model_score */
} RewardModel;

/* A fresh reward model: the trunk loaded from a checkpoint (the SFT model),
 * the head w ~ N(0, init_std) (0: all rewards start equal), b = 0. */
void reward_model_from_trunk(RewardModel *rm, const char *trunk_path, float init_std, uint64_t seed);

/* Loads PATH (the trunk) and its head beside it (head_path_for(PATH)). Dies
 * with one line if either is missing or wrong, or the head is not scalar. */
void reward_model_load(RewardModel *rm, const char *path);

/* Writes PATH and head_path_for(PATH), each atomically. */
void reward_model_save(const RewardModel *rm, const char *path);

void reward_model_free(RewardModel *rm);

/* Runs the trunk on a batch and writes raw (B): the head at each chat's last
 * token, before gain and shift. Keeps the activations for the backward. */
void reward_model_forward(RewardModel *rm, const ChatBatch *bt, float *raw);

/* Given draw (B) = dLoss/draw of the last forward: head_backward into the
 * head's gradients and a hidden-state gradient at the last tokens only, then
 * gpt_backward(m, NULL, dhidden) into the trunk's. Both ADD; zero first. */
void reward_model_backward(RewardModel *rm, const ChatBatch *bt, const float *draw);

/* gain * raw + shift */
float reward_normalise(const LinearHead *h, float raw);

/* Sets gain and shift so that gain * raw[i] + shift has mean 0 and standard
 * deviation 1 over the n raw rewards given (n >= 2; if they are all equal,
 * the gain is 1). */
void reward_set_normalisation(LinearHead *h, const float *raw, int n);

/* The normalised rewards of n chats (out (n)), forwarded in batches. */
void reward_model_score_chats(RewardModel *rm, const Chat *const *chats, int n, int eot, float *out);

/* The normalised rewards of n (prompt, response) pairs, each encoded with
 * chat_encode_pair (so read at its end-of-text). Dies if one does not fit. */
void reward_model_score(RewardModel *rm, Tokenizer *tok, const char *const *prompts,
                        const char *const *responses, int n, float *out);

#endif
