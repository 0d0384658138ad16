# faults/env: real-kernel fault environments (disk-full tmpfs sandbox,
# RLIMIT_FSIZE, RLIMIT_AS, maps/fd counters) and the drivers that live in them:
# stress/diskfull, stress/exhaust, stress/crash.
#
# The implementation of core/diskalloc.h the drivers link: the core as a user
# vendors it, into $(BUILD)/stress/; or, when STRESS_IMPL=NAME is given (as for
# stress/stress.mk's drivers), STRESS_IMPL_O (built with -DFIU_ENABLE) into
# $(BUILD)/stress/NAME/ next to model, sweep and threads — so
#   make stress-drivers STRESS_IMPL=seedlike STRESS_IMPL_O=build/stress/seedlike.o
# builds all six drivers against another implementation (stress/selftest.mk).
ENV_OTHER     := $(filter-out core,$(STRESS_IMPL))
ENV_IMPL_O    ?= $(if $(ENV_OTHER),$(STRESS_IMPL_O),$(CORE_O))
ENV_IMPL_LIBS ?= $(if $(ENV_OTHER),$(FIU_LIBS))
ENV_DIR       := $(BUILD)/stress$(if $(ENV_OTHER),/$(ENV_OTHER))
ENV_DRIVERS   := diskfull exhaust crash files
ENV_SRC       := faults/env.c stress/common.c
ENV_HDR       := faults/env.h stress/common.h $(CORE_HDR)
ENV_CFLAGS     = $(CFLAGS) -Icore -Istress -Ifaults
ENV_BINS      := $(addprefix $(ENV_DIR)/,$(ENV_DRIVERS))

ALL_TARGETS += $(ENV_BINS)

# One command per driver (no shared .o) so that no rule here can collide with
# another fragment's rules for stress/common.o.
$(ENV_BINS): $(ENV_DIR)/%: stress/%.c $(ENV_SRC) $(ENV_HDR) $(ENV_IMPL_O)
	@mkdir -p $(@D)
	$(CC) $(ENV_CFLAGS) $< $(ENV_SRC) $(ENV_IMPL_O) -o $@ $(LDFLAGS) $(ENV_IMPL_LIBS)

# TAP for one program; exit 77 (environment unavailable) is a skip, not a pass
# in disguise: the reason is in the TAP line.
define ENV_TAP
    f=$(BUILD)/tap/$@.tap; n=$(1); out=$$($(2) 2>&1); rc=$$?; \
    printf '%s\n' "$$out" | sed 's/^/    /' | tail -n 12; \
    case $$rc in \
      0) echo "ok - $$n" ;; \
      77) echo "ok - $$n # SKIP $$(printf '%s\n' "$$out" | grep -m1 -i 'skip\|sandbox')" ;; \
      *) echo "not ok - $$n (exit $$rc)" ;; \
    esac >> $$f
endef

CHECK_STEPS += check-env
.PHONY: check-env env-drivers
## env-drivers: build the real-kernel drivers ($(BUILD)/stress/{diskfull,exhaust,crash,files}; STRESS_IMPL= for another implementation)
env-drivers: $(ENV_BINS)

## check-env: disk-full sandbox works; diskfull, exhaust and crash drivers (--quick) pass
check-env: $(ENV_BINS)
	@mkdir -p $(BUILD)/tap; : > $(BUILD)/tap/$@.tap
	@$(call ENV_TAP,sandbox-enospc,faults/sandbox.sh --size 1m -- sh -c \
	    'test -d "$$DA_SANDBOX" && ! dd if=/dev/zero of="$$DA_SANDBOX/f" bs=64k count=32')
	@$(call ENV_TAP,diskfull,$(ENV_DIR)/diskfull --quick)
	@$(call ENV_TAP,exhaust,$(ENV_DIR)/exhaust --quick)
	@$(call ENV_TAP,crash,$(ENV_DIR)/crash --quick)
