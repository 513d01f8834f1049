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

# has_prefix LABEL TEXT: a normalized line starts with this text.
has_prefix() {
    checks=$((checks + 1))
    if ! normalize | grep -q "^$(printf '%s' "$2" | sed 's/[][\\.*^$/]/\\&/g')"; then
        echo "selftest: $1: no line starting with: $2"
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
    --only doctored_live --only skip_me --only good_napper --only hang_abba
has "crash" "FAIL crash_early: killed by SIGSEGV before its checkpoint"
has "early exit" "FAIL exit_early: exited with status 3 before its checkpoint (stderr: exit_early: configuration missing)"
has_prefix "timeout" "FAIL never_ready: did not reach its checkpoint within 2s (no diagnosis: GDB attached: \`tasks\` printed no JSON document; stderr: asynctrace: this program does not contain the asynctrace runtime ("
has "hang" "FAIL hang_abba: did not reach its checkpoint within 2s; diagnosis: 3 tasks; 1 cycle (2 -> 3 -> 2 via mutex, mutex); 1 stuck task"
has "hang: finding" "diagnosis: finding: cycle (proven): deadlock: 2 tasks wait for each other in a cycle (mutex): 2 -> 3 -> 2; tasks 2, 3"
has "hang: cycle" "cycle: 2 -> 3 -> 2 via mutex, mutex"
has "hang: stuck" 'stuck: task 1 "main": join task 2, and task 2 "left" is in a deadlock cycle'
has "hang: table" 'task 2 "left" idle parent 1 spawn hang_main_poll:49: at_mutex_lock mutex(owner=3,waiters=1) <- side:27'
has "hang: table" 'task 3 "right" idle parent 1 spawn hang_main_poll:50: at_mutex_lock mutex(owner=2,waiters=1) <- side:27'
checks=$((checks + 1))
if ! grep -q '^   3  idle .*"right"  side hang_abba.c:27  -> mutex 0x[0-9a-f]* held by task 2 "left"$' \
        "$OUT/hang_abba/tasks.txt" 2>/dev/null; then
    echo "selftest: hang: no task table from the core in $OUT/hang_abba/tasks.txt"
    failures=$((failures + 1))
fi
has "invalid live JSON" "FAIL bad_live_json: live dump is not valid JSON (line 1, column 44: ']' expected near end of file)"
has "live vs offline" "FAIL doctored_live: live and offline dumps differ"
has "live vs offline: name" 'task 2 "renamed": name: live "renamed", offline "napper"'
has "live vs offline: frame" 'task 2 "renamed": napper line: live 1016, offline 16'
has "skip" "SKIP skip_me: nothing to test on this machine"
has "good one" "ok good_napper:"
has "summary" "1 passed, 6 failed, 1 skipped"
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
has "unparsable" "FAIL good_napper: $SRC/expect/unparsable/good_napper.expect:3:6: expected a number"
show_on_failure "$f0"

# 3b. Directives: those that hold pass, those that do not name their line;
#     a directive that does not exist names its file, line and column.
f0=$failures
run "directives" 1 --expect-dir "$SRC/expect/directives" --only good_napper
D="$SRC/expect/directives/good_napper.expect"
has "directives" "FAIL good_napper: $D: 3 directives failed"
has "directive cycle" "$D:6: \`expect cycle\`: no cycle"
has "directive in-syscall" "$D:7: \`expect in-syscall task 2\`: no thread is polling task 2"
has "directive state" "$D:8: \`expect task 1 running\`: task 1 \"main\" is idle"
checks=$((checks + 1))
if normalize | grep -q "expect tasks 2\|expect no-stuck\|expect no-cycle\|expect task 2 idle\|unexpected:"; then
    echo "selftest: directives: a directive that holds (or match subset) was reported"
    failures=$((failures + 1))
fi
run "bad directive" 1 --expect-dir "$SRC/expect/baddirective" --only good_napper
has "bad directive" "FAIL good_napper: $SRC/expect/baddirective/good_napper.expect:3:8: unknown directive (expected no-stuck, no-cycle, cycle, stuck, tasks, task, in-syscall, finding or no-finding)"
"$H" --suite "$SRC/bad.suite" --out-dir "$OUT" >"$TMP/out" 2>&1
got=$?
checks=$((checks + 1))
[ "$got" = 2 ] || { echo "selftest: bad suite: exit status $got, expected 2"; failures=$((failures + 1)); }
has "bad suite" "asynctrace-harness: $SRC/bad.suite:4: timeout: timeout takes a positive number of seconds"
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

# 7. Seeded schedules: 15_seeded_lock_order passes in the runtime's own
#    order (the main suite runs it), passes under seed 6 and deadlocks under
#    seed 7 (the current-thread runtime replays a seed exactly).  The search
#    stops at 7, diagnoses the hang, and prints a replay command that hangs
#    the same way.
f0=$failures
SCN="$BUILD/scenarios"
run "seeds" 1 --bin-dir "$SCN" --expect-dir scenarios --seeds 100 --seed 6 --timeout 2 \
    15_seeded_lock_order
SEEDFAIL="FAIL 15_seeded_lock_order: seed 7: did not reach its checkpoint within 2s; diagnosis: 3 tasks; 1 cycle (2 -> 3 -> 2 via mutex, mutex); 1 stuck task"
has "seeds" "$SEEDFAIL"
has "seeds: finding" "diagnosis: finding: cycle (proven): deadlock: 2 tasks wait for each other in a cycle (mutex): 2 -> 3 -> 2; tasks 2, 3"
has "seeds: payment" 'task 2 "payment" idle parent 1 spawn main_task_poll:58: at_mutex_lock mutex(owner=3,waiters=1) <- locker:32'
has "seeds: audit" 'task 3 "audit" idle parent 1 spawn main_task_poll:59: at_mutex_lock mutex(owner=2,waiters=1) <- locker:32'
has "seeds: replay" "replay: $H --seed 7 --timeout 2 --bin-dir $SCN --expect-dir scenarios 15_seeded_lock_order"
has "seeds: by hand" "by hand: ASYNCTRACE_SCHED_SEED=7 $SCN/15_seeded_lock_order"
normalize | grep -v '^[0-9]* passed' >"$TMP/first"
replay=$(normalize | sed -n 's/^replay: //p')
checks=$((checks + 1))
if [ -n "$replay" ]; then
    $replay --out-dir "$OUT" >"$TMP/out" 2>&1
    normalize | grep -v '^[0-9]* passed' | sed 's/^FAIL 15_seeded_lock_order: /&seed 7: /' \
        | sed 's/seed 7: seed 7: /seed 7: /' >"$TMP/second"
    if ! diff "$TMP/first" "$TMP/second" >"$TMP/diff"; then
        echo "selftest: seeds: the replay does not hang the same way:"
        cat "$TMP/diff"
        failures=$((failures + 1))
    fi
else
    echo "selftest: seeds: no replay command"
    failures=$((failures + 1))
fi
run "seed 6 alone" 0 --bin-dir "$SCN" --expect-dir scenarios --seed 6 --timeout 5 15_seeded_lock_order
has "seed 6 alone" "ok 15_seeded_lock_order: 1 seed (6..6)"
show_on_failure "$f0"

# 8. Nothing left running.
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
