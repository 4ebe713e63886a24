# gptladder — one Makefile, one target per thing a user does.
#
#   make            build every program into build/
#   make test       build and run the cmocka test suite
#   make sanitize   the same tests under AddressSanitizer + UBSan
#   make debug      every program at -O0 -g in build/debug/, for gdb
#   make bench      training and sampling speed (tokens/s, GFLOP/s, peak memory)
#   make bench-naive  the same on the reference triple-loop matmuls, to see what blocking buys
#   make bench-blas   our matmul against OpenBLAS (only where OpenBLAS is installed)
#   make data       generate the toy world (data/) and tokenize it (out/)
#   make run        data, then train and evaluate every rung in order, then plots
#   make scaling    rung 3c: a family of sizes and a data sweep (19 minutes on two busy cores: notes/04c)
#   make plots      render every plots/*.gp whose .tsv log exists
#   make clean      remove build/ (never out/, which holds your checkpoints)
#
# Knobs: NO_OMP=1 builds without OpenMP; THREADS="1 2" picks bench thread counts;
# FAST=1 makes `make run` use tiny settings (under a minute), writing into out/fast/.

CC      ?= gcc
SHELL   := /bin/bash
.SHELLFLAGS := -o pipefail -c   # a rung piped into tee still fails the build when it fails
# C11 with POSIX and GNU extensions for getopt_long and friends. IEEE maths:
# never -ffast-math (it broke llm.c's GELU backward), and -ffp-contract=off so
# that no compiler fuses a*b+c on its own (clang would by default): the one
# fused multiply-add is gemm.h's muladd, on purpose. -march=native where the
# compiler understands it, so the inner loops vectorise with AVX2/AVX-512.
NATIVE  := $(shell $(CC) -march=native -x c -c -o /dev/null /dev/null 2>/dev/null && echo -march=native)
# OPT is the one knob the sanitizer build (and you) may override.
OPT     ?= -O3 -g $(NATIVE)
CFLAGS  := -std=c11 -D_GNU_SOURCE -ffp-contract=off -Wall -Wextra -MMD -MP $(OPT)
LDLIBS  := -lm
ifdef NO_OMP
# no threads: the parallel pragmas are ignored; the simd ones (gemm.c) still vectorise
CFLAGS  += -Wno-unknown-pragmas $(shell $(CC) -fopenmp-simd -x c -c -o /dev/null /dev/null 2>/dev/null && echo -fopenmp-simd)
else
OMP     := $(shell $(CC) -fopenmp -x c -c -o /dev/null /dev/null 2>/dev/null && echo -fopenmp)
CFLAGS  += $(OMP)
endif
LDFLAGS := $(OMP) $(SANITIZE)
CMOCKA  := $(shell pkg-config --libs cmocka 2>/dev/null || echo -lcmocka)

# Library modules are the .c files that have a .h beside them; every other
# src/*.c is a program with its own main (src/tokenizer_main.c is `tokenizer`).
LIB_SRC  := $(patsubst %.h,%.c,$(wildcard src/*.h))
PROG_SRC := $(filter-out $(LIB_SRC),$(wildcard src/*.c))
PROGS    := $(patsubst src/%.c,build/%,$(subst _main.c,.c,$(PROG_SRC)))
TESTS    := $(patsubst tests/%.c,build/%,$(wildcard tests/test_*.c))
LIB      := build/libladder.a

.PHONY: all deps test sanitize bench bench-naive bench-blas clean data run ladder plots debug scaling
all: $(PROGS)

# ---- deps: check for gcc, make, cmocka and gnuplot; install what is missing ----
# Runs once (the stamp file remembers); `make clean` forgets it.
deps: build/.deps-ok
build/.deps-ok:
	@mkdir -p build
	@missing=""; \
	command -v gcc >/dev/null || missing="$$missing gcc"; \
	command -v make >/dev/null || missing="$$missing make"; \
	command -v pkg-config >/dev/null || missing="$$missing pkg-config"; \
	pkg-config --exists cmocka 2>/dev/null || missing="$$missing libcmocka-dev"; \
	command -v gnuplot >/dev/null || missing="$$missing gnuplot-nox"; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then sudo=""; \
	  elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then sudo="sudo"; \
	  else echo "gptladder needs:$$missing. Please run:"; \
	       echo "  sudo apt-get update && sudo apt-get install -y$$missing"; exit 1; fi; \
	  echo "installing:$$missing"; \
	  $$sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq $$missing || exit 1; \
	fi
	@touch $@

# ---- the library and the programs ----
build/obj/%.o: src/%.c | build/.deps-ok
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c -o $@ $<

$(LIB): $(patsubst src/%.c,build/obj/%.o,$(LIB_SRC))
	ar rcs $@ $^

build/tokenizer: src/tokenizer_main.c $(LIB)
	$(CC) $(CFLAGS) -o $@ $< $(LIB) $(LDFLAGS) $(LDLIBS)

build/%: src/%.c $(LIB)
	$(CC) $(CFLAGS) -o $@ $< $(LIB) $(LDFLAGS) $(LDLIBS)

# ---- tests: one cmocka binary per tests/test_*.c, run from the repo root ----
# A rung's test #includes the rung's .c with TESTING defined, which hides its main.
build/test_%: tests/test_%.c tests/testutil.h $(LIB) | $(PROGS)
	$(CC) $(CFLAGS) -DTESTING -Isrc -o $@ $< $(LIB) $(LDFLAGS) $(LDLIBS) $(CMOCKA)

test: $(TESTS) $(PROGS)
	@fail=0; for t in $(TESTS); do echo "== $$t"; ./$$t || fail=1; done; \
	if [ $$fail = 0 ]; then echo "make test: all test programs passed"; \
	else echo "make test: FAILED"; exit 1; fi

# ---- sanitize: the same tests, built apart under ASan + UBSan ----
SAN := -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
sanitize: | build/.deps-ok
	$(MAKE) --no-print-directory BUILD_SAN=1 OPT="$(SAN)" SANITIZE="$(SAN)" san-test

ifdef BUILD_SAN
build/san/obj/%.o: src/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c -o $@ $<
build/san/libladder.a: $(patsubst src/%.c,build/san/obj/%.o,$(LIB_SRC))
	ar rcs $@ $^
build/san/test_%: tests/test_%.c tests/testutil.h build/san/libladder.a
	$(CC) $(CFLAGS) -DTESTING -Isrc -o $@ $< build/san/libladder.a $(LDFLAGS) $(LDLIBS) $(CMOCKA)
build/san/%: src/%.c build/san/libladder.a
	$(CC) $(CFLAGS) -o $@ $< build/san/libladder.a $(LDFLAGS) $(LDLIBS)
build/san/tokenizer: src/tokenizer_main.c build/san/libladder.a
	$(CC) $(CFLAGS) -o $@ $< build/san/libladder.a $(LDFLAGS) $(LDLIBS)
# (the pipeline and docs tests run make and the ordinary build themselves: not here)
SAN_TESTS := $(patsubst build/%,build/san/%,$(filter-out build/test_pipeline build/test_docs,$(TESTS)))
SAN_PROGS := $(patsubst build/%,build/san/%,$(PROGS))
san-test: $(SAN_TESTS) $(SAN_PROGS)
	@fail=0; for t in $(SAN_TESTS); do echo "== $$t"; \
	  GPTLADDER_BIN=build/san ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
	  ./$$t || fail=1; done; \
	if [ $$fail = 0 ]; then echo "make sanitize: clean"; else echo "make sanitize: FAILED"; exit 1; fi
endif

# ---- debug: every program at -O0 -g in build/debug/, for gdb ----
# At -O3 the locals of small functions are optimised away; the notes' gdb
# recipes (run by tests/test_docs.c) use these: gdb --args build/debug/gpt1 ...
debug: | build/.deps-ok
	@$(MAKE) --no-print-directory BUILD_DEBUG=1 OPT="-O0 -g" debug-progs

ifdef BUILD_DEBUG
build/debug/obj/%.o: src/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c -o $@ $<
build/debug/libladder.a: $(patsubst src/%.c,build/debug/obj/%.o,$(LIB_SRC))
	ar rcs $@ $^
build/debug/tokenizer: src/tokenizer_main.c build/debug/libladder.a
	$(CC) $(CFLAGS) -o $@ $< build/debug/libladder.a $(LDFLAGS) $(LDLIBS)
build/debug/%: src/%.c build/debug/libladder.a
	$(CC) $(CFLAGS) -o $@ $< build/debug/libladder.a $(LDFLAGS) $(LDLIBS)
debug-progs: $(patsubst build/%,build/debug/%,$(PROGS))
endif

# ---- bench: fixed configs, fixed steps; prints one parsable line per run ----
THREADS ?= 1 2
build/bench: bench/bench.c $(LIB)
	$(CC) $(CFLAGS) -Isrc -o $@ $< $(LIB) $(LDFLAGS) $(LDLIBS)

bench: build/bench
	@for t in $(THREADS); do ./build/bench --threads $$t; done

# The "before" of notes/10-performance.md: the same bench with training's
# matmuls on the reference loops (tensor.c, LADDER_NAIVE_GEMM), built apart
# from the library.
build/bench_naive: bench/bench.c $(LIB_SRC) $(wildcard src/*.h) | build/.deps-ok
	$(CC) $(filter-out -MMD -MP,$(CFLAGS)) -DLADDER_NAIVE_GEMM -Isrc -o $@ bench/bench.c $(LIB_SRC) \
	    $(LDFLAGS) $(LDLIBS)

bench-naive: build/bench_naive
	@for t in $(THREADS); do ./build/bench_naive --threads $$t; done

# Our matmul against OpenBLAS's sgemm on the model's shapes (bench/gemm_vs_blas.c).
# Only when OpenBLAS is installed (Debian: libopenblas-dev); nothing else needs it.
BLAS := $(shell pkg-config --cflags --libs openblas 2>/dev/null)
build/gemm_vs_blas: bench/gemm_vs_blas.c $(LIB)
	$(CC) $(CFLAGS) -Isrc -o $@ $< $(LIB) $(LDFLAGS) $(BLAS) $(LDLIBS)

bench-blas:
	@if [ -z "$(BLAS)" ]; then echo "make bench-blas needs OpenBLAS: sudo apt-get install libopenblas-dev"; exit 1; fi
	@$(MAKE) --no-print-directory build/gemm_vs_blas && ./build/gemm_vs_blas $(THREADS)

# ---- data: the toy world, then its tokens ----
# toydata writes every file of data/ at once; pretrain.txt is too big to commit
# and is regenerated (byte for byte) from the seed.
DATA_SEED ?= 1
data: out/pretrain.bin out/val.bin out/induction_train.bin

DATA_FILES := data/pretrain.txt data/val.txt data/classify_train.tsv data/classify_test.tsv \
	data/zeroshot_test.tsv data/fewshot_pool.tsv data/fewshot_test.tsv data/sft_train.tsv \
	data/sft_test.tsv data/prefs_train.tsv data/prefs_test.tsv data/ppo_prompts.tsv \
	data/induction_train.txt data/induction_test.txt
$(DATA_FILES) &: build/toydata
	./build/toydata --out data --seed $(DATA_SEED)

out/tokenizer.merges: data/pretrain.txt build/tokenizer
	@mkdir -p out
	./build/tokenizer train --data data/pretrain.txt --vocab 512 --out out/tokenizer

out/%.bin: data/%.txt out/tokenizer.merges
	./build/tokenizer encode --model out/tokenizer.merges --data $< --out $@

# ---- run: every rung in order; each result is a file, so a second run with
# nothing changed trains nothing, and an interrupted run resumes at its rung ----
ifdef FAST
RUN  := out/fast
LOGS := out/fast
FLAGS := --fast
else
RUN  := out
LOGS := plots
FLAGS :=
endif

# the rungs in order; each leaves $(RUN)/NAME.out with its summary lines, and
# records the checkpoints it wrote in $(RUN)/NAME.sha256 (tools/ladder.sh).
# make run first checks those records: a checkpoint replaced by hand is moved
# to out/try/ and its rung, then every rung built on it, are redone, so the
# table below always describes one set of models.
RUNGS := gpt1_pretrain gpt1_finetune gpt2_zeroshot gpt3_fewshot induction sft reward ppo dpo
RUNGS += $(if $(FAST),scaling)   # rung 3c's full sweep is `make scaling`; FAST=1 runs its tiny one here
LADDER := tools/ladder.sh
run: all data
	@$(LADDER) check $(RUN)
	@$(MAKE) --no-print-directory -j2 ladder
	@$(MAKE) --no-print-directory plots LOGS=$(LOGS)
	@echo; echo "== gptladder: what each rung showed (logs in $(LOGS)/, checkpoints in $(RUN)/)"
	@cat $(patsubst %,$(RUN)/%.out,$(RUNGS)) | grep '^summary' | sed 's/^summary //'
ladder: $(patsubst %,$(RUN)/%.out,$(RUNGS))
# make run builds the ladder with -j2, in two lanes, so that both cores stay
# busy: rungs 3b (induction, beside pre-training), 1's fine-tuning and 6b
# (DPO) train beside the others, their output kept in their .out file and
# shown when they are done; the rest keep their order (the order-only "|"
# prerequisites below) and print as they go. After pre-training every rung
# runs on one thread ($(LANE)), one per core. No number depends on it: a rung
# gives the same bits on one thread or two (tests/test_gpt.c,
# test_training_gives_the_same_bits_on_one_or_two_threads), so running one by
# hand with the default threads reproduces its line of the table.
LANE := --threads 1
$(RUN)/gpt3_fewshot.out: | $(RUN)/gpt2_zeroshot.out
$(RUN)/sft.out: | $(RUN)/gpt3_fewshot.out
$(RUN)/scaling.out: | $(RUN)/dpo.out $(RUN)/ppo.out

# A rung that trains beside the others says so when it starts; its output
# goes to its .out file (printed whole if it fails), and when it is done the
# lines of it that match $(2) are shown.
beside = @echo "$(1): training on one thread beside the other rungs (its output: $@)"
beside_done = @echo "== $(1) finished:"; grep -E '$(2)' $@

# Pre-training writes gpt1_partial.bin (and its .state) at every evaluation and
# renames it when done: an interrupted `make run` resumes where it stopped.
# Every rung's output is kept in $(RUN)/NAME.out; its "summary" lines make the table.
$(RUN)/gpt1_pretrain.out: $(RUN)/gpt1.bin
$(RUN)/gpt1.bin: out/pretrain.bin out/val.bin build/gpt1
	@mkdir -p $(RUN)
	./build/gpt1 pretrain $(FLAGS) --data out/pretrain.bin --val out/val.bin \
	    --out $(RUN)/gpt1_partial.bin --log $(LOGS)/gpt1_pretrain.tsv \
	    $$(test -f $(RUN)/gpt1_partial.bin.state && echo --resume) | tee $(RUN)/gpt1_pretrain.out
	mv $(RUN)/gpt1_partial.bin $@
	rm -f $(RUN)/gpt1_partial.bin.state
	@$(LADDER) record $(RUN) gpt1_pretrain $@

$(RUN)/gpt1_finetune.out: $(RUN)/gpt1.bin data/classify_train.tsv data/classify_test.tsv
	$(call beside,gpt1 finetune)
	./build/gpt1 finetune $(FLAGS) $(LANE) --model $< --out $(RUN)/gpt1_classifier.bin \
	    --log $(LOGS)/gpt1_finetune.tsv > $@.tmp \
	    && $(LADDER) record $(RUN) gpt1_finetune $(RUN)/gpt1_classifier.bin $(RUN)/gpt1_classifier.head \
	    && mv $@.tmp $@ || { cat $@.tmp; exit 1; }
	$(call beside_done,gpt1 finetune,^summary)

# Rungs 2 and 3 take no gradient step: they question the pre-trained model.
$(RUN)/gpt2_zeroshot.out: $(RUN)/gpt1.bin data/zeroshot_test.tsv build/gpt2_zeroshot
	./build/gpt2_zeroshot $(FLAGS) $(LANE) --model $< --log $(LOGS)/gpt2_zeroshot.tsv | tee $@.tmp && mv $@.tmp $@

$(RUN)/gpt3_fewshot.out: $(RUN)/gpt1.bin data/fewshot_pool.tsv data/fewshot_test.tsv build/gpt3_fewshot
	./build/gpt3_fewshot $(FLAGS) $(LANE) --model $< --log $(LOGS)/gpt3_fewshot.tsv \
	    --cot-log $(LOGS)/gpt3_cot.tsv | tee $@.tmp && mv $@.tmp $@

# Rung 3b: a small model of its own, trained on the corpus with repeated-block
# documents mixed in, until an induction head forms (notes/04b-induction.md).
# It trains on one thread beside pre-training (whether and when the head forms
# depends on the last bits: notes/04b gives the seeds; the thread count does
# not change them).
$(RUN)/induction.out: out/induction_train.bin data/induction_test.txt data/fewshot_pool.tsv \
	    data/fewshot_test.tsv build/induction
	@mkdir -p $(RUN)
	$(call beside,induction)
	./build/induction $(FLAGS) $(LANE) --out $(RUN)/induction.bin --log $(LOGS)/induction.tsv \
	    --heads-log $(LOGS)/induction_heads.tsv --heatmap $(LOGS)/induction_heatmap.tsv > $@.tmp \
	    && $(LADDER) record $(RUN) induction $(RUN)/induction.bin && mv $@.tmp $@ \
	    || { cat $@.tmp; exit 1; }
	$(call beside_done,induction,^(summary|induction done))

# InstructGPT steps 1 and 2: SFT on demonstrations, then the reward model on
# ranked comparisons (it starts from the SFT trunk; its head goes beside it).
$(RUN)/sft.out: $(RUN)/gpt1.bin data/sft_train.tsv data/sft_test.tsv build/sft
	./build/sft $(FLAGS) $(LANE) --model $< --out $(RUN)/sft.bin --log $(LOGS)/sft.tsv | tee $@.tmp \
	    && $(LADDER) record $(RUN) sft $(RUN)/sft.bin && mv $@.tmp $@

$(RUN)/reward.out: $(RUN)/sft.out data/prefs_train.tsv data/prefs_test.tsv build/reward
	./build/reward train $(FLAGS) $(LANE) --model $(RUN)/sft.bin --out $(RUN)/reward.bin \
	    --log $(LOGS)/reward.tsv | tee $@.tmp \
	    && $(LADDER) record $(RUN) reward $(RUN)/reward.bin $(RUN)/reward.head && mv $@.tmp $@

# InstructGPT step 3: PPO from the SFT model against the reward model, with
# the KL penalty and then without it (beta = 0: reward hacking).
$(RUN)/ppo.out: $(RUN)/sft.out $(RUN)/reward.out data/ppo_prompts.tsv build/ppo
	./build/ppo $(FLAGS) $(LANE) --model $(RUN)/sft.bin --reward $(RUN)/reward.bin --out $(RUN)/ppo.bin \
	    --hack-out $(RUN)/ppo_beta0.bin --log $(LOGS)/ppo.tsv | tee $@.tmp \
	    && $(LADDER) record $(RUN) ppo $(RUN)/ppo.bin $(RUN)/ppo.head \
	       $(RUN)/ppo_beta0.bin $(RUN)/ppo_beta0.head && mv $@.tmp $@

# Rung 6b: DPO on the same rankings, no reward model and no PPO, with a beta
# sweep (the reward model only scores its answers, beside PPO's).
$(RUN)/dpo.out: $(RUN)/sft.out $(RUN)/reward.out data/prefs_train.tsv data/prefs_test.tsv data/ppo_prompts.tsv build/dpo
	$(call beside,dpo)
	./build/dpo $(FLAGS) $(LANE) --sweep 0.03,0.1,1 --model $(RUN)/sft.bin --reward $(RUN)/reward.bin --out $(RUN)/dpo.bin \
	    --log $(LOGS)/dpo.tsv > $@.tmp && $(LADDER) record $(RUN) dpo $(RUN)/dpo.bin && mv $@.tmp $@ \
	    || { cat $@.tmp; exit 1; }
	$(call beside_done,dpo,^(summary|dpo: the))

# Rung 3c: five sizes on the same tokens and a data sweep, trained from
# scratch (not from gpt1.bin), two runs at a time on one thread each. Too long
# for make run's five minutes, so its own target; its logs and plots are committed.
$(RUN)/scaling.out: out/pretrain.bin out/val.bin data/zeroshot_test.tsv data/fewshot_pool.tsv \
	    data/fewshot_test.tsv build/scaling
	@mkdir -p $(RUN)
	./build/scaling $(FLAGS) --params-log $(LOGS)/scaling_params.tsv --data-log $(LOGS)/scaling_data.tsv \
	    --compute-log $(LOGS)/scaling_compute.tsv --accuracy-log $(LOGS)/scaling_accuracy.tsv | tee $@.tmp && mv $@.tmp $@

scaling: all data $(RUN)/scaling.out
	@$(MAKE) --no-print-directory plots LOGS=$(LOGS)
	@grep '^summary' $(RUN)/scaling.out

# ---- plots: gnuplot -c plots/NAME.gp LOG.tsv OUT.png for every log present ----
LOGS ?= plots
plots: | build/.deps-ok
	@for gp in plots/*.gp; do name=$$(basename $$gp .gp); \
	  if [ -f $(LOGS)/$$name.tsv ]; then \
	    gnuplot -c $$gp $(LOGS)/$$name.tsv $(LOGS)/$$name.png && echo "plot: $(LOGS)/$$name.png"; \
	  fi; done

# ---- fuzz: libFuzzer targets for the file loaders (tests/fuzz/, clang) ----
# `make fuzz` builds each tests/fuzz/fuzz_*.c with clang (libFuzzer + ASan +
# UBSan) into build/fuzz/ and runs it for FUZZ_SECONDS, one after another,
# starting from the committed seeds in tests/fuzz/corpus/NAME/ (only read).
# What it finds stays out of the tree: new inputs in build/fuzz/corpus/NAME/,
# crashing inputs in build/fuzz/crashes/, the full output in build/fuzz/NAME.log.
# Leak checking is off: a die() inside a loader longjmps out (tests/fuzz/fuzz.h).
# Knobs: FUZZ_SECONDS=60 per target; FUZZ_TARGETS="fuzz_tsv" picks targets;
# FUZZ_FLAGS adds libFuzzer flags. Replay one input: build/fuzz/NAME FILE.
FUZZ_SECONDS ?= 60
FUZZ_CC      ?= clang
FUZZ_TARGETS ?= $(patsubst tests/fuzz/%.c,%,$(wildcard tests/fuzz/fuzz_*.c))
FUZZ_LIB     := util gpt tensor tokenizer head instruct toyworld
FUZZ_CFLAGS  := -std=c11 -D_GNU_SOURCE -Wall -Wextra -Wno-unknown-pragmas -MMD -MP -O1 -g \
                -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all -Isrc
# fuzz.h records what a dying loader allocated and opened, through these wraps
FUZZ_WRAP    := -Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc,--wrap=free,--wrap=fopen,--wrap=fdopen,--wrap=fclose
.PHONY: fuzz
.SECONDARY: $(patsubst %,build/fuzz/obj/%.o,$(FUZZ_LIB))   # keep the objects between runs

# clang and its libFuzzer runtime (Debian: clang, libclang-rt-dev); installed as `deps` does
build/.fuzz-deps-ok:
	@mkdir -p build
	@if ! { command -v $(FUZZ_CC) >/dev/null && \
	        printf 'int LLVMFuzzerTestOneInput(const char *d, unsigned long n) { return 0; }\n' | \
	        $(FUZZ_CC) -fsanitize=fuzzer,address,undefined -x c -o build/.fuzz-probe - 2>/dev/null; }; then \
	  missing="clang libclang-rt-dev"; \
	  if [ "$$(id -u)" = 0 ]; then sudo=""; \
	  elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then sudo="sudo"; \
	  else echo "make fuzz needs clang with libFuzzer. Please run:"; \
	       echo "  sudo apt-get update && sudo apt-get install -y $$missing"; exit 1; fi; \
	  echo "installing: $$missing"; \
	  $$sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq $$missing || exit 1; \
	fi
	@rm -f build/.fuzz-probe
	@touch $@

build/fuzz/obj/%.o: src/%.c | build/.fuzz-deps-ok
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -c -o $@ $<

build/fuzz/fuzz_%: tests/fuzz/fuzz_%.c $(patsubst %,build/fuzz/obj/%.o,$(FUZZ_LIB)) | build/.fuzz-deps-ok
	$(FUZZ_CC) $(FUZZ_CFLAGS) -o $@ $< $(patsubst %,build/fuzz/obj/%.o,$(FUZZ_LIB)) -lm $(FUZZ_WRAP)

fuzz: $(patsubst %,build/fuzz/%,$(FUZZ_TARGETS))
	@fail=""; for t in $(FUZZ_TARGETS); do \
	  mkdir -p build/fuzz/corpus/$$t build/fuzz/crashes; \
	  echo "== $$t: $(FUZZ_SECONDS) s (log: build/fuzz/$$t.log)"; \
	  ./build/fuzz/$$t -max_total_time=$(FUZZ_SECONDS) -timeout=10 -detect_leaks=0 -print_final_stats=1 \
	    -artifact_prefix=build/fuzz/crashes/$$t- $(FUZZ_FLAGS) build/fuzz/corpus/$$t tests/fuzz/corpus/$$t \
	    > build/fuzz/$$t.log 2>&1 || fail="$$fail $$t"; \
	  grep -E '^(stat::number_of_executed_units|stat::average_exec_per_sec|stat::new_units_added)|^SUMMARY|Test unit written' \
	    build/fuzz/$$t.log | sed 's/^/   /'; \
	done; \
	if [ -z "$$fail" ]; then echo "make fuzz: no crashes"; \
	else echo "make fuzz: FOUND CRASHES in:$$fail (inputs in build/fuzz/crashes/)"; exit 1; fi

-include $(wildcard build/fuzz/obj/*.d build/fuzz/*.d)

clean:
	rm -rf build

-include $(wildcard build/obj/*.d build/*.d build/san/obj/*.d build/debug/obj/*.d build/debug/*.d)
