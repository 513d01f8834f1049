#!/bin/sh
# check_static_dump.sh BUILD - a statically linked program that never calls
# a dump function, run with ASYNCTRACE_DUMP_SIGNAL=SIGUSR1, answers
# `kill -USR1` with a valid dump (the sleeping task in it) and keeps running.
set -u
build=${1:-build}
prog=$build/tests/static_sleeper
dir=$(mktemp -d /tmp/asynctrace-static-dump.XXXXXX)
trap 'rm -rf "$dir"' EXIT
fail() { echo "FAILED: check_static_dump: $*"; [ -n "${pid:-}" ] && kill -KILL "$pid" 2>/dev/null; exit 1; }

if nm "$prog" | grep -q ' [wW] at__dump'; then
    fail "$prog has a weak dump hook"
fi
ASYNCTRACE_DUMP_SIGNAL=SIGUSR1 ASYNCTRACE_DUMP_FILE="$dir/dump.json" \
    "$prog" >"$dir/out" 2>"$dir/err" &
pid=$!
i=0
until grep -q ready "$dir/out" 2>/dev/null; do
    i=$((i + 1)); [ $i -gt 200 ] && fail "the program never became ready"
    sleep 0.05
done
kill -USR1 "$pid" || fail "kill -USR1"
i=0
until [ -f "$dir/dump.json" ]; do
    i=$((i + 1))
    kill -0 "$pid" 2>/dev/null || { wait "$pid"; fail "the program died on SIGUSR1 (exit $?)"; }
    [ $i -gt 200 ] && fail "no dump file after 10 s"
    sleep 0.05
done
sleep 0.2
kill -0 "$pid" 2>/dev/null || fail "the program did not keep running after the dump"
python3 - "$dir/dump.json" <<'PY' || fail "the dump is not the expected document"
import json, sys
doc = json.load(open(sys.argv[1], encoding="utf-8", errors="strict"))
names = [t["name"] for rt in doc["runtimes"] for t in rt["tasks"]]
assert names == ["sleeper"], names
assert doc["source"] == "live", doc["source"]
PY
kill -TERM "$pid"; wait "$pid" 2>/dev/null
[ -s "$dir/err" ] && fail "unexpected stderr: $(cat "$dir/err")"
echo "ok: check_static_dump (static link, SIGUSR1 from the environment)"
