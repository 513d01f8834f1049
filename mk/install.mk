# mk/install.mk - `make install` and `make uninstall` (PREFIX, LIBDIR,
# INCLUDEDIR, DATADIR, BINDIR, DESTDIR): the library with its SONAME
# symlinks, the public headers, asynctrace.pc, the Python package, and the
# scripts GDB auto-loads (docs/gdb.md, "Installing").
#
#   $(DATADIR)/asynctrace/python/asynctrace/   the package (GDB and the CLI)
#   $(DATADIR)/gdb/auto-load/asynctrace-gdb.py  the loader, named by the
#       .debug_gdb_scripts entry of the library (static and shared links)
#   $(DATADIR)/gdb/auto-load$(LIBDIR)/libasynctrace.so.$(VERSION)-gdb.py
#       the same loader as GDB's per-object-file script of the shared library
#       (found through GDB's data directory when DATADIR is /usr/share)

PYTHON_DIR   := $(DATADIR)/asynctrace/python
GDB_AUTOLOAD := $(DATADIR)/gdb/auto-load
GDB_LOADER    = $(GDB_AUTOLOAD_SCRIPT)
GDB_OBJFILE_SCRIPT := $(GDB_AUTOLOAD)$(LIBDIR)/libasynctrace.so.$(VERSION)-gdb.py
PKGCONFIG_DIR := $(LIBDIR)/pkgconfig
# What a static link needs besides the library (a shared one needs nothing).
PRIVATE_LIBS := $(shell pkg-config --libs --static $(PKGS) 2>/dev/null) -pthread -ldl
INSTALLED_HDRS := $(notdir $(wildcard runtime/include/asynctrace/*.h))

# The library's .debug_gdb_scripts entry names $(GDB_LOADER) (mk/gdb.mk
# builds it in, and rebuilds the object when the path changes).  The files
# below are made again on every install (the directories may differ).
.PHONY: install-lib install-python install-gdb

$(BUILD)/asynctrace.pc: mk/asynctrace.pc.in mk/install.mk FORCE
	sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@LIBDIR@|$(LIBDIR)|g' \
	    -e 's|@INCLUDEDIR@|$(INCLUDEDIR)|g' -e 's|@DATADIR@|$(DATADIR)|g' \
	    -e 's|@VERSION@|$(VERSION)|g' -e 's|@PRIVATE_LIBS@|$(PRIVATE_LIBS)|g' \
	    $< > $@

# The loader as installed: it knows where the package is.
$(BUILD)/asynctrace-gdb.py: gdb/asynctrace-gdb.py FORCE
	sed -e 's|^_PYTHON_DIR = None.*|_PYTHON_DIR = "$(PYTHON_DIR)"|' $< > $@
	@grep -q '^_PYTHON_DIR = "' $@ || { echo "asynctrace-gdb.py: no _PYTHON_DIR line" >&2; exit 1; }

install: install-lib install-python install-gdb
	@case "$(GDB_AUTOLOAD)" in \
	  /usr/share/gdb/auto-load) ;; \
	  *) echo; \
	     echo "asynctrace: GDB loads the asynctrace commands by itself once this line is in ~/.gdbinit:"; \
	     echo "  add-auto-load-safe-path $(GDB_AUTOLOAD)"; \
	     echo "(see docs/gdb.md, \"Installing\")";; \
	esac

install-lib: $(LIB_A) $(LIB_SO) $(BUILD)/asynctrace.pc
	install -d $(DESTDIR)$(INCLUDEDIR)/asynctrace $(DESTDIR)$(LIBDIR) $(DESTDIR)$(PKGCONFIG_DIR)
	install -m 644 runtime/include/asynctrace.h $(DESTDIR)$(INCLUDEDIR)/
	install -m 644 runtime/include/asynctrace/*.h $(DESTDIR)$(INCLUDEDIR)/asynctrace/
	install -m 644 $(LIB_A) $(DESTDIR)$(LIBDIR)/
	install -m 755 $(LIB_SO_REAL) $(DESTDIR)$(LIBDIR)/
	ln -sf libasynctrace.so.$(VERSION) $(DESTDIR)$(LIBDIR)/$(LIB_SONAME)
	ln -sf $(LIB_SONAME) $(DESTDIR)$(LIBDIR)/libasynctrace.so
	install -m 644 $(BUILD)/asynctrace.pc $(DESTDIR)$(PKGCONFIG_DIR)/

install-python: $(SPEEDUPS)
	install -d $(DESTDIR)$(PYTHON_DIR)/asynctrace/cli
	install -m 644 gdb/asynctrace/*.py $(DESTDIR)$(PYTHON_DIR)/asynctrace/
	install -m 644 gdb/asynctrace/cli/*.py $(DESTDIR)$(PYTHON_DIR)/asynctrace/cli/
	install -m 644 $(SPEEDUPS) $(DESTDIR)$(PYTHON_DIR)/asynctrace/
	$(CLI_PYTHON) -m compileall -q -d $(PYTHON_DIR)/asynctrace $(DESTDIR)$(PYTHON_DIR)/asynctrace

install-gdb: $(BUILD)/asynctrace-gdb.py
	install -d $(DESTDIR)$(GDB_AUTOLOAD) $(dir $(DESTDIR)$(GDB_OBJFILE_SCRIPT))
	install -m 644 $(BUILD)/asynctrace-gdb.py $(DESTDIR)$(GDB_LOADER)
	install -m 644 $(BUILD)/asynctrace-gdb.py $(DESTDIR)$(GDB_OBJFILE_SCRIPT)

uninstall:
	rm -f $(DESTDIR)$(INCLUDEDIR)/asynctrace.h
	rm -f $(addprefix $(DESTDIR)$(INCLUDEDIR)/asynctrace/,$(INSTALLED_HDRS))
	-rmdir $(DESTDIR)$(INCLUDEDIR)/asynctrace 2>/dev/null
	rm -f $(DESTDIR)$(LIBDIR)/libasynctrace.a $(DESTDIR)$(LIBDIR)/libasynctrace.so \
	      $(DESTDIR)$(LIBDIR)/$(LIB_SONAME) $(DESTDIR)$(LIBDIR)/libasynctrace.so.$(VERSION)
	rm -f $(DESTDIR)$(PKGCONFIG_DIR)/asynctrace.pc
	rm -rf $(DESTDIR)$(PYTHON_DIR)/asynctrace
	rm -f $(DESTDIR)$(BINDIR)/asynctrace $(DESTDIR)$(CLI_LIBEXEC)/asynctrace-unwind
	-rmdir $(DESTDIR)$(CLI_LIBEXEC) 2>/dev/null
	-rmdir $(DESTDIR)$(PYTHON_DIR) $(DESTDIR)$(DATADIR)/asynctrace 2>/dev/null
	rm -f $(DESTDIR)$(GDB_LOADER) $(DESTDIR)$(GDB_OBJFILE_SCRIPT)
	@d='$(DESTDIR)$(GDB_AUTOLOAD)$(LIBDIR)'; \
	while [ "$$d" != '$(DESTDIR)$(GDB_AUTOLOAD)' ] && rmdir "$$d" 2>/dev/null; do \
	  d=$$(dirname "$$d"); done

TEST_TARGETS += test-install
.PHONY: test-install
test-install: $(LIB_A) $(LIB_SO)
	@python3 tests/install/run.py --build $(BUILD)
