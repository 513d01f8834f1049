# mk/mt.mk - the multi-thread runtime's extra runs.
#
#   make san-mt    (part of `make san`) the multi-thread, dump-across-workers
#                  and I/O tests under ThreadSanitizer, in build/tsan, with
#                  the stress sizes divided by 10 (ASYNCTRACE_TEST_SCALE).
#                  mk/tsan.supp lists the only suppressions, each explained.
#   make bench-mt  (found by `make bench`) spawn-join, ping-pong and fan-in
#                  on both flavors against Go goroutines: BENCH lines with
#                  our time / Go's time (docs/performance.md).

MT_TSAN_BUILD := build/tsan
MT_TSAN_TESTS := $(patsubst tests/unit/%.c,%,$(sort $(wildcard tests/unit/test_mt*.c tests/unit/test_io*.c)))
MT_TSAN_OPTS  := halt_on_error=1 exitcode=66 second_deadlock_stack=1 \
                 suppressions=$(CURDIR)/mk/tsan.supp

SAN_TARGETS += san-mt

.PHONY: san-mt bench-mt

san-mt:
	@$(MAKE) --no-print-directory BUILD=$(MT_TSAN_BUILD) SANITIZE="-fsanitize=thread" \
	  $(MT_TSAN_TESTS:%=$(MT_TSAN_BUILD)/tests/%)
	@fail=0; for t in $(MT_TSAN_TESTS); do \
	  echo "== tsan $$t"; \
	  TSAN_OPTIONS="$(MT_TSAN_OPTS)" ASYNCTRACE_TEST_SCALE=10 \
	    timeout 600 $(MT_TSAN_BUILD)/tests/$$t || { echo "FAILED (tsan): $$t"; fail=1; }; \
	done; exit $$fail

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
