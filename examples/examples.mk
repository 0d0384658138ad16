# examples/: the README's programs, compiled and run by `make check`.
EXAMPLES := quickstart persistent
EXAMPLE_BINS := $(addprefix $(BUILD)/examples/,$(EXAMPLES))

$(BUILD)/examples/%: examples/%.c $(CORE_O)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -Icore $< $(CORE_O) -o $@ $(LDFLAGS)

CHECK_STEPS += check-examples
.PHONY: check-examples
## check-examples: compile and run the README's examples
check-examples: $(EXAMPLE_BINS)
	@f=$(BUILD)/tap/check-examples.tap; mkdir -p $(BUILD)/tap; : > $$f; \
	ci/tap-run.sh $$f quickstart $(BUILD)/examples/quickstart; \
	d=$$(mktemp -d); \
	ci/tap-run.sh $$f persistent-create $(BUILD)/examples/persistent $$d/c.davec; \
	ci/tap-run.sh $$f persistent-reopen sh -c '$(BUILD)/examples/persistent '$$d'/c.davec | grep -q "holds 2 entries"'; \
	rm -rf $$d
