#!/bin/sh
# user_suite.sh - the installed harness, as a user's project sees it:
# `make install` into a temporary prefix, the out-of-tree example project
# (examples/user-suite) copied out of the tree and built with pkg-config
# against that prefix, its suite run by the installed asynctrace-harness,
# and its JUnit and TAP reports checked field by field
# (tests/harness/check_reports.py).
#
#   sh tests/harness/user_suite.sh [BUILD_DIR]
set -u
BUILD=${1:-build}
SRC=$(pwd)
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
PREFIX="$TMP/prefix"
LIBBUILD="$BUILD/user-suite"
fail() {
    echo "user-suite: $*"
    exit 1
}

# 1. Install into the temporary prefix from a build directory of its own
#    (the installed paths are compiled into the library), seeded with this
#    build's objects so that only what depends on the prefix is rebuilt.
mkdir -p "$LIBBUILD"
for d in obj harness-obj scenario-obj; do
    [ -d "$BUILD/$d" ] && cp -a "$BUILD/$d" "$LIBBUILD/"
done
make --no-print-directory BUILD="$LIBBUILD" PREFIX="$PREFIX" install >"$TMP/install.log" 2>&1 ||
    { cat "$TMP/install.log"; fail "make install PREFIX=$PREFIX failed"; }
for f in bin/asynctrace-harness include/asynctrace/scenario.h lib/libasynctrace-scenario.a \
         lib/pkgconfig/asynctrace-scenario.pc share/asynctrace/harness/native_frames.py; do
    [ -f "$PREFIX/$f" ] || fail "make install did not install $f"
done

# 2. The project, out of the tree, built with pkg-config.
cp -r examples/user-suite "$TMP/project"
rm -rf "$TMP/project/build" "$TMP/project/asynctrace-harness.out"
export PATH="$PREFIX/bin:$PATH" PKG_CONFIG_PATH="$PREFIX/lib/pkgconfig"
unset ASYNCTRACE_GDB_SCRIPT
cflags=$(pkg-config --cflags asynctrace-scenario) || fail "pkg-config knows no asynctrace-scenario"
case "$cflags" in *"-I$PREFIX/include"*) ;; *) fail "pkg-config --cflags: $cflags";; esac
(cd "$TMP/project" && make --no-print-directory >"$TMP/build.log" 2>&1) ||
    { cat "$TMP/build.log"; fail "the example project does not build"; }
[ "$(command -v asynctrace-harness)" = "$PREFIX/bin/asynctrace-harness" ] ||
    fail "asynctrace-harness is not the installed one"

# 3. Its suite, run the way its Makefile's `check` does, from its own
#    directory: one scenario passes, one fails on purpose.
(cd "$TMP/project" && asynctrace-harness --suite suite.conf --junit build/junit.xml \
    --tap=build/results.tap >"$TMP/out" 2>&1)
rc=$?
if [ "$rc" != 1 ]; then
    cat "$TMP/out"
    fail "exit status $rc, expected 1"
fi
python3 "$SRC/tests/harness/check_reports.py" "$TMP/project" "$TMP/out" || {
    echo "--- harness output:"; cat "$TMP/out"; exit 1; }
# 4. The same suite under CTest and Meson, where they are installed: the
#    passing scenario passes, the failing one is expected to fail.
ran="make"
if command -v cmake >/dev/null 2>&1 && command -v ctest >/dev/null 2>&1; then
    (cd "$TMP/project" && cmake -S . -B build-cmake && cmake --build build-cmake &&
        ctest --test-dir build-cmake --output-on-failure) >"$TMP/ctest.log" 2>&1 ||
        { cat "$TMP/ctest.log"; fail "the CTest build or run failed"; }
    grep -q "100% tests passed, 0 tests failed out of 2" "$TMP/ctest.log" ||
        { cat "$TMP/ctest.log"; fail "ctest: not 2 of 2 tests as expected"; }
    grep -q 'failures="1"' "$TMP/project/build-cmake/junit-transfer_deadlock.xml" ||
        fail "ctest: no JUnit report of the failing scenario"
    ran="$ran, CTest"
fi
if command -v meson >/dev/null 2>&1 && command -v ninja >/dev/null 2>&1; then
    (cd "$TMP/project" && meson setup build-meson && meson test -C build-meson) \
        >"$TMP/meson.log" 2>&1 || { cat "$TMP/meson.log"; fail "the Meson build or run failed"; }
    grep -Eq "^Ok: +1 *$" "$TMP/meson.log" && grep -Eq "^Expected Fail: +1 *$" "$TMP/meson.log" ||
        { cat "$TMP/meson.log"; fail "meson test: not 1 ok and 1 expected failure"; }
    ran="$ran, Meson"
fi
# 5. `make uninstall` takes the harness's files away again.
make --no-print-directory BUILD="$LIBBUILD" PREFIX="$PREFIX" uninstall-harness >"$TMP/uninstall.log" 2>&1 ||
    { cat "$TMP/uninstall.log"; fail "make uninstall-harness failed"; }
for f in bin/asynctrace-harness include/asynctrace/scenario.h lib/libasynctrace-scenario.a \
         lib/pkgconfig/asynctrace-scenario.pc share/asynctrace/harness/native_frames.py; do
    [ -e "$PREFIX/$f" ] && fail "make uninstall left $f"
done
echo "user-suite: installed harness, example project ($ran), JUnit and TAP reports: all checks passed"
