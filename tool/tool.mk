# tool/: the `diskalloc` command (info, check, dump, allocate) over the public
# API, and its tests.  TOOL_BIN is named in lib/lib.mk, which installs it.
# The tool links the core statically: it runs wherever it is copied, before
# ldconfig has seen the shared library.
ALL_TARGETS += $(TOOL_BIN)

$(TOOL_BIN): tool/diskalloc.c tool/file.c tool/file.h $(CORE_O) $(CORE_HDR)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -Icore tool/diskalloc.c tool/file.c $(CORE_O) -o $@ $(LDFLAGS)

# A test helper: persistent vector files of any element size and length.
$(BUILD)/tool/mkvec: tool/mkvec.c $(CORE_O) $(CORE_HDR)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -Icore $< $(CORE_O) -o $@ $(LDFLAGS)

# A test shim: no FIEMAP (and optionally no st_blocks), so the tool's
# fallbacks run on any file system.  Loaded into the tool: no sanitizer.
TOOL_NOFIEMAP := $(BUILD)/tool/nofiemap.so
$(TOOL_NOFIEMAP): tool/nofiemap.c
	@mkdir -p $(@D)
	$(CC) $(OPT) $(WARN) $(WERROR) $(EXTRA_CFLAGS) -fPIC -shared -fvisibility=hidden $< -o $@ -ldl

CHECK_STEPS += check-tool
.PHONY: check-tool
## check-tool: the diskalloc tool on real, sparse, locked and damaged files; numpy.memmap from info --json
check-tool: $(TOOL_BIN) $(BUILD)/tool/mkvec $(BUILD)/examples/persistent $(if $(SANITIZE),,$(CAMPAIGN_SHIM) $(TOOL_NOFIEMAP))
	@mkdir -p $(BUILD)/tap
	@$(if $(SANITIZE),,CAMPAIGN_SHIM=$(CAMPAIGN_SHIM) TOOL_NOFIEMAP=$(TOOL_NOFIEMAP)) tool/test.sh $(TOOL_BIN) $(BUILD)/tool/mkvec $(BUILD)/examples/persistent > $(BUILD)/tap/$@.tap; \
	    st=$$?; grep -v '^ok' $(BUILD)/tap/$@.tap; exit $$st
