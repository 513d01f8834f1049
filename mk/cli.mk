# mk/cli.mk - the command-line tool `asynctrace` (build/asynctrace, a Python
# script over the package in gdb/asynctrace/), its tests (`make test-cli`,
# part of `make test`) and its installation: $(PREFIX)/bin/asynctrace, the
# package under $(PREFIX)/share/asynctrace/python (see docs/cli.md).

CLI_BIN    := $(BUILD)/asynctrace
CLI_PY     := $(wildcard gdb/asynctrace/*.py gdb/asynctrace/cli/*.py)
CLI_PYDIR   = $(PREFIX)/share/asynctrace/python
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
install-cli: $(CLI_BIN)
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(CLI_PYDIR)/asynctrace/cli
	install -m 644 gdb/asynctrace/*.py $(DESTDIR)$(CLI_PYDIR)/asynctrace/
	install -m 644 gdb/asynctrace/cli/*.py $(DESTDIR)$(CLI_PYDIR)/asynctrace/cli/
	sed -e 's|@PYDIR@|$(CLI_PYDIR)|' -e 's|@UNWIND@|$(CLI_LIBEXEC)/asynctrace-unwind|' \
	  gdb/asynctrace-cli.in > $(DESTDIR)$(PREFIX)/bin/asynctrace
	chmod 755 $(DESTDIR)$(PREFIX)/bin/asynctrace
