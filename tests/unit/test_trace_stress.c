/* test_trace_stress.c - no lost wake-up: 1,000 tasks ping-pong on channels
 * while the runtime is dumped 200 times (100 times from a task with
 * at_dump_tasks, 100 times from another thread with at_dump_runtime_tasks);
 * every message is delivered and the program ends.  The pairs play at least
 * ROUNDS rounds and on until the last dump is taken, so every dump overlaps
 * the play although a busy runtime serves dumps at a bounded rate.
 * ASYNCTRACE_TEST_SCALE=N divides the rounds and the dumps by N (sanitizer
 * runs). */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>

#include "trace_util.h"

#define PAIRS 500            /* 1,000 ping-pong tasks */

static int ROUNDS = 200;       /* round trips per pair */
static int TASK_DUMPS = 100;
static int THREAD_DUMPS = 100;

static void apply_scale(void)
{
    const char *s = getenv("ASYNCTRACE_TEST_SCALE");
    int k = s ? atoi(s) : 1;
    if (k > 1) {
        ROUNDS /= k;
        TASK_DUMPS /= k;
        THREAD_DUMPS /= k;
    }
}

typedef struct {
    AT_FRAME;
    at_chan *out, *in;
    int serve;               /* 0: ping (sends first), 1: pong (answers) */
    int i, msg, got;
    _Atomic int *dumpers_left; /* ping stops (sends -1) once it is 0 */
    union {
        at_chan_send_fut send;
        at_chan_recv_fut recv;
    } aw;
} player_state;

AT_ASYNC_FN(player, player_state)
{
    AT_BEGIN(player_state);
    for (self->i = 0;; self->i++) {
        if (!self->serve) {
            self->msg = self->i < ROUNDS || atomic_load(self->dumpers_left) > 0 ? self->i : -1;
            AT_AWAIT(at_chan_send(&self->aw.send, self->out, &self->msg));
            CU_ASSERT_EQUAL(self->aw.send.status, 0);
            if (self->msg == -1)
                break;
        }
        AT_AWAIT(at_chan_recv(&self->aw.recv, self->in, &self->msg));
        if (self->serve && self->aw.recv.status == 0 && self->msg == -1)
            break;
        if (self->aw.recv.status == 0 && self->msg == self->i)
            self->got++;
        if (self->serve) {
            AT_AWAIT(at_chan_send(&self->aw.send, self->out, &self->msg));
            CU_ASSERT_EQUAL(self->aw.send.status, 0);
        }
    }
    AT_END;
}
static at_frame *player(player_state *s, at_chan *out, at_chan *in, int serve,
                        _Atomic int *dumpers_left)
{
    s->dumpers_left = dumpers_left;
    s->out = out;
    s->in = in;
    s->serve = serve;
    s->got = 0;
    return AT_START(s, player);
}

typedef struct {
    AT_FRAME;
    int i, ok, during_play;
    _Atomic int *playing, *dumpers_left;
    union {
        at_dump_fut dump;
        at_yield_fut y;
    } aw;
} task_dumper_state;

AT_ASYNC_FN(task_dumper, task_dumper_state)
{
    AT_BEGIN(task_dumper_state);
    for (self->i = 0; self->i < TASK_DUMPS; self->i++) {
        AT_AWAIT(at_dump_tasks(&self->aw.dump));
        if (self->aw.dump.status == 0 && self->aw.dump.result &&
            !strcmp(self->aw.dump.result->source, "live") && !self->aw.dump.result->nerrors)
            self->ok++;
        if (atomic_load(self->playing))
            self->during_play++;
        at_dump_free(self->aw.dump.result);
        AT_AWAIT(at_yield(&self->aw.y));
    }
    atomic_fetch_sub(self->dumpers_left, 1);
    AT_END;
}
static at_frame *task_dumper(task_dumper_state *s, _Atomic int *playing,
                             _Atomic int *dumpers_left)
{
    s->playing = playing;
    s->dumpers_left = dumpers_left;
    s->ok = s->during_play = 0;
    return AT_START(s, task_dumper);
}

typedef struct {
    AT_FRAME;
    int i, delivered, rounds, short_pairs, dumper_ok, dumper_during_play;
    _Atomic int playing, started, thread_done, dumpers_left;
    at_chan *chans[2 * PAIRS];
    at_join_handle h[2 * PAIRS + 1];
    at_join_fut join;
    at_sleep_fut sleep;
} stress_main_state;

AT_ASYNC_FN(stress_main, stress_main_state)
{
    AT_BEGIN(stress_main_state);
    atomic_store(&self->playing, 1);
    atomic_store(&self->dumpers_left, 2);
    for (self->i = 0; self->i < PAIRS; self->i++) {
        at_chan *a = self->chans[2 * self->i], *b = self->chans[2 * self->i + 1];
        self->h[2 * self->i] = AT_SPAWN(NULL, "ping", player_state, player, a, b, 0,
                                        &self->dumpers_left);
        self->h[2 * self->i + 1] = AT_SPAWN(NULL, "pong", player_state, player, b, a, 1,
                                            &self->dumpers_left);
    }
    self->h[2 * PAIRS] = AT_SPAWN(NULL, "dumper", task_dumper_state, task_dumper, &self->playing,
                                  &self->dumpers_left);
    atomic_store(&self->started, 1);
    for (self->i = 0; self->i < 2 * PAIRS; self->i++) {
        AT_AWAIT(at_join(&self->join, self->h[self->i]));
        CU_ASSERT_EQUAL(self->join.status, 0);
        {
            player_state *p = at_join_handle_state(self->h[self->i]);
            self->delivered += p->got;
            self->rounds += p->i; /* both sides count the pair's rounds */
            self->short_pairs += p->i < ROUNDS;
        }
        at_join_handle_release(&self->h[self->i]);
    }
    atomic_store(&self->playing, 0);
    AT_AWAIT(at_join(&self->join, self->h[2 * PAIRS]));
    task_dumper_state *ds = at_join_handle_state(self->h[2 * PAIRS]);
    self->dumper_ok = ds->ok;
    self->dumper_during_play = ds->during_play;
    at_join_handle_release(&self->h[2 * PAIRS]);
    /* Keep the runtime running until the other thread has all its dumps. */
    while (!atomic_load(&self->thread_done))
        AT_AWAIT(at_sleep(&self->sleep, AT_MS));
    AT_END;
}

typedef struct {
    at_runtime *rt;
    stress_main_state *st;
    int ok, during_play;
} thread_dumper;

static void *thread_dumps(void *arg)
{
    thread_dumper *td = arg;
    while (!atomic_load(&td->st->started))
        sched_yield();
    for (int i = 0; i < THREAD_DUMPS; i++) {
        at_dump *d = NULL;
        int rc = at_dump_runtime_tasks(td->rt, 30 * AT_SEC, &d);
        if (rc == 0 && d && !strcmp(d->source, "live") && !d->nerrors &&
            dump_task_count(d) >= 1)
            td->ok++;
        if (atomic_load(&td->st->playing))
            td->during_play++;
        at_dump_free(d);
    }
    atomic_fetch_sub(&td->st->dumpers_left, 1);
    atomic_store(&td->st->thread_done, 1);
    return NULL;
}

typedef struct {
    at_runtime *rt;
    stress_main_state *st;
    int rc;
} runner;

static void *run_runtime(void *arg)
{
    runner *r = arg;
    r->rc = at_block_on(r->rt, AT_START(r->st, stress_main), "main");
    return NULL;
}

AT_TEST(no_lost_wakeup_under_200_dumps)
{
    static stress_main_state st;
    memset(&st, 0, sizeof(st));
    apply_scale();
    for (int i = 0; i < 2 * PAIRS; i++) {
        st.chans[i] = at_chan_new_bounded(sizeof(int), 1, NULL);
        CU_ASSERT_PTR_NOT_NULL_FATAL(st.chans[i]);
    }
    runner r = {at_runtime_new(NULL), &st, -1};
    CU_ASSERT_PTR_NOT_NULL_FATAL(r.rt);
    thread_dumper td = {r.rt, &st, 0, 0};
    pthread_t rt_th, dump_th;
    AT_ASSERT_EQ_INT(pthread_create(&dump_th, NULL, thread_dumps, &td), 0);
    AT_ASSERT_EQ_INT(pthread_create(&rt_th, NULL, run_runtime, &r), 0);
    pthread_join(dump_th, NULL);
    pthread_join(rt_th, NULL);
    AT_ASSERT_EQ_INT(r.rc, 0);
    AT_ASSERT_EQ_INT(st.short_pairs, 0);
    AT_ASSERT_EQ_INT(st.delivered, st.rounds);
    CU_ASSERT_TRUE(st.rounds >= 2 * PAIRS * ROUNDS);
    AT_ASSERT_EQ_INT(st.dumper_ok, TASK_DUMPS);
    AT_ASSERT_EQ_INT(td.ok, THREAD_DUMPS);
    /* Most dumps overlapped the ping-pong (that is the point of the test). */
    fprintf(stderr, "dumps during play: %d from the task, %d from the thread\n",
            st.dumper_during_play, td.during_play);
    CU_ASSERT_TRUE(st.dumper_during_play + td.during_play >= (TASK_DUMPS + THREAD_DUMPS) / 2);
    for (int i = 0; i < 2 * PAIRS; i++) {
        at_chan_sender_drop(st.chans[i]);
        at_chan_receiver_drop(st.chans[i]);
    }
    at_runtime_free(r.rt);
}
