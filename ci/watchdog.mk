# The watchdogs of `make check` (ci/check.sh, each step) and `make stress`
# (stress/run.sh, each driver): ci/watchdog.sh, proved on hangs made on purpose.
CHECK_STEPS += check-watchdog
.PHONY: check-watchdog
## check-watchdog: a step and a driver that hang are named failures within their limits, their process groups killed (~10 s)
check-watchdog:
	@mkdir -p $(BUILD)/tap
	@ci/watchdog-test.sh $(BUILD)/tap/$@.tap
