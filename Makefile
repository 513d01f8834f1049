# Makefile - the one entry point: build, test, demo, deps, install, san, bench.
#
# Parts of the project add their own rules in mk/*.mk (included below); each
# adds its test runner to TEST_TARGETS and its sanitizer runs to SAN_TARGETS.

CC      ?= gcc
BUILD   ?= build
# Installation directories (GNU-style; DESTDIR is prepended at install time).
PREFIX     ?= /usr/local
LIBDIR     ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
DATADIR    ?= $(PREFIX)/share
BINDIR     ?= $(PREFIX)/bin
# Library version: the SONAME carries the major number (bump it on any
# incompatible change of the exported API or of the structs in the headers).
VERSION    := 1.0.0
SO_MAJOR   := 1
PKGS    := libunwind capstone libdw
# Extra flags for sanitizer builds (set by `make san`).
SANITIZE ?=

PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
CUNIT_LIBS := $(shell pkg-config --libs cunit 2>/dev/null || echo -lcunit)
JANSSON_CFLAGS := $(shell pkg-config --cflags jansson 2>/dev/null)
JANSSON_LIBS   := $(shell pkg-config --libs jansson 2>/dev/null || echo -ljansson)

WARN     := -Wall -Wextra -Wno-unused-parameter
CFLAGS   ?= -g -O2
CFLAGS   += -std=gnu11 -fno-omit-frame-pointer -pthread $(WARN) $(SANITIZE)
# Runtime sources include their private headers by folder ("core/internal.h").
CPPFLAGS += -Iruntime/include -Iruntime/src $(PKG_CFLAGS)
LDLIBS   += $(PKG_LIBS) -pthread -ldl

# The runtime lives in one folder per subsystem (runtime/src/core, sched,
# sync, trace, dump; docs/runtime.md); a file left at the top still builds.
RT_DIRS  := core sched sync trace dump rt
LIB_SRCS := $(sort $(wildcard runtime/src/*/*.c runtime/src/*.c))
LIB_OBJS := $(LIB_SRCS:runtime/src/%.c=$(BUILD)/obj/%.o)
LIB_HDRS := $(wildcard runtime/include/*.h runtime/include/asynctrace/*.h \
                       runtime/src/*.h runtime/src/*/*.h)
LIB_A    := $(BUILD)/libasynctrace.a
LIB_SO   := $(BUILD)/libasynctrace.so
LIB_SONAME  := libasynctrace.so.$(SO_MAJOR)
LIB_SO_REAL := $(BUILD)/libasynctrace.so.$(VERSION)

EXAMPLE_SRCS := $(sort $(wildcard examples/*.c))
EXAMPLE_BINS := $(EXAMPLE_SRCS:examples/%.c=$(BUILD)/examples/%)

UNIT_SRCS := $(sort $(wildcard tests/unit/test_*.c))
UNIT_BINS := $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/tests/%)

TEST_TARGETS :=
SAN_TARGETS  :=
ALL_TARGETS  := $(LIB_A) $(LIB_SO) $(UNIT_BINS) $(EXAMPLE_BINS)

.PHONY: all lib test test-unit demo demo-run deps install uninstall san bench clean unit-bins
.DEFAULT_GOAL := all

-include mk/*.mk

all: $(ALL_TARGETS)
lib: $(LIB_A) $(LIB_SO)

# Only what the public headers declare is exported (their
# `#pragma GCC visibility push(default)`); everything else stays inside.
$(BUILD)/obj/%.o: runtime/src/%.c $(LIB_HDRS)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(if $(findstring /,$*),,$(RT_DIRS:%=-iquote runtime/src/%)) \
	  $(CFLAGS) -fPIC -fvisibility=hidden -c $< -o $@

$(BUILD)/obj $(BUILD)/tests $(BUILD)/examples:
	@mkdir -p $@

$(LIB_A): $(LIB_OBJS)
	@rm -f $@
	ar rcs $@ $^

# libasynctrace.so.1.0.0 with SONAME libasynctrace.so.1, and the two
# symlinks the loader and the linker look for.
$(LIB_SO_REAL): $(LIB_OBJS)
	$(CC) $(CFLAGS) $(LDFLAGS) -shared -Wl,-soname,$(LIB_SONAME) -Wl,-z,defs -o $@ $^ $(LDLIBS)

$(LIB_SO): $(LIB_SO_REAL)
	ln -sf libasynctrace.so.$(VERSION) $(BUILD)/$(LIB_SONAME)
	ln -sf libasynctrace.so.$(VERSION) $@

# Unit tests link the static library so they need no LD_LIBRARY_PATH.
$(BUILD)/tests/%: tests/unit/%.c tests/unit/cunit_main.h tests/unit/test_support.h $(LIB_A) | $(BUILD)/tests
	$(CC) $(CPPFLAGS) -Itests/unit $(CFLAGS) $< -o $@ $(LIB_A) $(CUNIT_LIBS) $(LDLIBS)

$(BUILD)/examples/%: examples/%.c $(LIB_A) | $(BUILD)/examples
	$(CC) $(CPPFLAGS) $(CFLAGS) $< -o $@ $(LIB_A) $(LDLIBS)

unit-bins: $(UNIT_BINS)

# Every unit test binary runs, each of its tests in its own process with a
# timeout (tests/unit/cunit_main.h, AT_TEST_TIMEOUT seconds): a crash or a
# hang names its test and the others still run.  A failing binary fails the
# target after all ran; the outer timeout is a last resort.
test-unit: $(UNIT_BINS) $(BUILD)/tests/runner/broken_tests
	@sh tests/unit/runner/check_runner.sh $(BUILD)/tests/runner/broken_tests
	@fail=0; for t in $(UNIT_BINS); do \
	  echo "== $$t"; timeout 900 $$t || { echo "FAILED: $$t"; fail=1; }; \
	done; exit $$fail

# The runner's own check: tests that fail, crash and hang on purpose (never
# sanitized: the crash must stay a signal).
$(BUILD)/tests/runner/broken_tests: tests/unit/runner/broken_tests.c tests/unit/cunit_main.h
	@mkdir -p $(@D)
	$(CC) -Itests/unit -std=gnu11 -g -O1 $< -o $@ $(CUNIT_LIBS)

test: deps
	@$(MAKE) --no-print-directory all
	@$(MAKE) --no-print-directory test-unit $(TEST_TARGETS)

deps:
	@sh mk/deps.sh

# The main job: a service that deadlocks, examined with GDB (mk/harness.mk
# defines demo-run).
demo: deps
	@$(MAKE) --no-print-directory all
	@$(MAKE) --no-print-directory demo-run

# Sanitizers: the unit suite under ASan+UBSan (with poisoned list unlinks,
# runtime/src/core/list.h), then each part's extra runs.
san: deps
	@$(MAKE) --no-print-directory BUILD=build/asan \
	  SANITIZE="-fsanitize=address,undefined -fno-sanitize-recover=all -DAT_DEBUG_LISTS" test-unit
	@$(MAKE) --no-print-directory $(SAN_TARGETS)

clean:
	rm -rf build gdb/asynctrace/_speedups*.so
