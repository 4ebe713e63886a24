/* cli.h — the command line as data: every program declares its flags in one
 * table and gets parsing, range checks, --help and one-line errors from here.
 *
 *     int steps = 150; const char *out = "out/try/sft.bin";
 *     const Flag flags[] = {
 *         FLAG_INT("steps", &steps, 1, 10000000, "optimisation steps", "20"),
 *         FLAG_OUT("out", &out, "SFT checkpoint to write"),
 *         FLAG_END
 *     };
 *     Cli cli = {"sft", "fine-tune a pretrained GPT on demonstrations", flags, &seed, &threads};
 *     cli_parse(&cli, argc, argv);
 *
 * A flag's default is whatever its variable holds before cli_parse; --help
 * prints it. The last field of a numeric flag is its value under --fast (the
 * tiny preset the tests use), applied before the other flags so that an
 * explicit flag still wins. --seed, --threads, --fast and --help are added by
 * the module (the first two when the Cli names their variables). The
 * environment variable GPTLADDER_FAST=1 acts as --fast for every program: the
 * test that runs every command of the README and the notes (tests/) uses it.
 *
 * The wording of every refusal, each one line on stderr and exit status 1:
 *     unknown flag --epochs for sft (see sft --help)
 *     --steps needs a value (see sft --help)
 *     --steps given twice (see sft --help)
 *     --steps: 'ten' is not an integer in [1, 10000000]
 *     unexpected argument 'train' (see sft --help)
 *
 * Paths have roles. An input (FLAG_IN, FLAG_MODEL) is only read; an output
 * (FLAG_OUT, FLAG_LOG) is proven writable before any work starts (its folder
 * exists and is a folder, it is not a directory, a device or a FIFO, and a
 * file can be created beside it), and an output that names the same file as
 * an input or another output is refused: a run never reads what it is
 * overwriting. The default output of every program lies under out/try/, the
 * learner's own folder, created on first use: only `make run`, which names
 * its outputs explicitly, writes the ladder's checkpoints and plots/ logs.
 */
#ifndef GPTLADDER_CLI_H
#define GPTLADDER_CLI_H

/* Where a program writes when a learner runs it by hand (see above). */
#define TRY_DIR "out/try"

typedef enum {
    CLI_INT,     /* int *, in [lo, hi] */
    CLI_FLOAT,   /* float *, finite, in [lo, hi] */
    CLI_TEXT,    /* const char **: any string */
    CLI_IN,      /* const char **: a file the run reads */
    CLI_OUT,     /* const char **: a file the run writes (checked before the run) */
    CLI_ON,      /* int *: the flag sets it to 1 */
    CLI_OFF,     /* int *: the flag sets it to 0 (--no-something) */
} FlagKind;

typedef struct {
    const char *name;   /* without the dashes: "steps" */
    FlagKind kind;
    void *value;        /* where the value goes (and where the default is read from) */
    double lo, hi;      /* the allowed range of CLI_INT and CLI_FLOAT */
    const char *help;   /* one line; --help adds the default */
    const char *fast;   /* the value under --fast, or NULL */
    const char *meta;   /* the value's name in --help (N, X, PATH, ...); NULL: by kind */
} Flag;

#define FLAG_INT(name, ptr, lo, hi, help, fast)   {name, CLI_INT, ptr, lo, hi, help, fast, NULL}
#define FLAG_FLOAT(name, ptr, lo, hi, help, fast) {name, CLI_FLOAT, ptr, lo, hi, help, fast, NULL}
#define FLAG_TEXT(name, ptr, meta, help)          {name, CLI_TEXT, ptr, 0, 0, help, NULL, meta}
#define FLAG_IN(name, ptr, help)                  {name, CLI_IN, ptr, 0, 0, help, NULL, NULL}
#define FLAG_OUT(name, ptr, help)                 {name, CLI_OUT, ptr, 0, 0, help, NULL, NULL}
#define FLAG_ON(name, ptr, help)                  {name, CLI_ON, ptr, 0, 0, help, NULL, NULL}
#define FLAG_OFF(name, ptr, help)                 {name, CLI_OFF, ptr, 0, 0, help, NULL, NULL}
/* The flags most programs share, worded once. */
#define FLAG_MODEL(ptr, help)     FLAG_IN("model", ptr, help)
#define FLAG_TOKENIZER(ptr)       FLAG_IN("tokenizer", ptr, "tokenizer merges")
#define FLAG_LOG(ptr)             FLAG_OUT("log", ptr, "TSV log, one row per step; kept until the run succeeds")
#define FLAG_END                  {0}

typedef struct {
    const char *program;   /* as the user types it: "sft", "gpt1 pretrain" */
    const char *purpose;   /* one line for --help */
    const Flag *flags;     /* ends with FLAG_END */
    int *seed;             /* when not NULL, --seed N is a flag (default: its value) */
    int *threads;          /* when not NULL, --threads N is a flag (0 = all cores) */
    int *fast;             /* when not NULL, set to 1 under --fast */
} Cli;

/* Parses argv[1..argc-1] into the table's variables and checks the outputs
 * (see the header comment). --help prints cli_help and exits 0. Dies with one
 * line on any bad flag. Paths are pointers into argv (or the defaults). */
void cli_parse(const Cli *cli, int argc, char **argv);

/* Prints "usage: PROGRAM [flags]  PURPOSE" and every flag with its default. */
void cli_help(const Cli *cli);

/* For programs with sub-commands (`gpt1 pretrain|finetune|eval`): returns the
 * index in names[0..n-1] of argv[1]; -1 when argv[1] is missing, --help or
 * -h (the caller prints the help of every sub-command); dies with "unknown
 * command 'X': expected A, B or C (see PROGRAM --help)" otherwise. */
int cli_command(int argc, char **argv, const char *program, const char *const *names, int n);

#endif
