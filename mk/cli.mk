# mk/cli.mk - the command-line tool `asynctrace` (build/asynctrace, a Python
# script over the package in gdb/asynctrace/), its tests (`make test-cli`,
# part of `make test`) and its installation: $(BINDIR)/asynctrace over the
# package that mk/install.mk installs once for GDB and the tool
# ($(DATADIR)/asynctrace/python; see docs/cli.md).

CLI_BIN    := $(BUILD)/asynctrace
# Native frames of a PID or a core (elfutils libdwfl), run by the tool.
UNWIND_BIN := $(BUILD)/asynctrace-unwind
CLI_PY     := $(wildcard gdb/asynctrace/*.py gdb/asynctrace/cli/*.py)
CLI_PYDIR   = $(PYTHON_DIR)
CLI_LIBEXEC = $(PREFIX)/libexec/asynctrace

# The tool's interpreter: the system's python3 (the one GDB's Python is),
# else whatever python3 is on PATH.
CLI_PYTHON ?= $(if $(wildcard /usr/bin/python3),/usr/bin/python3,/usr/bin/env python3)

# The C forms of the walk's hot loops (gdb/asynctrace/_speedups.c, see
# gdb/asynctrace/accel.py), built beside the package for the interpreter of
# the tool, which is GDB's: an extension module of that Python's ABI.
PY_EXT_SUFFIX := $(shell $(CLI_PYTHON) -c 'import sysconfig; print(sysconfig.get_config_var("EXT_SUFFIX"))' 2>/dev/null)
PY_INCLUDE    := $(shell $(CLI_PYTHON) -c 'import sysconfig; print(sysconfig.get_paths()["include"])' 2>/dev/null)
SPEEDUPS      := gdb/asynctrace/_speedups$(PY_EXT_SUFFIX)

ALL_TARGETS  += $(CLI_BIN) $(UNWIND_BIN) $(SPEEDUPS)
TEST_TARGETS += test-cli

.PHONY: test-cli install-cli bench-cli

# The package's bytecode is written beside it (gdb/asynctrace/__pycache__,
# ignored by git) even where PYTHONDONTWRITEBYTECODE is set: the tool and
# GDB then never compile it at start-up.
$(CLI_BIN): gdb/asynctrace-cli.in $(CLI_PY)
	@mkdir -p $(@D)
	@$(CLI_PYTHON) -m compileall -q gdb/asynctrace
	sed -e 's|@PYTHON@|$(CLI_PYTHON)|' -e 's|@PYDIR@|$(abspath gdb)|' -e 's|@UNWIND@|$(abspath $(BUILD))/asynctrace-unwind|' $< > $@
	chmod 755 $@

$(SPEEDUPS): gdb/asynctrace/_speedups.c gdb/asynctrace/_speedups_json.h \
		gdb/asynctrace/_speedups_table.h
	@test -f $(PY_INCLUDE)/Python.h || { echo "asynctrace: $(PY_INCLUDE)/Python.h is missing: make deps installs python3-dev" >&2; exit 1; }
	$(CC) -O2 -g -fPIC -shared -Wall -Wextra -Wno-unused-parameter -I$(PY_INCLUDE) $< -o $@

$(UNWIND_BIN): gdb/asynctrace-unwind.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $< -o $@ -ldw -lelf

# gdb-progs (mk/gdb.mk, read after this file) builds the test programs.
test-cli: $(CLI_BIN) $(UNWIND_BIN) $(SPEEDUPS) gdb-progs
	@python3 tests/cli/run.py --build $(BUILD)

install: install-cli
install-cli: $(CLI_BIN) $(UNWIND_BIN) install-python
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(CLI_LIBEXEC)
	install -m 755 $(UNWIND_BIN) $(DESTDIR)$(CLI_LIBEXEC)/
	sed -e 's|@PYTHON@|$(CLI_PYTHON)|' -e 's|@PYDIR@|$(CLI_PYDIR)|' -e 's|@UNWIND@|$(CLI_LIBEXEC)/asynctrace-unwind|' \
	  gdb/asynctrace-cli.in > $(DESTDIR)$(BINDIR)/asynctrace
	chmod 755 $(DESTDIR)$(BINDIR)/asynctrace

# `asynctrace ps` on a 100,000-task core against GDB, and on a 10,000-task
# PID (whole run and stop time); run by `make bench` (bench/run_all).
bench-cli: $(CLI_BIN) $(BUILD)/bench/gdb_core_bench
	@python3 bench/cli_bench.py --build $(BUILD)

# Where the time of an offline reading goes (interpreter start, imports,
# core load, list walk, task walk, table, JSON, and GDB's own start with the
# core): bench/walk_profile.py, docs/performance.md "The offline walk".
.PHONY: bench-walk
bench-walk: $(CLI_BIN) $(BUILD)/bench/gdb_core_bench
	@python3 bench/walk_profile.py --build $(BUILD)
