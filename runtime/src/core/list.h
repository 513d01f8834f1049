/* list.h - private to the runtime's implementation; never installed.
 *
 * The runtime's one intrusive list, in two shapes:
 *   - a list: doubly linked, NULL-terminated, pushed at the head (a
 *     runtime's owned tasks, the descriptor's runtimes and threads);
 *   - a queue: the same nodes with a tail too, FIFO (waiter queues).
 * The links are named pointer fields of the element itself, pointing at
 * elements (not at embedded link structs), so the layouts a debugger reads
 * (at_task.owned_next/owned_prev, at_runtime.next/prev,
 * at_trace_context.next/prev, at_waiter.next/prev) are exactly those the
 * ABI publishes.  Links a debugger or a lock-free reader follows forward
 * (head, next) are written with release stores: a node is complete before
 * it becomes reachable.  Callers hold the list's lock.
 *
 * An unlinked node's links are NULL; in debug builds (AT_DEBUG_LISTS, set
 * by `make san`) they are poisoned instead, so using a node after its unlink
 * faults at once rather than walking a stale list. */
#ifndef AT_CORE_LIST_H
#define AT_CORE_LIST_H

#include <stdint.h>

#ifdef AT_DEBUG_LISTS
#define AT__LIST_POISON_NEXT ((void *)(uintptr_t)0xdead0000000000a1ull)
#define AT__LIST_POISON_PREV ((void *)(uintptr_t)0xdead0000000000b2ull)
#else
#define AT__LIST_POISON_NEXT NULL
#define AT__LIST_POISON_PREV NULL
#endif

/* A link of a node: LINK(n, f) is an lvalue.  Most nodes hold both links
 * as fields (AT__LINK_FIELD); a record whose back link is private names
 * its own accessor (the runtime list, rt/runtime.c). */
#define AT__LINK_FIELD(n, f) ((n)->f)

/* Link `node` at the front of the list `head`. */
#define AT__LIST_PUSH_HEAD_VIA(head, node, NEXT_OF, NEXT, PREV_OF, PREV)       \
    do {                                                                       \
        __typeof__(node) at__ln = (node);                                      \
        PREV_OF(at__ln, PREV) = NULL;                                          \
        NEXT_OF(at__ln, NEXT) = (head);                                        \
        if (NEXT_OF(at__ln, NEXT))                                             \
            PREV_OF(NEXT_OF(at__ln, NEXT), PREV) = at__ln;                     \
        __atomic_store_n(&(head), at__ln, __ATOMIC_RELEASE);                   \
    } while (0)

/* Take `node` off the list `head` (the only place that unlinks). */
#define AT__LIST_UNLINK_VIA(head, node, NEXT_OF, NEXT, PREV_OF, PREV)          \
    do {                                                                       \
        __typeof__(node) at__ln = (node);                                      \
        if (PREV_OF(at__ln, PREV))                                             \
            __atomic_store_n(&NEXT_OF(PREV_OF(at__ln, PREV), NEXT),            \
                             NEXT_OF(at__ln, NEXT), __ATOMIC_RELEASE);         \
        else                                                                   \
            __atomic_store_n(&(head), NEXT_OF(at__ln, NEXT), __ATOMIC_RELEASE);\
        if (NEXT_OF(at__ln, NEXT))                                             \
            PREV_OF(NEXT_OF(at__ln, NEXT), PREV) = PREV_OF(at__ln, PREV);      \
        NEXT_OF(at__ln, NEXT) = AT__LIST_POISON_NEXT;                          \
        PREV_OF(at__ln, PREV) = AT__LIST_POISON_PREV;                          \
    } while (0)

/* The same for nodes whose link fields are named NEXT and PREV. */
#define AT__LIST_PUSH_HEAD(head, node, NEXT, PREV)                             \
    AT__LIST_PUSH_HEAD_VIA(head, node, AT__LINK_FIELD, NEXT, AT__LINK_FIELD, PREV)
#define AT__LIST_UNLINK(head, node, NEXT, PREV)                                \
    AT__LIST_UNLINK_VIA(head, node, AT__LINK_FIELD, NEXT, AT__LINK_FIELD, PREV)

/* Append `node` at the tail of the queue head..tail. */
#define AT__QUEUE_PUSH_TAIL(head, tail, node, NEXT, PREV)                      \
    do {                                                                       \
        __typeof__(node) at__qn = (node);                                      \
        at__qn->NEXT = NULL;                                                   \
        at__qn->PREV = (tail);                                                 \
        if (tail)                                                              \
            __atomic_store_n(&(tail)->NEXT, at__qn, __ATOMIC_RELEASE);         \
        else                                                                   \
            __atomic_store_n(&(head), at__qn, __ATOMIC_RELEASE);               \
        (tail) = at__qn;                                                       \
    } while (0)

/* Take `node` off the queue head..tail. */
#define AT__QUEUE_REMOVE(head, tail, node, NEXT, PREV)                         \
    do {                                                                       \
        __typeof__(node) at__qn = (node);                                      \
        if (!at__qn->NEXT)                                                     \
            (tail) = at__qn->PREV;                                             \
        AT__LIST_UNLINK(head, at__qn, NEXT, PREV);                             \
    } while (0)

#endif
