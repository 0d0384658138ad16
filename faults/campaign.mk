# faults/campaign: fail each call of any program, one at a time, and judge each run.
# Pieces: faults/campaign (the runner) and faults/campaignlib/ (its parts:
# conventions shared with other explorers, judging, sizes), faults/preload/
# (the LD_PRELOAD shim that fails the Nth call, counts calls per object and
# notes the files written), faults/campaign-demo.c and faults/campaign-crate.c
# (example targets).  See faults/README-campaign.md.
CAMPAIGN_SHIM := $(BUILD)/faults/nthfail.so
CAMPAIGN_SHIM_SRC := faults/preload/nthfail.c faults/preload/caller.c faults/preload/files.c
CAMPAIGN_DEMO := $(BUILD)/faults/campaign-demo
CAMPAIGN_CRATE := $(BUILD)/faults/campaign-crate
CAMPAIGN_SEEDLIKE_DEMO := $(BUILD)/faults/campaign-demo-seedlike
CAMPAIGN_OUT  := $(BUILD)/campaign
CAMPAIGN_FLAGS ?=
ALL_TARGETS += $(CAMPAIGN_SHIM) $(CAMPAIGN_DEMO) $(CAMPAIGN_CRATE)

# The shim is loaded into programs built with any flags: no sanitizer here.
$(CAMPAIGN_SHIM): $(CAMPAIGN_SHIM_SRC) faults/preload/nthfail.h
	@mkdir -p $(@D)
	$(CC) $(OPT) $(WARN) $(WERROR) $(EXTRA_CFLAGS) -fPIC -shared -fvisibility=hidden \
	    $(CAMPAIGN_SHIM_SRC) -o $@ -ldl

# Shaped like the Rust crate diskallocator: a temp file in /var/tmp, grown
# sparsely and stored into through MAP_SHARED.  Built like the shim: plain.
$(CAMPAIGN_CRATE): faults/campaign-crate.c
	@mkdir -p $(@D)
	$(CC) $(OPT) $(WARN) $(WERROR) $(EXTRA_CFLAGS) $< -o $@

$(CAMPAIGN_DEMO): faults/campaign-demo.c $(CORE_O)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -Icore $< $(CORE_O) -o $@ $(LDFLAGS)

# SEEDLIKE_O comes from stress/selftest.mk, read after this file: expand it in
# the recipe (at run time), and depend on its sources instead.
$(CAMPAIGN_SEEDLIKE_DEMO): faults/campaign-demo.c stress/seedlike.c $(CORE_HDR)
	@$(MAKE) --no-print-directory $(SEEDLIKE_O)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -Icore $< $(SEEDLIKE_O) -o $@ $(LDFLAGS) $(FIU_LIBS)

.PHONY: campaign check-campaign check-campaign-cli
## campaign: CMD='prog args' [VERIFY='cmd'] [CAMPAIGN_FLAGS=...]: fault campaign over any program; report, CSV, JSON in build/campaign/<date>-<seed>/
# make expands `$` in command-line variables: CMD and VERIFY reach the shell
# through the environment, as written ($(value ...)), never through the
# recipe text.  The campaign prints the command it runs; make's own exit
# status is 2 whenever a recipe fails, so the campaign's is printed plainly.
campaign: $(CAMPAIGN_SHIM)
	@if [ -z "$$CAMPAIGN_CMD" ]; then \
	    echo "usage: make campaign CMD='prog args' [VERIFY='cmd'] [CAMPAIGN_FLAGS='--cap 20 --strace']" >&2; \
	    echo "make campaign: exit status 2 (usage error)" >&2; exit 2; fi; \
	set -- faults/campaign --shim $(CAMPAIGN_SHIM) --out $(CAMPAIGN_OUT) $(CAMPAIGN_FLAGS) \
	    --cmd "$$CAMPAIGN_CMD"; \
	if [ -n "$$CAMPAIGN_VERIFY" ]; then set -- "$$@" --verify "$$CAMPAIGN_VERIFY"; fi; \
	"$$@"; rc=$$?; \
	case $$rc in 0) what="no findings";; 1) what=findings;; \
	    2) what="usage error or broken unharmed run";; *) what="campaign failed";; esac; \
	echo "make campaign: exit status $$rc ($$what)"; exit $$rc
campaign: export CAMPAIGN_CMD := $(value CMD)
campaign: export CAMPAIGN_VERIFY := $(value VERIFY)

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

CHECK_STEPS += check-campaign-cli
## check-campaign-cli: the campaign's own behaviour: /var/tmp on the full disk, `$` through make, VERIFY's $DA_CAMPAIGN_EXIT, grouping, exit codes, run directories, verdicts
check-campaign-cli: $(CAMPAIGN_SHIM) $(CAMPAIGN_CRATE)
	@mkdir -p $(BUILD)/tap; : > $(BUILD)/tap/$@.tap
	@MAKE="$(MAKE)" faults/campaign-check.sh $(BUILD)/tap/$@.tap $(abspath $(CAMPAIGN_SHIM)) \
	    $(abspath $(CAMPAIGN_CRATE)) $(abspath $(CAMPAIGN_OUT))/cli
