/* 02_mutex_abba - two tasks take two mutexes in opposite orders and
 * deadlock; a third task queues behind the first mutex.
 *
 * "alice" (task 2) holds A and waits for B; "bob" (task 3) holds B and waits
 * for A; "carol" (task 4) waits for A behind bob.  Notifies order the first
 * locks, so the deadlock forms the same way on every flavor.
 * Checkpoint (quiet, live): the cycle 2 -> 3 -> 2 through two mutexes.
 * Also built as 13_stripped_abba (stripped) and 14_mt_mutex_abba (SCN_MT). */
#include "scenario.h"

#ifndef SCN_MT
#define SCN_MT 0
#endif

static at_mutex lock_a, lock_b;
static at_notify a_taken, b_taken;

typedef struct {
    AT_FRAME;
    at_mutex *first, *second;
    at_notify *mine, *theirs;  /* signal mine after the first lock, await theirs */
    union {
        at_mutex_lock_fut lock;
        at_notify_wait_fut wait;
    } aw;
} transfer_state;

/* Lock `first`, let the other side take its own first lock, lock `second`. */
AT_ASYNC_FN(transfer, transfer_state)
{
    AT_BEGIN(transfer_state);
    AT_AWAIT(at_mutex_lock(&self->aw.lock, self->first));
    at_notify_one(self->mine);
    AT_AWAIT(at_notify_wait(&self->aw.wait, self->theirs));
    AT_AWAIT(at_mutex_lock(&self->aw.lock, self->second));
    at_mutex_unlock(self->second);
    at_mutex_unlock(self->first);
    AT_END;
}

static at_frame *transfer(transfer_state *s, at_mutex *first, at_mutex *second,
                          at_notify *mine, at_notify *theirs)
{
    s->first = first;
    s->second = second;
    s->mine = mine;
    s->theirs = theirs;
    return AT_START(s, transfer);
}

typedef struct {
    AT_FRAME;
    int a_first;
    transfer_state tx;
} account_state;

AT_ASYNC_FN(account, account_state)
{
    AT_BEGIN(account_state);
    if (self->a_first)
        AT_AWAIT(transfer(&self->tx, &lock_a, &lock_b, &a_taken, &b_taken));
    else
        AT_AWAIT(transfer(&self->tx, &lock_b, &lock_a, &b_taken, &a_taken));
    AT_END;
}

static at_frame *account(account_state *s, int a_first)
{
    s->a_first = a_first;
    return AT_START(s, account);
}

typedef struct {
    AT_FRAME;
    at_mutex_lock_fut lock;
} audit_state;

AT_ASYNC_FN(audit, audit_state)
{
    AT_BEGIN(audit_state);
    AT_AWAIT(at_mutex_lock(&self->lock, &lock_a));
    at_mutex_unlock(&lock_a);
    AT_END;
}

static at_frame *audit(audit_state *s) { return AT_START(s, audit); }

static int deadlocked(void *arg)
{
    (void)arg;
    return __atomic_load_n(&lock_a.waiters, __ATOMIC_ACQUIRE) == 1 &&
           __atomic_load_n(&lock_b.waiters, __ATOMIC_ACQUIRE) == 1;
}

typedef struct {
    AT_FRAME;
    at_join_handle alice, bob, carol;
    union {
        scn_until_state until;
        at_join_fut join;
    } aw;
} main_state;

AT_ASYNC_FN(main_task, main_state)
{
    AT_BEGIN(main_state);
    self->alice = AT_SPAWN(NULL, "alice", account_state, account, 1);
    self->bob = AT_SPAWN(NULL, "bob", account_state, account, 0);
    SCN_CHECK(self->alice.task && self->bob.task);
    AT_AWAIT(scn_until(&self->aw.until, deadlocked, NULL));
    self->carol = AT_SPAWN(NULL, "carol", audit_state, audit);
    SCN_CHECK(self->carol.task);
    AT_AWAIT(at_join(&self->aw.join, self->alice));
    AT_END;
}

int main(void)
{
    at_runtime *rt = scn_runtime(SCN_MT, 2);
    static main_state st;
    at_mutex_init(&lock_a);
    at_mutex_init(&lock_b);
    at_notify_init(&a_taken);
    at_notify_init(&b_taken);
#ifdef SCN_OFFLINE_ONLY
    scn_offline_only();
#endif
    scn_checkpoint_quiet1(rt, 4);
    at_block_on(rt, AT_START(&st, main_task), "main");
    scn_fail("the main task returned");
}
