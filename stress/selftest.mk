# stress/selftest: the harness must be able to fail.  Every driver (model,
# sweep, threads of stress/stress.mk; diskfull, exhaust, crash of
# faults/env.mk) is built against stress/seedlike.c — an implementation of
# core/diskalloc.h with the Rust crate's defects, one per SEEDLIKE_DEFECT —
# through their STRESS_IMPL mechanism, into $(BUILD)/stress/seedlike/; then
# stress/selftest.sh runs each defect through the drivers meant to catch it.
SEEDLIKE_O := $(BUILD)/stress/seedlike.o

ALL_TARGETS += $(SEEDLIKE_O)

$(SEEDLIKE_O): stress/seedlike.c $(CORE_HDR)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -DFIU_ENABLE -Icore -c $< -o $@

.PHONY: stress-selftest selftest-drivers
selftest-drivers: $(SEEDLIKE_O)
	@$(MAKE) --no-print-directory STRESS_IMPL=seedlike STRESS_IMPL_O=$(SEEDLIKE_O) stress-drivers

## stress-selftest: drivers vs. a seed-like implementation with each Rust-crate defect: all must be caught
stress-selftest: deps selftest-drivers
	@stress/selftest.sh $(BUILD)/stress/seedlike
