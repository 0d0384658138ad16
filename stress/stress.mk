# stress/: the fault-injection drivers and `make stress`.
#
# Drivers linked here (each from stress/<name>.c + the oracle + stress/common
# + $(FAULTS_LIB) + an implementation of core/diskalloc.h):
#   STRESS_DRIVERS   += model sweep threads      (append your own)
# The implementation they are linked against is a variable:
#   STRESS_IMPL      = core                      a name: binaries go to $(BUILD)/stress/<name>/
#   STRESS_IMPL_O    = $(CORE_FIU_O)             its object(s), built with -DFIU_ENABLE
#   e.g.  make stress-drivers STRESS_IMPL=seedlike STRESS_IMPL_O=$(BUILD)/stress/seedlike.o
#         stress/run.sh $(BUILD)/stress/seedlike/model ...
# Drivers `make stress` runs besides these (other fragments' binaries):
#   STRESS_RUN_EXTRA (default: $(ENV_BINS), the diskfull, exhaust and crash
#   drivers of faults/env.mk), and $(BUILD)/stress/<impl>/drivers lists them all.
#
# `make stress`: STRESS_SECONDS (default 60, shared by the drivers),
# STRESS_SEED (default: from the clock), SANITIZE=address,undefined (built
# into $(BUILD)/san-address-undefined).  `make stress-tsan`: threads under TSan.

STRESS_DRIVERS += model sweep threads
STRESS_IMPL    ?= core
STRESS_IMPL_O  ?= $(CORE_FIU_O)
STRESS_SECONDS ?= 60
STRESS_SEED    ?=
STRESS_RUN_EXTRA ?= $(ENV_BINS)

STRESS_DIR    := $(BUILD)/stress/$(STRESS_IMPL)
STRESS_BINS    = $(addprefix $(STRESS_DIR)/,$(STRESS_DRIVERS))
STRESS_CFLAGS  = $(CFLAGS) -Icore -Istress -Ifaults
STRESS_COMMON := $(BUILD)/stress/obj/common.o $(BUILD)/stress/obj/oracle.o
STRESS_HDR    := stress/common.h stress/oracle.h faults/fault.h faults/env.h $(CORE_HDR)

ALL_TARGETS += $(addprefix $(BUILD)/stress/core/,model sweep threads)

$(BUILD)/stress/obj/%.o: stress/%.c $(STRESS_HDR)
	@mkdir -p $(@D)
	$(CC) $(STRESS_CFLAGS) -c $< -o $@

# One rule per driver: the implementation object is a plain prerequisite.
define STRESS_LINK
$$(STRESS_DIR)/$(1): $$(BUILD)/stress/obj/$(1).o $$(STRESS_COMMON) $$(FAULTS_LIB) $$(STRESS_IMPL_O)
	@mkdir -p $$(@D)
	$$(CC) $$(LDFLAGS) $$^ $$(FIU_LIBS) -lpthread -o $$@
endef
$(foreach d,model sweep threads,$(eval $(call STRESS_LINK,$(d))))

.PHONY: stress stress-run stress-drivers stress-tsan check-stress
## stress-drivers: build the stress drivers into $(BUILD)/stress/$(STRESS_IMPL)/ (and their list, drivers)
stress-drivers: $(STRESS_BINS) $(STRESS_RUN_EXTRA)
	@printf '%s\n' $(STRESS_BINS) $(STRESS_RUN_EXTRA) > $(STRESS_DIR)/drivers

comma := ,
STRESS_SAN_BUILD = $(BUILD)/san-$(subst $(comma),-,$(SANITIZE))

## stress: every driver within STRESS_SECONDS (default 60; STRESS_SEED=N); a table per driver; exit 0 only without violations and crashes
stress: deps
	@$(MAKE) --no-print-directory $(if $(SANITIZE),BUILD=$(STRESS_SAN_BUILD) \
	    EXTRA_CFLAGS="$(EXTRA_CFLAGS) -fno-sanitize-recover=all") stress-run

stress-run: stress-drivers
	@STRESS_SECONDS=$(STRESS_SECONDS) STRESS_SEED=$(STRESS_SEED) stress/run.sh $(STRESS_DIR)/drivers

## stress-tsan: the threads driver built with ThreadSanitizer (STRESS_SECONDS, default 20)
stress-tsan: deps
	@$(MAKE) --no-print-directory BUILD=$(BUILD)/san-thread SANITIZE=thread \
	    STRESS_SECONDS=$(or $(filter-out 60,$(STRESS_SECONDS)),20) STRESS_DRIVERS=threads \
	    STRESS_RUN_EXTRA= stress-run

CHECK_STEPS += check-stress
STRESS_CHECK_BINS := $(addprefix $(BUILD)/stress/core/,model sweep threads)
## check-stress: model, sweep and threads drivers, --quick (a second or two each)
check-stress: $(STRESS_CHECK_BINS)
	@mkdir -p $(BUILD)/tap; : > $(BUILD)/tap/$@.tap
	@for b in $(STRESS_CHECK_BINS); do d=$${b##*/}; log=$$b.check.log; \
	    if $$b --quick > $$log 2>&1; then echo "ok - stress-$$d" >> $(BUILD)/tap/$@.tap; \
	    else echo "not ok - stress-$$d (exit $$?, output in $$log)" >> $(BUILD)/tap/$@.tap; \
	        grep -m 6 -A1 '^VIOLATION\|^CRASH' $$log | sed 's/^/    /'; tail -n 1 $$log; fi; done
