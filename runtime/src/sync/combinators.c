/* combinators.c - join-all and select: futures with several children.
 *
 * The children are linked under the combinator's frame when it is built:
 * frame.child is the first, each child's sibling the next, in index order,
 * and each child's parent is the combinator.  A child leaves that list when
 * it completes (join-all) or when the select is decided, so the list always
 * holds exactly the children still awaited and a walker sees a tree.
 *
 * Unlinking a child is one pointer store (its predecessor's link, or
 * frame.child for the first), published with a release store, so a reader
 * walking the list concurrently sees the list either with or without it. */
#include <stdint.h>

#include "core/internal.h"

/* Link children[0..n) under `parent` in index order (publishing the first
 * last, like at__await_link). */
static void at__children_link(at_frame *parent, at_frame **children, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        children[i]->parent = parent;
        children[i]->sibling = i + 1 < n ? children[i + 1] : NULL;
        if (at_frame_done(children[i]))
            children[i]->resume = NULL;
    }
    __atomic_store_n(&parent->child, n ? children[0] : NULL, __ATOMIC_RELEASE);
}

/* Unlink `c` from `parent`'s child list; `prev` is the linked child before
 * it, or NULL when it is the first. */
static void at__child_unlink(at_frame *parent, at_frame *prev, at_frame *c)
{
    at_frame **link = prev ? &prev->sibling : &parent->child;
    __atomic_store_n(link, c->sibling, __ATOMIC_RELEASE);
    c->sibling = NULL;
    c->parent = NULL;
}

/* ---- join-all ---- */

AT_NOINLINE static at_poll_result at__join_all_poll(at_frame *frame,
                                                    at_context *cx)
{
    at_join_all_fut *f = (at_join_all_fut *)frame;
    at_frame *prev = NULL; /* last child still linked before children[i] */

    for (size_t i = 0; i < f->n; i++) {
        at_frame *c = f->children[i];
        if (at_frame_done(c))
            continue;
        if (at_poll(c, cx) == AT_READY) {
            c->resume = AT__RESUME_DONE;
            at__child_unlink(frame, prev, c);
            f->remaining--;
        } else {
            prev = c;
        }
    }
    return f->remaining == 0 ? AT_READY : AT_PENDING;
}

AT__COMBINATOR_SITE(at__join_all_site, AT_KIND_JOIN_ALL, "at_join_all",
                    at__join_all_poll, NULL);

at_frame *at_join_all(at_join_all_fut *f, at_frame **children, size_t n)
{
    at_frame_init(&f->frame, &at__join_all_site);
    f->children = children;
    f->n = n;
    f->remaining = n;
    at__children_link(&f->frame, children, n);
    return &f->frame;
}

/* ---- select ---- */

/* Drop every child except the winner `won`: the list is emptied first, so
 * at_frame_drop finds each loser already unlinked. */
static void at__select_drop_losers(at_select_fut *f, size_t won)
{
    __atomic_store_n(&f->frame.child, (at_frame *)NULL, __ATOMIC_RELEASE);
    for (size_t i = 0; i < f->n; i++) {
        at_frame *c = f->children[i];
        c->parent = NULL;
        c->sibling = NULL;
        if (i != won)
            at_frame_drop(c);
    }
}

AT_NOINLINE static at_poll_result at__select_poll(at_frame *frame,
                                                  at_context *cx)
{
    at_select_fut *f = (at_select_fut *)frame;

    if (f->n == 0)
        return AT_READY; /* nothing to wait for; index stays SIZE_MAX */
    for (size_t i = 0; i < f->n; i++) {
        at_frame *c = f->children[i];
        if (at_poll(c, cx) == AT_READY) {
            c->resume = AT__RESUME_DONE;
            f->index = i;
            at__select_drop_losers(f, i);
            return AT_READY;
        }
    }
    return AT_PENDING;
}

AT__COMBINATOR_SITE(at__select_site, AT_KIND_SELECT, "at_select",
                    at__select_poll, NULL);

at_frame *at_select(at_select_fut *f, at_frame **children, size_t n)
{
    at_frame_init(&f->frame, &at__select_site);
    f->children = children;
    f->n = n;
    f->index = SIZE_MAX;
    at__children_link(&f->frame, children, n);
    return &f->frame;
}
