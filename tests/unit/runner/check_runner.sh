#!/bin/sh
# check_runner.sh - the unit-test runner (tests/unit/cunit_main.h) runs each
# test in its own process: a failed assert, a crash and a hang are each
# reported by name, the tests after them still run, the CUnit summary counts
# them, and the exit status is 1.
# Usage: check_runner.sh BINARY
set -u
bin=$1
out=$(AT_TEST_TIMEOUT=2 "$bin" 2>/dev/null)
status=$?
fail=0
expect() {
    printf '%s\n' "$out" | grep -qxF -- "$1" || { echo "check_runner: FAIL: no line '$1'"; fail=1; }
}
expect "Suite: broken_tests"
expect "  Test: passes_first ...passed"
expect "  Test: fails_an_assert ...FAILED"
expect "  Test: crashes ...FAILED: crashed with signal 11 (Segmentation fault)"
expect "  Test: hangs ...FAILED: timed out after 2 s (killed)"
expect "  Test: passes_last ...passed"
expect "               tests      5      5      2      3        0"
expect "             asserts      4      4      3      1      n/a"
[ "$status" -eq 1 ] || { echo "check_runner: FAIL: exit status $status, expected 1"; fail=1; }
if [ "$fail" -ne 0 ]; then
    printf '%s\n' "$out"
    exit 1
fi
echo "ok - unit-test runner isolates failing, crashing and hanging tests"
