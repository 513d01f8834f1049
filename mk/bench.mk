# mk/bench.mk - `make bench`: builds every benchmark of bench/ and runs them
# all through bench/run_all, which prints one table and writes
# build/bench/results.json (docs/performance.md).  Nothing here is part of
# `make test`.
#
# Other parts add their benchmarks as `bench-<part>` targets in their own
# mk/*.mk, printing BENCH lines; run_all finds and runs them.
#
#   make bench        everything (installs the Go and tokio peers' toolchains
#                     if it can)
#   make bench-deps   install golang-go (the Go peers), cargo and
#                     librust-tokio-dev (the tokio peer) through mk/deps.sh
#   make bench-build  build the benchmarks without running them
#
# The tokio peer (bench/tokio) builds offline against Debian's packaged
# crates: a cargo home in $(BUILD) replaces crates.io with
# /usr/share/cargo/registry.  Without cargo or the crates its lines say
# skipped.

BENCH_DIR      := $(BUILD)/bench
# A second copy of the library with the await-frame bookkeeping compiled
# out (AT_BENCH_NO_FRAMES, see runtime/include/asynctrace/future.h).
BENCH_NF_BUILD := $(BUILD)/bench-noframes
BENCH_NF_LIB   := $(BENCH_NF_BUILD)/libasynctrace.a
BENCH_C_BINS   := $(BENCH_DIR)/frames_bench $(BENCH_DIR)/ct_bench $(BENCH_DIR)/idle_tasks
BENCH_GO_PROGS := spawn_join pingpong idle_goroutines
BENCH_GO_ENV    = GOCACHE=$(abspath $(BUILD))/go-cache GOPATH=$(abspath $(BUILD))/go-path \
                  GO111MODULE=off GOFLAGS=

BENCH_PEER_DEPS := golang-go cargo librust-tokio-dev
# Debian's cargo when installed (it matches the packaged crates), else any.
CARGO ?= $(shell test -x /usr/bin/cargo && echo /usr/bin/cargo || command -v cargo)
TOKIO_HOME := $(abspath $(BENCH_DIR))/tokio-cargo

.PHONY: bench bench-deps bench-build bench-go bench-tokio bench-noframes-lib

bench: deps
	@ASYNCTRACE_EXTRA_DEPS="$(BENCH_PEER_DEPS)" sh mk/deps.sh || \
	  echo "bench: $(BENCH_PEER_DEPS) could not be installed: their peer lines will say skipped"
	@$(MAKE) --no-print-directory bench-build
	@python3 bench/run_all --bin $(BENCH_DIR) --build $(BUILD) --out build/bench

bench-deps:
	@ASYNCTRACE_EXTRA_DEPS="$(BENCH_PEER_DEPS)" sh mk/deps.sh

bench-build: $(BENCH_C_BINS) $(BENCH_DIR)/frames_bench_noframes bench-go bench-tokio

# The tokio peer: skipped (with a message) when cargo or the crates are missing.
bench-tokio: | $(BENCH_DIR)
	@if [ -n "$(CARGO)" ] && ls -d /usr/share/cargo/registry/tokio-1.* >/dev/null 2>&1; then \
	  mkdir -p $(TOKIO_HOME) $(BENCH_DIR)/tokio && \
	  printf '[source.crates-io]\nreplace-with = "debian"\n[source.debian]\ndirectory = "/usr/share/cargo/registry"\n[net]\noffline = true\n' \
	    > $(TOKIO_HOME)/config.toml && \
	  CARGO_HOME=$(TOKIO_HOME) $(CARGO) build --quiet --release \
	    --manifest-path bench/tokio/Cargo.toml --target-dir $(TOKIO_HOME)/target && \
	  cp $(TOKIO_HOME)/target/release/tokio_peer $(BENCH_DIR)/tokio/tokio_peer; \
	else echo "bench: cargo or librust-tokio-dev not found: tokio peers skipped (make bench-deps)"; fi

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
