#!/bin/sh
# run_scenario.sh PROGRAM - run a scenario program (a ThreadSanitizer build)
# standalone through its checkpoint, playing the harness's part: fd 3 gets
# its `ready ...` line, ASYNCTRACE_HARNESS_DUMP its live dump.  Fails when
# the program exits before it is ready (TSan's halt_on_error exits 66 on a
# race), reports a race, or is not ready within the timeout; else stops it.
set -u
prog=$1
timeout=${ASYNCTRACE_TSAN_SCENARIO_TIMEOUT:-120}
dir=$(mktemp -d /tmp/asynctrace-tsan-scn.XXXXXX)
trap 'rm -rf "$dir"' EXIT
ASYNCTRACE_HARNESS_FD=3 ASYNCTRACE_HARNESS_DUMP="$dir/live.json" \
    "$prog" 3>"$dir/ready" >"$dir/out" 2>"$dir/err" &
pid=$!
i=0
status=
while ! grep -q '^ready' "$dir/ready" 2>/dev/null; do
    if ! kill -0 "$pid" 2>/dev/null; then
        wait "$pid"; status=$?
        break
    fi
    i=$((i + 1))
    if [ $i -gt $((timeout * 10)) ]; then
        status=timeout
        break
    fi
    sleep 0.1
done
if [ -z "$status" ]; then
    sleep 0.5 # a race right after the checkpoint still counts
    kill -0 "$pid" 2>/dev/null || { wait "$pid"; status=$?; }
fi
kill -KILL "$pid" 2>/dev/null
wait "$pid" 2>/dev/null
if [ -n "$status" ] || grep -q 'ThreadSanitizer' "$dir/err"; then
    echo "$prog: not ready (status ${status:-running}):"
    head -60 "$dir/err"
    exit 1
fi
echo "ok: $(basename "$prog") reached its checkpoint ($(cat "$dir/ready"))"
