# fuzz/: libFuzzer targets over untrusted input (the vector file format).
# Built with clang whatever CC is: -fsanitize=fuzzer needs libFuzzer
# (libclang-rt-14-dev, installed by ci/deps.sh).  The core is compiled again
# with the same instrumentation so the fuzzer sees its branches.
#   make fuzz FUZZ_SECONDS=N FUZZ_SEED=N   fuzz each target (default 60 s each)
#   make fuzz-corpus                       regenerate fuzz/corpus/ (after a format change)
#   make check-fuzz                        each committed seed once (TAP, part of make check)

FUZZ_TARGETS := vecfile
FUZZ_CC      ?= clang
FUZZ_SECONDS ?= 60
FUZZ_SEED    ?=
FUZZ_DIR     := $(BUILD)/fuzz
FUZZ_SAN     := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
FUZZ_CFLAGS   = -O1 -g $(WARN) $(WERROR) -Icore -Ifuzz $(FUZZ_SAN)
FUZZ_BINS    := $(addprefix $(FUZZ_DIR)/,$(FUZZ_TARGETS))

# The generator is plain C over the plain core: part of `make all` (gcc and clang builds).
ALL_TARGETS += $(FUZZ_DIR)/mkcorpus

$(FUZZ_DIR)/mkcorpus: fuzz/mkcorpus.c fuzz/vecformat.c fuzz/vecformat.h $(CORE_O)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -Icore -Ifuzz fuzz/mkcorpus.c fuzz/vecformat.c $(CORE_O) -o $@ $(LDFLAGS)

$(FUZZ_DIR)/obj/diskalloc.o: $(CORE_SRC) $(CORE_HDR)
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c $< -o $@

$(FUZZ_DIR)/obj/%.o: fuzz/%.c fuzz/vecformat.h $(CORE_HDR)
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c $< -o $@

$(FUZZ_DIR)/vecfile: $(FUZZ_DIR)/obj/vecfile.o $(FUZZ_DIR)/obj/vecformat.o $(FUZZ_DIR)/obj/diskalloc.o
	$(FUZZ_CC) $(FUZZ_SAN) -fsanitize=fuzzer $^ -o $@

.PHONY: fuzz fuzz-build fuzz-corpus check-fuzz
## fuzz-build: build the libFuzzer targets into $(BUILD)/fuzz/ (clang)
fuzz-build: deps $(FUZZ_BINS)

## fuzz: run each libFuzzer target FUZZ_SECONDS (default 60) from the committed corpus; FUZZ_SEED=N replays a run; non-zero exit on a finding, with its replay command
fuzz: fuzz-build
	@for t in $(FUZZ_TARGETS); do \
	    fuzz/run.sh $(FUZZ_DIR)/$$t fuzz/corpus/$$t $(FUZZ_DIR)/work/$$t \
	        "$(FUZZ_SECONDS)" "$(FUZZ_SEED)" || exit 1; \
	done

## fuzz-corpus: regenerate the generated seeds of fuzz/corpus/vecfile/ (v1 and v2 by hand, and the core's own files)
fuzz-corpus: $(FUZZ_DIR)/mkcorpus
	@$(FUZZ_DIR)/mkcorpus fuzz/corpus/vecfile

CHECK_STEPS += check-fuzz
## check-fuzz: each libFuzzer target once over every committed seed, no mutation (one TAP line per seed)
check-fuzz: $(FUZZ_BINS)
	@mkdir -p $(BUILD)/tap; : > $(BUILD)/tap/$@.tap
	@for t in $(FUZZ_TARGETS); do \
	    fuzz/check.sh $(BUILD)/tap/$@.tap $(FUZZ_DIR)/$$t fuzz/corpus/$$t; \
	done
