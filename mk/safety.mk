# mk/safety.mk - checks that the runtime is never wrong in silence and
# cannot hurt the process it serves: signal dumps in a static link, dump
# files written safely, crash signals refused (tests/safety/).
TEST_TARGETS += test-safety
.PHONY: test-safety

SAFETY_BINS := $(BUILD)/tests/static_sleeper

# Linked with -static-able archive only (no libasynctrace.so), and without
# any reference to a dump function.
$(BUILD)/tests/static_sleeper: tests/safety/static_sleeper.c $(LIB_A) | $(BUILD)/tests
	$(CC) $(CPPFLAGS) $(CFLAGS) $< -o $@ $(LIB_A) $(LDLIBS)

test-safety: $(SAFETY_BINS)
	@sh tests/safety/check_static_dump.sh $(BUILD)
	@sh tests/safety/check_crash_signal.sh $(BUILD)
