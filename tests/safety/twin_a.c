/* twin_a.c - defines an async function `step` (file-local, as AT_ASYNC_FN
 * promises); twin_b.c defines another of the same name.  The program links
 * only if neither the site record nor the poll function is global
 * (tests/safety, make test-safety). */
#include <stdio.h>

#include "asynctrace.h"

int twin_b_run(at_runtime *rt);

typedef struct {
    AT_FRAME;
    int value;
} step_state;

AT_ASYNC_FN(step, step_state)
{
    AT_BEGIN(step_state);
    self->value = 1;
    AT_END;
}

int main(void)
{
    at_runtime *rt = at_runtime_new(NULL);
    step_state st;
    int rc = at_block_on(rt, AT_START(&st, step), "a");
    int b = twin_b_run(rt);
    at_runtime_free(rt);
    printf("a=%d b=%d\n", st.value, b);
    return rc == 0 && st.value == 1 && b == 2 ? 0 : 1;
}
