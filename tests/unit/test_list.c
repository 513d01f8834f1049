/* test_list.c - the runtime's one intrusive list (runtime/src/core/list.h):
 * head pushes and unlinks anywhere, FIFO queues, links named by the
 * element's own fields, and unlinked links NULL (poisoned with
 * AT_DEBUG_LISTS, as `make san` builds). */
#include <stddef.h>

#include "core/list.h"
#include "cunit_main.h"

typedef struct node {
    int id;
    struct node *fwd, *back; /* the links, under names of the element's own */
} node;

#ifdef AT_DEBUG_LISTS
#define UNLINKED_NEXT ((node *)AT__LIST_POISON_NEXT)
#define UNLINKED_PREV ((node *)AT__LIST_POISON_PREV)
#else
#define UNLINKED_NEXT ((node *)NULL)
#define UNLINKED_PREV ((node *)NULL)
#endif

/* The ids from head to tail, checking every back link on the way. */
static int ids(node *head, int *out)
{
    int n = 0;
    node *prev = NULL;
    for (node *x = head; x; x = x->fwd) {
        CU_ASSERT_PTR_EQUAL_FATAL(x->back, prev);
        out[n++] = x->id;
        prev = x;
    }
    return n;
}

AT_TEST(list_push_head_and_unlink_anywhere)
{
    node a = {1, 0, 0}, b = {2, 0, 0}, c = {3, 0, 0}, d = {4, 0, 0};
    node *head = NULL;
    int got[8];
    AT__LIST_PUSH_HEAD(head, &a, fwd, back);
    AT__LIST_PUSH_HEAD(head, &b, fwd, back);
    AT__LIST_PUSH_HEAD(head, &c, fwd, back);
    AT__LIST_PUSH_HEAD(head, &d, fwd, back);
    AT_ASSERT_EQ_INT(ids(head, got), 4);
    AT_ASSERT_EQ_INT(got[0] * 1000 + got[1] * 100 + got[2] * 10 + got[3], 4321);
    AT__LIST_UNLINK(head, &c, fwd, back); /* middle */
    CU_ASSERT_PTR_EQUAL(c.fwd, UNLINKED_NEXT);
    CU_ASSERT_PTR_EQUAL(c.back, UNLINKED_PREV);
    AT__LIST_UNLINK(head, &d, fwd, back); /* head */
    AT__LIST_UNLINK(head, &a, fwd, back); /* tail */
    AT_ASSERT_EQ_INT(ids(head, got), 1);
    AT_ASSERT_EQ_INT(got[0], 2);
    CU_ASSERT_PTR_EQUAL(head, &b);
    AT__LIST_UNLINK(head, &b, fwd, back);
    CU_ASSERT_PTR_NULL(head);
    CU_ASSERT_PTR_EQUAL(b.fwd, UNLINKED_NEXT);
}

AT_TEST(queue_is_fifo_and_keeps_its_tail)
{
    node n[5];
    node *head = NULL, *tail = NULL;
    int got[8];
    for (int i = 0; i < 5; i++) {
        n[i].id = i + 1;
        AT__QUEUE_PUSH_TAIL(head, tail, &n[i], fwd, back);
    }
    AT_ASSERT_EQ_INT(ids(head, got), 5);
    AT_ASSERT_EQ_INT(got[0] * 10000 + got[1] * 1000 + got[2] * 100 + got[3] * 10 + got[4],
                     12345);
    AT__QUEUE_REMOVE(head, tail, &n[4], fwd, back); /* the tail */
    CU_ASSERT_PTR_EQUAL(tail, &n[3]);
    AT__QUEUE_REMOVE(head, tail, &n[0], fwd, back); /* the head */
    CU_ASSERT_PTR_EQUAL(head, &n[1]);
    AT__QUEUE_REMOVE(head, tail, &n[2], fwd, back); /* the middle */
    AT_ASSERT_EQ_INT(ids(head, got), 2);
    AT_ASSERT_EQ_INT(got[0] * 10 + got[1], 24);
    CU_ASSERT_PTR_EQUAL(n[2].fwd, UNLINKED_NEXT);
    CU_ASSERT_PTR_EQUAL(n[2].back, UNLINKED_PREV);
    AT__QUEUE_PUSH_TAIL(head, tail, &n[2], fwd, back); /* back in, at the end */
    AT_ASSERT_EQ_INT(ids(head, got), 3);
    AT_ASSERT_EQ_INT(got[0] * 100 + got[1] * 10 + got[2], 243);
    CU_ASSERT_PTR_EQUAL(tail, &n[2]);
    AT__QUEUE_REMOVE(head, tail, &n[1], fwd, back);
    AT__QUEUE_REMOVE(head, tail, &n[3], fwd, back);
    AT__QUEUE_REMOVE(head, tail, &n[2], fwd, back);
    CU_ASSERT_PTR_NULL(head);
    CU_ASSERT_PTR_NULL(tail);
}
