/* kvd.c - the demo service of `make demo`: a tiny key-value daemon that
 * gets itself into trouble, so that GDB can explain it.
 *
 * Tasks:
 *   acceptor       takes requests off its listening queue (a fake client
 *                  feeds it) and hands them to the workers over a channel
 *   worker-1..3    serve requests: a SET locks the cache's index, appends
 *                  to the write-ahead log, then locks the stats
 *   stats-ticker   every few ms flushes the stats: locks the stats, then,
 *                  during compaction, the index (the opposite order: a
 *                  lock-order inversion with the workers)
 *   config-reload  re-reads the configuration with a blocking read() on a
 *                  pipe inside its poll, stalling the thread it runs on
 *   client         the fake client: sends requests, then waits for answers
 *
 * After about 60 ms the ticker and a worker are deadlocked, the other
 * workers queue behind the index lock, and the config reloader has blocked
 * a runtime thread for good.  kvd logs what it does on stdout and never
 * exits by itself; `make demo` (examples/demo.sh) attaches GDB and then
 * kills it.  Runs on the multi-thread flavor (2 workers) when available,
 * else on the current-thread flavor. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "asynctrace.h"

#define WORKERS 3
#define REQUESTS 12

typedef struct request {
    int id;
    int key;
    int is_set;
} request;

typedef struct cache {
    at_mutex index;   /* guards the entries */
    at_mutex stats;   /* guards the counters */
    int entries[64];
    long hits, sets;
} cache;

static cache the_cache;
static at_chan *listener;  /* client -> acceptor */
static at_chan *jobs;      /* acceptor -> workers */
static at_chan *replies;   /* workers -> client */
static int config_pipe[2];

static void logf_(const char *msg, int n)
{
    printf("kvd: %s %d\n", msg, n);
    fflush(stdout);
}

/* ---- The cache ---------------------------------------------------------- */

typedef struct {
    AT_FRAME;
    cache *c;
    int key;
    union {
        at_mutex_lock_fut lock;
        at_sleep_fut wal;
    } aw;
} cache_put_state;

AT_ASYNC_FN(cache_put, cache_put_state)
{
    AT_BEGIN(cache_put_state);
    AT_AWAIT(at_mutex_lock(&self->aw.lock, &self->c->index));
    self->c->entries[self->key % 64]++;
    AT_AWAIT(at_sleep(&self->aw.wal, 2 * AT_MS)); /* append to the write-ahead log */
    AT_AWAIT(at_mutex_lock(&self->aw.lock, &self->c->stats));
    self->c->sets++;
    at_mutex_unlock(&self->c->stats);
    at_mutex_unlock(&self->c->index);
    AT_END;
}

static at_frame *cache_put(cache_put_state *s, cache *c, int key)
{
    s->c = c;
    s->key = key;
    return AT_START(s, cache_put);
}

typedef struct {
    AT_FRAME;
    cache *c;
    int key, value;
    at_mutex_lock_fut lock;
} cache_get_state;

AT_ASYNC_FN(cache_get, cache_get_state)
{
    AT_BEGIN(cache_get_state);
    AT_AWAIT(at_mutex_lock(&self->lock, &self->c->index));
    self->value = self->c->entries[self->key % 64];
    self->c->hits++;
    at_mutex_unlock(&self->c->index);
    AT_END;
}

static at_frame *cache_get(cache_get_state *s, cache *c, int key)
{
    s->c = c;
    s->key = key;
    return AT_START(s, cache_get);
}

/* ---- Workers ------------------------------------------------------------ */

typedef struct {
    AT_FRAME;
    request req;
    union {
        cache_put_state put;
        cache_get_state get;
        at_chan_send_fut reply;
    } aw;
} handle_state;

AT_ASYNC_FN(handle_request, handle_state)
{
    AT_BEGIN(handle_state);
    if (self->req.is_set)
        AT_AWAIT(cache_put(&self->aw.put, &the_cache, self->req.key));
    else
        AT_AWAIT(cache_get(&self->aw.get, &the_cache, self->req.key));
    AT_AWAIT(at_chan_send(&self->aw.reply, replies, &self->req.id));
    AT_END;
}

static at_frame *handle_request(handle_state *s, request r)
{
    s->req = r;
    return AT_START(s, handle_request);
}

typedef struct {
    AT_FRAME;
    request req;
    union {
        at_chan_recv_fut next;
        handle_state handle;
    } aw;
} worker_state;

AT_ASYNC_FN(worker_loop, worker_state)
{
    AT_BEGIN(worker_state);
    for (;;) {
        AT_AWAIT(at_chan_recv(&self->aw.next, jobs, &self->req));
        if (self->aw.next.status)
            break;
        AT_AWAIT(handle_request(&self->aw.handle, self->req));
    }
    AT_END;
}

static at_frame *worker_loop(worker_state *s) { return AT_START(s, worker_loop); }

/* ---- Acceptor ------------------------------------------------------------- */

typedef struct {
    AT_FRAME;
    request req;
    union {
        at_chan_recv_fut accept;
        at_chan_send_fut dispatch;
    } aw;
} acceptor_state;

AT_ASYNC_FN(accept_loop, acceptor_state)
{
    AT_BEGIN(acceptor_state);
    for (;;) {
        AT_AWAIT(at_chan_recv(&self->aw.accept, listener, &self->req));
        if (self->aw.accept.status)
            break;
        AT_AWAIT(at_chan_send(&self->aw.dispatch, jobs, &self->req));
    }
    AT_END;
}

static at_frame *accept_loop(acceptor_state *s) { return AT_START(s, accept_loop); }

/* ---- Stats ticker ------------------------------------------------------- */

typedef struct {
    AT_FRAME;
    union {
        at_mutex_lock_fut lock;
        at_sleep_fut compact;
    } aw;
} flush_state;

/* Locks stats first, then the index: the inverse of cache_put. */
AT_ASYNC_FN(flush_stats, flush_state)
{
    AT_BEGIN(flush_state);
    AT_AWAIT(at_mutex_lock(&self->aw.lock, &the_cache.stats));
    AT_AWAIT(at_sleep(&self->aw.compact, 20 * AT_MS)); /* compaction */
    AT_AWAIT(at_mutex_lock(&self->aw.lock, &the_cache.index));
    at_mutex_unlock(&the_cache.index);
    at_mutex_unlock(&the_cache.stats);
    AT_END;
}

static at_frame *flush_stats(flush_state *s) { return AT_START(s, flush_stats); }

typedef struct {
    AT_FRAME;
    int ticks;
    union {
        at_sleep_fut tick;
        flush_state flush;
    } aw;
} ticker_state;

AT_ASYNC_FN(stats_ticker, ticker_state)
{
    AT_BEGIN(ticker_state);
    for (;;) {
        AT_AWAIT(at_sleep(&self->aw.tick, 15 * AT_MS));
        self->ticks++;
        AT_AWAIT(flush_stats(&self->aw.flush));
    }
    AT_END;
}

static at_frame *stats_ticker(ticker_state *s) { return AT_START(s, stats_ticker); }

/* ---- Config reloader ------------------------------------------------------ */

typedef struct {
    AT_FRAME;
    char buf[256];
} reload_state;

/* The bug: a blocking read() inside a poll. */
static void read_config(char *buf, size_t len)
{
    ssize_t n = read(config_pipe[0], buf, len - 1);
    buf[n > 0 ? n : 0] = 0;
}

AT_ASYNC_FN(reload_config, reload_state)
{
    AT_BEGIN(reload_state);
    logf_("reloading configuration, fd", config_pipe[0]);
    read_config(self->buf, sizeof self->buf);
    AT_END;
}

static at_frame *reload_config(reload_state *s) { return AT_START(s, reload_config); }

typedef struct {
    AT_FRAME;
    at_sleep_fut wait;
    reload_state reload;
} reloader_state;

AT_ASYNC_FN(config_reloader, reloader_state)
{
    AT_BEGIN(reloader_state);
    AT_AWAIT(at_sleep(&self->wait, 60 * AT_MS));
    AT_AWAIT(reload_config(&self->reload));
    AT_END;
}

static at_frame *config_reloader(reloader_state *s) { return AT_START(s, config_reloader); }

/* ---- Fake client ------------------------------------------------------- */

typedef struct {
    AT_FRAME;
    int i, answer;
    request req;
    union {
        at_sleep_fut pause;
        at_chan_send_fut send;
        at_chan_recv_fut reply;
    } aw;
} client_state;

AT_ASYNC_FN(client, client_state)
{
    AT_BEGIN(client_state);
    for (self->i = 1; self->i <= REQUESTS; self->i++) {
        self->req = (request){.id = self->i, .key = self->i * 7, .is_set = self->i % 3 != 0};
        AT_AWAIT(at_chan_send(&self->aw.send, listener, &self->req));
        AT_AWAIT(at_sleep(&self->aw.pause, 3 * AT_MS));
    }
    for (;;)
        AT_AWAIT(at_chan_recv(&self->aw.reply, replies, &self->answer));
    AT_END;
}

static at_frame *client(client_state *s) { return AT_START(s, client); }

/* ---- main ------------------------------------------------------------------ */

typedef struct {
    AT_FRAME;
    int i;
    char name[32];
    at_join_handle acceptor, workers[WORKERS], ticker, reloader, cl;
    at_join_fut join;
} main_state;

AT_ASYNC_FN(kvd_main, main_state)
{
    AT_BEGIN(main_state);
    self->acceptor = AT_SPAWN(NULL, "acceptor", acceptor_state, accept_loop);
    for (self->i = 0; self->i < WORKERS; self->i++) {
        snprintf(self->name, sizeof self->name, "worker-%d", self->i + 1);
        self->workers[self->i] = AT_SPAWN(NULL, self->name, worker_state, worker_loop);
    }
    self->ticker = AT_SPAWN(NULL, "stats-ticker", ticker_state, stats_ticker);
    self->reloader = AT_SPAWN(NULL, "config-reload", reloader_state, config_reloader);
    self->cl = AT_SPAWN(NULL, "client", client_state, client);
    AT_AWAIT(at_join(&self->join, self->acceptor));
    AT_END;
}

int main(void)
{
    if (pipe(config_pipe))
        return 1;
    at_mutex_init(&the_cache.index);
    at_mutex_init(&the_cache.stats);
    listener = at_chan_new_bounded(sizeof(request), 4, NULL);
    jobs = at_chan_new_bounded(sizeof(request), 2, NULL);
    replies = at_chan_new_unbounded(sizeof(int), NULL);
    if (!listener || !jobs || !replies)
        return 1;
    at_runtime_options mt = {.flavor = AT_FLAVOR_MULTI_THREAD, .workers = 2, .name = "kvd"};
    at_runtime *rt = at_runtime_new(&mt);
    if (!rt)
        rt = at_runtime_new(NULL);
    if (!rt)
        return 1;
    printf("kvd: listening (pid %d, %s runtime)\n", (int)getpid(),
           rt->flavor == AT_FLAVOR_MULTI_THREAD ? "multi-thread" : "current-thread");
    fflush(stdout);
    static main_state st;
    int rc = at_block_on(rt, AT_START(&st, kvd_main), "kvd-main");
    at_runtime_free(rt);
    return rc ? 1 : 0;
}
