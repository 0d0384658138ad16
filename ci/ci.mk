# ci/: checks of the vendoring promise that run in `make check` too.
CHECK_STEPS += check-vendor check-symbols
.PHONY: check-vendor check-symbols
## check-vendor: the two core files alone in an empty dir: gcc, clang, C++, -Wpedantic -Werror
check-vendor:
	@mkdir -p $(BUILD)/tap; : > $(BUILD)/tap/$@.tap
	@ci/tap-run.sh $(BUILD)/tap/$@.tap vendoring ci/vendor-check.sh
## check-symbols: every exported symbol of the core starts with da_
check-symbols: $(CORE_O) $(CORE_FIU_O)
	@mkdir -p $(BUILD)/tap; : > $(BUILD)/tap/$@.tap
	@ci/tap-run.sh $(BUILD)/tap/$@.tap symbols ci/symbols.sh $(CORE_O)
	@ci/tap-run.sh $(BUILD)/tap/$@.tap symbols-fiu ci/symbols.sh $(CORE_FIU_O)

CHECK_STEPS += check-readme
.PHONY: check-readme
## check-readme: every C block in README.md is one of examples/*.c (which check-examples runs)
check-readme:
	@mkdir -p $(BUILD)/tap; : > $(BUILD)/tap/$@.tap
	@ci/tap-run.sh $(BUILD)/tap/$@.tap readme-examples ci/readme-check.sh
