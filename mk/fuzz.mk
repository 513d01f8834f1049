# mk/fuzz.mk - the corruption fuzzer of the GDB extension (tests/fuzz/):
# `make fuzz` runs 10,000 mutations of test-program cores and prints the
# tally; a short deterministic run (`test-fuzz`, 300 mutations) is part of
# `make test`.

FUZZ_BUSY := $(BUILD)/fuzz/busy
FUZZ_COUNT ?= 10000
FUZZ_SEED ?= 1

TEST_TARGETS += test-fuzz

.PHONY: fuzz test-fuzz

$(FUZZ_BUSY): tests/fuzz/busy.c $(LIB_A)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) $< -o $@ $(LIB_A) $(LDLIBS)

test-fuzz: gdb-progs $(FUZZ_BUSY)
	@python3 tests/fuzz/fuzz.py --build $(BUILD) --count 300 --seed test --busy-cores 3

fuzz: deps
	@$(MAKE) --no-print-directory all gdb-progs $(FUZZ_BUSY)
	@python3 tests/fuzz/fuzz.py --build $(BUILD) --count $(FUZZ_COUNT) --seed $(FUZZ_SEED)
