# mk/abi.mk - checks that the debugger descriptor can be found from outside,
# and that the compiler refuses misuse of the async-function macros.
TEST_TARGETS += test-abi
.PHONY: test-abi
test-abi: $(LIB_A) $(LIB_SO) | $(BUILD)/tests
	@sh tests/abi/check_abi.sh $(BUILD)
	@sh tests/abi/check_exports.sh $(BUILD)
	@sh tests/abi/check_misuse.sh
