# lib/: the core built and installed as a distribution's library: libdiskalloc.a,
# libdiskalloc.so.MAJOR.MINOR (SONAME libdiskalloc.so.MAJOR, only da_* exported),
# the header, diskalloc.pc, the man pages and the diskalloc tool.
# The version comes from the header alone (DA_VERSION_MAJOR/MINOR).

DA_MAJOR := $(shell sed -n 's/^\#define DA_VERSION_MAJOR  *\([0-9][0-9]*\).*/\1/p' $(CORE_HDR))
DA_MINOR := $(shell sed -n 's/^\#define DA_VERSION_MINOR  *\([0-9][0-9]*\).*/\1/p' $(CORE_HDR))
ifeq ($(DA_MAJOR)$(DA_MINOR),)
$(error lib/lib.mk: no DA_VERSION_MAJOR/MINOR in $(CORE_HDR))
endif

# GNU install directories; LIBDIR follows Debian's multiarch layout
# (lib/x86_64-linux-gnu) when installing into /usr, where the toolchain names one.
PREFIX     ?= /usr/local
DESTDIR    ?=
MULTIARCH  := $(if $(filter /usr,$(patsubst %/,%,$(PREFIX))),$(shell $(CC) -print-multiarch 2>/dev/null))
LIBDIR     ?= $(PREFIX)/lib$(if $(MULTIARCH),/$(MULTIARCH))
BINDIR     ?= $(PREFIX)/bin
INCLUDEDIR ?= $(PREFIX)/include
MANDIR     ?= $(PREFIX)/share/man
PKGCONFIGDIR ?= $(LIBDIR)/pkgconfig

LIB_DIR    := $(BUILD)/lib
LIB_PIC_O  := $(LIB_DIR)/diskalloc.pic.o
LIB_A      := $(LIB_DIR)/libdiskalloc.a
LIB_SONAME := libdiskalloc.so.$(DA_MAJOR)
LIB_SO     := $(LIB_DIR)/libdiskalloc.so.$(DA_MAJOR).$(DA_MINOR)
LIB_PC     := $(LIB_DIR)/diskalloc.pc
TOOL_BIN   := $(BUILD)/tool/diskalloc # built by tool/tool.mk (included after this file)
ALL_TARGETS += $(LIB_A) $(LIB_SO)

# One position-independent object serves both libraries: a static library
# linked into a PIE (Debian's default) needs PIC code too.
$(LIB_PIC_O): $(CORE_SRC) $(CORE_HDR)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -fPIC -c $< -o $@

$(LIB_A): $(LIB_PIC_O)
	@rm -f $@
	$(AR) rcs $@ $^

$(LIB_SO): $(LIB_PIC_O) lib/diskalloc.map
	$(CC) -shared -Wl,-soname,$(LIB_SONAME) -Wl,--version-script=lib/diskalloc.map \
	    -Wl,--no-undefined -o $@ $(LIB_PIC_O) $(LDFLAGS)
	ln -sf $(@F) $(LIB_DIR)/$(LIB_SONAME)
	ln -sf $(LIB_SONAME) $(LIB_DIR)/libdiskalloc.so

# Depends on the directories it names: a phony prerequisite rewrites it each
# time, so an install with another PREFIX never ships a stale file.
.PHONY: FORCE-pc
$(LIB_PC): lib/diskalloc.pc.in FORCE-pc
	@mkdir -p $(@D)
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@LIBDIR@|$(LIBDIR)|' -e 's|@INCLUDEDIR@|$(INCLUDEDIR)|' \
	    -e 's|@VERSION@|$(DA_MAJOR).$(DA_MINOR)|' lib/diskalloc.pc.in > $@

MAN_PAGES := man/diskalloc.1 man/diskalloc.3

.PHONY: install uninstall
## install: install the libraries, header, diskalloc.pc, man pages and the tool (PREFIX, DESTDIR, LIBDIR, BINDIR, INCLUDEDIR, MANDIR)
install: $(LIB_A) $(LIB_SO) $(LIB_PC) $(TOOL_BIN) $(MAN_PAGES)
	install -d $(DESTDIR)$(LIBDIR) $(DESTDIR)$(PKGCONFIGDIR) $(DESTDIR)$(INCLUDEDIR) \
	    $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man3
	install -m 644 $(CORE_HDR) $(DESTDIR)$(INCLUDEDIR)/diskalloc.h
	install -m 644 $(LIB_A) $(DESTDIR)$(LIBDIR)/libdiskalloc.a
	install -m 755 $(LIB_SO) $(DESTDIR)$(LIBDIR)/$(notdir $(LIB_SO))
	ln -sf $(notdir $(LIB_SO)) $(DESTDIR)$(LIBDIR)/$(LIB_SONAME)
	ln -sf $(LIB_SONAME) $(DESTDIR)$(LIBDIR)/libdiskalloc.so
	install -m 644 $(LIB_PC) $(DESTDIR)$(PKGCONFIGDIR)/diskalloc.pc
	install -m 755 $(TOOL_BIN) $(DESTDIR)$(BINDIR)/diskalloc
	install -m 644 man/diskalloc.1 $(DESTDIR)$(MANDIR)/man1/diskalloc.1
	install -m 644 man/diskalloc.3 $(DESTDIR)$(MANDIR)/man3/diskalloc.3
	@# `man da_vec_open` finds the one page: a .so link per function of the header
	@for f in $$(man/names.sh functions $(CORE_HDR)); do \
	    echo '.so man3/diskalloc.3' > $(DESTDIR)$(MANDIR)/man3/$$f.3 || exit 1; done
	@echo "installed into $(DESTDIR)$(PREFIX) (libraries in $(DESTDIR)$(LIBDIR))"

## uninstall: remove what `make install` put there (same PREFIX, DESTDIR, ... variables)
uninstall:
	rm -f $(DESTDIR)$(INCLUDEDIR)/diskalloc.h $(DESTDIR)$(LIBDIR)/libdiskalloc.a \
	    $(DESTDIR)$(LIBDIR)/$(notdir $(LIB_SO)) $(DESTDIR)$(LIBDIR)/$(LIB_SONAME) \
	    $(DESTDIR)$(LIBDIR)/libdiskalloc.so $(DESTDIR)$(PKGCONFIGDIR)/diskalloc.pc \
	    $(DESTDIR)$(BINDIR)/diskalloc $(DESTDIR)$(MANDIR)/man1/diskalloc.1 \
	    $(DESTDIR)$(MANDIR)/man3/diskalloc.3
	@for f in $$(man/names.sh functions $(CORE_HDR)); do rm -f $(DESTDIR)$(MANDIR)/man3/$$f.3; done
