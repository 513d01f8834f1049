# mk/docs.mk - `make test-docs` (part of `make test`): every source line the
# docs quote (file.c:LINE after a function name, JSON excerpts) is in that
# function, and every listing marked <!-- listing: PATH --> equals its file
# (tests/docs/check_doc_lines.py).
TEST_TARGETS += test-docs
.PHONY: test-docs
test-docs:
	@python3 tests/docs/check_doc_lines.py
