# mk/trace.mk - live task dumps: test link flags and the benchmark.
#
# The live-dump tests parse the JSON they produce (jansson).
TRACE_TEST_BINS := $(filter $(BUILD)/tests/test_trace%,$(UNIT_BINS))
$(TRACE_TEST_BINS): LDLIBS += $(JANSSON_LIBS)
$(TRACE_TEST_BINS): CPPFLAGS += $(JANSSON_CFLAGS)

# make bench-trace: cost of at_trace_leaf with no collector (ns per call) and
# of live dumps of 10,000 and 100,000 idle tasks 5 async frames deep (us per
# task), as BENCH lines (bench/run_all collects them; docs/live-dumps.md).
.PHONY: bench-trace
bench-trace: $(BUILD)/bench/trace_bench
	@$(BUILD)/bench/trace_bench

$(BUILD)/bench/trace_bench: bench/trace_bench.c bench/bench_util.h $(LIB_A) | $(BUILD)/bench
	$(CC) $(CPPFLAGS) -Ibench $(CFLAGS) $< -o $@ $(LIB_A) $(LDLIBS)

# make san-trace (part of `make san`): the live-dump and writer tests under
# ThreadSanitizer (requests cross threads; mk/tsan.mk), the stress test's
# sizes divided by 10.  They run under ASan+UBSan with the rest of the unit
# tests.
TRACE_TSAN_TESTS := $(patsubst tests/unit/%.c,%,$(sort $(wildcard tests/unit/test_trace*.c)))

SAN_TARGETS += san-trace
.PHONY: san-trace
san-trace:
	$(call tsan_run,$(TRACE_TSAN_TESTS))
