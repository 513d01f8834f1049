# mk/tsan.mk - the ThreadSanitizer runs of `make san`, written once.
#
# $(call tsan_run,TESTS) builds the unit tests TESTS (names of
# tests/unit/test_*.c) with -fsanitize=thread in $(TSAN_BUILD) and runs
# each with the stress sizes divided by 10 (ASYNCTRACE_TEST_SCALE); the
# recipe fails after all ran when any reported a race (exit 66) or failed.
# mk/tsan.supp lists the only suppressions, each explained.
#
# $(call tsan_scenarios,NAMES) does the same for scenario programs: each
# runs standalone through its checkpoint (tests/tsan/run_scenario.sh
# plays the harness's part), then is stopped.
#
# Used by mk/mt.mk (scheduler), mk/primitives.mk (sync, channels,
# combinators) and mk/trace.mk (live dumps, writers).
TSAN_BUILD := build/tsan
TSAN_OPTS  := halt_on_error=1 exitcode=66 second_deadlock_stack=1 \
              suppressions=$(CURDIR)/mk/tsan.supp

define tsan_run
	@$(MAKE) --no-print-directory BUILD=$(TSAN_BUILD) SANITIZE="-fsanitize=thread" \
	  $(1:%=$(TSAN_BUILD)/tests/%)
	@fail=0; for t in $(1); do \
	  echo "== tsan $$t"; \
	  TSAN_OPTIONS="$(TSAN_OPTS)" ASYNCTRACE_TEST_SCALE=10 \
	    timeout 600 $(TSAN_BUILD)/tests/$$t || { echo "FAILED (tsan): $$t"; fail=1; }; \
	done; exit $$fail
endef

define tsan_scenarios
	@$(MAKE) --no-print-directory BUILD=$(TSAN_BUILD) SANITIZE="-fsanitize=thread" \
	  $(1:%=$(TSAN_BUILD)/scenarios/%)
	@fail=0; for s in $(1); do \
	  echo "== tsan scenario $$s"; \
	  TSAN_OPTIONS="$(TSAN_OPTS)" sh tests/tsan/run_scenario.sh $(TSAN_BUILD)/scenarios/$$s \
	    || { echo "FAILED (tsan): scenario $$s"; fail=1; }; \
	done; exit $$fail
endef
