# mk/abi.mk - checks that the debugger descriptor can be found from outside,
# and that the compiler refuses misuse of the async-function macros.
# It also checks the expected layouts of gdb/asynctrace/layouts.py against
# the C definitions; `make layouts` regenerates the current ABI's entry.
TEST_TARGETS += test-abi
.PHONY: test-abi layouts
LAYOUT_DUMP := $(BUILD)/tests/layout_dump

$(LAYOUT_DUMP): tests/abi/layout_dump.c runtime/include/asynctrace/abi.h | $(BUILD)/tests
	$(CC) $(CPPFLAGS) $(CFLAGS) $< -o $@

layouts: $(LAYOUT_DUMP)
	@python3 tests/abi/check_layouts.py $(BUILD) --write

test-abi: $(LIB_A) $(LIB_SO) $(LAYOUT_DUMP) | $(BUILD)/tests
	@python3 tests/abi/check_layouts.py $(BUILD)
	@sh tests/abi/check_abi.sh $(BUILD)
	@sh tests/abi/check_exports.sh $(BUILD)
	@sh tests/abi/check_misuse.sh
