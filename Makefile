# diskalloc — one entry point.  `make list` shows the targets.
# Each part of the house adds its targets in its own fragment (tests/tests.mk,
# stress/stress.mk, ...), included below; this file holds what they share.

CC       ?= cc
OPT      ?= -O2 -g
WARN     := -std=c11 -Wall -Wextra -Wpedantic
WERROR   ?=
SANITIZE ?=
EXTRA_CFLAGS ?=
CFLAGS   := $(OPT) $(WARN) $(WERROR) $(if $(SANITIZE),-fsanitize=$(SANITIZE) -fno-omit-frame-pointer) $(EXTRA_CFLAGS)
LDFLAGS  := $(if $(SANITIZE),-fsanitize=$(SANITIZE)) $(EXTRA_LDFLAGS)
BUILD    ?= build
FIU_LIBS := -lfiu -ldl

# The core, built twice: as a user vendors it, and with libfiu fail points.
CORE_SRC := core/diskalloc.c
CORE_HDR := core/diskalloc.h
CORE_O     := $(BUILD)/core/diskalloc.o
CORE_FIU_O := $(BUILD)/core/diskalloc-fiu.o

.PHONY: all all-targets asan check deps list clean
## all: build the core and everything the fragments declare (ALL_TARGETS)
ALL_TARGETS := $(CORE_O) $(CORE_FIU_O)
all: all-targets

$(CORE_O): $(CORE_SRC) $(CORE_HDR)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -c $< -o $@

$(CORE_FIU_O): $(CORE_SRC) $(CORE_HDR)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -DFIU_ENABLE -c $< -o $@

## deps: install missing Debian packages (apt-get as root or via sudo -n)
deps:
	@ci/deps.sh

# Fragments append the names of their check steps to CHECK_STEPS; each step is
# a make target that writes TAP to $(BUILD)/tap/<step>.tap.
CHECK_STEPS :=
include $(sort $(wildcard */*.mk))

all-targets: $(ALL_TARGETS)

## asan: `make check` built with ASan+UBSan in its own build directory
asan: deps
	@$(MAKE) --no-print-directory BUILD=$(BUILD)/asan SANITIZE=address,undefined \
	    EXTRA_CFLAGS=-fno-sanitize-recover=all check

## check: install deps, build, run every test and a short stress; ends with "N passed, N failed"
check: deps
	@ci/check.sh $(CHECK_STEPS)

## clean: remove build output
clean:
	rm -rf $(BUILD) coverage/html coverage/*.info

## list: show the targets and what they do
list:
	@grep -h '^## ' $(MAKEFILE_LIST) | sed 's/^## /  /'
