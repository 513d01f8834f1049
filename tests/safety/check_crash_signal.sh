#!/bin/sh
# check_crash_signal.sh BUILD - ASYNCTRACE_DUMP_SIGNAL naming a crash or
# uncatchable signal installs nothing and says so on stderr: a SIGSEGV sent
# to the program still kills it (exit 139), it does not turn into a dump.
set -u
ulimit -c 0 2>/dev/null
build=${1:-build}
prog=$build/tests/static_sleeper
dir=$(mktemp -d /tmp/asynctrace-crash-signal.XXXXXX)
trap 'rm -rf "$dir"' EXIT
fail() { echo "FAILED: check_crash_signal: $*"; [ -n "${pid:-}" ] && kill -KILL "$pid" 2>/dev/null; exit 1; }

for sig in SIGSEGV BUS 8 SIGKILL; do
    rm -f "$dir/out" "$dir/err"
    ASYNCTRACE_DUMP_SIGNAL=$sig ASYNCTRACE_DUMP_FILE="$dir/dump.json" \
        "$prog" >"$dir/out" 2>"$dir/err" &
    pid=$!
    i=0
    until grep -q ready "$dir/out" 2>/dev/null; do
        i=$((i + 1)); [ $i -gt 200 ] && fail "$sig: the program never became ready"
        sleep 0.05
    done
    want="asynctrace: ASYNCTRACE_DUMP_SIGNAL=$sig is a crash or uncatchable signal; no dump handler installed (use SIGUSR1, SIGUSR2 or SIGQUIT)"
    [ "$(cat "$dir/err")" = "$want" ] || fail "$sig: stderr was: $(cat "$dir/err")"
    if [ "$sig" = SIGSEGV ]; then
        kill -SEGV "$pid"
        { wait "$pid"; rc=$?; } 2>/dev/null
        [ $rc -eq 139 ] || fail "SIGSEGV did not kill the program (exit $rc)"
        [ -e "$dir/dump.json" ] && fail "SIGSEGV wrote a dump"
    else
        kill -TERM "$pid"; wait "$pid" 2>/dev/null
    fi
    pid=
done
echo "ok: check_crash_signal (crash signals refused from the environment)"
