/* diagrec.c - what the runtime records for a diagnosis, and true durations.
 *
 * Task ids (spawn order): 1 main, 2 locker (locks `m`, exits holding it,
 * released: no longer exists), 3 lock_waiter, 4 leaker (exits holding 2
 * of 3 permits), 5 keeper (holds 1 permit), 6 sem_waiter, 7 tx_a (sends,
 * drops its sender), 8 tx_b (sends, exits holding its sender), 9 drain
 * (receives both, then waits), 10 bell_waiter, 11 os_waiter (oneshot whose
 * sender main keeps), 12 job (a blocking job stuck in read on a pool
 * thread), 13 stuck (waits on a notify nobody signals), 14 ticker (a
 * healthy 5 ms ticker), then 15 hog on its own runtime and thread, blocked
 * in read() inside its poll.  The checkpoint comes 1.5 s after `stuck`
 * began to wait.  The pool thread prints "pooltid N" first. */
#include <sys/syscall.h>

#include "common.h"

static at_mutex m;
static at_semaphore sem;
static at_notify never, bell, go;
static at_chan *ch;
static at_oneshot *os;
static int job_pipe[2], hog_pipe[2];
static at_runtime *rt_main, *rt_hog;

typedef struct {
    AT_FRAME;
    int n, msg, got;
    union {
        at_mutex_lock_fut lock;
        at_semaphore_acquire_fut acq;
        at_chan_send_fut send;
        at_chan_recv_fut recv;
        at_notify_wait_fut wait;
        at_oneshot_recv_fut orecv;
        at_blocking_fut job;
        at_sleep_fut sleep;
    } aw;
    at_notify_wait_fut wait2;
} task_state;

AT_ASYNC_FN(locker, task_state)
{
    AT_BEGIN(task_state);
    AT_AWAIT(at_mutex_lock(&self->aw.lock, &m)); /* @lock:locker */
    AT_END;
}

AT_ASYNC_FN(lock_waiter, task_state)
{
    AT_BEGIN(task_state);
    AT_AWAIT(at_mutex_lock(&self->aw.lock, &m)); /* @await:lock_waiter */
    AT_END;
}

AT_ASYNC_FN(permits, task_state)
{
    AT_BEGIN(task_state);
    AT_AWAIT(at_semaphore_acquire(&self->aw.acq, &sem, (uint64_t)self->n)); /* @await:sem_waiter */
    if (self->n == 1)
        AT_AWAIT(at_notify_wait(&self->wait2, &never));
    AT_END;
}

AT_ASYNC_FN(sender, task_state)
{
    AT_BEGIN(task_state);
    AT_AWAIT(at_chan_send(&self->aw.send, ch, &self->msg));
    if (self->n)
        at_chan_sender_drop(ch);
    AT_END;
}

AT_ASYNC_FN(drain, task_state)
{
    AT_BEGIN(task_state);
    for (;;) {
        AT_AWAIT(at_chan_recv(&self->aw.recv, ch, &self->msg)); /* @await:drain */
        if (self->aw.recv.status)
            break;
        self->got++;
    }
    AT_END;
}

AT_ASYNC_FN(bell_waiter, task_state)
{
    AT_BEGIN(task_state);
    AT_AWAIT(at_notify_wait(&self->aw.wait, &bell)); /* the stored notify */
    AT_AWAIT(at_notify_wait(&self->aw.wait, &bell)); /* @await:bell_waiter */
    AT_END;
}

AT_ASYNC_FN(os_waiter, task_state)
{
    AT_BEGIN(task_state);
    AT_AWAIT(at_oneshot_recv(&self->aw.orecv, os, &self->msg)); /* @await:os_waiter */
    AT_END;
}

static void *job_fn(void *arg)
{
    (void)arg;
    printf("pooltid %ld\n", (long)syscall(SYS_gettid));
    fflush(stdout);
    char c;
    if (read(job_pipe[0], &c, 1) < 0)
        perror("read");
    return NULL;
}

AT_ASYNC_FN(job, task_state)
{
    AT_BEGIN(task_state);
    AT_AWAIT(at_spawn_blocking(&self->aw.job, job_fn, NULL)); /* @await:job */
    AT_END;
}

AT_ASYNC_FN(stuck, task_state)
{
    AT_BEGIN(task_state);
    AT_AWAIT(at_notify_wait(&self->aw.wait, &never)); /* @await:stuck */
    AT_END;
}

AT_ASYNC_FN(ticker, task_state)
{
    AT_BEGIN(task_state);
    for (;;)
        AT_AWAIT(at_sleep(&self->aw.sleep, 5 * AT_MS)); /* @await:ticker */
    AT_END;
}

/* hog: blocked in read() inside its own poll, on its own runtime. */
AT_ASYNC_FN(hog, task_state)
{
    AT_BEGIN(task_state);
    char c;
    if (read(hog_pipe[0], &c, 1) < 0) /* @native:hog */
        perror("read");
    AT_END;
}

static void *hog_main(void *arg)
{
    task_state st;
    (void)arg;
    at_block_on(rt_hog, AT_START(&st, hog), "hog");
    return NULL;
}

static at_frame *start(task_state *s, const at_site *site, int n)
{
    memset(s, 0, sizeof *s);
    s->n = n;
    s->msg = n + 40;
    return at_frame_init(&s->at_frame, site);
}

#define SPAWN(name, fn, n) AT_SPAWN(NULL, name, task_state, start, &AT_SITE_OF(fn), n)

typedef struct {
    AT_FRAME;
    at_join_handle h[16];
    at_sleep_fut sleep;
    at_notify_wait_fut wait;
    pthread_t hog_thread;
} main_state;

AT_ASYNC_FN(main_task, main_state)
{
    AT_BEGIN(main_state);
    ch = at_chan_new_bounded(sizeof(int), 4, NULL);
    os = at_oneshot_new(sizeof(int));
    if (!ch || !os)
        abort();
    at_chan_sender_clone(ch);
    at_chan_sender_clone(ch);
    at_notify_one(&bell);
    self->h[2] = SPAWN("locker", locker, 0);
    self->h[3] = SPAWN("lock_waiter", lock_waiter, 0);
    self->h[4] = SPAWN("leaker", permits, 2);
    self->h[5] = SPAWN("keeper", permits, 1);
    self->h[6] = SPAWN("sem_waiter", permits, 1);
    self->h[7] = SPAWN("tx_a", sender, 1);
    self->h[8] = SPAWN("tx_b", sender, 0);
    self->h[9] = SPAWN("drain", drain, 0);
    self->h[10] = SPAWN("bell_waiter", bell_waiter, 0);
    self->h[11] = SPAWN("os_waiter", os_waiter, 0);
    self->h[12] = SPAWN("job", job, 0);
    self->h[13] = SPAWN("stuck", stuck, 0);
    self->h[14] = SPAWN("ticker", ticker, 0);
    at_chan_sender_drop(ch);
    at_join_handle_release(&self->h[2]); /* the locker is freed once done */
    pthread_create(&self->hog_thread, NULL, hog_main, NULL);
    AT_AWAIT(at_sleep(&self->sleep, 1500 * AT_MS));
    checkpoint_settled();
    AT_AWAIT(at_notify_wait(&self->wait, &go));
    AT_END;
}

static void release(void)
{
    _exit(0); /* nothing left to check after the checkpoint */
}

int main(void)
{
    main_state st;
    if (pipe(job_pipe) || pipe(hog_pipe))
        return 2;
    at_mutex_init(&m);
    at_semaphore_init(&sem, 3);
    at_notify_init(&never);
    at_notify_init(&bell);
    at_notify_init(&go);
    rt_main = at_runtime_new(NULL);
    rt_hog = at_runtime_new(NULL);
    if (!rt_main || !rt_hog)
        return 2;
    checkpoint_start(release, 1);
    at_block_on(rt_main, AT_START(&st, main_task), "main");
    return 1;
}
