/* twin_b.c - the second file defining an async function named `step`
 * (see twin_a.c). */
#include "asynctrace.h"

typedef struct {
    AT_FRAME;
    int value;
} step_state;

AT_ASYNC_FN(step, step_state)
{
    AT_BEGIN(step_state);
    self->value = 2;
    AT_END;
}

int twin_b_run(at_runtime *rt)
{
    step_state st;
    return at_block_on(rt, AT_START(&st, step), "b") == 0 ? st.value : -1;
}
