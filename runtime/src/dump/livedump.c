/* livedump.c - the live dump of a runtime, taken at a safe point (between
 * two polls) by a thread that drives it: a current-thread runtime's own
 * thread, or the worker of a multi-thread runtime that stopped the others
 * (mt_dump.c; the run queue is then every task it stole).
 *
 *  1. Snapshot: the persistent part (tasks, await trees, resources,
 *     threads) is walked first, so it shows the moment of the dump and not
 *     the effects of the trace polls.
 *  2. Every owned task is referenced (so none is freed under us) and the
 *     run queues are drained; a drained task is marked AT_TF_TRACING, which
 *     is how the dump tells "in the queue, now ours" from "queued by a wake
 *     from another thread after the drain" (then the queue is drained again).
 *  3. Each idle or scheduled task is moved to SCHEDULED (idle ones by a
 *     compare-and-swap, so a concurrent wake cannot queue it as well), marked
 *     AT_TF_TRACING, and polled once through at__task_run with this thread's
 *     collector installed: each leaf reached records its backtrace and
 *     returns Pending before touching its resource.  Trace polls are not
 *     counted in the task's poll count or poll times.
 *  4. Every traced task is woken (at__task_wake), so it is polled normally
 *     afterwards and re-registers whatever the trace poll skipped: no wake-up
 *     is lost.  Drained tasks that were not traced go back to the queue.
 *  5. The backtraces are symbolised and attached to the snapshot's tasks.
 *
 * Tasks that are not traced keep their entry with an empty trace and a note:
 * the requester (running), complete, cancelled, or an abort pending.  A
 * future that is Ready only while traced just completes during its trace
 * poll; the dump goes on. */
#include <stdlib.h>
#include <string.h>

#include "trace/trace_internal.h"

typedef struct at__dump_entry {
    at_task *task;
    uint64_t id;
    const char *note;     /* why not traced, or a remark on the trace */
    size_t first_bt, nbt; /* its backtraces in the collector */
    int traced;
    int completed;        /* became Ready during its trace poll */
} at__dump_entry;

typedef struct at__live {
    at_runtime *rt;
    at_trace_context *tcx;
    at_task **drained;
    size_t ndrained, drained_cap;
    int oom;
    at__loop_clock clk; /* trace polls' times are put back: one reading
                         * per AT__TSC_FRESH cycles is enough */
    at__collector collector;
} at__live;

/* A reference on t unless it is already being freed (count 0). */
static int at__task_tryref(at_task *t)
{
    uint32_t n = atomic_load_explicit(&t->refcount, memory_order_relaxed);
    while (n) {
        if (atomic_compare_exchange_weak(&t->refcount, &n, n + 1))
            return 1;
    }
    return 0;
}

static void at__drain(at__live *lv)
{
    at_task *t;
    while ((t = at__runq_pop(lv->rt))) {
        if (lv->ndrained == lv->drained_cap) {
            size_t ncap = lv->drained_cap ? lv->drained_cap * 2 : 64;
            at_task **n = realloc(lv->drained, ncap * sizeof(*n));
            if (!n) {
                /* Cannot track it: give it back to the queue untraced. */
                at__runq_push(lv->rt, t);
                lv->oom = 1;
                return;
            }
            lv->drained = n;
            lv->drained_cap = ncap;
        }
        lv->drained[lv->ndrained++] = t;
        atomic_fetch_or(&t->flags, AT_TF_TRACING);
    }
}

static int at__entry_cmp(const void *a, const void *b)
{
    const at__dump_entry *x = a, *y = b;
    return x->id < y->id ? -1 : x->id > y->id;
}

static void at__trace_one(at__live *lv, at__dump_entry *e, size_t slot)
{
    at_task *t = e->task;
    uint64_t polls = t->poll_count, start = t->poll_start_ns, end = t->poll_end_ns;
    int32_t worker = atomic_load(&t->worker);
    lv->collector.slot = slot;
    size_t before = lv->collector.nbts;
    __atomic_store_n(&lv->tcx->collector, &lv->collector, __ATOMIC_RELEASE);
    at_poll_result r = at__task_run_at(lv->tcx, t, &lv->clk);
    __atomic_store_n(&lv->tcx->collector, NULL, __ATOMIC_RELEASE);
    atomic_fetch_and(&t->flags, ~AT_TF_TRACING);
    e->traced = 1;
    e->first_bt = before;
    e->nbt = lv->collector.nbts - before;
    if (r == AT_READY) {
        e->completed = 1;
        if (atomic_load(&t->state) == AT_TASK_CANCELLED)
            e->note = "cancelled during the dump (an abort arrived)";
        else
            e->note = "the task completed during its trace poll (a future was Ready only while traced)";
        return;
    }
    t->poll_count = polls;
    t->poll_start_ns = start;
    t->poll_end_ns = end;
    atomic_store(&t->worker, worker);
}

/* Decide what to do with one task and do it. */
static void at__visit(at__live *lv, at__dump_entry *e, size_t slot, at_task *requester)
{
    at_task *t = e->task;
    if (t == requester) {
        e->note = "running";
        return;
    }
    for (;;) {
        uint32_t s = atomic_load_explicit(&t->state, memory_order_acquire);
        uint32_t f = atomic_load(&t->flags);
        switch (s) {
        case AT_TASK_COMPLETE:
            e->note = "complete";
            return;
        case AT_TASK_CANCELLED:
            e->note = "cancelled";
            return;
        case AT_TASK_RUNNING:
            e->note = "running";
            return;
        default:
            break;
        }
        if (f & AT_TF_ABORT) {
            e->note = "not-polled: abort requested";
            return;
        }
        if (s == AT_TASK_SCHEDULED) {
            if (!(f & AT_TF_TRACING)) {
                at__drain(lv); /* woken from another thread after the drain */
                if (!(atomic_load(&t->flags) & AT_TF_TRACING)) {
                    e->note = "not-polled: queued where the dump cannot take it";
                    return;
                }
            }
            at__trace_one(lv, e, slot);
            return;
        }
        if (s == AT_TASK_IDLE) {
            if (!atomic_compare_exchange_strong(&t->state, &s, AT_TASK_SCHEDULED))
                continue; /* a wake won the race: look again */
            atomic_fetch_or(&t->flags, AT_TF_TRACING);
            at__trace_one(lv, e, slot);
            return;
        }
        e->note = "not-polled: unknown state";
        return;
    }
}

/* Owned tasks, each referenced, in id order.  NULL with *n = 0 when there
 * are none.  The list is newest first, so the array is filled from the back
 * and is usually in order without sorting. */
static at__dump_entry *at__owned_entries(at_runtime *rt, size_t *n, int *oom)
{
    at__spin_lock(&at__rt(rt)->owned_lock);
    size_t cap = rt->task_count, k = 0;
    at__dump_entry *ents = cap ? malloc(cap * sizeof(*ents)) : NULL;
    if (cap && !ents)
        *oom = 1;
    for (at_task *t = rt->owned_head; t && k < cap && ents; t = t->owned_next)
        if (at__task_tryref(t)) {
            k++;
            ents[cap - k] = (at__dump_entry){.task = t, .id = t->id};
        }
    at__spin_unlock(&at__rt(rt)->owned_lock);
    if (k && k < cap)
        memmove(ents, ents + cap - k, k * sizeof(*ents));
    int sorted = 1;
    for (size_t i = 1; i < k && sorted; i++)
        sorted = ents[i - 1].id < ents[i].id;
    if (!sorted)
        qsort(ents, k, sizeof(*ents), at__entry_cmp);
    *n = k;
    return ents;
}

/* Attach the traces to the snapshot's tasks (both sorted by id). */
static void at__attach(at_dump *d, at__live *lv, at__dump_entry *ents, size_t n,
                       at_dump_backtrace *bts, at_task *requester)
{
    /* The requester is running on this thread, as far as the dump goes. */
    for (size_t i = 0; requester && i < d->nthreads; i++)
        if (d->threads[i].tid == lv->tcx->tid) {
            d->threads[i].current_task_id = requester->id;
            d->threads[i].poll_start_ns = requester->poll_start_ns;
        }
    at_dump_runtime *r = d->nruntimes ? &d->runtimes[0] : NULL;
    if (!r)
        return;
    size_t k = 0;
    for (size_t i = 0; i < r->ntasks; i++) {
        at_dump_task *dt = &r->tasks[i];
        while (k < n && ents[k].id < dt->id)
            k++;
        if (k == n || ents[k].id != dt->id) {
            dt->trace_note = "not-polled: the task was not in the owned list";
            continue;
        }
        at__dump_entry *e = &ents[k];
        dt->traced = e->traced;
        dt->trace_note = e->note;
        if (e->task == requester) {
            dt->state = AT_TASK_RUNNING;
            dt->thread = lv->tcx->tid;
        }
        if (!e->traced)
            continue;
        if (bts) {
            dt->backtraces = &bts[e->first_bt];
            dt->nbacktraces = e->nbt;
        }
        uint32_t flags = 0;
        for (size_t b = 0; b < e->nbt; b++)
            flags |= lv->collector.bts[e->first_bt + b].flags;
        if (flags & AT__BT_NO_ROOT)
            dt->trace_note = "a backtrace did not reach at_root_poll (kept as unwound)";
        else if (flags & AT__BT_CUT)
            dt->trace_note = at_dump_printf(d, "a backtrace was cut at %d frames",
                                            AT__TRACE_MAX_FRAMES);
        /* A traced task's remark is news: the JSON's "trace" only says
         * "traced", so it goes to the dump's notes as well. */
        if (dt->trace_note)
            at_dump_note(d, "task %llu: %s", (unsigned long long)dt->id, dt->trace_note);
    }
}

void at__dump_keep_runtime(at_dump *d, uint64_t runtime_id)
{
    size_t k = 0;
    for (size_t i = 0; i < d->nruntimes; i++)
        if (d->runtimes[i].id == runtime_id)
            d->runtimes[k++] = d->runtimes[i];
    d->nruntimes = k;
}

__thread at__live_dump_stats at__live_dump_last;

at_dump *at__live_dump(at_runtime *rt, at_trace_context *tcx, at_task *requester)
{
    uint64_t t0 = at_now_ns();
    at_dump *d = at__snapshot_direct(rt);
    if (!d)
        return NULL;
    uint64_t t1 = at_now_ns();
    at__dump_keep_runtime(d, rt->id);
    d->source = "live";

    at__live lv = {.rt = rt, .tcx = tcx};
    at__collector_init(&lv.collector);
    size_t n = 0;
    at__dump_entry *ents = at__owned_entries(rt, &n, &lv.oom);
    at__collector_presize(&lv.collector, n);
    at__drain(&lv);
    at__trace_begin();
    at__loop_clock_read(&lv.clk);
    for (size_t i = 0; i < n; i++)
        at__visit(&lv, &ents[i], i, requester);
    at__trace_end();

    /* Everything traced gets a normal poll; untouched drained tasks go back. */
    for (size_t i = 0; i < n; i++)
        if (ents[i].traced && !ents[i].completed)
            at__task_wake(ents[i].task);
    for (size_t i = 0; i < lv.ndrained; i++) {
        at_task *t = lv.drained[i];
        if (atomic_fetch_and(&t->flags, ~AT_TF_TRACING) & AT_TF_TRACING)
            at__runq_push(rt, t);
    }

    uint64_t t2 = at_now_ns();
    at_dump_backtrace *bts = NULL;
    if (lv.collector.nbts) {
        bts = at_dump_alloc(d, lv.collector.nbts * sizeof(*bts));
        if (!bts || at__symbolize_backtraces(d, &lv.collector, bts) < 0)
            lv.oom = 1;
    }
    at__attach(d, &lv, ents, n, bts, requester);
    if (lv.oom || lv.collector.oom)
        at_dump_note(d, "out of memory during the live dump: some backtraces are missing");

    uint64_t t3 = at_now_ns();
    size_t traced = 0;
    for (size_t i = 0; i < n; i++) {
        traced += ents[i].traced;
        at__task_unref(ents[i].task);
    }
    free(ents);
    at__live_dump_last = (at__live_dump_stats){.tasks = n, .traced = traced,
                                               .snapshot_ns = t1 - t0, .trace_ns = t2 - t1,
                                               .symbolize_ns = t3 - t2};
    free(lv.drained);
    at__collector_free(&lv.collector);
    return d;
}
