/* prims_driver.h - a scripted main task for the unit tests of the sync
 * primitives, channels and combinators.
 *
 * A test writes its scenario as a step function called again and again by
 * one task (the "driver"): step number d->phase runs synchronous code
 * (spawn, unlock, abort, assert) and returns how many times the driver
 * yields before the next step, or 0 to finish.  On the current-thread
 * runtime one yield lets every task scheduled before it run once, so the
 * interleaving of a test is exact and repeatable.
 *
 *     static int steps(driver *d) {
 *         switch (d->phase) {
 *         case 0: ...spawn...; return SETTLE;
 *         case 1: ...assert...; return 0;
 *         }
 *         return 0;
 *     }
 *     run_driver(steps, &ctx);
 */
#ifndef AT_PRIMS_DRIVER_H
#define AT_PRIMS_DRIVER_H

#include "asynctrace.h"
#include "cunit_main.h"

/* Enough yields for every chain of wake-ups in these tests to settle. */
#define SETTLE 16

typedef struct driver driver;
typedef int (*driver_step)(driver *d);
struct driver {
    AT_FRAME;
    driver_step step;
    void *ctx;      /* the test's data */
    int phase;      /* the step about to run */
    int yields;     /* yields left before the next step */
    uint64_t id;    /* the driver task's id */
    at_task *task;  /* the driver task */
    at_yield_fut y;
};

AT_ASYNC_FN(driver_run, driver)
{
    AT_BEGIN(driver);
    self->id = at_current_task_id();
    self->task = at_task_current();
    for (;;) {
        self->yields = self->step(self);
        self->phase++;
        if (self->yields <= 0)
            break;
        while (self->yields-- > 0)
            AT_AWAIT(at_yield(&self->y));
    }
    AT_END;
}

static inline at_frame *driver_start(driver *d, driver_step step, void *ctx)
{
    d->step = step;
    d->ctx = ctx;
    d->phase = 0;
    d->yields = 0;
    return AT_START(d, driver_run);
}

/* Run a scripted test on a fresh current-thread runtime, then free it.
 * Returns the number of steps run. */
static inline int run_driver(driver_step step, void *ctx)
{
    at_runtime *rt = at_runtime_new(NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(rt);
    driver d;
    AT_ASSERT_EQ_INT(at_block_on(rt, driver_start(&d, step, ctx), "driver"), 0);
    at_runtime_free(rt);
    return d.phase;
}

/* The state of a task, read through its join handle. */
static inline uint32_t task_state(at_join_handle h)
{
    return atomic_load(&h.task->state);
}

#endif
