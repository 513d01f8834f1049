#!/bin/sh
# check_abi.sh - the debugger descriptor is findable from outside:
#  1. exported as a dynamic data symbol of the shared library (nm -D);
#  2. in its own named section of a stripped static executable, with the
#     magic and ABI version at its start (strip, then readelf).
# Usage: check_abi.sh BUILD_DIR
set -eu
build=${1:-build}
fail() { echo "check_abi: FAIL: $*"; exit 1; }

nm -D --defined-only "$build/libasynctrace.so" | grep -Eq ' [DB] asynctrace_debug$' \
    || fail "asynctrace_debug is not an exported data symbol of libasynctrace.so"
echo "ok - nm -D finds asynctrace_debug in libasynctrace.so"

exe="$build/tests/abi_probe"
cc -std=gnu11 -O2 -Iruntime/include -static -pthread tests/abi/abi_probe.c \
    "$build/libasynctrace.a" $(pkg-config --libs --static libunwind capstone libdw 2>/dev/null) -ldl \
    -o "$exe" 2>/dev/null || cc -std=gnu11 -O2 -Iruntime/include -pthread tests/abi/abi_probe.c \
    "$build/libasynctrace.a" $(pkg-config --libs libunwind capstone libdw) -ldl -o "$exe"
strip "$exe"
if nm "$exe" 2>/dev/null | grep -q asynctrace_debug; then fail "strip left the symbol table"; fi
readelf -S -W "$exe" | grep -q ' \.asynctrace_debug ' || fail "no .asynctrace_debug section after strip"
# The section starts with the magic "ATDEBUG\0" and ABI version 3 (LE).
hex=$(readelf -x .asynctrace_debug "$exe" | awk '/0x/ {print $2 $3 $4 $5; exit}')
[ "$hex" = "41544445425547000300000008000000" ] || fail "section head is $hex"
echo "ok - stripped executable keeps .asynctrace_debug with magic and version"
# The probe itself runs and sees the same descriptor.
"$exe" || fail "abi_probe failed"
echo "ok - abi_probe"
echo "3 passed, 0 failed"
