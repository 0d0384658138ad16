# bench/: `make bench` measures da_vec against its alternatives; see bench/README.md.
BENCH_SRC := $(addprefix bench/,main.c report.c one.c da.c mem.c file.c)
BENCH_HDR := $(addprefix bench/,bench.h driver.h one.h) $(CORE_HDR)
BENCH_BIN := $(BUILD)/bench/bench
# -O2 whatever OPT says: the numbers are for an optimized build of the core.
BENCH_OPT = $(CFLAGS) -O2
BENCH_CFLAGS = $(BENCH_OPT) -D_GNU_SOURCE -Icore -Ibench

BENCH_SIZES ?= 1M,4M,16M,64M,256M,1G,4G
BENCH_RUNS ?= 5
BENCH_GROW_MAX ?= 64G
BENCH_CONTENDERS ?= da,da-sparse,realloc,write,mem,dd
BENCH_BIG ?=
BENCH_BIG_RUNS ?= 1
BENCH_BIG_SIZE ?=
BENCH_CELL_BUDGET ?= 20
BENCH_BUDGET ?= 540
BENCH_EXPLORE_CONTENDERS ?= da,da-huge,da-seq,da-populate,da-huge-populate,da-cap64m,da-cap2m,da-huge-cap64m,da-huge-pop64m,write
BENCH_FLAGS = --runs $(BENCH_RUNS) --sizes $(BENCH_SIZES) --grow-max $(BENCH_GROW_MAX) \
    --cell-budget $(BENCH_CELL_BUDGET) --budget $(BENCH_BUDGET) \
    $(if $(BENCH_BIG),--big --big-runs $(BENCH_BIG_RUNS)) \
    $(if $(BENCH_BIG_SIZE),--big-size $(BENCH_BIG_SIZE)) --gp bench/plot.gp

ALL_TARGETS += $(BENCH_BIN)
# (the correctness of the streaming paths the bench times is tests/test_stream.c)

# The core compiled into the bench binary at -O2, apart from $(CORE_O).
$(BUILD)/bench/diskalloc.o: $(CORE_SRC) $(CORE_HDR)
	@mkdir -p $(@D)
	$(CC) $(BENCH_OPT) -c $< -o $@

$(BUILD)/bench/%.o: bench/%.c $(BENCH_HDR)
	@mkdir -p $(@D)
	$(CC) $(BENCH_CFLAGS) -c $< -o $@

$(BENCH_BIN): $(patsubst bench/%.c,$(BUILD)/bench/%.o,$(BENCH_SRC)) $(BUILD)/bench/diskalloc.o
	$(CC) $^ -o $@ $(LDFLAGS)

.PHONY: bench bench-explore check-bench
## bench: da_vec vs realloc, write(2) and the hardware, 1M..4G in <= 10 min (BENCH_BIG=1 adds push/scan/random at 1.5x RAM); table, bench/results.csv, bench/plot.png
bench: deps $(BENCH_BIN)
	$(BENCH_BIN) $(BENCH_FLAGS) --contenders $(BENCH_CONTENDERS) \
	    --csv bench/results.csv --plot bench/plot.png

## bench-explore: push-path variants (madvise, populate, growth steps) vs da; $(BUILD)/bench/explore.csv, bench/explore.png
bench-explore: deps $(BENCH_BIN)
	$(BENCH_BIN) $(BENCH_FLAGS) --contenders $(BENCH_EXPLORE_CONTENDERS) --grow-max 4G \
	    --workloads push,extend,grow --csv $(BUILD)/bench/explore.csv --plot bench/explore.png

CHECK_STEPS += check-bench
## check-bench: the bench binary at 1 MiB (the beyond-RAM cells at 4 MiB), one run per cell; its CSV is well formed
check-bench: $(BENCH_BIN)
	@mkdir -p $(BUILD)/tap; : > $(BUILD)/tap/$@.tap
	@ci/tap-run.sh $(BUILD)/tap/$@.tap bench-tiny sh -c '$(BENCH_BIN) --sizes 1M --runs 1 \
	    --big-size 4M --contenders $(BENCH_CONTENDERS),$(BENCH_EXPLORE_CONTENDERS) \
	    --csv $(BUILD)/bench/check.csv > $(BUILD)/bench/check.log 2>&1'
	@ci/tap-run.sh $(BUILD)/tap/$@.tap bench-csv bench/csv-check.sh $(BUILD)/bench/check.csv \
	    "scan rcold"
