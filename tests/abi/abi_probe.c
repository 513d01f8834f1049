/* abi_probe.c - a tiny program linked statically and stripped by
 * check_abi.sh: it runs a task so the runtime is really linked in. */
#include <string.h>

#include "asynctrace.h"

typedef struct {
    AT_FRAME;
    at_sleep_fut s;
} probe_state;

AT_ASYNC_FN(probe, probe_state)
{
    AT_BEGIN(probe_state);
    AT_AWAIT(at_sleep(&self->s, 1 * AT_MS));
    AT_END;
}

int main(void)
{
    at_runtime *rt = at_runtime_new(NULL);
    probe_state st;
    int r = at_block_on(rt, AT_START(&st, probe), "probe");
    at_runtime_free(rt);
    return r == 0 && memcmp(asynctrace_debug.magic, "ATDEBUG", 8) == 0 ? 0 : 1;
}
