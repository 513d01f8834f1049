/* holders.h - private to the runtime: the holder tables of semaphores
 * (permits by task) and channels (sender handles by task), whose rules are
 * in asynctrace/abi.h (at_holder).  Every function runs with the owning
 * object's spin lock held; a table has AT_HOLDERS_MAX rows, so each call
 * scans a few cache lines at most. */
#ifndef AT_HOLDERS_H
#define AT_HOLDERS_H

#include "core/internal.h"

/* The row of task `id`, or NULL. */
static inline at_holder *at__holder_find(at_holder *t, uint64_t id)
{
    for (unsigned i = 0; i < AT_HOLDERS_MAX; i++)
        if (t[i].count && t[i].task_id == id)
            return &t[i];
    return NULL;
}

/* Charge n to task `id` (a free row, else untracked). */
static inline void at__holders_add(at_holder *t, uint64_t *untracked,
                                   uint64_t id, uint64_t n)
{
    if (!n)
        return;
    at_holder *free_row = NULL;
    for (unsigned i = 0; i < AT_HOLDERS_MAX; i++) {
        if (!t[i].count) {
            if (!free_row)
                free_row = &t[i];
        } else if (t[i].task_id == id) {
            t[i].count += n;
            return;
        }
    }
    if (free_row) {
        free_row->task_id = id;
        free_row->count = n;
    } else {
        *untracked += n;
    }
}

/* Take up to n from a row; returns what is still to take. */
static inline uint64_t at__holder_take_row(at_holder *h, uint64_t n)
{
    uint64_t k = h->count < n ? h->count : n;
    h->count -= k;
    if (!h->count)
        h->task_id = 0;
    return n - k;
}

/* Take n back: from task `id`'s row, then its parent's, then untracked,
 * then the rows in order (what no row holds is ignored). */
static inline void at__holders_take(at_holder *t, uint64_t *untracked,
                                    uint64_t id, uint64_t parent, uint64_t n)
{
    at_holder *h = at__holder_find(t, id);
    if (h && !(n = at__holder_take_row(h, n)))
        return;
    if (parent != id && (h = at__holder_find(t, parent)) &&
        !(n = at__holder_take_row(h, n)))
        return;
    uint64_t k = *untracked < n ? *untracked : n;
    *untracked -= k;
    n -= k;
    for (unsigned i = 0; i < AT_HOLDERS_MAX && n; i++)
        if (t[i].count)
            n = at__holder_take_row(&t[i], n);
}

/* Task `id` uses a handle (a send): if it has no row, one handle moves to
 * it (taken as in at__holders_take).  `total` is the number of handles. */
static inline void at__holders_touch(at_holder *t, uint64_t *untracked,
                                     uint64_t id, uint64_t parent, uint64_t total)
{
    if (!total || at__holder_find(t, id))
        return;
    at__holders_take(t, untracked, id, parent, 1);
    at__holders_add(t, untracked, id, 1);
}

/* (id, parent id) of the task polled by this thread; (0, 0) outside. */
static inline void at__holder_who(uint64_t *id, uint64_t *parent)
{
    at_task *t = at_task_current();
    *id = t ? t->id : 0;
    *parent = t ? t->parent_id : 0;
}

#endif
