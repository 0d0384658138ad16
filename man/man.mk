# man/: diskalloc(3) and diskalloc(1), written by hand in mdoc; man/check.sh
# lints them and checks them against the header and the tool's --help.
CHECK_STEPS += check-man
.PHONY: check-man
## check-man: lint the man pages (mandoc, else groff); every header name and prototype, every tool option documented
check-man: $(TOOL_BIN)
	@mkdir -p $(BUILD)/tap
	@CC="$(CC)" man/check.sh $(TOOL_BIN) > $(BUILD)/tap/$@.tap; st=$$?; grep -v '^ok' $(BUILD)/tap/$@.tap; exit $$st
