# mk/gdb.mk - the GDB extension (gdb/): its test programs and test runner
# (`make test-gdb`, part of `make test`) and its benchmark (`make bench-gdb`).
# Its installation is in mk/install.mk.

GDB_PROG_SRCS := $(sort $(wildcard tests/gdb/progs/*.c))
GDB_PROG_HDRS := $(wildcard tests/gdb/progs/*.h)
GDB_PROGS     := $(GDB_PROG_SRCS:tests/gdb/progs/%.c=$(BUILD)/gdbtests/%)
# Stripped copies (the walker must not need symbols or DWARF).
GDB_STRIPPED  := $(GDB_PROG_SRCS:tests/gdb/progs/%.c=$(BUILD)/gdbtests/stripped/%)
GDB_PY        := gdb/asynctrace-gdb.py $(wildcard gdb/asynctrace/*.py)

GDB_BENCH_BIN := $(BUILD)/bench/gdb_core_bench

TEST_TARGETS += test-gdb

.PHONY: test-gdb gdb-progs bench-gdb bench-gdb-chain

gdb-progs: $(GDB_PROGS) $(GDB_STRIPPED)

# Test programs link the static library, so the runtime (and the
# descriptor's ELF section) is inside the executable itself.
$(BUILD)/gdbtests/%: tests/gdb/progs/%.c $(GDB_PROG_HDRS) $(LIB_A)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) $< -o $@ $(LIB_A) $(LDLIBS)

$(BUILD)/gdbtests/stripped/%: $(BUILD)/gdbtests/%
	@mkdir -p $(@D)
	strip --strip-all -o $@ $<

# The .debug_gdb_scripts entry names the installed loader by its absolute
# path (runtime/src/trace/gdb_autoload.c: a relative name would be looked up in
# GDB's current directory first).  The object is rebuilt when the path
# changes.  mk/install.mk installs the loader there.
GDB_AUTOLOAD_SCRIPT  = $(abspath $(DATADIR))/gdb/auto-load/asynctrace-gdb.py
GDB_AUTOLOAD_OBJ    := $(filter %/gdb_autoload.o,$(LIB_OBJS))
GDB_AUTOLOAD_STAMP  := $(BUILD)/gdb-autoload-path
$(GDB_AUTOLOAD_OBJ): CPPFLAGS += -DAT_GDB_AUTOLOAD_SCRIPT='"$(GDB_AUTOLOAD_SCRIPT)"'
$(GDB_AUTOLOAD_OBJ): $(GDB_AUTOLOAD_STAMP)
$(GDB_AUTOLOAD_STAMP): FORCE
	@mkdir -p $(@D)
	@echo '$(GDB_AUTOLOAD_SCRIPT)' | cmp -s - $@ || echo '$(GDB_AUTOLOAD_SCRIPT)' > $@
.PHONY: FORCE
FORCE:

# A copy of states.c whose entry names this tree's loader (an object that
# replaces the library's gdb_autoload.o): the auto-load test of an
# absolute entry without installing anything.
GDB_TREE_AUTOLOAD := $(BUILD)/gdbtests/autoload/states
$(BUILD)/gdbtests/autoload/gdb_autoload.o: $(filter %/gdb_autoload.c,$(LIB_SRCS)) $(LIB_HDRS)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) -DAT_GDB_AUTOLOAD_SCRIPT='"$(abspath gdb/asynctrace-gdb.py)"' \
	  $(CFLAGS) -c $< -o $@
$(GDB_TREE_AUTOLOAD): tests/gdb/progs/states.c $(BUILD)/gdbtests/autoload/gdb_autoload.o \
    $(GDB_PROG_HDRS) $(LIB_A)
	$(CC) $(CPPFLAGS) $(CFLAGS) $< $(BUILD)/gdbtests/autoload/gdb_autoload.o -o $@ \
	  $(LIB_A) $(LDLIBS)

test-gdb: $(GDB_PROGS) $(GDB_STRIPPED) $(GDB_PY) $(GDB_TREE_AUTOLOAD) $(SPEEDUPS)
	@python3 tests/gdb/run.py --build $(BUILD)
	@python3 tests/gdb/conventions.py --build $(BUILD)

# `info async-tasks --json` on a core with 100,000 idle tasks 5 frames deep.
$(GDB_BENCH_BIN): bench/gdb_core_bench.c $(LIB_A)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) $< -o $@ $(LIB_A) $(LDLIBS)

bench-gdb: $(GDB_BENCH_BIN) $(GDB_PY)
	@python3 bench/gdb_core_bench.py --build $(BUILD)

# `info async-deadlocks` on a core with 100,000 chained joins.
bench-gdb-chain: $(BUILD)/gdbtests/chain $(GDB_PY)
	@python3 bench/gdb_chain_bench.py --build $(BUILD)
