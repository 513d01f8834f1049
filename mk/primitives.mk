# mk/primitives.mk - ThreadSanitizer run of the tests of the sync primitives,
# channels and combinators: their cross-thread tests share mutexes,
# semaphores and channels between a runtime's thread and plain threads.
PRIMS_TSAN_BUILD := build/tsan
PRIMS_TSAN_TESTS := test_sync test_channel test_combinators test_holders

SAN_TARGETS += san-prims-tsan
.PHONY: san-prims-tsan
san-prims-tsan:
	@$(MAKE) --no-print-directory BUILD=$(PRIMS_TSAN_BUILD) \
	  SANITIZE="-fsanitize=thread" \
	  $(PRIMS_TSAN_TESTS:%=$(PRIMS_TSAN_BUILD)/tests/%)
	@fail=0; for t in $(PRIMS_TSAN_TESTS); do \
	  echo "== tsan $$t"; \
	  TSAN_OPTIONS=halt_on_error=1 timeout 300 $(PRIMS_TSAN_BUILD)/tests/$$t \
	    || { echo "FAILED: tsan $$t"; fail=1; }; \
	done; exit $$fail

# The tests of the primitives share a scripted driver task.
$(PRIMS_TSAN_TESTS:%=$(BUILD)/tests/%): tests/unit/prims_driver.h
