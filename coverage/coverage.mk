# coverage/: `make coverage` — the core's lcov/genhtml report, the error-path
# report and the gate (100% lines, 100% branches, every error path hit).
COV_BUILD := build/cov
COV_MAKE   = $(MAKE) --no-print-directory BUILD=$(COV_BUILD) OPT="-O0 -g" \
             EXTRA_CFLAGS="--coverage -fprofile-update=atomic -DT_GCOV" EXTRA_LDFLAGS=--coverage \
             ENV_IMPL_O=$(COV_BUILD)/core/diskalloc-fiu.o ENV_IMPL_LIBS="$(FIU_LIBS)"
COV_TESTS  = $(addprefix $(COV_BUILD)/tests/test_,$(TEST_NAMES))
# every driver of `make stress` (stress/stress.mk's and faults/env.mk's lists):
# scenarios.sh runs what was built here, so a new driver is covered unasked
COV_DRIVERS = $(addprefix $(COV_BUILD)/stress/core/,$(STRESS_DRIVERS)) \
              $(addprefix $(COV_BUILD)/stress/,$(ENV_DRIVERS))

.PHONY: coverage coverage-build
## coverage: --coverage build; unit tests, sweep per fail point, stress drivers; lcov report in coverage/html; gate
coverage: deps coverage-build
	@coverage/scenarios.sh $(COV_BUILD) > $(COV_BUILD)/scenarios.tsv
	@BUILD=$(COV_BUILD) coverage/coverage.sh $(COV_BUILD)/scenarios.tsv

# From scratch: make does not notice changed flags, and stale .gcno/.gcda of
# another build would mix into the counts.
coverage-build:
	@rm -rf $(COV_BUILD)
	@$(COV_MAKE) $(COV_TESTS) $(COV_DRIVERS)
