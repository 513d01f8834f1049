/* asynctrace/io.h - waiting on file descriptors: an epoll driver per
 * runtime, readiness futures, and non-blocking socket and pipe operations
 * written as leaf futures (docs/runtime.md, "I/O").
 *
 * A file descriptor is registered once with a runtime (at_io_open), which
 * makes it non-blocking and adds it to the runtime's epoll set in
 * edge-triggered mode.  The driver keeps, per registered fd, what it last
 * learned: "readable" and "writable" flags set by epoll events.  An
 * operation tries its system call while the flag says ready; on EAGAIN it
 * clears the flag (unless an event arrived meanwhile: a tick counter tells)
 * and waits for the next edge.  So no edge is ever lost and an fd is never
 * re-registered.
 *
 * Every operation is a leaf: it calls at_trace_leaf first, and while it
 * waits its frame records resource "read" or "write" with detail[0] = fd
 * (wait.flags = AT_IO_READ or AT_IO_WRITE, wait.object = the at_io).
 *
 * Results follow the project's convention: >= 0 on success, a negative
 * errno value (AT_EAGAIN, -ECONNRESET, ...) on failure. */
#ifndef ASYNCTRACE_IO_H
#define ASYNCTRACE_IO_H

#include <sys/socket.h>
#include <sys/types.h>

#include "asynctrace/future.h"

#ifdef __cplusplus
extern "C" {
#endif
/* Everything declared here is the library's exported API (it is built
 * with -fvisibility=hidden). */
#pragma GCC visibility push(default)

#define AT_IO_READ  1u /* interest / readiness: readable (or hung up) */
#define AT_IO_WRITE 2u /* interest / readiness: writable (or hung up) */

/* A file descriptor registered with a runtime's I/O driver (opaque). */
typedef struct at_io at_io;

/* Register fd with rt (NULL: the current task's runtime) and make it
 * non-blocking.  NULL on failure, with a negative errno value in *err
 * (when err is not NULL). */
at_io *at_io_open(at_runtime *rt, int fd, int *err);
/* The registered file descriptor. */
int at_io_fd(const at_io *io);
/* Deregister and close the fd.  No future may still use io. */
void at_io_close(at_io *io);
/* Deregister without closing; returns the fd. */
int at_io_release(at_io *io);

/* ---- Readiness --------------------------------------------------------- */

/* Leaf; completes when io is (believed) ready for `interest`.  After Ready,
 * status is 0 and `tick` identifies the readiness seen: if the system call
 * made then fails with EAGAIN, call at_io_clear_ready(io, interest, tick)
 * before waiting again.  status is AT_ESHUTDOWN if io was deregistered. */
typedef struct at_io_ready_fut {
    at_leaf leaf;
    at_io *io;
    at_waiter waiter;
    uint32_t interest;
    uint32_t tick;
    int queued;
    int status;
} at_io_ready_fut;

at_frame *at_io_readable(at_io_ready_fut *f, at_io *io);
at_frame *at_io_writable(at_io_ready_fut *f, at_io *io);
/* Forget a readiness that turned out stale (EAGAIN), unless a newer event
 * arrived since `tick`. */
void at_io_clear_ready(at_io *io, uint32_t interest, uint32_t tick);

/* ---- Operations (leaves) ----------------------------------------------- */

/* One future type for every operation below.  `result` is valid after
 * Ready. */
typedef struct at_io_op_fut {
    at_leaf leaf;
    at_io *io;
    at_waiter waiter;
    unsigned char *buf;
    size_t len, done;
    const struct sockaddr *addr;
    socklen_t addrlen;
    int op;          /* private */
    int queued;      /* private */
    int started;     /* private */
    ssize_t result;
} at_io_op_fut;

/* Read up to len bytes: result = bytes read (0 at end of file) or -errno. */
at_frame *at_io_read(at_io_op_fut *f, at_io *io, void *buf, size_t len);
/* Read exactly len bytes unless end of file comes first: result = bytes
 * read (less than len only at end of file) or -errno. */
at_frame *at_io_read_exact(at_io_op_fut *f, at_io *io, void *buf, size_t len);
/* Write some of buf: result = bytes written (>= 1 when len > 0) or -errno. */
at_frame *at_io_write(at_io_op_fut *f, at_io *io, const void *buf, size_t len);
/* Write all of buf: result = len or -errno. */
at_frame *at_io_write_all(at_io_op_fut *f, at_io *io, const void *buf, size_t len);
/* Accept a connection on a listening socket: result = the new socket
 * (non-blocking, close-on-exec, not registered) or -errno. */
at_frame *at_io_accept(at_io_op_fut *f, at_io *listener);
/* Connect a non-blocking socket: result = 0 or -errno.  addr must stay
 * valid until Ready. */
at_frame *at_io_connect(at_io_op_fut *f, at_io *sock, const struct sockaddr *addr,
                        socklen_t addrlen);

/* ---- Helpers (synchronous) --------------------------------------------- */

/* Set O_NONBLOCK: 0 or -errno. */
int at_fd_set_nonblocking(int fd);
/* A non-blocking, close-on-exec pipe: 0 or -errno. */
int at_pipe(int fds[2]);
/* A non-blocking IPv4 TCP socket: the fd or -errno. */
int at_tcp_socket(void);
/* A non-blocking IPv4 TCP socket listening on ip:port (port 0: any; the
 * port bound is stored in *bound_port when not NULL): the fd or -errno. */
int at_tcp_listen(const char *ip, unsigned port, int backlog, unsigned *bound_port);
/* Fill an IPv4 socket address: 0 or AT_EINVAL. */
int at_sockaddr_ipv4(struct sockaddr_storage *out, socklen_t *len, const char *ip,
                     unsigned port);

#pragma GCC visibility pop
#ifdef __cplusplus
}
#endif
#endif
