#!/bin/sh
# selftest.sh - the harness's own tests: run build/asynctrace-harness on the
# deliberately broken scenarios of tests/harness/ and check its exact
# verdicts, diffs and exit statuses, that --update writes what was seen, and
# that no scenario process (or child of one) is left behind.
#
#   sh tests/harness/selftest.sh [BUILD_DIR]
set -u
BUILD=${1:-build}
H="${HARNESS:-$BUILD/asynctrace-harness}"  # HARNESS: another build of it (sanitizers)
BIN="$BUILD/tests/harness"
OUT="$BUILD/harness-selftest"
SRC=tests/harness
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
failures=0
checks=0

# Result lines without their timings: "FAIL name: reason"; the summary
# line without its total time.
normalize() {
    sed -E -e 's/^(ok|FAIL|SKIP) +([^ ]+) +[0-9]+\.[0-9]+s *(.*)$/\1 \2: \3/' -e 's/^ +//' \
           -e 's/^([0-9]+ passed, .*) \([0-9.]+s\)$/\1/' -e 's/ +$//' "$TMP/out"
}

# run LABEL EXPECTED_STATUS harness-args...
run() {
    label=$1 want=$2
    shift 2
    "$H" --bin-dir "$BIN" --out-dir "$OUT" "$@" >"$TMP/out" 2>&1
    got=$?
    checks=$((checks + 1))
    if [ "$got" != "$want" ]; then
        echo "selftest: $label: exit status $got, expected $want"
        failures=$((failures + 1))
    fi
}

# has LABEL LINE: the normalized output has exactly this line.
has() {
    checks=$((checks + 1))
    if ! normalize | grep -qxF -- "$2"; then
        echo "selftest: $1: missing line: $2"
        failures=$((failures + 1))
    fi
}

show_on_failure() {
    [ "$failures" -eq "$1" ] && return
    echo "--- harness output:"
    cat "$TMP/out"
    echo "---"
}

# Is process $1 gone (or a zombie waiting for init)?  Waits up to 2 s.
gone() {
    n=0
    while [ $n -lt 40 ]; do
        [ -e "/proc/$1" ] || return 0
        state=$(sed -E 's/^[0-9]+ \(.*\) (.).*/\1/' "/proc/$1/stat" 2>/dev/null)
        [ "$state" = Z ] || [ -z "$state" ] && return 0
        sleep 0.05
        n=$((n + 1))
    done
    return 1
}

# 1. Every failure path in one parallel run; the others still pass or skip.
f0=$failures
run "failure paths" 1 --expect-dir "$SRC/expect/ok" --timeout 2 -j 2 \
    --only crash_early --only exit_early --only never_ready --only bad_live_json \
    --only doctored_live --only skip_me --only good_napper
has "crash" "FAIL crash_early: killed by SIGSEGV before its checkpoint"
has "early exit" "FAIL exit_early: exited with status 3 before its checkpoint (stderr: exit_early: configuration missing)"
has "timeout" "FAIL never_ready: did not reach its checkpoint within 2s"
has "invalid live JSON" "FAIL bad_live_json: live dump is not valid JSON (line 1, column 44: ']' expected near end of file)"
has "live vs offline" "FAIL doctored_live: live and offline dumps differ"
has "live vs offline: name" 'task 2 "renamed": name: live "renamed", offline "napper"'
has "live vs offline: frame" 'task 2 "renamed": napper line: live 1016, offline 16'
has "skip" "SKIP skip_me: nothing to test on this machine"
has "good one" "ok good_napper:"
has "summary" "1 passed, 5 failed, 1 skipped"
has "kept" "(dumps, core and outputs kept in $OUT/crash_early/)"
child=$(sed -n 's/^child \([0-9]*\)$/\1/p' "$OUT/never_ready/scenario.stdout" 2>/dev/null)
checks=$((checks + 1))
if [ -z "$child" ]; then
    echo "selftest: never_ready did not report its child"
    failures=$((failures + 1))
elif ! gone "$child"; then
    echo "selftest: never_ready's child $child survived the harness"
    failures=$((failures + 1))
fi
show_on_failure "$f0"

# 2. Expectations not met: differences name the task and the frame.
f0=$failures
run "wrong expect" 1 --expect-dir "$SRC/expect/wrong" --only good_napper
has "wrong expect" "FAIL good_napper: does not match $SRC/expect/wrong/good_napper.expect"
has "wrong name" 'task 1: expected "boss" idle parent 0 block-on napper_run:43'
has "wrong name, got" 'got "main" idle parent 0 block-on napper_run:43'
has "wrong line" "task 2: frame napper: expected line 99, got 16"
has "wrong leaf" "task 2: frame napper > at_mutex_lock: expected function at_mutex_lock, got at_sleep"
has "missing cycle" "missing: cycle: 1 -> 2 -> 1 via join, mutex"
show_on_failure "$f0"

# 3. An expect file that does not parse.
f0=$failures
run "unparsable expect" 1 --expect-dir "$SRC/expect/unparsable" --only good_napper
has "unparsable" "FAIL good_napper: $SRC/expect/unparsable/good_napper.expect does not parse: line 3: column 6: expected a number"
show_on_failure "$f0"

# 4. Broken GDB output: invalid JSON; attached and core documents that differ.
f0=$failures
HARNESS_FAKE=badjson run "gdb bad JSON" 1 --expect-dir "$SRC/expect/ok" --only good_napper \
    --gdb-script "$SRC/fake_gdb_ext.py"
has "gdb bad JSON" "FAIL good_napper: GDB attached: \`tasks\` printed invalid JSON (line 1, column 45: unexpected token near '}')"
show_on_failure "$f0"
f0=$failures
HARNESS_FAKE=differ run "attached vs core" 1 --expect-dir "$SRC/expect/ok" --only good_napper \
    --gdb-script "$SRC/fake_gdb_ext.py"
# (the CLI, reading the real program, disagrees with the fake GDB too)
has "attached vs core" "FAIL good_napper: attached and core dumps differ; live and offline dumps differ; GDB's and the CLI's readings differ"
has "attached vs core: diff" 'attached vs core: runtimes[id=1].tasks[id=2].name: attached "napper-live", core "napper-core"'
show_on_failure "$f0"

# 5. --update writes exactly what was seen (checked against the reviewed
#    file), and the next run passes with it.
f0=$failures
mkdir -p "$TMP/expect"
run "update" 0 --expect-dir "$TMP/expect" --only good_napper --update
has "update" "ok good_napper: created $TMP/expect/good_napper.expect"
checks=$((checks + 1))
if ! diff -u "$SRC/expect/ok/good_napper.expect" "$TMP/expect/good_napper.expect" \
        --ignore-matching-lines='^#' >"$TMP/diff"; then
    echo "selftest: --update wrote other lines than the reviewed expect file:"
    cat "$TMP/diff"
    failures=$((failures + 1))
fi
run "after update" 0 --expect-dir "$TMP/expect" --only good_napper
has "after update" "ok good_napper:"
show_on_failure "$f0"

# 6. Usage errors.
f0=$failures
run "unknown scenario" 2 --expect-dir "$SRC/expect/ok" --only no_such_scenario
has "unknown scenario" "asynctrace-harness: no scenario named no_such_scenario (see --list)"
run "list" 0 --expect-dir "$SRC/expect/ok" --list
has "list" "crash_early  (no expect file)"
has "list" "good_napper"
show_on_failure "$f0"

# 7. Nothing left running.
checks=$((checks + 1))
# Only processes of this build's programs count (another checkout's run of
# the same self-test may be going on at the same time).
ABS_BIN=$(cd "$BIN" && pwd -P)
left=""
for pid in $(pgrep -f "$BIN/" 2>/dev/null); do
    case "$(readlink "/proc/$pid/exe" 2>/dev/null)" in
        "$ABS_BIN"/*) left="$left $pid" ;;
    esac
done
if [ -n "$left" ]; then
    echo "selftest: scenario processes left behind:"
    for pid in $left; do ps -o pid=,args= -p "$pid"; done
    failures=$((failures + 1))
fi

if [ "$failures" -ne 0 ]; then
    echo "harness selftest: $failures of $checks checks failed"
    exit 1
fi
echo "harness selftest: all $checks checks passed"
