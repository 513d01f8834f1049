#!/bin/sh
# check_misuse.sh - misuse of the async-function macros that the compiler
# must refuse, each with the message the header promises.
# Usage: check_misuse.sh  (run from the project root)
set -eu
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
passed=0
failed=0

expect_error() { # name, expected message fragment, C body
    name=$1 want=$2
    printf '#include "asynctrace.h"\n%s\n' "$3" > "$tmp/$name.c"
    if cc -std=gnu11 -Iruntime/include -c "$tmp/$name.c" -o "$tmp/$name.o" 2> "$tmp/$name.err"; then
        echo "not ok - $name: compiled, but must be refused"; failed=$((failed + 1))
    elif grep -q "$want" "$tmp/$name.err"; then
        echo "ok - $name: refused with \"$want\""; passed=$((passed + 1))
    else
        echo "not ok - $name: refused, but without \"$want\":"; cat "$tmp/$name.err"
        failed=$((failed + 1))
    fi
}

expect_error frame_not_first "must start with AT_FRAME" '
typedef struct { int n; AT_FRAME; } bad_state;
AT_ASYNC_FN(bad, bad_state) { AT_BEGIN(bad_state); AT_END; }'

expect_error no_frame "has no member named .at_frame." '
typedef struct { int n; } bare_state;
AT_ASYNC_FN(bare, bare_state) { AT_BEGIN(bare_state); AT_END; }'

expect_error frame_wrong_type "must be an at_frame" '
typedef struct { int at_frame; } wrong_state;
AT_ASYNC_FN(wrong, wrong_state) { AT_BEGIN(wrong_state); AT_END; }'

expect_error await_outside_async_fn "at__frame. undeclared" '
int f(at_sleep_fut *s) { AT_AWAIT(at_sleep(s, 1)); return 0; }'

expect_error begin_wrong_type "must name the state type of its AT_ASYNC_FN" '
typedef struct { AT_FRAME; int n; } one_state;
typedef struct { AT_FRAME; long m[8]; } other_state;
AT_ASYNC_FN(one, one_state) { AT_BEGIN(other_state); self->m[7] = 1; AT_END; }'

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
