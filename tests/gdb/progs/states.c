/* states.c - GDB test program: tasks in every kind of wait, two nested
 * runtimes on a thread stuck inside a poll, then a checkpoint.
 *
 * Runtimes (ids in creation order): 1 "main" on the main thread, 2 and 3 on
 * the "blocker" thread, where task "outer" (runtime 2) polls an async
 * function that calls at_block_on(runtime 3, "inner"), whose poll blocks in
 * read() on a pipe: two running tasks, two root frames on one thread.
 *
 * Task ids: 1 outer, 2 inner, 3 main, then main spawns 4 holder, 5 transfer,
 * 6 sleeper, 7 consumer, 8 producer, 9 joiner, 10 combo, 11 selector.
 * Lines the GDB tests check are marked with @await / @spawn comments.
 * After "go" on stdin every task finishes, the program prints what each
 * join returned, "done", and exits 0.
 */
#include "common.h"

static at_runtime *rt_main, *rt_outer, *rt_inner;
static at_mutex bank;
static at_notify go;
static at_chan *inbox, *full;
static at_oneshot *reply;
static at_join_handle holder_h;
static int pipe_fds[2];
static sem_t blocked_sem;

/* ---- holder: takes the mutex and keeps it until "go" ---- */
typedef struct {
    AT_FRAME;
    at_mutex_lock_fut lock;
    at_notify_wait_fut wait;
} holder_state;

AT_ASYNC_FN(holder, holder_state)
{
    AT_BEGIN(holder_state);
    AT_AWAIT(at_mutex_lock(&self->lock, &bank)); /* @lock:holder */
    AT_AWAIT(at_notify_wait(&self->wait, &go)); /* @await:holder */
    at_mutex_unlock(&bank);
    AT_END;
}
static at_frame *holder(holder_state *s) { return AT_START(s, holder); }

/* ---- transfer -> lock_account -> at_mutex_lock (held by holder) ---- */
typedef struct {
    AT_FRAME;
    at_mutex_lock_fut lock;
} lock_account_state;

AT_ASYNC_FN(lock_account, lock_account_state)
{
    AT_BEGIN(lock_account_state);
    AT_AWAIT(at_mutex_lock(&self->lock, &bank)); /* @await:lock_account */
    AT_END;
}
static at_frame *lock_account(lock_account_state *s) { return AT_START(s, lock_account); }

typedef struct {
    AT_FRAME;
    lock_account_state acct;
} transfer_state;

AT_ASYNC_FN(transfer, transfer_state)
{
    AT_BEGIN(transfer_state);
    AT_AWAIT(lock_account(&self->acct)); /* @await:transfer */
    at_mutex_unlock(&bank);
    AT_END;
}
static at_frame *transfer(transfer_state *s) { return AT_START(s, transfer); }

/* ---- sleeper: an hour's nap, aborted after "go" ---- */
typedef struct {
    AT_FRAME;
    at_sleep_fut sleep;
} nap_state;

AT_ASYNC_FN(nap, nap_state)
{
    AT_BEGIN(nap_state);
    AT_AWAIT(at_sleep(&self->sleep, 3600 * AT_SEC)); /* @await:nap */
    AT_END;
}
static at_frame *nap(nap_state *s) { return AT_START(s, nap); }

/* ---- consumer: waits on an empty channel ---- */
typedef struct {
    AT_FRAME;
    at_chan_recv_fut recv;
    int msg;
} consumer_state;

AT_ASYNC_FN(consumer, consumer_state)
{
    AT_BEGIN(consumer_state);
    AT_AWAIT(at_chan_recv(&self->recv, inbox, &self->msg)); /* @await:consumer */
    AT_END;
}
static at_frame *consumer(consumer_state *s) { return AT_START(s, consumer); }

/* ---- producer: sends on a full channel ---- */
typedef struct {
    AT_FRAME;
    at_chan_send_fut send;
    int msg;
} producer_state;

AT_ASYNC_FN(producer, producer_state)
{
    AT_BEGIN(producer_state);
    self->msg = 2;
    AT_AWAIT(at_chan_send(&self->send, full, &self->msg)); /* @await:producer */
    AT_END;
}
static at_frame *producer(producer_state *s) { return AT_START(s, producer); }

/* ---- joiner: joins the holder ---- */
typedef struct {
    AT_FRAME;
    at_join_fut join;
} joiner_state;

AT_ASYNC_FN(joiner, joiner_state)
{
    AT_BEGIN(joiner_state);
    AT_AWAIT(at_join(&self->join, holder_h)); /* @await:joiner */
    AT_END;
}
static at_frame *joiner(joiner_state *s) { return AT_START(s, joiner); }

/* ---- combo: join-all of leg_a (notify) and leg_b (oneshot) ---- */
typedef struct {
    AT_FRAME;
    at_notify_wait_fut wait;
} leg_a_state;

AT_ASYNC_FN(leg_a, leg_a_state)
{
    AT_BEGIN(leg_a_state);
    AT_AWAIT(at_notify_wait(&self->wait, &go)); /* @await:leg_a */
    AT_END;
}
static at_frame *leg_a(leg_a_state *s) { return AT_START(s, leg_a); }

typedef struct {
    AT_FRAME;
    at_oneshot_recv_fut recv;
    int value;
} leg_b_state;

AT_ASYNC_FN(leg_b, leg_b_state)
{
    AT_BEGIN(leg_b_state);
    AT_AWAIT(at_oneshot_recv(&self->recv, reply, &self->value)); /* @await:leg_b */
    AT_END;
}
static at_frame *leg_b(leg_b_state *s) { return AT_START(s, leg_b); }

typedef struct {
    AT_FRAME;
    at_join_all_fut all;
    at_frame *kids[2];
    leg_a_state a;
    leg_b_state b;
} combo_state;

AT_ASYNC_FN(combo, combo_state)
{
    AT_BEGIN(combo_state);
    self->kids[0] = leg_a(&self->a);
    self->kids[1] = leg_b(&self->b);
    AT_AWAIT(at_join_all(&self->all, self->kids, 2)); /* @await:combo */
    AT_END;
}
static at_frame *combo(combo_state *s) { return AT_START(s, combo); }

/* ---- selector: select(an hour's sleep, notify) ---- */
typedef struct {
    AT_FRAME;
    at_select_fut sel;
    at_frame *kids[2];
    at_sleep_fut sleep;
    at_notify_wait_fut wait;
} selector_state;

AT_ASYNC_FN(selector, selector_state)
{
    AT_BEGIN(selector_state);
    self->kids[0] = at_sleep(&self->sleep, 3600 * AT_SEC);
    self->kids[1] = at_notify_wait(&self->wait, &go);
    AT_AWAIT(at_select(&self->sel, self->kids, 2)); /* @await:selector */
    AT_END;
}
static at_frame *selector(selector_state *s) { return AT_START(s, selector); }

/* ---- main task ---- */
typedef struct {
    AT_FRAME;
    at_join_handle h[8];
    int results[8];
    int i, msg;
    at_notify_wait_fut wait;
    at_chan_send_fut send;
    at_chan_recv_fut recv;
    at_join_fut join;
} main_state;

AT_ASYNC_FN(main_task, main_state)
{
    AT_BEGIN(main_state);
    self->msg = 1;
    at_chan_try_send(full, &self->msg);
    holder_h = AT_SPAWN(NULL, "holder", holder_state, holder); /* @spawn:holder */
    self->h[0] = AT_SPAWN(NULL, "transfer", transfer_state, transfer); /* @spawn:transfer */
    self->h[1] = AT_SPAWN(NULL, "sleeper", nap_state, nap); /* @spawn:sleeper */
    self->h[2] = AT_SPAWN(NULL, "consumer", consumer_state, consumer); /* @spawn:consumer */
    self->h[3] = AT_SPAWN(NULL, "producer", producer_state, producer); /* @spawn:producer */
    self->h[4] = AT_SPAWN(NULL, "joiner", joiner_state, joiner); /* @spawn:joiner */
    self->h[5] = AT_SPAWN(NULL, "combo", combo_state, combo); /* @spawn:combo */
    self->h[6] = AT_SPAWN(NULL, "selector", selector_state, selector); /* @spawn:selector */
    checkpoint_settled();
    AT_AWAIT(at_notify_wait(&self->wait, &go)); /* @await:main_task */

    /* Released: let every task finish. */
    self->msg = 7;
    AT_AWAIT(at_chan_send(&self->send, inbox, &self->msg));
    AT_AWAIT(at_chan_recv(&self->recv, full, &self->msg));
    AT_AWAIT(at_chan_recv(&self->recv, full, &self->msg));
    self->msg = 9;
    at_oneshot_send(reply, &self->msg);
    at_task_abort(self->h[1]);
    for (self->i = 0; self->i < 7; self->i++) {
        AT_AWAIT(at_join(&self->join, self->h[self->i]));
        self->results[self->i] = self->join.status;
        at_join_handle_release(&self->h[self->i]);
    }
    at_join_handle_release(&holder_h);
    printf("joins: %d %d %d %d %d %d %d\n", self->results[0], self->results[1],
           self->results[2], self->results[3], self->results[4], self->results[5],
           self->results[6]);
    AT_END;
}
static at_frame *main_task(main_state *s) { return AT_START(s, main_task); }

/* ---- the blocker thread: outer -> blocking_step -> block_on(inner) ---- */
__attribute__((noinline)) static int wait_pipe(void)
{
    char c;
    sem_post(&blocked_sem);
    return (int)read(pipe_fds[0], &c, 1); /* @native:wait_pipe */
}

typedef struct {
    AT_FRAME;
    int got;
} inner_state;

AT_ASYNC_FN(inner_work, inner_state) /* @site:inner_work */
{
    AT_BEGIN(inner_state);
    self->got = wait_pipe(); /* @native:inner_work */
    AT_END;
}
static at_frame *inner_work(inner_state *s) { return AT_START(s, inner_work); }

typedef struct {
    AT_FRAME;
    inner_state inner;
    int rc;
} step_state;

AT_ASYNC_FN(blocking_step, step_state) /* @site:blocking_step */
{
    AT_BEGIN(step_state);
    self->rc = at_block_on(rt_inner, inner_work(&self->inner), "inner"); /* @native:blocking_step @spawn:inner */
    AT_END;
}
static at_frame *blocking_step(step_state *s) { return AT_START(s, blocking_step); }

typedef struct {
    AT_FRAME;
    step_state step;
} outer_state;

AT_ASYNC_FN(outer, outer_state)
{
    AT_BEGIN(outer_state);
    AT_AWAIT(blocking_step(&self->step)); /* @await:outer */
    AT_END;
}
static at_frame *outer(outer_state *s) { return AT_START(s, outer); }

static void *blocker_main(void *arg)
{
    outer_state st;
    (void)arg;
    int rc = at_block_on(rt_outer, outer(&st), "outer"); /* @spawn:outer */
    if (rc != 0 || st.step.rc != 0 || st.step.inner.got != 1)
        fprintf(stderr, "blocker: rc %d step %d got %d\n", rc, st.step.rc, st.step.inner.got);
    return NULL;
}

static void release(void)
{
    at_notify_all(&go);
    if (write(pipe_fds[1], "x", 1) != 1)
        perror("write");
}

static at_semaphore spare; /* untouched: for the pretty printer */

int main(void)
{
    pthread_t blocker;
    main_state st;
    int err = 0;

    if (pipe(pipe_fds) != 0)
        return 2;
    sem_init(&blocked_sem, 0, 0);
    rt_main = at_runtime_new(NULL);
    rt_outer = at_runtime_new(NULL);
    rt_inner = at_runtime_new(NULL);
    at_mutex_init(&bank);
    at_notify_init(&go);
    at_semaphore_init(&spare, 3);
    inbox = at_chan_new_bounded(sizeof(int), 4, &err);
    full = at_chan_new_bounded(sizeof(int), 1, &err);
    reply = at_oneshot_new(sizeof(int));
    if (!rt_main || !rt_outer || !rt_inner || !inbox || !full || !reply)
        return 2;

    pthread_create(&blocker, NULL, blocker_main, NULL);
    sem_wait(&blocked_sem);
    checkpoint_start(release, 2);
    int rc = at_block_on(rt_main, main_task(&st), "main"); /* @spawn:main */
    pthread_join(blocker, NULL);
    checkpoint_finish();
    at_chan_sender_drop(inbox);
    at_chan_receiver_drop(inbox);
    at_chan_sender_drop(full);
    at_chan_receiver_drop(full);
    at_runtime_free(rt_main);
    at_runtime_free(rt_outer);
    at_runtime_free(rt_inner);
    return rc == 0 ? 0 : 1;
}
