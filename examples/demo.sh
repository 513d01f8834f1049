#!/bin/sh
# demo.sh - what `make demo` shows: start examples/kvd (a small key-value
# service that deadlocks and blocks a thread), attach GDB with the
# asynctrace extension, print what it says (the diagnosis first), stop the
# service.
#
#   sh examples/demo.sh [BUILD_DIR]
set -u
BUILD=${1:-build}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
KVD="$BUILD/examples/kvd"

[ -x "$KVD" ] || { echo "demo: $KVD is not built (run make demo)" >&2; exit 1; }
command -v gdb >/dev/null 2>&1 || { echo "demo: gdb is missing (make deps installs it)" >&2; exit 1; }

log=$(mktemp)
"$KVD" >"$log" 2>&1 &
pid=$!
cleanup() { kill -9 "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; rm -f "$log"; }
trap cleanup EXIT
trap 'exit 130' INT TERM

rule() { printf '%s\n' "------------------------------------------------------------------------------"; }

echo
echo "asynctrace demo: a service that stops answering, explained from the outside"
rule
echo "Starting $KVD: an acceptor, three workers, a cache behind two mutexes,"
echo "a stats ticker and a config reloader, fed by a fake client.  Its log:"
echo

# Wait (at most 10 s) until kvd says it reloads its configuration: by then it
# has deadlocked, and the reload is about to block its thread.
i=0
while ! grep -q "reloading configuration" "$log" 2>/dev/null; do
    i=$((i + 1))
    if [ $i -gt 100 ] || ! kill -0 "$pid" 2>/dev/null; then
        cat "$log"
        echo "demo: kvd did not get into trouble in time" >&2
        exit 1
    fi
    sleep 0.1
done
sleep 0.3
sed 's/^/    /' "$log"
echo
echo "kvd is still running, but answers nothing.  What is it doing?"
echo "Attaching GDB to pid $pid (it only reads memory: no code runs in kvd):"
echo "    gdb -p $pid -ex 'source gdb/asynctrace-gdb.py'"
rule

section() {
    # GDB's echo: a blank line, a title, the command as typed.
    printf '%s' "-ex|echo \\n== $1\\n(gdb) $2\\n|-ex|$2|"
}

args="$(section "What is wrong? The diagnosis, most certain first" "info async-diagnose")"
args="$args$(section "Runtimes in the process" "info async-runtimes")"
args="$args$(section "Threads that poll tasks" "info async-threads")"
args="$args$(section "Every task: state, how long, where it waits, for what" "info async-tasks")"
args="$args$(section "Who waits for whom: cycles and the tasks stuck behind them" "info async-deadlocks")"
args="$args-ex|echo \\n== Backtraces of the culprits (deadlocked, and blocking a thread)\\n|"
args="$args-ex|source $ROOT/examples/demo_culprits.py|-ex|demo-culprits|"

out=$(mktemp)
IFS='|'
# shellcheck disable=SC2086
gdb -batch -nx -iex 'set debuginfod enabled off' -iex 'set auto-load python-scripts off' \
    -iex 'set width 0' -iex 'set height 0' -p "$pid" \
    -ex "source $ROOT/gdb/asynctrace-gdb.py" -ex 'echo @@demo@@\n' $args >"$out" 2>&1
status=$?
unset IFS
# Show what the commands printed, without GDB's attach chatter.
sed -n '/^@@demo@@$/,$p' "$out" |
    sed -e '/^@@demo@@$/d' -e '/^\[Inferior 1 (process [0-9]*) detached\]$/d'
if [ $status -ne 0 ] || ! grep -q '^@@demo@@$' "$out"; then
    echo "demo: gdb failed (exit status $status); its output:" >&2
    cat "$out" >&2
    status=1
fi
rm -f "$out"
echo
rule
echo "Stopping kvd (pid $pid)."
exit $status
