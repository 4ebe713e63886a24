/* test_toyworld.c — the toy world's facts, the hidden rule (score_response),
 * and the files the generator (build/toydata) writes.
 *
 * The generator tests run build/toydata once into a scratch folder with a
 * small pretraining corpus (the task files do not depend on its size), and
 * read the files back the way the rungs do, with tsv_read. */
#include "testutil.h"
#include "toyworld.h"
#include "util.h"

#define SMALL_PRETRAIN "200000"

static const char *const TSV_FILES[] = {
    "classify_train.tsv", "classify_test.tsv", "zeroshot_test.tsv", "fewshot_pool.tsv",
    "fewshot_test.tsv",   "sft_train.tsv",     "sft_test.tsv",      "prefs_train.tsv",
    "prefs_test.tsv",     "ppo_prompts.tsv",
};
static const char *const TSV_HEADERS[] = {
    "label\ttext", "label\ttext", "task\tprompt\tanswer\tcandidates",
    "task\tinput\tanswer\tworked\tcandidates", "task\tinput\tanswer\tworked\tcandidates",
    "prompt\tresponse", "prompt\tresponse", "prompt\tr1\tr2\tr3\tr4", "prompt\tr1\tr2\tr3\tr4",
    "set\tprompt",
};
#define NUM_TSV ((int)(sizeof TSV_FILES / sizeof TSV_FILES[0]))
static const char *const TEXT_FILES[] = {"pretrain.txt", "pretrain_excerpt.txt", "val.txt", "induction_train.txt",
                                         "induction_test.txt"};
#define NUM_TEXT ((int)(sizeof TEXT_FILES / sizeof TEXT_FILES[0]))

/* ---- helpers ---- */

/* The folder of the one generator run (set up once for the group). */
static char run_dir[256];

static const char *in_dir(char *buf, size_t n, const char *dir, const char *file) {
    snprintf(buf, n, "%s/%s", dir, file);
    return buf;
}

static void run_toydata(const char *dir, const char *seed) {
    const char *args[] = {"--out", dir, "--seed", seed, "--pretrain-tokens", SMALL_PRETRAIN, NULL};
    char *err = NULL;
    int status = run_program("toydata", args, &err);
    if (status != 0) print_error("toydata exited with %d: %s\n", status, err);
    free(err);
    assert_int_equal(status, 0);
}

static void remove_run(const char *dir) {
    char path[512];
    for (int i = 0; i < NUM_TSV; i++) remove(in_dir(path, sizeof path, dir, TSV_FILES[i]));
    for (int i = 0; i < NUM_TEXT; i++) remove(in_dir(path, sizeof path, dir, TEXT_FILES[i]));
    rmdir(dir);
}

static char *slurp(const char *dir, const char *file) {
    char path[512];
    return read_file_or_die(in_dir(path, sizeof path, dir, file), NULL);
}

static void read_tsv(Tsv *t, const char *dir, const char *file, int nfields) {
    char path[512];
    tsv_read(t, in_dir(path, sizeof path, dir, file), nfields);
}

static int contains(const char *haystack, const char *needle) {
    return strstr(haystack, needle) != NULL;
}

/* The rule's score for a response followed by end-of-text. */
static float scored(const char *prompt, const char *response) {
    return score_response(prompt, response, 1);
}

/* Is s one of the n strings in list? (The lists here are small.) */
static int in_list(char **list, int n, const char *s) {
    for (int i = 0; i < n; i++) if (strcmp(list[i], s) == 0) return 1;
    return 0;
}

/* ---- the world ---- */

static void test_every_colour_and_every_place_belongs_to_four_objects(void **state) {
    (void)state;
    int colours[TOY_NUM_COLOURS] = {0}, places[TOY_NUM_PLACES] = {0};
    for (int i = 0; i < TOY_NUM_OBJECTS; i++) {
        colours[TOY_OBJECTS[i].colour]++;
        places[TOY_OBJECTS[i].place]++;
        assert_int_equal(toy_object_index(TOY_OBJECTS[i].name), i);  /* names are unique */
    }
    for (int c = 0; c < TOY_NUM_COLOURS; c++) assert_int_equal(colours[c], 4);
    for (int p = 0; p < TOY_NUM_PLACES; p++) assert_int_equal(places[p], 4);
}

static void test_opposite_words_are_unique_and_never_world_facts(void **state) {
    (void)state;
    for (int i = 0; i < 2 * TOY_NUM_OPPOSITES; i++) {
        const char *w = TOY_OPPOSITES[i / 2][i % 2];
        assert_int_equal(toy_object_index(w), -1);
        assert_int_equal(toy_colour_index(w), -1);
        assert_int_equal(toy_place_index(w), -1);
        for (int j = i + 1; j < 2 * TOY_NUM_OPPOSITES; j++) {
            assert_string_not_equal(w, TOY_OPPOSITES[j / 2][j % 2]);
        }
    }
}

static void test_rng_is_deterministic_and_streams_differ(void **state) {
    (void)state;
    ToyRng a, b, c;
    toy_rng_init(&a, 1, 1);
    toy_rng_init(&b, 1, 1);
    toy_rng_init(&c, 1, 2);
    int same = 1, differ = 0;
    for (int i = 0; i < 100; i++) {
        uint64_t x = toy_rng_next(&a), y = toy_rng_next(&b), z = toy_rng_next(&c);
        same &= x == y;
        differ |= x != z;
    }
    assert_true(same);
    assert_true(differ);
    int counts[3] = {0};
    for (int i = 0; i < 3000; i++) counts[toy_rng_below(&a, 3)]++;
    for (int k = 0; k < 3; k++) assert_in_range(counts[k], 850, 1150);
}

/* ---- questions ---- */

static void test_parse_prompt_reads_every_question_kind(void **state) {
    (void)state;
    ToyQuestion q = toy_parse_prompt("what colour is the bag ?");
    assert_int_equal(q.kind, TOY_Q_COLOUR);
    assert_string_equal(TOY_OBJECTS[q.object].name, "bag");
    q = toy_parse_prompt("q :  Where is the OWL?");  /* chat marker, case, spacing */
    assert_int_equal(q.kind, TOY_Q_PLACE);
    assert_string_equal(TOY_OBJECTS[q.object].name, "owl");
    /* inside the chat format, as a rung may pass it */
    q = toy_parse_prompt("<|prompt|> q : what colour is the fox ? <|answer|> a :");
    assert_int_equal(q.kind, TOY_Q_COLOUR);
    assert_string_equal(TOY_OBJECTS[q.object].name, "fox");
    q = toy_parse_prompt("where does the fox live ?");
    assert_int_equal(q.kind, TOY_Q_PLACE);
    q = toy_parse_prompt("what is 23 + 45 ?");
    assert_int_equal(q.kind, TOY_Q_SUM);
    assert_int_equal(q.a, 23);
    assert_int_equal(q.b, 45);
    q = toy_parse_prompt("what colour is the moon ?");
    assert_int_equal(q.kind, TOY_Q_UNKNOWN);
    assert_int_equal(q.object, -1);
    assert_int_equal(toy_parse_prompt("tell me a story").kind, TOY_Q_NONE);
    assert_int_equal(toy_parse_prompt("what is 23 - 45 ?").kind, TOY_Q_NONE);
    assert_int_equal(toy_parse_prompt("").kind, TOY_Q_NONE);
}

static void test_answer_text_scores_best_for_every_question(void **state) {
    (void)state;
    char prompt[128], answer[64];
    for (int i = 0; i < TOY_NUM_OBJECTS; i++) {
        for (int kind = TOY_Q_COLOUR; kind <= TOY_Q_PLACE; kind++) {
            ToyQuestion q = {(ToyQuestionKind)kind, i, 0, 0};
            toy_question_text(&q, TOY_Q_NONE, NULL, prompt, sizeof prompt);
            ToyQuestion back = toy_parse_prompt(prompt);
            assert_int_equal(back.kind, kind);  /* the text reads back as the same question */
            assert_int_equal(back.object, i);
            toy_answer_text(&q, answer, sizeof answer);
            assert_true(score_response(prompt, answer, 1) == 1.5f);
        }
    }
    assert_true(score_response("what is 23 + 45 ?", "it is 68 .", 1) == 1.5f);
    ToyQuestion u = {TOY_Q_UNKNOWN, -1, 0, 0};
    toy_question_text(&u, TOY_Q_PLACE, "moon", prompt, sizeof prompt);
    assert_string_equal(prompt, "where is the moon ?");
    toy_answer_text(&u, answer, sizeof answer);
    assert_string_equal(answer, "i do not know .");
    assert_true(score_response(prompt, answer, 1) == 1.5f);
}

/* ---- the hidden rule ---- */

static void test_rule_ranks_concise_above_rambling_above_wrong(void **state) {
    (void)state;
    const char *p = "what colour is the bag ?";  /* the bag is green */
    float concise = score_response(p, "it is green .", 1);
    float two_sentences = score_response(p, "it is green . i like bags .", 1);
    float rambling = score_response(p, "it is green . it is green .", 1);
    float wrong = score_response(p, "it is red .", 1);
    float chatter = score_response(p, "i like to sing . max is happy . we can play later .", 1);
    assert_true(concise == 1.5f);
    assert_true(two_sentences == 1.0f);
    assert_true(rambling == 0.5f);
    assert_true(wrong == -1.0f);
    assert_true(chatter == -1.5f);  /* no answer, and three sentences */
    assert_true(concise > two_sentences && two_sentences > rambling);
    assert_true(rambling > wrong && wrong > chatter);
    /* two colours is not an answer, even if one is right */
    assert_true(score_response(p, "it is green or red .", 1) == -1.0f);
}

static void test_colour_answer_to_a_where_question_is_wrong(void **state) {
    (void)state;
    /* the wolf is brown and lives in the forest: the reward hack PPO finds at beta = 0
     * (notes/07: where-questions answered with a colour, 94/256, from `make run`) */
    assert_true(score_response("where is the wolf ?", "it is brown .", 1) == -1.0f);
    assert_true(score_response("where is the wolf ?", "it is in the forest .", 1) == 1.5f);
    assert_true(score_response("what colour is the wolf ?", "it is in the forest .", 1) == -1.0f);
    ToyJudgement j = toy_judge("where is the wolf ?", "it is brown .", 1);
    assert_true(j.understood);
    assert_false(j.correct);
    assert_false(j.rambling);
}

static void test_missing_end_of_text_is_penalised(void **state) {
    (void)state;
    const char *p = "where is the owl ?";
    assert_true(score_response(p, "it is in the barn .", 1) == 1.5f);
    assert_true(score_response(p, "it is in the barn .", 0) == 0.5f);  /* correct, never ended */
    assert_true(score_response(p, "it is in the park .", 0) == -1.5f);
    ToyJudgement j = toy_judge(p, "it is in the barn .", 0);
    assert_true(j.rambling);
    assert_false(j.concise);
}

static void test_each_sign_of_rambling_costs_half_a_point(void **state) {
    (void)state;
    const char *p = "what colour is the fox ?";  /* red */
    assert_true(scored(p, "it is red red red .") == 0.5f);         /* a word 3 times */
    assert_true(scored(p, "it is red and it is fine .") == 0.5f);  /* bigram "it is" twice */
    assert_true(scored(p, "it is red . yes . sure .") == 0.5f);    /* 3 sentences */
    /* 15 words ramble, 14 do not */
    const char *fifteen = "it is red because foxes like to be seen from far away in the day .";
    const char *fourteen = "it is red because foxes like to be seen from far away in daylight .";
    assert_true(scored(p, fifteen) == 0.5f);
    assert_true(scored(p, fourteen) == 1.5f);
    assert_true(scored(p, "it is red") == 1.5f);  /* no full stop is still one sentence */
}

static void test_unknown_things_and_sums_have_one_right_answer(void **state) {
    (void)state;
    assert_true(score_response("what colour is the moon ?", "i do not know .", 1) == 1.5f);
    assert_true(score_response("what colour is the moon ?", "it is white .", 1) == -1.0f);
    assert_true(scored("what colour is the moon ?", "i do not know . it is white .") == -1.0f);
    assert_true(score_response("what colour is the fox ?", "i do not know .", 1) == -1.0f);
    assert_true(score_response("what is 23 + 45 ?", "it is 68 .", 1) == 1.5f);
    assert_true(score_response("what is 23 + 45 ?", "it is 67 .", 1) == -1.0f);
    assert_true(scored("what is 23 + 45 ?", "23 + 45 = 68 .") == -1.0f);  /* one number only */
}

static void test_prompt_the_rule_cannot_read_scores_zero(void **state) {
    (void)state;
    ToyJudgement j = toy_judge("sing me a song", "la la la la .", 0);
    assert_false(j.understood);
    assert_true(j.score == 0.0f);
    assert_true(score_response("", "", 0) == 0.0f);
}

/* ---- the generator ---- */

static int generator_setup(void **state) {
    (void)state;
    temp_path(run_dir, sizeof run_dir, "toydata-a");
    run_toydata(run_dir, "1");
    return 0;
}

static int generator_teardown(void **state) {
    (void)state;
    remove_run(run_dir);
    return 0;
}

static void test_generator_is_deterministic_for_a_seed(void **state) {
    (void)state;
    char other[256];
    temp_path(other, sizeof other, "toydata-b");
    run_toydata(other, "1");
    for (int i = 0; i < NUM_TSV + NUM_TEXT; i++) {
        const char *f = i < NUM_TSV ? TSV_FILES[i] : TEXT_FILES[i - NUM_TSV];
        char *a = slurp(run_dir, f), *b = slurp(other, f);
        int same = strcmp(a, b) == 0;
        free(a);
        free(b);
        if (!same) fail_msg("%s differs between two runs with seed 1", f);
    }
    /* and another seed writes another corpus */
    run_toydata(other, "2");
    char *a = slurp(run_dir, "sft_train.tsv"), *b = slurp(other, "sft_train.tsv");
    int same = strcmp(a, b) == 0;
    free(a);
    free(b);
    assert_false(same);
    remove_run(other);
}

static void test_committed_data_is_what_seed_1_writes(void **state) {
    (void)state;
    /* data/ holds the seed-1 files; the task files and val.txt do not depend on
     * --pretrain-tokens, so the small run must reproduce them byte for byte. */
    for (int i = 0; i < NUM_TSV + 1; i++) {
        const char *f = i < NUM_TSV ? TSV_FILES[i] : "val.txt";
        char path[512];
        if (!file_exists(in_dir(path, sizeof path, "data", f))) {
            print_error("data/%s is missing: run build/toydata --out data\n", f);
            fail();
        }
        char *committed = slurp("data", f), *fresh = slurp(run_dir, f);
        int same = strcmp(committed, fresh) == 0;
        free(committed);
        free(fresh);
        if (!same) fail_msg("data/%s is stale: regenerate it with build/toydata --out data", f);
    }
}

static void test_every_file_parses_with_its_header_and_column_count(void **state) {
    (void)state;
    for (int i = 0; i < NUM_TSV; i++) {
        int ncols = 1;
        for (const char *p = TSV_HEADERS[i]; *p; p++) ncols += *p == '\t';
        char *text = slurp(run_dir, TSV_FILES[i]);
        size_t hlen = strlen(TSV_HEADERS[i]);
        if (strncmp(text, TSV_HEADERS[i], hlen) != 0 || text[hlen] != '\n') {
            print_error("%s: header is not '%s'\n", TSV_FILES[i], TSV_HEADERS[i]);
            fail();
        }
        free(text);
        Tsv t;
        read_tsv(&t, run_dir, TSV_FILES[i], ncols);
        for (int r = 0; r < t.nrows; r++) {
            if (t.rows[r].nfields != ncols) {
                print_error("%s:%d: %d fields, want %d\n", TSV_FILES[i], t.rows[r].line,
                            t.rows[r].nfields, ncols);
                fail();
            }
        }
        tsv_free(&t);
    }
    /* every document is one line ending in the end-of-text string */
    char *text = slurp(run_dir, "val.txt");
    int lines = 0;
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n"), lines++) {
        size_t n = strlen(line);
        assert_true(n > 13 && strcmp(line + n - 13, "<|endoftext|>") == 0);
        assert_true(strstr(line, "<|endoftext|>") == line + n - 13);
    }
    assert_true(lines > 500);
    free(text);
}

static void test_labelled_reviews_never_occur_in_pretraining_or_training_text(void **state) {
    (void)state;
    char *pretrain = slurp(run_dir, "pretrain.txt");
    char *train_text = slurp(run_dir, "classify_train.tsv");
    Tsv test, zs;
    read_tsv(&test, run_dir, "classify_test.tsv", 2);
    read_tsv(&zs, run_dir, "zeroshot_test.tsv", 4);
    int checked = 0;
    for (int i = 0; i < test.nrows; i++, checked++) {
        const char *review = test.rows[i].fields[1];
        assert_false(contains(pretrain, review));
        assert_false(contains(train_text, review));
        /* reviews never use the label words */
        assert_false(contains(review, " good ") || contains(review, " bad "));
    }
    for (int i = 0; i < zs.nrows; i++) {
        if (strcmp(zs.rows[i].fields[0], "sentiment_nohint") != 0) continue;
        const char *review = zs.rows[i].fields[1];
        assert_false(contains(pretrain, review));
        assert_false(contains(train_text, review));
        checked++;
    }
    assert_int_equal(checked, test.nrows + 200);
    tsv_free(&test);
    tsv_free(&zs);
    free(train_text);
    free(pretrain);
}

static void test_fewshot_and_instruction_items_never_occur_in_pretraining(void **state) {
    (void)state;
    char *pretrain = slurp(run_dir, "pretrain.txt");
    char line[256];
    Tsv fs;
    read_tsv(&fs, run_dir, "fewshot_test.tsv", 5);
    for (int i = 0; i < fs.nrows; i++) {
        char **f = fs.rows[i].fields;
        if (strcmp(f[0], "arith") == 0) {  /* held-out sums, in either order */
            int a, b;
            assert_int_equal(sscanf(f[1], "%d + %d", &a, &b), 2);
            snprintf(line, sizeof line, "%d + %d", a, b);
            assert_false(contains(pretrain, line));
            snprintf(line, sizeof line, "%d + %d", b, a);
            assert_false(contains(pretrain, line));
        } else {  /* the arrow format is new for colours, opposites and pairings */
            snprintf(line, sizeof line, "%s -> %s", f[1], f[2]);
            assert_false(contains(pretrain, line));
        }
    }
    tsv_free(&fs);
    /* no colour or place question, no instruction sum, no unknown thing */
    assert_false(contains(pretrain, "what colour"));
    assert_false(contains(pretrain, "where is"));
    Tsv sft;
    read_tsv(&sft, run_dir, "sft_test.tsv", 2);
    for (int i = 0; i < sft.nrows; i++) {
        ToyQuestion q = toy_parse_prompt(sft.rows[i].fields[0]);
        if (q.kind == TOY_Q_SUM) {
            snprintf(line, sizeof line, "%d + %d", q.a, q.b);
            assert_false(contains(pretrain, line));
        } else if (q.kind == TOY_Q_UNKNOWN) {  /* "what colour is the moon ?" */
            const char *thing = strrchr(sft.rows[i].fields[0], ' ');
            while (thing > sft.rows[i].fields[0] && thing[-1] != ' ') thing--;
            const char *end = strchr(thing, ' ');
            snprintf(line, sizeof line, " %.*s ", (int)(end - thing), thing);
            assert_false(contains(pretrain, line));
        }
    }
    tsv_free(&sft);
    free(pretrain);
}

static void test_zeroshot_facts_are_stated_in_pretraining(void **state) {
    (void)state;
    Tsv zs;
    read_tsv(&zs, run_dir, "zeroshot_test.tsv", 4);
    int per_task[4] = {0};
    const char *tasks[4] = {"sentiment", "sentiment_nohint", "colour", "place"};
    for (int i = 0; i < zs.nrows; i++) {
        char **f = zs.rows[i].fields;
        int k = 0;
        while (k < 4 && strcmp(f[0], tasks[k]) != 0) k++;
        assert_true(k < 4);
        per_task[k]++;
        assert_true(contains(f[3], f[2]));  /* the answer is a candidate */
    }
    assert_int_equal(per_task[0], 200);
    assert_int_equal(per_task[1], 200);
    assert_in_range(per_task[2], 180, 220);
    assert_in_range(per_task[3], 180, 220);
    tsv_free(&zs);
    /* The facts are in the corpus, in the prompts' own sentence form: the
     * plainest forms occur for every object even in this small corpus. */
    char *pretrain = slurp(run_dir, "pretrain.txt");
    char sentence[128];
    for (int i = 0; i < TOY_NUM_OBJECTS; i++) {
        const ToyObject *o = &TOY_OBJECTS[i];
        snprintf(sentence, sizeof sentence, "the %s is %s .", o->name, TOY_COLOURS[o->colour]);
        assert_true(contains(pretrain, sentence));
        snprintf(sentence, sizeof sentence, "the %s is in the %s .", o->name, TOY_PLACES[o->place]);
        assert_true(contains(pretrain, sentence));
    }
    free(pretrain);
}

/* Reads the prompts of one TSV column into a list (pointers into t). */
static int column(Tsv *t, int field, char **out, int max, int only_world) {
    int n = 0;
    for (int i = 0; i < t->nrows && n < max; i++) {
        const char *p = t->rows[i].fields[field];
        ToyQuestionKind k = toy_parse_prompt(p).kind;
        if (only_world && k != TOY_Q_COLOUR && k != TOY_Q_PLACE) continue;
        if (!in_list(out, n, p)) out[n++] = t->rows[i].fields[field];
    }
    return n;
}

static void test_instruction_prompt_sets_are_disjoint(void **state) {
    (void)state;
    Tsv sft_train, sft_test, ppo, prefs_train, prefs_test;
    read_tsv(&sft_train, run_dir, "sft_train.tsv", 2);
    read_tsv(&sft_test, run_dir, "sft_test.tsv", 2);
    read_tsv(&ppo, run_dir, "ppo_prompts.tsv", 2);
    read_tsv(&prefs_train, run_dir, "prefs_train.tsv", 5);
    read_tsv(&prefs_test, run_dir, "prefs_test.tsv", 5);
    char *demo[128], *all_train[128], *all_test[128], *ppo_set[64], *held[64];
    char *cmp_train[128], *cmp_test[64];
    int ndemo = column(&sft_train, 0, demo, 128, 1);
    int ntrain = column(&sft_train, 0, all_train, 128, 0);
    int ntest = column(&sft_test, 0, all_test, 128, 0);
    int nppo = 0, nheld = 0;
    for (int i = 0; i < ppo.nrows; i++) {
        char **f = ppo.rows[i].fields;
        if (strcmp(f[0], "ppo") == 0) ppo_set[nppo++] = f[1];
        else if (strcmp(f[0], "heldout") == 0) held[nheld++] = f[1];
        else fail_msg("ppo_prompts.tsv: unknown set '%s'", f[0]);
    }
    int ncmp_train = column(&prefs_train, 0, cmp_train, 128, 0);
    int ncmp_test = column(&prefs_test, 0, cmp_test, 64, 0);
    /* 64 world questions: 32 demonstrated, 16 for PPO, 16 held out (data/README.md) */
    assert_int_equal(ndemo, 32);
    assert_int_equal(nppo, 16);
    assert_int_equal(nheld, 16);
    for (int i = 0; i < nppo; i++) {
        assert_false(in_list(demo, ndemo, ppo_set[i]));  /* never demonstrated */
        assert_false(in_list(held, nheld, ppo_set[i]));
    }
    for (int i = 0; i < nheld; i++) {
        assert_false(in_list(demo, ndemo, held[i]));
        assert_true(in_list(all_test, ntest, held[i]));  /* SFT is measured on them */
    }
    for (int i = 0; i < ntest; i++) assert_false(in_list(all_train, ntrain, all_test[i]));
    /* the reward model compares the SFT and PPO sets, and is tested on the held-out set */
    assert_int_equal(ncmp_train, ndemo + nppo);
    for (int i = 0; i < ndemo; i++) assert_true(in_list(cmp_train, ncmp_train, demo[i]));
    for (int i = 0; i < nppo; i++) assert_true(in_list(cmp_train, ncmp_train, ppo_set[i]));
    assert_int_equal(ncmp_test, nheld);
    for (int i = 0; i < nheld; i++) assert_true(in_list(cmp_test, ncmp_test, held[i]));
    tsv_free(&sft_train);
    tsv_free(&sft_test);
    tsv_free(&ppo);
    tsv_free(&prefs_train);
    tsv_free(&prefs_test);
}

static void test_sft_responses_are_the_rules_best_answers(void **state) {
    (void)state;
    const char *files[2] = {"sft_train.tsv", "sft_test.tsv"};
    for (int f = 0; f < 2; f++) {
        Tsv t;
        read_tsv(&t, run_dir, files[f], 2);
        for (int i = 0; i < t.nrows; i++) {
            const char *p = t.rows[i].fields[0], *r = t.rows[i].fields[1];
            assert_true(score_response(p, r, 1) == 1.5f);
            assert_true(strncmp(r, "it ", 3) == 0 || strcmp(r, "i do not know .") == 0);
        }
        tsv_free(&t);
    }
}

static void test_prefs_rows_are_ranked_best_first_by_the_rule(void **state) {
    (void)state;
    const char *files[2] = {"prefs_train.tsv", "prefs_test.tsv"};
    for (int f = 0; f < 2; f++) {
        Tsv t;
        read_tsv(&t, run_dir, files[f], 5);
        for (int i = 0; i < t.nrows; i++) {
            char **r = t.rows[i].fields;
            float s[4];
            for (int k = 0; k < 4; k++) s[k] = score_response(r[0], r[k + 1], 1);
            if (!(s[0] > s[1] && s[1] > s[2] && s[2] > s[3])) {
                fail_msg("%s:%d: scores %.1f %.1f %.1f %.1f are not strictly decreasing", files[f],
                         t.rows[i].line, s[0], s[1], s[2], s[3]);
            }
        }
        tsv_free(&t);
    }
}

static void test_fewshot_items_are_consistent(void **state) {
    (void)state;
    const char *files[2] = {"fewshot_pool.tsv", "fewshot_test.tsv"};
    Tsv t[2];
    for (int f = 0; f < 2; f++) read_tsv(&t[f], run_dir, files[f], 5);
    for (int f = 0; f < 2; f++) {
        for (int i = 0; i < t[f].nrows; i++) {
            char **r = t[f].rows[i].fields;
            if (strcmp(r[0], "arith") == 0) {
                int a, b;
                assert_int_equal(sscanf(r[1], "%d + %d", &a, &b), 2);
                assert_int_equal(atoi(r[2]), a + b);
                char tail[32];
                snprintf(tail, sizeof tail, ", so %d", a + b);
                assert_true(strlen(r[3]) > strlen(tail));
                assert_string_equal(r[3] + strlen(r[3]) - strlen(tail), tail);
                assert_string_equal(r[4], "");
            } else {
                assert_true(contains(r[4], r[2]));  /* the answer is among the candidates */
                assert_string_equal(r[3], "");
            }
            /* pool and test share no item */
            for (int j = 0; j < t[1 - f].nrows; j++) {
                char **o = t[1 - f].rows[j].fields;
                assert_false(strcmp(r[0], o[0]) == 0 && strcmp(r[1], o[1]) == 0 &&
                             strcmp(r[2], o[2]) == 0);
            }
        }
    }
    tsv_free(&t[0]);
    tsv_free(&t[1]);
}

static void test_bad_flags_fail_with_one_clear_line(void **state) {
    (void)state;
    const char *bad_seed[] = {"--seed", "abc", NULL};
    char *err = NULL;
    assert_int_not_equal(run_program("toydata", bad_seed, &err), 0);
    assert_true(contains(err, "error: --seed"));
    free(err);
    const char *unknown[] = {"--colour", NULL};
    assert_int_not_equal(run_program("toydata", unknown, &err), 0);
    assert_true(contains(err, "error: ") && contains(err, "--colour"));
    free(err);
}

int main(void) {
    const struct CMUnitTest world[] = {
        cmocka_unit_test(test_every_colour_and_every_place_belongs_to_four_objects),
        cmocka_unit_test(test_opposite_words_are_unique_and_never_world_facts),
        cmocka_unit_test(test_rng_is_deterministic_and_streams_differ),
        cmocka_unit_test(test_parse_prompt_reads_every_question_kind),
        cmocka_unit_test(test_answer_text_scores_best_for_every_question),
        cmocka_unit_test(test_rule_ranks_concise_above_rambling_above_wrong),
        cmocka_unit_test(test_colour_answer_to_a_where_question_is_wrong),
        cmocka_unit_test(test_missing_end_of_text_is_penalised),
        cmocka_unit_test(test_each_sign_of_rambling_costs_half_a_point),
        cmocka_unit_test(test_unknown_things_and_sums_have_one_right_answer),
        cmocka_unit_test(test_prompt_the_rule_cannot_read_scores_zero),
    };
    const struct CMUnitTest generator[] = {
        cmocka_unit_test(test_generator_is_deterministic_for_a_seed),
        cmocka_unit_test(test_committed_data_is_what_seed_1_writes),
        cmocka_unit_test(test_every_file_parses_with_its_header_and_column_count),
        cmocka_unit_test(test_labelled_reviews_never_occur_in_pretraining_or_training_text),
        cmocka_unit_test(test_fewshot_and_instruction_items_never_occur_in_pretraining),
        cmocka_unit_test(test_zeroshot_facts_are_stated_in_pretraining),
        cmocka_unit_test(test_instruction_prompt_sets_are_disjoint),
        cmocka_unit_test(test_sft_responses_are_the_rules_best_answers),
        cmocka_unit_test(test_prefs_rows_are_ranked_best_first_by_the_rule),
        cmocka_unit_test(test_fewshot_items_are_consistent),
        cmocka_unit_test(test_bad_flags_fail_with_one_clear_line),
    };
    int failed = cmocka_run_group_tests_name("toyworld", world, NULL, NULL);
    failed +=
        cmocka_run_group_tests_name("toydata", generator, generator_setup, generator_teardown);
    return failed;
}
