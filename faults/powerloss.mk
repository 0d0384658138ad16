# faults/powerloss: the power-loss recorder and explorer.  Pieces:
# faults/powerloss.{h,c} (the recorder: one module behind the in-process API
# and the LD_PRELOAD shim faults/preload/powerloss.c), faults/plmodel.py (the
# model: crash points, crash states, building them), faults/runlib.py (what
# the black-box tools share), faults/powerloss (the explorer's command line).
# See faults/README-powerloss.md.
PL_SHIM  := $(BUILD)/faults/powerloss.so
PL_OBJ   := $(BUILD)/faults/powerloss.o
PL_OUT   := $(BUILD)/powerloss
POWERLOSS_FLAGS ?=
ALL_TARGETS += $(PL_SHIM) $(PL_OBJ)

# The shim is loaded into programs built with any flags: no sanitizer here.
$(PL_SHIM): faults/preload/powerloss.c faults/powerloss.c faults/powerloss.h
	@mkdir -p $(@D)
	$(CC) $(OPT) $(WARN) $(WERROR) $(EXTRA_CFLAGS) -fPIC -shared -fvisibility=hidden -Ifaults \
	    faults/preload/powerloss.c faults/powerloss.c -o $@ -ldl -lpthread

# The in-process recorder: linked into a driver, its fsync, msync, write, ...
# stand in for libc's in every object of that program.
$(PL_OBJ): faults/powerloss.c faults/powerloss.h
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -Ifaults -c $< -o $@

.PHONY: powerloss
## powerloss: CMD='prog args' VERIFY='cmd' [POWERLOSS_FLAGS=...]: cut the power at every sync of any program; table, CSV, JSON in build/powerloss/latest
powerloss: $(PL_SHIM)
	@test -n "$$PL_CMD" -a -n "$$PL_VERIFY" || { echo "usage: make powerloss CMD='prog args' VERIFY='cmd' [POWERLOSS_FLAGS='--torn -j 2']" >&2; exit 2; }
	@printf '%s\n' "faults/powerloss --shim $(PL_SHIM) --out $(PL_OUT) $(POWERLOSS_FLAGS) --cmd '$$PL_CMD' --verify '$$PL_VERIFY'"
	@faults/powerloss --shim $(PL_SHIM) --out $(PL_OUT) $(POWERLOSS_FLAGS) --cmd "$$PL_CMD" --verify "$$PL_VERIFY"; \
	rc=$$?; [ $$rc = 0 ] || echo "make powerloss: faults/powerloss exited $$rc (1: findings, 2: usage or broken run); make reports any failure as 2"; exit $$rc
# $(value ...): the text as typed, so that "$$TMPDIR" in CMD reaches the shell unchanged
powerloss: export PL_CMD = $(value CMD)
powerloss: export PL_VERIFY = $(value VERIFY)

PL_DEMO := $(BUILD)/faults/powerloss-demo
ALL_TARGETS += $(PL_DEMO)
$(PL_DEMO): faults/powerloss-demo.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $< -o $@ $(LDFLAGS)

CHECK_STEPS += check-powerloss
## check-powerloss: the explorer finds the demo's power-loss-only bug (and replays it), none in correct programs; model unit tests; make passes $
check-powerloss: $(PL_SHIM) $(PL_DEMO) $(BUILD)/examples/persistent
	@mkdir -p $(BUILD)/tap; : > $(BUILD)/tap/$@.tap
	@PL_SANITIZE=$(SANITIZE) faults/powerloss-check.sh $(BUILD) $(BUILD)/tap/$@.tap
