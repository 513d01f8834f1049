# mk/diag.mk - the analysis behind info async-diagnose and the task
# selection and grouping options: unit tests on records made by hand
# (tests/gdb/test_analysis.py, no GDB) and the diagnosis of the hang
# scenarios 20..30 checked finding by finding (tests/gdb/diagnose_run.py).
# (mk/*.mk are read in name order: the scenario binaries are reached
# through the `scenarios` target of mk/harness.mk.)
TEST_TARGETS += test-diag
.PHONY: test-diag
test-diag: scenarios
	@python3 tests/gdb/test_analysis.py
	@python3 tests/gdb/diagnose_run.py --build $(BUILD)

# `make bench` runs this (bench/run_all finds bench-* targets): diagnose and
# a grouped listing on a core of the 100,000-task haystack, next to
# info async-tasks --json on the same core.
.PHONY: bench-diag
bench-diag: scenarios
	@python3 bench/diagnose_bench.py --build $(BUILD)
