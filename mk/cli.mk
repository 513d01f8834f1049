# mk/cli.mk - the command-line tool `asynctrace` (build/asynctrace, a Python
# script over the package in gdb/asynctrace/), its tests (`make test-cli`,
# part of `make test`) and its installation: $(BINDIR)/asynctrace over the
# package that mk/install.mk installs once for GDB and the tool
# ($(DATADIR)/asynctrace/python; see docs/cli.md).

CLI_BIN    := $(BUILD)/asynctrace
CLI_PY     := $(wildcard gdb/asynctrace/*.py gdb/asynctrace/cli/*.py)
CLI_PYDIR   = $(PYTHON_DIR)
CLI_LIBEXEC = $(PREFIX)/libexec/asynctrace

ALL_TARGETS  += $(CLI_BIN)
TEST_TARGETS += test-cli

.PHONY: test-cli install-cli

$(CLI_BIN): gdb/asynctrace-cli.in $(CLI_PY)
	@mkdir -p $(@D)
	sed -e 's|@PYDIR@|$(abspath gdb)|' -e 's|@UNWIND@|$(abspath $(BUILD))/asynctrace-unwind|' $< > $@
	chmod 755 $@

test-cli: $(CLI_BIN) $(GDB_PROGS) $(GDB_STRIPPED)
	@python3 tests/cli/run.py --build $(BUILD)

install: install-cli
install-cli: $(CLI_BIN) install-python
	install -d $(DESTDIR)$(BINDIR)
	sed -e 's|@PYDIR@|$(CLI_PYDIR)|' -e 's|@UNWIND@|$(CLI_LIBEXEC)/asynctrace-unwind|' \
	  gdb/asynctrace-cli.in > $(DESTDIR)$(BINDIR)/asynctrace
	chmod 755 $(DESTDIR)$(BINDIR)/asynctrace
