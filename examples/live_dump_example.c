/* live_dump_example.c - the example of docs/live-dumps.md (the listing
 * there is this file, checked by tests/docs/check_doc_lines.py): a task
 * waits three async functions deep for a mutex, another in a join-all for a
 * channel message and a timer, and main prints a live dump of both. */
#include <asynctrace.h>
#include <stdio.h>

static at_mutex table_lock;
static at_chan *jobs;

typedef struct { AT_FRAME; at_mutex_lock_fut lock; } lock_table_state;
AT_ASYNC_FN(lock_table, lock_table_state)
{
    AT_BEGIN(lock_table_state);
    AT_AWAIT(at_mutex_lock(&self->lock, &table_lock));
    at_mutex_unlock(&table_lock);
    AT_END;
}
typedef struct { AT_FRAME; lock_table_state inner; } fetch_row_state;
AT_ASYNC_FN(fetch_row, fetch_row_state)
{
    AT_BEGIN(fetch_row_state);
    AT_AWAIT(AT_START(&self->inner, lock_table));
    AT_END;
}
typedef struct { AT_FRAME; fetch_row_state inner; } query_state;
AT_ASYNC_FN(query, query_state)
{
    AT_BEGIN(query_state);
    AT_AWAIT(AT_START(&self->inner, fetch_row));
    AT_END;
}
static at_frame *query(query_state *s) { return AT_START(s, query); }

typedef struct {
    AT_FRAME;
    int job;
    at_chan_recv_fut recv;
    at_sleep_fut tick;
    at_frame *both[2];
    at_join_all_fut all;
} consumer_state;
AT_ASYNC_FN(consumer, consumer_state)
{
    AT_BEGIN(consumer_state);
    self->both[0] = at_chan_recv(&self->recv, jobs, &self->job);
    self->both[1] = at_sleep(&self->tick, 5 * AT_SEC);
    AT_AWAIT(at_join_all(&self->all, self->both, 2));
    AT_END;
}
static at_frame *consumer(consumer_state *s) { return AT_START(s, consumer); }

typedef struct {
    AT_FRAME;
    at_join_handle h[2];
    union { at_yield_fut y; at_dump_fut dump; } aw;
} main_state;
AT_ASYNC_FN(main_task, main_state)
{
    AT_BEGIN(main_state);
    at_mutex_try_lock(&table_lock);            /* held: query will wait */
    self->h[0] = AT_SPAWN(NULL, "query", query_state, query);
    self->h[1] = AT_SPAWN(NULL, "consumer", consumer_state, consumer);
    AT_AWAIT(at_yield(&self->aw.y));           /* let both suspend */
    AT_AWAIT(at_dump_tasks(&self->aw.dump));   /* the dump */
    at_dump *d = self->aw.dump.result;
    at_dump_write_text(d, stdout);
    at_dump_write_json(d, stderr);
    at_dump_free(d);
    at_task_abort(self->h[0]);
    at_task_abort(self->h[1]);
    at_join_handle_release(&self->h[0]);
    at_join_handle_release(&self->h[1]);
    AT_END;
}

int main(void)
{
    at_mutex_init(&table_lock);
    jobs = at_chan_new_bounded(sizeof(int), 8, NULL);
    at_runtime *rt = at_runtime_new(NULL);
    main_state m;
    int rc = at_block_on(rt, AT_START(&m, main_task), "main");
    at_runtime_free(rt);
    at_chan_sender_drop(jobs);
    at_chan_receiver_drop(jobs);
    return rc;
}
