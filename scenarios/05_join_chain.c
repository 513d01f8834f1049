/* 05_join_chain - task 1 joins 2, which joins 3, which joins 4, which
 * sleeps.  Each link spawns the next.
 *
 * Checkpoint (quiet, live): tasks 1..3 idle in at_join of the next id,
 * task 4 idle in at_sleep.  Also built as 14_mt_join_chain (SCN_MT). */
#include "scenario.h"

#ifndef SCN_MT
#define SCN_MT 0
#endif

static const char *const names[] = {"main", "link-2", "link-3", "sleeper-4"};

typedef struct {
    AT_FRAME;
    int depth;   /* position in the chain: 1 for main */
    at_join_handle next;
    union {
        at_join_fut join;
        at_sleep_fut nap;
    } aw;
} link_state;

static at_frame *chain_link(link_state *s, int depth);

AT_ASYNC_FN(chain_link, link_state)
{
    AT_BEGIN(link_state);
    if (self->depth == 4) {
        AT_AWAIT(at_sleep(&self->aw.nap, 3600 * AT_SEC));
    } else {
        self->next = AT_SPAWN(NULL, names[self->depth], link_state, chain_link,
                              self->depth + 1);
        SCN_CHECK(self->next.task);
        AT_AWAIT(at_join(&self->aw.join, self->next));
    }
    AT_END;
}

static at_frame *chain_link(link_state *s, int depth)
{
    s->depth = depth;
    return AT_START(s, chain_link);
}

int main(void)
{
    at_runtime *rt = scn_runtime(SCN_MT, 2);
    static link_state st;
    scn_checkpoint_quiet1(rt, 4);
    at_block_on(rt, chain_link(&st, 1), "main");
    scn_fail("the main task returned");
}
