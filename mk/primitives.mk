# mk/primitives.mk - ThreadSanitizer run of the tests of the sync primitives,
# channels and combinators: their cross-thread tests share mutexes,
# semaphores and channels between a runtime's thread and plain threads.
PRIMS_TSAN_TESTS := test_sync test_channel test_combinators test_holders

SAN_TARGETS += san-prims-tsan
.PHONY: san-prims-tsan
san-prims-tsan:
	$(call tsan_run,$(PRIMS_TSAN_TESTS))

# The tests of the primitives share a scripted driver task.
$(PRIMS_TSAN_TESTS:%=$(BUILD)/tests/%): tests/unit/prims_driver.h
