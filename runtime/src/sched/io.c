/* io.c - the I/O driver (one epoll set and one eventfd per runtime), fd
 * registration, readiness futures, and the socket/pipe operations.
 *
 * Readiness (see asynctrace/io.h): each at_io carries two flags, readable
 * and writable, set by epoll events (edge-triggered) and cleared by an
 * operation that got EAGAIN - only if no event arrived since it looked
 * (io->tick counts events), so an edge that lands between the failed call
 * and the clearing is kept.  A new registration starts as readable and
 * writable: the first call finds out.
 *
 * Waiters: an operation that must wait puts its at_waiter on the io's read
 * or write queue (under the io's spin lock) with a waker; an event pops
 * them one per lock round, marks them granted and wakes them after the
 * unlock, like the primitives of sync.c.
 *
 * Lifetime: a deregistered at_io is removed from epoll at once and freed at
 * the start of the driver's next turn.  Turns are exclusive (the token), and
 * an event for it can only come from a turn that began before the removal,
 * so no event ever reaches freed memory.
 *
 * Cross-thread wake-ups: at__io_wake writes the eventfd (once until the
 * driver drains it), which makes a turn in epoll_wait return. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "sched/mt_internal.h"

#define AT__IO_EVENTS 64

enum { AT__W_QUEUED = 0, AT__W_GRANTED = 1, AT__W_CLOSED = 2 };
enum { AT__OP_READ, AT__OP_READ_EXACT, AT__OP_WRITE, AT__OP_WRITE_ALL,
       AT__OP_ACCEPT, AT__OP_CONNECT };

typedef struct at__io_driver at__io_driver;

struct at_io {
    int fd;
    int is_socket;
    uint32_t readiness;       /* AT_IO_READ | AT_IO_WRITE (lock) */
    uint32_t tick;            /* events seen (lock) */
    int closed;               /* deregistered (lock) */
    at_waiter *rhead, *rtail; /* waiting for AT_IO_READ */
    at_waiter *whead, *wtail; /* waiting for AT_IO_WRITE */
    _Atomic uint32_t lock;
    at__io_driver *drv;       /* NULL once the runtime is freed */
    at_io *next, *prev;       /* driver's list (drv->lock) */
};

struct at__io_driver {
    int epfd, evfd;
    _Atomic int busy;              /* the turn token */
    _Atomic uint32_t wake_pending; /* the eventfd was written, not drained */
    pthread_mutex_t lock;          /* ios, release */
    at_io *ios;                    /* registered */
    at_io *release;                /* deregistered, freed at the next turn */
};

/* ====================================================================== */
/* The driver                                                             */
/* ====================================================================== */

at__io_driver *at__io_driver_get(at_runtime *rt)
{
    at__runtime *rs = at__rt(rt);
    at__io_driver *d = __atomic_load_n((at__io_driver **)&rs->driver, __ATOMIC_ACQUIRE);
    if (d)
        return d;
    pthread_mutex_lock(&rs->lock);
    d = rs->driver;
    if (!d && (d = calloc(1, sizeof(*d)))) {
        d->epfd = epoll_create1(EPOLL_CLOEXEC);
        d->evfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
        if (d->epfd < 0 || d->evfd < 0 || epoll_ctl(d->epfd, EPOLL_CTL_ADD, d->evfd, &ev) < 0) {
            if (d->epfd >= 0)
                close(d->epfd);
            if (d->evfd >= 0)
                close(d->evfd);
            free(d);
            d = NULL;
        } else {
            pthread_mutex_init(&d->lock, NULL);
            __atomic_store_n((at__io_driver **)&rs->driver, d, __ATOMIC_RELEASE);
        }
    }
    pthread_mutex_unlock(&rs->lock);
    return d;
}

static at__io_driver *at__drv(at_runtime *rt)
{
    return __atomic_load_n((at__io_driver **)&at__rt(rt)->driver, __ATOMIC_ACQUIRE);
}

void at__io_wake(at_runtime *rt)
{
    at__io_driver *d = at__drv(rt);
    if (!d || atomic_exchange(&d->wake_pending, 1))
        return;
    uint64_t one = 1;
    ssize_t r;
    do
        r = write(d->evfd, &one, sizeof one);
    while (r < 0 && errno == EINTR);
}

int at__io_acquire(at_runtime *rt)
{
    at__io_driver *d = at__drv(rt);
    int idle = 0;
    return d && atomic_compare_exchange_strong(&d->busy, &idle, 1);
}

void at__io_release(at_runtime *rt)
{
    atomic_store(&at__drv(rt)->busy, 0);
}

static void at__io_free_released(at__io_driver *d)
{
    pthread_mutex_lock(&d->lock);
    at_io *io = d->release;
    d->release = NULL;
    pthread_mutex_unlock(&d->lock);
    while (io) {
        at_io *next = io->next;
        free(io);
        io = next;
    }
}

static void at__io_dispatch(at_io *io, uint32_t events);

int at__io_turn_locked(at_runtime *rt, uint64_t deadline)
{
    at__io_driver *d = at__drv(rt);
    at__io_free_released(d);
    struct timespec ts, *tsp = NULL;
    int ms = -1;
    if (deadline != UINT64_MAX) {
        uint64_t now = deadline ? at_now_ns() : 0;
        uint64_t wait = deadline > now ? deadline - now : 0;
        ts.tv_sec = (time_t)(wait / AT_SEC);
        ts.tv_nsec = (long)(wait % AT_SEC);
        tsp = &ts;
        ms = (int)((wait + AT_MS - 1) / AT_MS);
    }
    struct epoll_event evs[AT__IO_EVENTS];
    int n = epoll_pwait2(d->epfd, evs, AT__IO_EVENTS, tsp, NULL);
    if (n < 0 && errno == ENOSYS)
        n = epoll_wait(d->epfd, evs, AT__IO_EVENTS, ms);
    if (n < 0)
        return 0; /* EINTR: the caller loops */
    /* An at_io is fully built before epoll_ctl publishes it, under d->lock;
     * taking the lock once orders that for tools that do not see the
     * kernel's ordering (ThreadSanitizer). */
    if (n > 0) {
        pthread_mutex_lock(&d->lock);
        pthread_mutex_unlock(&d->lock);
    }
    for (int i = 0; i < n; i++) {
        if (!evs[i].data.ptr) {
            uint64_t v;
            while (read(d->evfd, &v, sizeof v) < 0 && errno == EINTR)
                ;
            atomic_store(&d->wake_pending, 0);
            continue;
        }
        at__io_dispatch(evs[i].data.ptr, evs[i].events);
    }
    return n;
}

int at__io_turn(at_runtime *rt, uint64_t deadline)
{
    at__io_driver *d = at__drv(rt);
    /* A look without waiting is free when nothing is registered and no
     * wake-up is pending (the runtime's periodic check). */
    if (d && deadline == 0 && !__atomic_load_n(&d->ios, __ATOMIC_RELAXED) &&
        !atomic_load_explicit(&d->wake_pending, memory_order_relaxed))
        return 0;
    if (!at__io_acquire(rt))
        return -1;
    int n = at__io_turn_locked(rt, deadline);
    at__io_release(rt);
    return n;
}

/* Runtime shutdown: the at_io records still registered outlive the driver
 * (their owners close them later); they are marked closed and orphaned. */
void at__io_driver_free(at_runtime *rt)
{
    at__io_driver *d = at__drv(rt);
    if (!d)
        return;
    at__io_free_released(d);
    pthread_mutex_lock(&d->lock);
    for (at_io *io = d->ios; io;) {
        at_io *next = io->next;
        at__spin_lock(&io->lock);
        io->closed = 1;
        io->drv = NULL;
        io->next = io->prev = NULL;
        at__spin_unlock(&io->lock);
        io = next;
    }
    d->ios = NULL;
    pthread_mutex_unlock(&d->lock);
    close(d->epfd);
    close(d->evfd);
    pthread_mutex_destroy(&d->lock);
    at__rt(rt)->driver = NULL;
    free(d);
}

/* ====================================================================== */
/* Registration                                                           */
/* ====================================================================== */

int at_fd_set_nonblocking(int fd)
{
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || (!(fl & O_NONBLOCK) && fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0))
        return -errno;
    return 0;
}

at_io *at_io_open(at_runtime *rt, int fd, int *err)
{
    int e = 0;
    at_io *io = NULL;
    if (!rt)
        rt = at_runtime_current();
    if (!rt || fd < 0) {
        e = AT_EINVAL;
        goto out;
    }
    at__io_driver *d = at__io_driver_get(rt);
    if (!d) {
        e = AT_ENOMEM;
        goto out;
    }
    if ((e = at_fd_set_nonblocking(fd)) < 0)
        goto out;
    io = calloc(1, sizeof(*io));
    if (!io) {
        e = AT_ENOMEM;
        goto out;
    }
    struct stat st;
    io->fd = fd;
    io->is_socket = fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode);
    io->readiness = AT_IO_READ | AT_IO_WRITE;
    io->drv = d;
    pthread_mutex_lock(&d->lock);
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET, .data.ptr = io};
    if (epoll_ctl(d->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
        e = -errno;
        pthread_mutex_unlock(&d->lock);
        free(io);
        io = NULL;
        goto out;
    }
    io->next = d->ios;
    if (d->ios)
        d->ios->prev = io;
    __atomic_store_n(&d->ios, io, __ATOMIC_RELAXED);
    pthread_mutex_unlock(&d->lock);
out:
    if (err)
        *err = e;
    return io;
}

int at_io_fd(const at_io *io)
{
    return io ? io->fd : -1;
}

/* Wake every waiter of one queue as closed (lock held on entry and exit). */
static void at__io_wake_queue(at_io *io, at_waiter **head, at_waiter **tail, int state)
{
    at_waiter *w;
    while ((w = at__waitq_pop(head, tail))) {
        at_waker wk = w->waker;
        w->waker.task = NULL;
        w->state = state;
        at__spin_unlock(&io->lock);
        at_waker_wake(&wk);
        at__spin_lock(&io->lock);
    }
}

int at_io_release(at_io *io)
{
    if (!io)
        return -1;
    int fd = io->fd;
    at__spin_lock(&io->lock);
    at__io_driver *d = io->drv;
    io->closed = 1;
    at__io_wake_queue(io, &io->rhead, &io->rtail, AT__W_CLOSED);
    at__io_wake_queue(io, &io->whead, &io->wtail, AT__W_CLOSED);
    at__spin_unlock(&io->lock);
    if (!d) { /* orphaned by a runtime shutdown */
        free(io);
        return fd;
    }
    pthread_mutex_lock(&d->lock);
    epoll_ctl(d->epfd, EPOLL_CTL_DEL, fd, NULL);
    if (io->prev)
        io->prev->next = io->next;
    else
        __atomic_store_n(&d->ios, io->next, __ATOMIC_RELAXED);
    if (io->next)
        io->next->prev = io->prev;
    io->prev = NULL;
    io->next = d->release;
    d->release = io;
    pthread_mutex_unlock(&d->lock);
    return fd;
}

void at_io_close(at_io *io)
{
    int fd = at_io_release(io);
    if (fd >= 0)
        close(fd);
}

/* ====================================================================== */
/* Readiness                                                              */
/* ====================================================================== */

static void at__io_dispatch(at_io *io, uint32_t events)
{
    uint32_t bits = 0;
    if (events & (EPOLLIN | EPOLLPRI | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
        bits |= AT_IO_READ;
    if (events & (EPOLLOUT | EPOLLHUP | EPOLLERR))
        bits |= AT_IO_WRITE;
    at__spin_lock(&io->lock);
    if (!io->closed) {
        io->readiness |= bits;
        io->tick++;
        if (bits & AT_IO_READ)
            at__io_wake_queue(io, &io->rhead, &io->rtail, AT__W_GRANTED);
        if (bits & AT_IO_WRITE)
            at__io_wake_queue(io, &io->whead, &io->wtail, AT__W_GRANTED);
    }
    at__spin_unlock(&io->lock);
}

void at_io_clear_ready(at_io *io, uint32_t interest, uint32_t tick)
{
    at__spin_lock(&io->lock);
    if (io->tick == tick)
        io->readiness &= ~interest;
    at__spin_unlock(&io->lock);
}

/* Is io ready for `dir`?  1: yes (*tick set, waiter off the queue);
 * 0: not yet (waiter queued with a waker); -1: io deregistered. */
static int at__io_poll_ready(at_io *io, uint32_t dir, at_waiter *w, int *queued,
                             at_context *cx, uint32_t *tick)
{
    at_waiter **head = dir == AT_IO_READ ? &io->rhead : &io->whead;
    at_waiter **tail = dir == AT_IO_READ ? &io->rtail : &io->wtail;
    at_waker old = {0};
    int r;
    at__spin_lock(&io->lock);
    int in_queue = *queued && w->state == AT__W_QUEUED;
    if (io->closed || (io->readiness & dir)) {
        if (in_queue)
            at__waitq_remove(head, tail, w);
        old = w->waker;
        w->waker.task = NULL;
        *queued = 0;
        *tick = io->tick;
        r = io->closed ? -1 : 1;
    } else {
        if (!in_queue) {
            old = w->waker; /* left over from a grant: replaced below */
            w->waker = at_waker_clone(cx);
            w->state = AT__W_QUEUED;
            at__waitq_push(head, tail, w);
            *queued = 1;
        }
        r = 0;
    }
    at__spin_unlock(&io->lock);
    at_waker_drop(&old);
    return r;
}

static void at__io_waiter_drop(at_io *io, uint32_t dir, at_waiter *w, int *queued)
{
    if (!*queued)
        return;
    at_waker old = {0};
    at__spin_lock(&io->lock);
    if (w->state == AT__W_QUEUED) {
        if (dir == AT_IO_READ)
            at__waitq_remove(&io->rhead, &io->rtail, w);
        else
            at__waitq_remove(&io->whead, &io->wtail, w);
    }
    old = w->waker;
    w->waker.task = NULL;
    *queued = 0;
    at__spin_unlock(&io->lock);
    at_waker_drop(&old);
}

AT_NOINLINE static at_poll_result at__io_ready_poll(at_frame *fr, at_context *cx)
{
    if (at_trace_leaf(cx))
        return AT_PENDING;
    at_io_ready_fut *f = (at_io_ready_fut *)fr;
    int r = at__io_poll_ready(f->io, f->interest, &f->waiter, &f->queued, cx, &f->tick);
    if (r == 0) {
        at__leaf_waiting(&f->leaf);
        return AT_PENDING;
    }
    f->status = r < 0 ? AT_ESHUTDOWN : 0;
    return AT_READY;
}

static void at__io_ready_drop(at_frame *fr)
{
    at_io_ready_fut *f = (at_io_ready_fut *)fr;
    at__io_waiter_drop(f->io, f->interest, &f->waiter, &f->queued);
}

AT__LEAF_SITE(at__io_readable_site, "at_io_readable", at__io_ready_poll, at__io_ready_drop);
AT__LEAF_SITE(at__io_writable_site, "at_io_writable", at__io_ready_poll, at__io_ready_drop);

static at_frame *at__io_ready_init(at_io_ready_fut *f, at_io *io, uint32_t interest,
                                   const at_site *site)
{
    memset(&f->waiter, 0, sizeof f->waiter);
    f->io = io;
    f->interest = interest;
    f->tick = 0;
    f->queued = 0;
    f->status = 0;
    at_frame *fr = at__leaf_init(&f->leaf, site,
                                 interest == AT_IO_READ ? AT_RES_IO_READ : AT_RES_IO_WRITE, io);
    f->leaf.wait.flags = interest;
    f->leaf.wait.detail[0] = (uint64_t)(int64_t)io->fd;
    return fr;
}

at_frame *at_io_readable(at_io_ready_fut *f, at_io *io)
{
    return at__io_ready_init(f, io, AT_IO_READ, &at__io_readable_site);
}

at_frame *at_io_writable(at_io_ready_fut *f, at_io *io)
{
    return at__io_ready_init(f, io, AT_IO_WRITE, &at__io_writable_site);
}

/* ====================================================================== */
/* Operations                                                             */
/* ====================================================================== */

static uint32_t at__op_dir(int op)
{
    switch (op) {
    case AT__OP_READ:
    case AT__OP_READ_EXACT:
    case AT__OP_ACCEPT:
        return AT_IO_READ;
    default:
        return AT_IO_WRITE;
    }
}

static int at__would_block(int e)
{
    return e == EAGAIN || e == EWOULDBLOCK;
}

/* One attempt.  1: finished (f->result set); 0: would block. */
static int at__io_attempt(at_io_op_fut *f)
{
    at_io *io = f->io;
    ssize_t n;
    for (;;) {
        switch (f->op) {
        case AT__OP_READ:
        case AT__OP_READ_EXACT:
            n = read(io->fd, f->buf + f->done, f->len - f->done);
            if (n < 0)
                break;
            f->done += (size_t)n;
            if (f->op == AT__OP_READ || n == 0 || f->done == f->len) {
                f->result = f->op == AT__OP_READ ? n : (ssize_t)f->done;
                return 1;
            }
            continue;
        case AT__OP_WRITE:
        case AT__OP_WRITE_ALL:
            if (io->is_socket)
                n = send(io->fd, f->buf + f->done, f->len - f->done, MSG_NOSIGNAL);
            else
                n = write(io->fd, f->buf + f->done, f->len - f->done);
            if (n < 0)
                break;
            f->done += (size_t)n;
            if (f->op == AT__OP_WRITE || f->done == f->len) {
                f->result = f->op == AT__OP_WRITE ? n : (ssize_t)f->done;
                return 1;
            }
            continue;
        case AT__OP_ACCEPT:
            n = accept4(io->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
            if (n < 0)
                break;
            f->result = n;
            return 1;
        case AT__OP_CONNECT:
            if (!f->started) {
                if (connect(io->fd, f->addr, f->addrlen) == 0) {
                    f->result = 0;
                    return 1;
                }
                if (errno == EINTR)
                    continue;
                if (errno != EINPROGRESS) {
                    f->result = -errno;
                    return 1;
                }
                f->started = 1;
                return 0; /* wait for a write event after this attempt */
            } else {
                int soerr = 0;
                socklen_t sl = sizeof soerr;
                if (getsockopt(io->fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) < 0)
                    soerr = errno;
                if (soerr) {
                    f->result = -soerr;
                    return 1;
                }
                struct sockaddr_storage peer;
                socklen_t pl = sizeof peer;
                if (getpeername(io->fd, (struct sockaddr *)&peer, &pl) == 0) {
                    f->result = 0;
                    return 1;
                }
                return 0; /* still in progress */
            }
        }
        /* n < 0 */
        if (errno == EINTR)
            continue;
        if (at__would_block(errno))
            return 0;
        f->result = -errno; /* f->done tells how much was transferred */
        return 1;
    }
}

AT_NOINLINE static at_poll_result at__io_op_poll(at_frame *fr, at_context *cx)
{
    if (at_trace_leaf(cx))
        return AT_PENDING;
    at_io_op_fut *f = (at_io_op_fut *)fr;
    uint32_t dir = at__op_dir(f->op);
    for (;;) {
        uint32_t tick;
        int r = at__io_poll_ready(f->io, dir, &f->waiter, &f->queued, cx, &tick);
        if (r == 0) {
            at__leaf_waiting(&f->leaf);
            return AT_PENDING;
        }
        if (r < 0) {
            f->result = AT_ESHUTDOWN;
            return AT_READY;
        }
        if (at__io_attempt(f))
            return AT_READY;
        at_io_clear_ready(f->io, dir, tick);
    }
}

static void at__io_op_drop(at_frame *fr)
{
    at_io_op_fut *f = (at_io_op_fut *)fr;
    at__io_waiter_drop(f->io, at__op_dir(f->op), &f->waiter, &f->queued);
}

AT__LEAF_SITE(at__io_read_site, "at_io_read", at__io_op_poll, at__io_op_drop);
AT__LEAF_SITE(at__io_read_exact_site, "at_io_read_exact", at__io_op_poll, at__io_op_drop);
AT__LEAF_SITE(at__io_write_site, "at_io_write", at__io_op_poll, at__io_op_drop);
AT__LEAF_SITE(at__io_write_all_site, "at_io_write_all", at__io_op_poll, at__io_op_drop);
AT__LEAF_SITE(at__io_accept_site, "at_io_accept", at__io_op_poll, at__io_op_drop);
AT__LEAF_SITE(at__io_connect_site, "at_io_connect", at__io_op_poll, at__io_op_drop);

static at_frame *at__io_op_init(at_io_op_fut *f, at_io *io, int op, const at_site *site,
                                const void *buf, size_t len)
{
    memset(&f->waiter, 0, sizeof f->waiter);
    f->io = io;
    f->buf = (unsigned char *)buf;
    f->len = len;
    f->done = 0;
    f->addr = NULL;
    f->addrlen = 0;
    f->op = op;
    f->queued = 0;
    f->started = 0;
    f->result = 0;
    uint32_t dir = at__op_dir(op);
    at_frame *fr = at__leaf_init(&f->leaf, site,
                                 dir == AT_IO_READ ? AT_RES_IO_READ : AT_RES_IO_WRITE, io);
    f->leaf.wait.flags = dir;
    f->leaf.wait.detail[0] = (uint64_t)(int64_t)io->fd;
    return fr;
}

at_frame *at_io_read(at_io_op_fut *f, at_io *io, void *buf, size_t len)
{
    return at__io_op_init(f, io, AT__OP_READ, &at__io_read_site, buf, len);
}

at_frame *at_io_read_exact(at_io_op_fut *f, at_io *io, void *buf, size_t len)
{
    return at__io_op_init(f, io, AT__OP_READ_EXACT, &at__io_read_exact_site, buf, len);
}

at_frame *at_io_write(at_io_op_fut *f, at_io *io, const void *buf, size_t len)
{
    return at__io_op_init(f, io, AT__OP_WRITE, &at__io_write_site, buf, len);
}

at_frame *at_io_write_all(at_io_op_fut *f, at_io *io, const void *buf, size_t len)
{
    return at__io_op_init(f, io, AT__OP_WRITE_ALL, &at__io_write_all_site, buf, len);
}

at_frame *at_io_accept(at_io_op_fut *f, at_io *listener)
{
    return at__io_op_init(f, listener, AT__OP_ACCEPT, &at__io_accept_site, NULL, 0);
}

at_frame *at_io_connect(at_io_op_fut *f, at_io *sock, const struct sockaddr *addr,
                        socklen_t addrlen)
{
    at_frame *fr = at__io_op_init(f, sock, AT__OP_CONNECT, &at__io_connect_site, NULL, 0);
    f->addr = addr;
    f->addrlen = addrlen;
    return fr;
}

/* ====================================================================== */
/* Helpers                                                                */
/* ====================================================================== */

int at_pipe(int fds[2])
{
    return pipe2(fds, O_NONBLOCK | O_CLOEXEC) < 0 ? -errno : 0;
}

int at_tcp_socket(void)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
}

int at_sockaddr_ipv4(struct sockaddr_storage *out, socklen_t *len, const char *ip,
                     unsigned port)
{
    struct sockaddr_in *sin = (struct sockaddr_in *)out;
    memset(out, 0, sizeof *out);
    sin->sin_family = AF_INET;
    sin->sin_port = htons((uint16_t)port);
    if (port > 65535 || inet_pton(AF_INET, ip ? ip : "0.0.0.0", &sin->sin_addr) != 1)
        return AT_EINVAL;
    *len = sizeof *sin;
    return 0;
}

int at_tcp_listen(const char *ip, unsigned port, int backlog, unsigned *bound_port)
{
    struct sockaddr_storage ss;
    socklen_t sl;
    if (at_sockaddr_ipv4(&ss, &sl, ip, port) < 0)
        return AT_EINVAL;
    int fd = at_tcp_socket();
    if (fd < 0)
        return fd;
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(fd, (struct sockaddr *)&ss, sl) < 0 || listen(fd, backlog) < 0)
        goto fail;
    if (bound_port) {
        struct sockaddr_in got;
        socklen_t gl = sizeof got;
        if (getsockname(fd, (struct sockaddr *)&got, &gl) < 0)
            goto fail;
        *bound_port = ntohs(got.sin_port);
    }
    return fd;
fail:;
    int e = -errno;
    close(fd);
    return e;
}
