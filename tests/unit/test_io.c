/* test_io.c - the epoll driver: an echo server with 200 clients over
 * loopback on both flavors (every byte checked), pipe readiness woken from
 * a foreign thread, edge-triggered re-arming under many small writes,
 * connect errors, timers while the driver waits, and I/O leaves as seen by
 * the snapshot and the live dump. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "asynctrace.h"
#include "cunit_main.h"
#include "test_support.h"

#define CLIENTS 200
#define PAYLOAD (16 * 1024)

static unsigned char pattern(int client, size_t i)
{
    return (unsigned char)((client * 131 + (int)(i * 7) + (int)(i >> 8)) & 0xff);
}

/* ---- Echo server ---- */

typedef struct {
    AT_FRAME;
    int fd;
    at_io *io;
    ssize_t n;
    uint64_t echoed;
    at_io_op_fut op;
    unsigned char buf[4096];
} handler_state;

AT_ASYNC_FN(handler, handler_state)
{
    AT_BEGIN(handler_state);
    self->io = at_io_open(NULL, self->fd, NULL);
    if (!self->io)
        AT_RETURN;
    for (;;) {
        AT_AWAIT(at_io_read(&self->op, self->io, self->buf, sizeof self->buf));
        self->n = self->op.result;
        if (self->n <= 0)
            break;
        AT_AWAIT(at_io_write_all(&self->op, self->io, self->buf, (size_t)self->n));
        if (self->op.result != self->n)
            break;
        self->echoed += (uint64_t)self->n;
    }
    at_io_close(self->io);
    AT_END;
}

typedef struct {
    AT_FRAME;
    int lfd, clients, i, errors;
    at_io *lio;
    at_io_op_fut op;
    handler_state *handlers;
    at_join_handle *h;
    at_join_fut join;
    uint64_t echoed;
} server_state;

AT_ASYNC_FN(server, server_state)
{
    AT_BEGIN(server_state);
    self->lio = at_io_open(NULL, self->lfd, NULL);
    for (self->i = 0; self->i < self->clients; self->i++) {
        AT_AWAIT(at_io_accept(&self->op, self->lio));
        if (self->op.result < 0) {
            self->errors++;
            continue;
        }
        self->handlers[self->i].fd = (int)self->op.result;
        self->h[self->i] = at_spawn_frame(NULL, AT_START(&self->handlers[self->i], handler), "echo");
    }
    for (self->i = 0; self->i < self->clients; self->i++) {
        if (!self->h[self->i].task)
            continue;
        AT_AWAIT(at_join(&self->join, self->h[self->i]));
        self->echoed += self->handlers[self->i].echoed;
        at_join_handle_release(&self->h[self->i]);
    }
    at_io_close(self->lio);
    AT_END;
}

/* ---- Clients: a writer and a reader on one socket, joined ---- */

typedef struct {
    AT_FRAME;
    at_io *io;
    const unsigned char *data;
    size_t len, off;
    int status;
    at_io_op_fut op;
} cwriter_state;

AT_ASYNC_FN(cwriter, cwriter_state)
{
    AT_BEGIN(cwriter_state);
    /* Uneven chunks, so reads and writes interleave at odd boundaries. */
    for (self->off = 0; self->off < self->len;) {
        {
            size_t chunk = 1 + (self->off * 13) % 3000;
            if (chunk > self->len - self->off)
                chunk = self->len - self->off;
            self->op.len = chunk;
        }
        AT_AWAIT(at_io_write_all(&self->op, self->io, self->data + self->off, self->op.len));
        if (self->op.result < 0) {
            self->status = (int)self->op.result;
            AT_RETURN;
        }
        self->off += (size_t)self->op.result;
    }
    shutdown(at_io_fd(self->io), SHUT_WR);
    AT_END;
}

typedef struct {
    AT_FRAME;
    at_io *io;
    int client;
    size_t got, mismatches;
    int status;
    at_io_op_fut op;
    unsigned char buf[1500];
} creader_state;

AT_ASYNC_FN(creader, creader_state)
{
    AT_BEGIN(creader_state);
    for (;;) {
        AT_AWAIT(at_io_read(&self->op, self->io, self->buf, sizeof self->buf));
        if (self->op.result <= 0) {
            self->status = (int)self->op.result;
            break;
        }
        for (ssize_t i = 0; i < self->op.result; i++)
            if (self->buf[i] != pattern(self->client, self->got + (size_t)i))
                self->mismatches++;
        self->got += (size_t)self->op.result;
    }
    AT_END;
}

typedef struct {
    AT_FRAME;
    int client;
    unsigned port;
    at_io *io;
    struct sockaddr_storage addr;
    socklen_t alen;
    int connect_status;
    unsigned char *data;
    at_io_op_fut op;
    cwriter_state w;
    creader_state r;
    at_frame *kids[2];
    at_join_all_fut all;
} client_state;

AT_ASYNC_FN(client, client_state)
{
    AT_BEGIN(client_state);
    self->io = at_io_open(NULL, at_tcp_socket(), NULL);
    at_sockaddr_ipv4(&self->addr, &self->alen, "127.0.0.1", self->port);
    AT_AWAIT(at_io_connect(&self->op, self->io, (struct sockaddr *)&self->addr, self->alen));
    self->connect_status = (int)self->op.result;
    if (self->connect_status == 0) {
        self->w.io = self->r.io = self->io;
        self->w.data = self->data;
        self->w.len = PAYLOAD;
        self->r.client = self->client;
        self->kids[0] = AT_START(&self->w, cwriter);
        self->kids[1] = AT_START(&self->r, creader);
        AT_AWAIT(at_join_all(&self->all, self->kids, 2));
    }
    at_io_close(self->io);
    AT_END;
}

typedef struct {
    AT_FRAME;
    int i, clients;
    unsigned port;
    server_state *srv;
    client_state *cl;
    at_join_handle hs;
    at_join_handle *hc;
    at_join_fut join;
} echo_root_state;

AT_ASYNC_FN(echo_root, echo_root_state)
{
    AT_BEGIN(echo_root_state);
    self->hs = at_spawn_frame(NULL, AT_START(self->srv, server), "server");
    for (self->i = 0; self->i < self->clients; self->i++)
        self->hc[self->i] = at_spawn_frame(NULL, AT_START(&self->cl[self->i], client), "client");
    for (self->i = 0; self->i < self->clients; self->i++) {
        AT_AWAIT(at_join(&self->join, self->hc[self->i]));
        at_join_handle_release(&self->hc[self->i]);
    }
    AT_AWAIT(at_join(&self->join, self->hs));
    at_join_handle_release(&self->hs);
    AT_END;
}

static void echo_test(at_runtime *rt)
{
    int clients = (int)scale(CLIENTS);
    unsigned port = 0;
    int lfd = at_tcp_listen("127.0.0.1", 0, 512, &port);
    CU_ASSERT_TRUE_FATAL(lfd >= 0);
    CU_ASSERT_TRUE(port > 0);
    echo_root_state root;
    memset(&root, 0, sizeof root);
    root.clients = clients;
    root.srv = calloc(1, sizeof(*root.srv));
    root.srv->lfd = lfd;
    root.srv->clients = clients;
    root.srv->handlers = calloc((size_t)clients, sizeof(handler_state));
    root.srv->h = calloc((size_t)clients, sizeof(at_join_handle));
    root.cl = calloc((size_t)clients, sizeof(client_state));
    root.hc = calloc((size_t)clients, sizeof(at_join_handle));
    for (int c = 0; c < clients; c++) {
        root.cl[c].client = c;
        root.cl[c].port = port;
        root.cl[c].data = malloc(PAYLOAD);
        for (size_t i = 0; i < PAYLOAD; i++)
            root.cl[c].data[i] = pattern(c, i);
    }
    AT_ASSERT_EQ_INT(at_block_on(rt, AT_START(&root, echo_root), "echo-root"), 0);
    AT_ASSERT_EQ_INT(root.srv->errors, 0);
    AT_ASSERT_EQ_U64(root.srv->echoed, (uint64_t)clients * PAYLOAD);
    for (int c = 0; c < clients; c++) {
        client_state *cs = &root.cl[c];
        AT_ASSERT_EQ_INT(cs->connect_status, 0);
        AT_ASSERT_EQ_INT(cs->w.status, 0);
        AT_ASSERT_EQ_U64(cs->w.off, PAYLOAD);
        AT_ASSERT_EQ_INT(cs->r.status, 0); /* ended by end of file */
        AT_ASSERT_EQ_U64(cs->r.got, PAYLOAD);
        AT_ASSERT_EQ_U64(cs->r.mismatches, 0);
        free(cs->data);
    }
    free(root.srv->handlers);
    free(root.srv->h);
    free(root.srv);
    free(root.cl);
    free(root.hc);
    at_runtime_free(rt);
}

AT_TEST(io_echo_200_clients_current_thread)
{
    echo_test(at_runtime_new(NULL));
}

AT_TEST(io_echo_200_clients_multi_thread)
{
    at_runtime_options o = {AT_FLAVOR_MULTI_THREAD, 4, "echo"};
    echo_test(at_runtime_new(&o));
}

/* ---- A pipe: the reader waits, a foreign thread writes ---- */

typedef struct {
    AT_FRAME;
    at_io *io;
    size_t want, got;
    int eof;
    at_io_op_fut op;
    unsigned char buf[64];
    at_dump *snap;
    at_yield_fut y;
} pipe_reader_state;

AT_ASYNC_FN(pipe_reader, pipe_reader_state)
{
    AT_BEGIN(pipe_reader_state);
    while (self->got < self->want) {
        AT_AWAIT(at_io_read(&self->op, self->io, self->buf, sizeof self->buf));
        if (self->op.result <= 0) {
            self->eof = 1;
            break;
        }
        self->got += (size_t)self->op.result;
    }
    AT_END;
}

typedef struct {
    int fd;
    size_t total;
} pipe_writer_ctx;

static void *pipe_writer_main(void *arg)
{
    pipe_writer_ctx *c = arg;
    usleep(20000); /* the reader is parked in the driver by now */
    unsigned char b[7] = {1, 2, 3, 4, 5, 6, 7};
    size_t sent = 0;
    while (sent < c->total) {
        size_t n = c->total - sent < sizeof b ? c->total - sent : sizeof b;
        ssize_t w = write(c->fd, b, n);
        if (w > 0)
            sent += (size_t)w;
        if (sent % 700 == 0)
            usleep(50);
    }
    return NULL;
}

static void pipe_test(at_runtime *rt)
{
    int fds[2];
    AT_ASSERT_EQ_INT(at_pipe(fds), 0);
    pipe_writer_ctx wc = {fds[1], scale(70000)};
    pipe_reader_state st;
    memset(&st, 0, sizeof st);
    st.io = at_io_open(rt, fds[0], NULL);
    st.want = wc.total;
    CU_ASSERT_PTR_NOT_NULL_FATAL(st.io);
    AT_ASSERT_EQ_INT(at_io_fd(st.io), fds[0]);
    pthread_t th;
    pthread_create(&th, NULL, pipe_writer_main, &wc);
    AT_ASSERT_EQ_INT(at_block_on(rt, AT_START(&st, pipe_reader), "pipe-reader"), 0);
    pthread_join(th, NULL);
    AT_ASSERT_EQ_U64(st.got, wc.total);
    AT_ASSERT_EQ_INT(st.eof, 0);
    AT_ASSERT_EQ_INT(at_io_release(st.io), fds[0]);
    close(fds[0]);
    close(fds[1]);
    at_runtime_free(rt);
}

AT_TEST(io_pipe_woken_from_foreign_thread_current_thread)
{
    pipe_test(at_runtime_new(NULL));
}

AT_TEST(io_pipe_woken_from_foreign_thread_multi_thread)
{
    at_runtime_options o = {AT_FLAVOR_MULTI_THREAD, 2, NULL};
    pipe_test(at_runtime_new(&o));
}

/* ---- Connect to a port nobody listens on ---- */

typedef struct {
    AT_FRAME;
    unsigned port;
    struct sockaddr_storage a;
    socklen_t al;
    at_io *io;
    ssize_t result;
    at_io_op_fut op;
} refused_state;

AT_ASYNC_FN(refused, refused_state)
{
    AT_BEGIN(refused_state);
    self->io = at_io_open(NULL, at_tcp_socket(), NULL);
    at_sockaddr_ipv4(&self->a, &self->al, "127.0.0.1", self->port);
    AT_AWAIT(at_io_connect(&self->op, self->io, (struct sockaddr *)&self->a, self->al));
    self->result = self->op.result;
    at_io_close(self->io);
    AT_END;
}

AT_TEST(io_connect_refused)
{
    /* A port that was just free: bind, read it, close. */
    unsigned port = 0;
    int fd = at_tcp_listen("127.0.0.1", 0, 1, &port);
    CU_ASSERT_TRUE_FATAL(fd >= 0);
    close(fd);
    at_runtime *rt = at_runtime_new(NULL);
    refused_state st = {.port = port};
    AT_ASSERT_EQ_INT(at_block_on(rt, AT_START(&st, refused), "refused"), 0);
    AT_ASSERT_EQ_INT(st.result, -ECONNREFUSED);
    at_runtime_free(rt);
}

/* ---- Timers fire on time while the driver waits ---- */

typedef struct {
    AT_FRAME;
    at_io *io;
    uint64_t t0, woke;
    at_sleep_fut s;
} timed_state;

AT_ASYNC_FN(timed, timed_state)
{
    AT_BEGIN(timed_state);
    self->t0 = at_now_ns();
    AT_AWAIT(at_sleep(&self->s, 30 * AT_MS));
    self->woke = at_now_ns();
    AT_END;
}

static void timer_with_driver(at_runtime *rt)
{
    int fds[2];
    AT_ASSERT_EQ_INT(at_pipe(fds), 0);
    timed_state st;
    memset(&st, 0, sizeof st);
    st.io = at_io_open(rt, fds[0], NULL); /* the runtime now parks in epoll */
    AT_ASSERT_EQ_INT(at_block_on(rt, AT_START(&st, timed), "timed"), 0);
    CU_ASSERT_TRUE(st.woke - st.t0 >= 30 * AT_MS);
    CU_ASSERT_TRUE(st.woke - st.t0 < 5 * AT_SEC); /* fired, not left waiting */
    at_io_close(st.io);
    close(fds[1]);
    at_runtime_free(rt);
}

AT_TEST(io_timer_fires_while_driver_waits)
{
    timer_with_driver(at_runtime_new(NULL));
    at_runtime_options o = {AT_FLAVOR_MULTI_THREAD, 2, NULL};
    timer_with_driver(at_runtime_new(&o));
}

/* ---- I/O leaves in the snapshot and in the live dump ---- */

typedef struct {
    AT_FRAME;
    at_io *io;
    unsigned char b[4];
    ssize_t result;
    at_io_op_fut op;
} blocked_reader_state;

AT_ASYNC_FN(blocked_reader, blocked_reader_state)
{
    AT_BEGIN(blocked_reader_state);
    AT_AWAIT(at_io_read(&self->op, self->io, self->b, sizeof self->b));
    self->result = self->op.result;
    AT_END;
}

typedef struct {
    AT_FRAME;
    at_io *wio;
    blocked_reader_state rd;
    at_join_handle h;
    at_sleep_fut settle;
    at_dump_fut dump;
    at_dump *live, *snap;
    at_io_op_fut op;
    at_join_fut join;
} io_dump_root_state;

AT_ASYNC_FN(io_dump_root, io_dump_root_state)
{
    AT_BEGIN(io_dump_root_state);
    self->h = at_spawn_frame(NULL, AT_START(&self->rd, blocked_reader), "blocked-reader");
    AT_AWAIT(at_sleep(&self->settle, 10 * AT_MS)); /* it reaches its read */
    self->snap = at_snapshot_take();
    AT_AWAIT(at_dump_tasks(&self->dump));
    self->live = self->dump.result;
    AT_AWAIT(at_io_write_all(&self->op, self->wio, "abcd", 4));
    AT_AWAIT(at_join(&self->join, self->h));
    at_join_handle_release(&self->h);
    AT_END;
}

static void check_io_leaf(const at_dump *d, uint64_t id, int fd, int live)
{
    CU_ASSERT_PTR_NOT_NULL_FATAL(d);
    const at_dump_task *t = at_dump_find_task(d, id);
    CU_ASSERT_PTR_NOT_NULL_FATAL(t);
    AT_ASSERT_EQ_INT(t->state, AT_TASK_IDLE);
    const at_dump_frame *f = t->await;
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    AT_ASSERT_EQ_STR(f->function, "blocked_reader");
    AT_ASSERT_EQ_U64(f->nchildren, 1);
    const at_dump_frame *leaf = &f->children[0];
    AT_ASSERT_EQ_STR(leaf->function, "at_io_read");
    AT_ASSERT_EQ_INT(leaf->kind, AT_KIND_LEAF);
    CU_ASSERT_PTR_NOT_NULL_FATAL(leaf->resource);
    AT_ASSERT_EQ_INT(leaf->resource->kind, AT_RES_IO_READ);
    AT_ASSERT_EQ_INT(leaf->resource->flags, AT_IO_READ);
    AT_ASSERT_EQ_U64(leaf->resource->detail[0], (uint64_t)fd);
    CU_ASSERT_TRUE(leaf->resource->since_ns > 0);
    if (live) {
        AT_ASSERT_EQ_INT(t->traced, 1);
        AT_ASSERT_EQ_U64(t->nbacktraces, 1);
        const at_dump_backtrace *b = &t->backtraces[0];
        CU_ASSERT_TRUE_FATAL(b->nframes >= 2);
        AT_ASSERT_EQ_STR(b->frames[b->nframes - 1].symbol, "blocked_reader_poll");
        AT_ASSERT_EQ_STR(b->frames[0].symbol, "at__io_op_poll");
    }
}

static void io_dump_on(at_runtime *rt)
{
    int fds[2];
    AT_ASSERT_EQ_INT(at_pipe(fds), 0);
    io_dump_root_state st;
    memset(&st, 0, sizeof st);
    st.rd.io = at_io_open(rt, fds[0], NULL);
    st.wio = at_io_open(rt, fds[1], NULL);
    AT_ASSERT_EQ_INT(at_block_on(rt, AT_START(&st, io_dump_root), "root"), 0);
    AT_ASSERT_EQ_INT(st.rd.result, 4); /* the traced read still completes */
    AT_ASSERT_EQ_INT(st.dump.status, 0);
    uint64_t id = 0;
    for (size_t i = 0; i < st.snap->runtimes[0].ntasks; i++)
        if (!strcmp(st.snap->runtimes[0].tasks[i].name, "blocked-reader"))
            id = st.snap->runtimes[0].tasks[i].id;
    CU_ASSERT_TRUE_FATAL(id != 0);
    check_io_leaf(st.snap, id, fds[0], 0);
    check_io_leaf(st.live, id, fds[0], 1);
    at_dump_free(st.snap);
    at_dump_free(st.live);
    at_io_close(st.rd.io);
    at_io_close(st.wio);
    at_runtime_free(rt);
}

AT_TEST(io_leaf_in_snapshot_and_live_dump_current_thread)
{
    io_dump_on(at_runtime_new(NULL));
}

AT_TEST(io_leaf_in_snapshot_and_live_dump_multi_thread)
{
    at_runtime_options o = {AT_FLAVOR_MULTI_THREAD, 2, NULL};
    io_dump_on(at_runtime_new(&o));
}
