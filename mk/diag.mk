# mk/diag.mk - the analysis behind info async-diagnose and the task
# selection and grouping options: unit tests on records made by hand
# (tests/gdb/test_analysis.py, no GDB) and the diagnosis of the hang
# scenarios checked finding by finding (tests/gdb/diagnose_run.py).
TEST_TARGETS += test-diag
.PHONY: test-diag
test-diag: $(GDB_PY)
	@python3 tests/gdb/test_analysis.py
