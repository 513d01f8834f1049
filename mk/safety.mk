# mk/safety.mk - checks that the runtime is never wrong in silence and
# cannot hurt the process it serves: signal dumps in a static link, dump
# files written safely, crash signals refused, file-local async functions
# (tests/safety/).
TEST_TARGETS += test-safety
.PHONY: test-safety

SAFETY_BINS := $(BUILD)/tests/static_sleeper $(BUILD)/tests/twins

# Two files that each define an async function named `step`: links only if
# AT_ASYNC_FN's site record and poll function are file-local.
$(BUILD)/tests/twins: tests/safety/twin_a.c tests/safety/twin_b.c $(LIB_A) | $(BUILD)/tests
	$(CC) $(CPPFLAGS) $(CFLAGS) tests/safety/twin_a.c tests/safety/twin_b.c -o $@ $(LIB_A) $(LDLIBS)

# Linked with -static-able archive only (no libasynctrace.so), and without
# any reference to a dump function.
$(BUILD)/tests/static_sleeper: tests/safety/static_sleeper.c $(LIB_A) | $(BUILD)/tests
	$(CC) $(CPPFLAGS) $(CFLAGS) $< -o $@ $(LIB_A) $(LDLIBS)

test-safety: $(SAFETY_BINS)
	@sh tests/safety/check_static_dump.sh $(BUILD)
	@sh tests/safety/check_crash_signal.sh $(BUILD)
	@out=$$($(BUILD)/tests/twins) && [ "$$out" = "a=1 b=2" ] \
	  && echo "ok: twins (two files, one async function name)" \
	  || { echo "FAILED: twins printed '$$out'"; exit 1; }
