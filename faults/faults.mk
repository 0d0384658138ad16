# faults/: the fault-control library over libfiu (faults/fault.{h,c}) and the
# real-kernel environments (faults/env.{h,c}), as one static library:
#
#   $(FAULTS_LIB)   = $(BUILD)/faults/libfaults.a
#   $(FAULTS_CFLAGS) adds -Ifaults -Icore
#   link: ... $(FAULTS_LIB) $(FIU_LIBS) -lpthread
#
# The library calls da_failpoint_names() of whatever implementation of
# core/diskalloc.h the program links (the core with fail points, or another).
FAULTS_SRC    := faults/fault.c faults/env.c
FAULTS_HDR    := faults/fault.h faults/env.h $(CORE_HDR)
FAULTS_OBJ    := $(patsubst faults/%.c,$(BUILD)/faults/%.o,$(FAULTS_SRC))
FAULTS_LIB    := $(BUILD)/faults/libfaults.a
FAULTS_CFLAGS  = $(CFLAGS) -Ifaults -Icore

ALL_TARGETS += $(FAULTS_LIB)

$(FAULTS_OBJ): $(BUILD)/faults/%.o: faults/%.c $(FAULTS_HDR)
	@mkdir -p $(@D)
	$(CC) $(FAULTS_CFLAGS) -c $< -o $@

$(FAULTS_LIB): $(FAULTS_OBJ)
	@rm -f $@
	$(AR) rcs $@ $^

.PHONY: faults-lib
## faults-lib: build $(BUILD)/faults/libfaults.a (fault control over libfiu + real-kernel environments)
faults-lib: $(FAULTS_LIB)
