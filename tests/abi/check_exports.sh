#!/bin/sh
# check_exports.sh - the shared library exports exactly its public API: the
# functions and objects the public headers declare (listed by the compiler
# itself with -aux-info, static inline helpers excluded, plus the extern
# objects the headers declare), and the debugger anchors asynctrace_debug
# and at_root_poll.  Also checks the SONAME and the symlinks.
# Usage: check_exports.sh BUILD_DIR
set -eu
build=${1:-build}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "check_exports: FAIL: $*"; exit 1; }

echo '#include "asynctrace.h"' > "$tmp/all.c"
cc -std=gnu11 -Iruntime/include -aux-info "$tmp/aux" -c "$tmp/all.c" -o "$tmp/all.o"
# "/* runtime/include/asynctrace/x.h:12:NC */ extern int at_foo (...);"
grep 'runtime/include/' "$tmp/aux" | grep -v ' static ' \
    | sed -E 's/^.*\*\/ *(extern )?[^(]*[ *]([A-Za-z_][A-Za-z0-9_]*) \(.*$/\2/' > "$tmp/declared"
# Exported objects: "extern TYPE name;" at the start of a line in a header.
grep -hE '^extern [A-Za-z_][A-Za-z0-9_ ]* \**[a-z_][a-z0-9_]*;' runtime/include/asynctrace.h \
    runtime/include/asynctrace/*.h | sed -E 's/.*[ *]([a-z_][a-z0-9_]*);.*/\1/' >> "$tmp/declared"
echo at_root_poll >> "$tmp/declared"
sort -u "$tmp/declared" -o "$tmp/declared"
[ "$(wc -l < "$tmp/declared")" -gt 50 ] || fail "could not list the declarations ($(wc -l < "$tmp/declared"))"

nm -D --defined-only "$build/libasynctrace.so" | awk '{print $3}' | sort -u > "$tmp/exported"
extra=$(comm -13 "$tmp/declared" "$tmp/exported")
missing=$(comm -23 "$tmp/declared" "$tmp/exported")
[ -z "$extra" ] || fail "exported but not declared in a public header: $(echo $extra)"
[ -z "$missing" ] || fail "declared in a public header but not exported: $(echo $missing)"
echo "ok - libasynctrace.so exports exactly the $(wc -l < "$tmp/exported") public names"

soname=$(readelf -d "$build/libasynctrace.so" | sed -n 's/.*Library soname: \[\(.*\)\]/\1/p')
[ "$soname" = libasynctrace.so.1 ] || fail "SONAME is '$soname', not libasynctrace.so.1"
[ "$(readlink "$build/libasynctrace.so.1")" = "$(readlink "$build/libasynctrace.so")" ] \
    || fail "libasynctrace.so and libasynctrace.so.1 point to different files"
case "$(readlink "$build/libasynctrace.so")" in
    libasynctrace.so.1.*) ;; *) fail "libasynctrace.so is not a link to libasynctrace.so.1.x.y" ;;
esac
echo "ok - SONAME libasynctrace.so.1, symlinks to $(readlink "$build/libasynctrace.so")"
echo "2 passed, 0 failed"
