/* asynctrace/channel.h - multi-producer single-consumer channels (bounded
 * and unbounded) and oneshot channels.
 *
 * Messages are fixed-size values (elem_size bytes) copied in and out.
 *
 * Semantics:
 *  - A channel starts with one sender reference and one receiver.
 *    at_chan_sender_clone adds a sender; at_chan_sender_drop removes one.
 *  - When the last sender is dropped, a receiver drains what is queued and
 *    then gets AT_ECLOSED.
 *  - at_chan_receiver_drop (or at_chan_close) closes the channel: pending and
 *    later sends fail with AT_ECLOSED; queued messages are discarded when the
 *    channel is freed.
 *  - The channel is freed when the receiver and every sender are dropped.
 *  - A bounded channel of capacity 0 is refused (NULL, errno-style code in
 *    *err when err is not NULL).
 */
#ifndef ASYNCTRACE_CHANNEL_H
#define ASYNCTRACE_CHANNEL_H

#include "asynctrace/future.h"

#ifdef __cplusplus
extern "C" {
#endif
/* Everything declared here is the library's exported API (it is built
 * with -fvisibility=hidden). */
#pragma GCC visibility push(default)

at_chan *at_chan_new_bounded(size_t elem_size, size_t capacity, int *err);
at_chan *at_chan_new_unbounded(size_t elem_size, int *err);
void at_chan_sender_clone(at_chan *c);
void at_chan_sender_drop(at_chan *c);
void at_chan_receiver_drop(at_chan *c);
/* Close from either side without dropping a reference. */
void at_chan_close(at_chan *c);

/* Leaf; resource AT_RES_CHAN_SEND.  status after Ready: 0 or AT_ECLOSED. */
typedef struct at_chan_send_fut {
    at_leaf leaf;
    at_chan *chan;
    const void *msg;
    at_waiter waiter;
    int status;
    int queued;
} at_chan_send_fut;
at_frame *at_chan_send(at_chan_send_fut *f, at_chan *c, const void *msg);
/* 0, AT_EAGAIN (full), or AT_ECLOSED. */
int at_chan_try_send(at_chan *c, const void *msg);

/* Leaf; resource AT_RES_CHAN_RECV.  status after Ready: 0 (message copied
 * to out) or AT_ECLOSED (no sender left and nothing queued, or closed). */
typedef struct at_chan_recv_fut {
    at_leaf leaf;
    at_chan *chan;
    void *out;
    at_waiter waiter;
    int status;
    int queued;
} at_chan_recv_fut;
at_frame *at_chan_recv(at_chan_recv_fut *f, at_chan *c, void *out);
/* 0, AT_EAGAIN (empty), or AT_ECLOSED. */
int at_chan_try_recv(at_chan *c, void *out);

/* ---- Oneshot: one value, one sender, one receiver ---- */
at_oneshot *at_oneshot_new(size_t elem_size);
/* 0, AT_ECLOSED (receiver gone), or AT_EINVAL (already sent). Consumes the
 * sender side. */
int at_oneshot_send(at_oneshot *o, const void *value);
void at_oneshot_sender_drop(at_oneshot *o);
void at_oneshot_receiver_drop(at_oneshot *o);

/* Leaf; resource AT_RES_ONESHOT.  status: 0 or AT_ECLOSED (sender dropped
 * without sending).  Consumes the receiver side when Ready. */
typedef struct at_oneshot_recv_fut {
    at_leaf leaf;
    at_oneshot *oneshot;
    void *out;
    at_waiter waiter;
    int status;
    int queued;
} at_oneshot_recv_fut;
at_frame *at_oneshot_recv(at_oneshot_recv_fut *f, at_oneshot *o, void *out);

#pragma GCC visibility pop
#ifdef __cplusplus
}
#endif
#endif
