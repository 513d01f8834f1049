/* common.h - the checkpoint protocol shared by the GDB test programs.
 *
 * A program brings its tasks into known states, then calls
 * checkpoint_settled() from a task (the last thing before that task waits).
 * A control thread (not a runtime thread) waits until the runtime is parked
 * with nothing to run, writes the in-process snapshot to $AT_TEST_SNAPSHOT
 * (the reference the GDB walker is compared with), prints "ready <pid>" and
 * waits for a line on stdin.  Then it calls the program's release function,
 * which lets every task finish; the program prints "done" and exits 0.
 */
#ifndef AT_GDB_TEST_COMMON_H
#define AT_GDB_TEST_COMMON_H

#define _GNU_SOURCE
#include <pthread.h>
#include <semaphore.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "asynctrace.h"

#define CHECKPOINT_FN static __attribute__((unused))

static sem_t checkpoint_sem;
static pthread_t checkpoint_thread;
static void (*checkpoint_release)(void);

/* Called by a task when the program's state is set up. */
static inline void checkpoint_settled(void) { sem_post(&checkpoint_sem); }

CHECKPOINT_FN void checkpoint_sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Every runtime parked: no task scheduled or running except `allow_running`
 * tasks (those stuck inside a poll on purpose). */
CHECKPOINT_FN int checkpoint_quiet(size_t allow_running)
{
    at_dump *d = at_snapshot_take();
    if (!d)
        return 0;
    size_t busy = 0;
    for (size_t r = 0; r < d->nruntimes; r++)
        for (size_t i = 0; i < d->runtimes[r].ntasks; i++) {
            uint32_t s = d->runtimes[r].tasks[i].state;
            if (s == AT_TASK_SCHEDULED || s == AT_TASK_RUNNING)
                busy++;
        }
    at_dump_free(d);
    return busy <= allow_running;
}

CHECKPOINT_FN void *checkpoint_main(void *arg)
{
    size_t allow_running = (size_t)(uintptr_t)arg;
    sem_wait(&checkpoint_sem);
    /* Quiet twice in a row, 20 ms apart: the runtime thread has parked. */
    int quiet = 0;
    for (int i = 0; i < 500 && quiet < 2; i++) {
        checkpoint_sleep_ms(20);
        quiet = checkpoint_quiet(allow_running) ? quiet + 1 : 0;
    }
    const char *path = getenv("AT_TEST_SNAPSHOT");
    if (path && *path) {
        at_dump *d = at_snapshot_take();
        FILE *f = fopen(path, "w");
        if (d && f)
            at_dump_write_json(d, f);
        if (f)
            fclose(f);
        at_dump_free(d);
    }
    printf("ready %d\n", (int)getpid());
    fflush(stdout);
    char line[64];
    if (!fgets(line, sizeof line, stdin)) {
        /* stdin closed: the runner went away; finish anyway. */
    }
    if (checkpoint_release)
        checkpoint_release();
    return NULL;
}

/* Start the control thread; `allow_running` tasks may stay running. */
CHECKPOINT_FN void checkpoint_start(void (*release)(void), size_t allow_running)
{
    checkpoint_release = release;
    sem_init(&checkpoint_sem, 0, 0);
    pthread_create(&checkpoint_thread, NULL, checkpoint_main,
                   (void *)(uintptr_t)allow_running);
}

CHECKPOINT_FN void checkpoint_finish(void)
{
    pthread_join(checkpoint_thread, NULL);
    printf("done\n");
    fflush(stdout);
}

#endif
