/* test_trace_flood.c - a flood of dump requests does not starve a runtime:
 * two threads and a task ask for live dumps back to back while two tasks
 * play ping-pong over channels, and the ping-pong keeps at least a tenth of
 * the rate it has without dumps, measured in the same test.
 *
 * Rates are messages per CPU second of the threads that run the tasks, so
 * other load on the machine slows both phases alike.  Served without a
 * bound (every poll checking, every request served at once), the flood
 * brought this workload down to a few hundred messages per second. */
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

#include "trace_util.h"

#define PHASE_NS (300 * AT_MS)
#define FLOOD_THREADS 2

static double cpu_seconds(clockid_t clock);

typedef struct {
    AT_FRAME;
    at_chan *out, *in;
    clockid_t clock;
    double cpu_end; /* CPU time when the play stopped (not the dumps after) */
    uint64_t deadline, count, msg;
    union {
        at_chan_send_fut send;
        at_chan_recv_fut recv;
    } aw;
} pinger_state;

AT_ASYNC_FN(pinger, pinger_state)
{
    AT_BEGIN(pinger_state);
    for (;;) {
        if ((self->count & 63) == 0 && at_now_ns() >= self->deadline) {
            self->cpu_end = cpu_seconds(self->clock);
            break;
        }
        self->msg = self->count;
        AT_AWAIT(at_chan_send(&self->aw.send, self->out, &self->msg));
        AT_ASSERT_EQ_INT(self->aw.send.status, 0);
        AT_AWAIT(at_chan_recv(&self->aw.recv, self->in, &self->msg));
        AT_ASSERT_EQ_INT(self->aw.recv.status, 0);
        AT_ASSERT_EQ_U64(self->msg, self->count);
        self->count++;
    }
    at_chan_sender_drop(self->out);
    at_chan_receiver_drop(self->in);
    AT_END;
}

typedef struct {
    AT_FRAME;
    at_chan *in, *out;
    uint64_t msg;
    union {
        at_chan_send_fut send;
        at_chan_recv_fut recv;
    } aw;
} ponger_state;

AT_ASYNC_FN(ponger, ponger_state)
{
    AT_BEGIN(ponger_state);
    for (;;) {
        AT_AWAIT(at_chan_recv(&self->aw.recv, self->in, &self->msg));
        if (self->aw.recv.status != 0)
            break;
        AT_AWAIT(at_chan_send(&self->aw.send, self->out, &self->msg));
        AT_ASSERT_EQ_INT(self->aw.send.status, 0);
    }
    at_chan_receiver_drop(self->in);
    at_chan_sender_drop(self->out);
    AT_END;
}

/* A task that asks its own runtime for dumps back to back. */
typedef struct {
    AT_FRAME;
    uint64_t deadline, served;
    at_dump_fut df;
} dumper_state;

AT_ASYNC_FN(dumper, dumper_state)
{
    AT_BEGIN(dumper_state);
    while (at_now_ns() < self->deadline) {
        AT_AWAIT(at_dump_tasks(&self->df));
        if (self->df.status == 0)
            self->served++;
        at_dump_free(self->df.result);
    }
    AT_END;
}

typedef struct {
    AT_FRAME;
    int with_dumper;
    pinger_state ping;
    ponger_state pong;
    dumper_state dump;
    at_join_handle a, b, d;
    at_join_fut join;
} pingpong_main_state;

/* Ping-pong until the deadline (and, with_dumper, a task dumping meanwhile). */
AT_ASYNC_FN(pingpong_main, pingpong_main_state)
{
    AT_BEGIN(pingpong_main_state);
    {
        at_chan *ab = at_chan_new_bounded(sizeof(uint64_t), 1, NULL);
        at_chan *ba = at_chan_new_bounded(sizeof(uint64_t), 1, NULL);
        CU_ASSERT_PTR_NOT_NULL_FATAL(ab);
        CU_ASSERT_PTR_NOT_NULL_FATAL(ba);
        self->ping.out = ab, self->ping.in = ba;
        self->pong.in = ab, self->pong.out = ba;
        self->a = at_spawn_frame(NULL, AT_START(&self->ping, pinger), "ping");
        self->b = at_spawn_frame(NULL, AT_START(&self->pong, ponger), "pong");
        if (self->with_dumper)
            self->d = at_spawn_frame(NULL, AT_START(&self->dump, dumper), "dumper");
    }
    AT_AWAIT(at_join(&self->join, self->a));
    AT_ASSERT_EQ_INT(self->join.status, 0);
    AT_AWAIT(at_join(&self->join, self->b));
    AT_ASSERT_EQ_INT(self->join.status, 0);
    if (self->with_dumper) {
        AT_AWAIT(at_join(&self->join, self->d));
        AT_ASSERT_EQ_INT(self->join.status, 0);
        at_join_handle_release(&self->d);
    }
    at_join_handle_release(&self->a);
    at_join_handle_release(&self->b);
    AT_END;
}

/* ---- Threads asking for dumps back to back ---- */

typedef struct {
    pthread_t th;
    at_runtime *rt;
    atomic_int *stop;
    uint64_t served;
} flooder;

static void *flood(void *arg)
{
    flooder *f = arg;
    while (!atomic_load(f->stop)) {
        at_dump *d = NULL;
        int rc = at_dump_runtime_tasks(f->rt, 5 * AT_SEC, &d);
        if (rc == 0)
            f->served++;
        at_dump_free(d);
        if (rc == AT_ESHUTDOWN)
            break;
    }
    return NULL;
}

static double cpu_seconds(clockid_t clock)
{
    struct timespec ts;
    clock_gettime(clock, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* One phase on a new runtime: messages per CPU second of `clock` (the
 * thread or process that runs the tasks); *dumps gets the dumps served. */
static double phase(const at_runtime_options *opts, int flooding, clockid_t clock,
                    uint64_t *dumps)
{
    at_runtime *rt = at_runtime_new(opts);
    CU_ASSERT_PTR_NOT_NULL_FATAL(rt);
    atomic_int stop = 0;
    flooder fl[FLOOD_THREADS];
    for (int i = 0; flooding && i < FLOOD_THREADS; i++) {
        fl[i] = (flooder){.rt = rt, .stop = &stop};
        AT_ASSERT_EQ_INT(pthread_create(&fl[i].th, NULL, flood, &fl[i]), 0);
    }
    static pingpong_main_state st;
    memset(&st, 0, sizeof(st));
    st.with_dumper = flooding;
    st.ping.clock = clock;
    uint64_t start = at_now_ns();
    st.ping.deadline = start + PHASE_NS;
    st.dump.deadline = start + PHASE_NS;
    double cpu0 = cpu_seconds(clock);
    AT_ASSERT_EQ_INT(at_block_on(rt, AT_START(&st, pingpong_main), "main"), 0);
    double cpu = st.ping.cpu_end - cpu0;
    /* Stop the flood: a request still queued is answered AT_ESHUTDOWN. */
    atomic_store(&stop, 1);
    AT_ASSERT_EQ_INT(at_runtime_shutdown(rt), 0);
    *dumps = st.dump.served;
    for (int i = 0; flooding && i < FLOOD_THREADS; i++) {
        pthread_join(fl[i].th, NULL);
        *dumps += fl[i].served;
    }
    at_runtime_free(rt);
    CU_ASSERT_FATAL(st.ping.count > 0);
    return (double)st.ping.count / (cpu > 1e-3 ? cpu : 1e-3);
}

static void flood_keeps_a_rate_floor(const at_runtime_options *opts, clockid_t clock)
{
    uint64_t none = 0, dumps = 0;
    double quiet = phase(opts, 0, clock, &none);
    double flooded = phase(opts, 1, clock, &dumps);
    fprintf(stderr, "  ping-pong: %.0f msgs/cpu-s without dumps, %.0f with %llu dumps\n",
            quiet, flooded, (unsigned long long)dumps);
    AT_ASSERT_EQ_U64(none, 0);
    CU_ASSERT_FATAL(dumps >= 1); /* the flood happened */
    CU_ASSERT(flooded >= quiet / 10);
}

AT_TEST(dump_flood_does_not_starve_a_current_thread_runtime)
{
    flood_keeps_a_rate_floor(NULL, CLOCK_THREAD_CPUTIME_ID);
}

AT_TEST(dump_flood_does_not_starve_a_multi_thread_runtime)
{
    at_runtime_options o = {AT_FLAVOR_MULTI_THREAD, 2, "flood"};
    flood_keeps_a_rate_floor(&o, CLOCK_PROCESS_CPUTIME_ID);
}
