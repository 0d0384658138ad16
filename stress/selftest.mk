# stress/selftest: the harness must be able to fail.  The drivers are linked
# against stress/seedlike.c — an implementation of core/diskalloc.h with the
# Rust crate's defects, one per SEEDLIKE_DEFECT — and stress/selftest.sh runs
# each defect through the drivers meant to catch it.
SELFTEST_DIR  := $(BUILD)/selftest
SEEDLIKE_O    := $(SELFTEST_DIR)/seedlike.o
SELFTEST_ENV_BINS := $(addprefix $(SELFTEST_DIR)/,$(ENV_DRIVERS))

ALL_TARGETS += $(SEEDLIKE_O)

$(SEEDLIKE_O): stress/seedlike.c $(CORE_HDR)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -DFIU_ENABLE -Icore -c $< -o $@

$(SELFTEST_ENV_BINS): $(SELFTEST_DIR)/%: stress/%.c $(ENV_SRC) $(ENV_HDR) $(SEEDLIKE_O)
	@mkdir -p $(@D)
	$(CC) $(ENV_CFLAGS) $< $(ENV_SRC) $(SEEDLIKE_O) -o $@ $(LDFLAGS) $(FIU_LIBS)

.PHONY: stress-selftest
## stress-selftest: drivers vs. a seed-like implementation with each Rust-crate defect: all must be caught
stress-selftest: deps $(SELFTEST_ENV_BINS)
	@stress/selftest.sh $(SELFTEST_DIR)
