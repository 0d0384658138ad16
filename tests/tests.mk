# tests/: cmocka unit tests of the core, one program per concern, each built
# against the core with fail points (CORE_FIU_O) and run as its own check step.
TEST_NAMES := errors arena alloc vec persist sync limits model failpoints edges
# issue 9: the hardening contracts (.notes/hardening-contract.md)
TEST_NAMES += header open strerror shrink
# the outside review of the hardened core
TEST_NAMES += review
# issue 12: the streaming paths (write-behind, bulk extend, advice)
TEST_NAMES += stream
# the coverage gate: what only the hardened core has (da_vec_inspect)
TEST_NAMES += inspect
TEST_BINS := $(addprefix $(BUILD)/tests/test_,$(TEST_NAMES))
TEST_LIB_O := $(BUILD)/tests/common.o $(BUILD)/tests/sandbox.o
TEST_CFLAGS = $(CFLAGS) -D_GNU_SOURCE -Icore -DCORE_SRC_PATH='"$(abspath $(CORE_SRC))"'
# The million-op model test runs a shorter sequence under valgrind (~50x slower).
VALGRIND_MODEL_OPS ?= 30000
VALGRIND := valgrind -q --error-exitcode=99 --leak-check=full --show-leak-kinds=all \
    --errors-for-leak-kinds=all $(if $(wildcard ci/valgrind.supp),--suppressions=ci/valgrind.supp)

ALL_TARGETS += $(TEST_BINS)
.SECONDARY: $(TEST_BINS:=.o) $(TEST_LIB_O)

$(BUILD)/tests/%.o: tests/%.c tests/common.h tests/sandbox.h $(CORE_HDR)
	@mkdir -p $(@D)
	$(CC) $(TEST_CFLAGS) -c $< -o $@

$(BUILD)/tests/test_%: $(BUILD)/tests/test_%.o $(TEST_LIB_O) $(CORE_FIU_O)
	$(CC) $^ -o $@ $(LDFLAGS) -lcmocka $(FIU_LIBS)

CHECK_STEPS += $(addprefix check-test-,$(TEST_NAMES))
.PHONY: tests valgrind $(addprefix check-test-,$(TEST_NAMES))
## tests: build the unit-test programs ($(BUILD)/tests/test_*)
tests: $(TEST_BINS)

## check-test-NAME: run tests/test_NAME.c (cmocka, TAP in $(BUILD)/tap/check-test-NAME.tap)
$(addprefix check-test-,$(TEST_NAMES)): check-test-%: $(BUILD)/tests/test_%
	@mkdir -p $(BUILD)/tap
	@tests/run-tap.sh $(BUILD)/tap/$@.tap $<

## valgrind: every unit test under memcheck (DISKALLOC_RESERVE=1G): 0 errors, 0 leaks
valgrind: $(TEST_BINS)
	@for t in $(TEST_BINS); do \
	    echo "== valgrind $$t"; \
	    DISKALLOC_RESERVE=1G MODEL_OPS=$(VALGRIND_MODEL_OPS) STREAM_ELEMS=131072 \
	        $(VALGRIND) $$t || exit 1; \
	done; echo "valgrind: all tests clean"
