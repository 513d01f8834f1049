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

.PHONY: test-gdb gdb-progs bench-gdb

gdb-progs: $(GDB_PROGS) $(GDB_STRIPPED)

# Test programs link the static library, so the runtime (and the
# descriptor's ELF section) is inside the executable itself.
$(BUILD)/gdbtests/%: tests/gdb/progs/%.c $(GDB_PROG_HDRS) $(LIB_A)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) $< -o $@ $(LIB_A) $(LDLIBS)

$(BUILD)/gdbtests/stripped/%: $(BUILD)/gdbtests/%
	@mkdir -p $(@D)
	strip --strip-all -o $@ $<

test-gdb: $(GDB_PROGS) $(GDB_STRIPPED) $(GDB_PY)
	@python3 tests/gdb/run.py --build $(BUILD)
	@python3 tests/gdb/conventions.py --build $(BUILD)

# `info async-tasks --json` on a core with 100,000 idle tasks 5 frames deep.
$(GDB_BENCH_BIN): bench/gdb_core_bench.c $(LIB_A)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) $< -o $@ $(LIB_A) $(LDLIBS)

bench-gdb: $(GDB_BENCH_BIN) $(GDB_PY)
	@python3 bench/gdb_core_bench.py --build $(BUILD)
