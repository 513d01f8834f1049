# mk/bench.mk - `make bench`: builds every benchmark of bench/ and runs them
# all through bench/run_all, which prints one table and writes
# build/bench/results.json (docs/performance.md).  Nothing here is part of
# `make test`.
#
# Other parts add their benchmarks as `bench-<part>` targets in their own
# mk/*.mk, printing BENCH lines; run_all finds and runs them.
#
#   make bench        everything (installs golang-go for the Go peers if it can)
#   make bench-deps   install golang-go (the Go peers) through mk/deps.sh
#   make bench-build  build the benchmarks without running them

BENCH_DIR      := $(BUILD)/bench
# A second copy of the library with the await-frame bookkeeping compiled
# out (AT_BENCH_NO_FRAMES, see runtime/include/asynctrace/future.h).
BENCH_NF_BUILD := $(BUILD)/bench-noframes
BENCH_NF_LIB   := $(BENCH_NF_BUILD)/libasynctrace.a
BENCH_C_BINS   := $(BENCH_DIR)/frames_bench $(BENCH_DIR)/ct_bench $(BENCH_DIR)/idle_tasks
BENCH_GO_PROGS := spawn_join pingpong idle_goroutines
BENCH_GO_ENV    = GOCACHE=$(abspath $(BUILD))/go-cache GOPATH=$(abspath $(BUILD))/go-path \
                  GO111MODULE=off GOFLAGS=

.PHONY: bench bench-deps bench-build bench-go bench-noframes-lib

bench: deps
	@ASYNCTRACE_EXTRA_DEPS="golang-go" sh mk/deps.sh || \
	  echo "bench: golang-go could not be installed: the Go peer lines will say skipped"
	@$(MAKE) --no-print-directory bench-build
	@python3 bench/run_all --bin $(BENCH_DIR) --build $(BUILD) --out build/bench

bench-deps:
	@ASYNCTRACE_EXTRA_DEPS="golang-go" sh mk/deps.sh

bench-build: $(BENCH_C_BINS) $(BENCH_DIR)/frames_bench_noframes bench-go

$(BENCH_DIR) $(BENCH_DIR)/go:
	@mkdir -p $@

$(BENCH_C_BINS): $(BENCH_DIR)/%: bench/%.c bench/bench_util.h bench/pingpong_tasks.h $(LIB_A) | $(BENCH_DIR)
	$(CC) $(CPPFLAGS) -Ibench $(CFLAGS) $< -o $@ $(LIB_A) $(LDLIBS)

# The sub-make decides whether the no-frames copy is up to date.
bench-noframes-lib:
	@CPPFLAGS=-DAT_BENCH_NO_FRAMES $(MAKE) --no-print-directory BUILD=$(BENCH_NF_BUILD) \
	  SANITIZE= $(BENCH_NF_LIB)

$(BENCH_DIR)/frames_bench_noframes: bench/frames_bench.c bench/bench_util.h bench-noframes-lib | $(BENCH_DIR)
	$(CC) $(CPPFLAGS) -DAT_BENCH_NO_FRAMES -Ibench $(CFLAGS) $< -o $@ $(BENCH_NF_LIB) $(LDLIBS)

# Go peers: single-file programs, no modules; skipped when Go is missing.
bench-go: | $(BENCH_DIR)/go
	@if command -v go >/dev/null 2>&1; then \
	  for p in $(BENCH_GO_PROGS); do \
	    $(BENCH_GO_ENV) go build -o $(BENCH_DIR)/go/$$p bench/go/$$p.go || exit 1; \
	  done; \
	else echo "bench: go not found: Go peers skipped (make bench-deps)"; fi
