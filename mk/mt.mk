# mk/mt.mk - the multi-thread runtime's extra runs.
#
#   make san-mt    (part of `make san`) the core, multi-thread,
#                  dump-across-workers and I/O tests under ThreadSanitizer,
#                  and three multi-thread scenarios run standalone through
#                  their checkpoint (mk/tsan.mk).
#   make bench-mt  (found by `make bench`) spawn-join, ping-pong and fan-in
#                  on both flavors against Go goroutines: BENCH lines with
#                  our time / Go's time (docs/performance.md).

MT_TSAN_TESTS := test_runtime \
  $(patsubst tests/unit/%.c,%,$(sort $(wildcard tests/unit/test_mt*.c tests/unit/test_io*.c)))
MT_TSAN_SCENARIOS := 14_mt_join_chain 14_mt_mutex_abba 14_mt_blocking_read

SAN_TARGETS += san-mt

.PHONY: san-mt bench-mt

san-mt:
	$(call tsan_run,$(MT_TSAN_TESTS))
	$(call tsan_scenarios,$(MT_TSAN_SCENARIOS))

MT_BENCH_DIR := $(BUILD)/bench
MT_BENCH_GO  := spawn_join pingpong fanin

$(MT_BENCH_DIR)/mt_bench: bench/mt_bench.c bench/bench_util.h bench/pingpong_tasks.h $(LIB_A)
	@mkdir -p $(MT_BENCH_DIR)
	$(CC) $(CPPFLAGS) -Ibench $(CFLAGS) $< -o $@ $(LIB_A) $(LDLIBS)

# Go is needed only here (make bench-deps installs golang-go); without it
# the Go lines say skipped.
bench-mt: $(MT_BENCH_DIR)/mt_bench
	@mkdir -p $(MT_BENCH_DIR)/go
	@if command -v go >/dev/null 2>&1; then \
	  for p in $(MT_BENCH_GO); do \
	    GOCACHE=$(abspath $(BUILD))/go-cache GOPATH=$(abspath $(BUILD))/go-path \
	    GO111MODULE=off GOFLAGS= go build -o $(MT_BENCH_DIR)/go/$$p bench/go/$$p.go || exit 1; \
	  done; \
	fi
	@python3 bench/mt_bench_run --bin $(MT_BENCH_DIR)
