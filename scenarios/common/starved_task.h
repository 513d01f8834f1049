/* starved_task.h - the task the starvation scenarios (28, 29) spawn and
 * then leave runnable: it only yields once, so any poll would finish it,
 * and a diagnosis finds it scheduled and waiting to be polled. */
#ifndef SCN_STARVED_TASK_H
#define SCN_STARVED_TASK_H

#include "scenario.h"

typedef struct {
    AT_FRAME;
    at_yield_fut yield;
} starved_state;

AT_ASYNC_FN(starved, starved_state)
{
    AT_BEGIN(starved_state);
    AT_AWAIT(at_yield(&self->yield));
    AT_END;
}

static at_frame *starved(starved_state *s) { return AT_START(s, starved); }

#endif
