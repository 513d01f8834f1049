# mk/debian.mk - the Debian packages (debian/): `make test-debian` (part of
# `make test`) builds them with dpkg-buildpackage from a copy of the tree,
# installs them, checks that plain `gdb -p PID` loads the commands, and
# purges them (tests/debian/run.py; skipped when the tools are missing).
TEST_TARGETS += test-debian
.PHONY: test-debian
test-debian:
	@python3 tests/debian/run.py
