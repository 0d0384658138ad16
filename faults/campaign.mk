# faults/campaign: fail each call of any program, one at a time, and judge each run.
# Pieces: faults/campaign (the runner), faults/preload/nthfail.c (the LD_PRELOAD
# shim that fails the Nth call and counts calls), faults/campaign-demo.c (the
# built-in example target).  See faults/README-campaign.md.
CAMPAIGN_SHIM := $(BUILD)/faults/nthfail.so
CAMPAIGN_DEMO := $(BUILD)/faults/campaign-demo
CAMPAIGN_SEEDLIKE_DEMO := $(BUILD)/faults/campaign-demo-seedlike
CAMPAIGN_OUT  := $(BUILD)/campaign
CAMPAIGN_FLAGS ?=
ALL_TARGETS += $(CAMPAIGN_SHIM) $(CAMPAIGN_DEMO)

# The shim is loaded into programs built with any flags: no sanitizer here.
$(CAMPAIGN_SHIM): faults/preload/nthfail.c
	@mkdir -p $(@D)
	$(CC) $(OPT) $(WARN) $(WERROR) $(EXTRA_CFLAGS) -fPIC -shared -fvisibility=hidden $< -o $@ -ldl

$(CAMPAIGN_DEMO): faults/campaign-demo.c $(CORE_O)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -Icore $< $(CORE_O) -o $@ $(LDFLAGS)

# SEEDLIKE_O comes from stress/selftest.mk, read after this file: expand it in
# the recipe (at run time), and depend on its sources instead.
$(CAMPAIGN_SEEDLIKE_DEMO): faults/campaign-demo.c stress/seedlike.c $(CORE_HDR)
	@$(MAKE) --no-print-directory $(SEEDLIKE_O)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -Icore $< $(SEEDLIKE_O) -o $@ $(LDFLAGS) $(FIU_LIBS)

.PHONY: campaign check-campaign
## campaign: CMD='prog args' [VERIFY='cmd'] [CAMPAIGN_FLAGS=...]: fault campaign over any program; table, CSV, JSON in build/campaign
campaign: $(CAMPAIGN_SHIM)
	@test -n "$$CMD" || { echo "usage: make campaign CMD='prog args' [VERIFY='cmd'] [CAMPAIGN_FLAGS='--cap 20 --strace']" >&2; exit 2; }
	faults/campaign --shim $(CAMPAIGN_SHIM) --out $(CAMPAIGN_OUT) $(CAMPAIGN_FLAGS) \
	    --cmd "$$CMD" $${VERIFY:+--verify "$$VERIFY"}
campaign: export CMD := $(CMD)
campaign: export VERIFY := $(VERIFY)

# The check runs: small (a few seconds each), fixed seed, every site.
CAMPAIGN_CHECK = faults/campaign --shim $(CAMPAIGN_SHIM) --seed 6 --cap 6 --exhaustive 4 --timeout 10
CAMPAIGN_DEMO_ARGS = --cmd 'DISKALLOC_RESERVE=64M $(abspath $(1)) run v.davec 3000' \
    --verify '$(abspath $(1)) verify v.davec'
# A sanitizer runtime aborts when its own mmap fails and clashes with libfiu's
# preloaded malloc: under SANITIZE only the nthfail shim and environments.
# RLIMIT_AS cannot hold a sanitizer's shadow memory either: the runtime, not
# the program, dies there, so the as site is left out too.
CAMPAIGN_SAN_SITES := mmap,munmap,mremap,msync,madvise,ftruncate,fallocate,posix_fallocate,fsync,fdatasync,disk-full,fsize
CAMPAIGN_ENGINES = $(if $(SANITIZE),--fiu-runs 0 --sites $(CAMPAIGN_SAN_SITES),\
    --fiu-runs 2 $(if $(shell command -v strace),--strace))
CAMPAIGN_CMD_CORE = $(CAMPAIGN_CHECK) $(CAMPAIGN_ENGINES) \
    --out $(CAMPAIGN_OUT)/core $(call CAMPAIGN_DEMO_ARGS,$(CAMPAIGN_DEMO))
CAMPAIGN_CMD_SEEDLIKE = env SEEDLIKE_DEFECT=$$d $(CAMPAIGN_CHECK) --cap 4 --fiu-runs 0 --expect-findings \
    --out $(CAMPAIGN_OUT)/seedlike-$$d $(call CAMPAIGN_DEMO_ARGS,$(CAMPAIGN_SEEDLIKE_DEMO))
# A program that knows nothing of diskalloc: Python growing a file with
# ftruncate and writing it through mmap.  On a full disk that store is SIGBUS.
CAMPAIGN_PY = import mmap, os; fd = os.open("data", os.O_RDWR | os.O_CREAT); \
    [(os.ftruncate(fd, (i + 1) << 14), mmap.mmap(fd, (i + 1) << 14).write(b"x" * ((i + 1) << 14))) for i in range(8)]
CAMPAIGN_CMD_PY = $(CAMPAIGN_CHECK) --cap 4 --fiu-runs 0 --sites ftruncate,mmap,munmap,disk-full \
    --expect-findings --fail-on crash,hang,data-loss --out $(CAMPAIGN_OUT)/python \
    -- /usr/bin/python3 -I -c '$(CAMPAIGN_PY)'

# TAP line for one campaign: $(1) name, $(2) log name, $(3) command.
define CAMPAIGN_TAP
    f=$(BUILD)/tap/$@.tap; log=$(CAMPAIGN_OUT)/$(2).log; mkdir -p $(CAMPAIGN_OUT); \
    if $(3) > $$log 2>&1; then echo "ok - $(1)" >> $$f; \
    else echo "not ok - $(1) (see $$log)" >> $$f; fi; \
    grep -v '^  replay:' $$log | grep -v '^$$' | sed 's/^/    /' | tail -n 30
endef

CHECK_STEPS += check-campaign
## check-campaign: campaign over the demo on the core (all ok/clean error), on seed-like defects and on a Python mmap user (found and replayed)
check-campaign: $(CAMPAIGN_SHIM) $(CAMPAIGN_DEMO) $(CAMPAIGN_SEEDLIKE_DEMO)
	@mkdir -p $(BUILD)/tap; : > $(BUILD)/tap/$@.tap
	@$(call CAMPAIGN_TAP,campaign-core-demo: every run ok or clean error,core,$(CAMPAIGN_CMD_CORE))
	@for d in abort_on_ftruncate_failure sparse_growth state_before_resize; do \
	    $(call CAMPAIGN_TAP,campaign-seedlike-$$d: crash or data loss found and replayed,seedlike-$$d,$(CAMPAIGN_CMD_SEEDLIKE)); \
	done
	@$(call CAMPAIGN_TAP,campaign-python-mmap: SIGBUS on a full disk found and replayed,python,$(CAMPAIGN_CMD_PY))
