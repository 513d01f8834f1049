/* observe.c - turn an offline dump into the address-free lines of an expect
 * file (docs/harness.md describes the syntax):
 *
 *   mode live
 *   runtime 1 current-thread workers 1
 *   task 3 "worker" idle parent 1 spawn main_task:88: at_mutex_lock mutex(owner=4,waiters=1) <- transfer:41
 *   tasks 5..2004 "sleeper" idle parent 1 spawn main_task:60: at_sleep sleep <- nap:20
 *   thread block-on task 7 roots 7 <- 2
 *   culprit: task 7 "reader": read <- reader_poll
 *   cycle: 2 -> 3 -> 2 via mutex, mutex
 *   stuck: task 9 "rx": channel <addr> has no sender left
 *
 * Await trees are written innermost first; a combinator lists its children
 * in braces: at_join_all{at_sleep sleep <- a:12 | at_mutex_lock mutex(owner=2)}. */
#define _GNU_SOURCE
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

static void add_quoted(hstr *b, const char *s)
{
    hstr_add(b, "\"");
    for (; s && *s; s++) {
        if (*s == '"' || *s == '\\')
            hstr_add(b, "\\");
        if ((unsigned char)*s < 0x20)
            hstr_add(b, "?");
        else
            hstr_addn(b, s, 1);
    }
    hstr_add(b, "\"");
}

static void add_resource(json_t *r, hstr *b)
{
    const char *kind = j_str(r, "kind");
    hstr_add(b, kind ? kind : "unknown");
    hstr args = {0};
#define ARG(key, label)                                                        \
    do {                                                                       \
        json_t *v_ = json_object_get(r, key);                                  \
        if (json_is_integer(v_))                                               \
            hstr_printf(&args, "%s%s=%lld", args.len ? "," : "", label,        \
                        (long long)json_integer_value(v_));                    \
    } while (0)
    if (!kind) {
    } else if (!strcmp(kind, "mutex")) {
        ARG("owner", "owner");
        ARG("waiters", "waiters");
    } else if (!strcmp(kind, "semaphore")) {
        ARG("wanted", "wanted");
        ARG("permits", "permits");
        ARG("waiters", "waiters");
    } else if (!strcmp(kind, "notify")) {
        ARG("waiters", "waiters");
    } else if (!strcmp(kind, "channel-send") || !strcmp(kind, "channel-recv")) {
        json_t *cap = json_object_get(r, "capacity");
        if (json_is_null(cap))
            hstr_add(&args, "cap=unbounded");
        else
            ARG("capacity", "cap");
        ARG("len", "len");
        ARG("senders", "senders");
        if (!strcmp(kind, "channel-send")) /* a receiver is itself */
            ARG("receiver_task", "rx");
        if (json_is_true(json_object_get(r, "closed")))
            hstr_printf(&args, "%sclosed", args.len ? "," : "");
    } else if (!strcmp(kind, "oneshot")) {
        if (json_is_true(json_object_get(r, "closed")))
            hstr_printf(&args, "%sclosed", args.len ? "," : "");
    } else if (!strcmp(kind, "join")) {
        ARG("task", "task");
    } else if (!strcmp(kind, "blocking")) {
        ARG("job", "job");
    }
#undef ARG
    if (json_object_get(r, "error"))
        hstr_printf(&args, "%serror", args.len ? "," : "");
    if (args.len)
        hstr_printf(b, "(%s)", args.s);
    hstr_free(&args);
}

static int is_combinator(const char *kind)
{
    return kind && (!strcmp(kind, "join-all") || !strcmp(kind, "select") ||
                    !strcmp(kind, "timeout"));
}

static void render(json_t *f, hstr *b, int depth)
{
    if (!json_is_object(f) || depth > 256) {
        hstr_add(b, "?");
        return;
    }
    const char *fn = j_str(f, "function");
    const char *kind = j_str(f, "kind");
    json_t *kids = j_arr(f, "children");
    size_t nk = kids ? json_array_size(kids) : 0;
    hstr self = {0};
    hstr_add(&self, fn && *fn ? fn : "?");
    if (kind && !strcmp(kind, "async"))
        hstr_printf(&self, ":%lld", j_int(f, "line", 0));
    json_t *res = json_object_get(f, "resource");
    if (json_is_object(res)) {
        hstr_add(&self, " ");
        add_resource(res, &self);
    } else if (json_object_get(f, "error")) {
        hstr_add(&self, " error");
    }
    if (is_combinator(kind) || nk > 1) {
        hstr_add(b, self.s);
        hstr_add(b, "{");
        for (size_t i = 0; i < nk; i++) {
            if (i)
                hstr_add(b, " | ");
            render(json_array_get(kids, i), b, depth + 1);
        }
        hstr_add(b, "}");
    } else if (nk == 1) {
        render(json_array_get(kids, 0), b, depth + 1);
        hstr_add(b, " <- ");
        hstr_add(b, self.s);
    } else {
        hstr_add(b, self.s);
    }
    hstr_free(&self);
}

void observe_await(json_t *frame, hstr *out)
{
    if (!json_is_object(frame))
        hstr_add(out, "none");
    else
        render(frame, out, 0);
}

/* The part of a task line after its id. */
static char *task_rest(json_t *t)
{
    hstr b = {0};
    add_quoted(&b, j_str(t, "name"));
    const char *state = j_str(t, "state");
    hstr_printf(&b, " %s parent %lld", state ? state : "?", j_int(t, "parent", 0));
    json_t *sp = json_object_get(t, "spawn");
    if (json_is_object(sp)) {
        const char *k = j_str(sp, "kind"), *fn = j_str(sp, "function");
        hstr_printf(&b, " %s %s:%lld", k ? k : "spawn", fn ? fn : "?", j_int(sp, "line", 0));
    } else {
        hstr_add(&b, " spawn ?:0");
    }
    if (json_object_get(t, "error"))
        hstr_add(&b, " error");
    hstr_add(&b, ": ");
    observe_await(json_object_get(t, "await"), &b);
    return b.s;
}

/* Library-internal spellings of a libc function: __GI___libc_read -> read. */
static const char *plain_symbol(const char *s, char *buf, size_t len)
{
    if (!s)
        return "??";
    if (!strncmp(s, "__GI_", 5))
        s += 5;
    while (*s == '_')
        s++;
    if (!strncmp(s, "libc_", 5))
        s += 5;
    snprintf(buf, len, "%s", s);
    char *at = strchr(buf, '@'); /* read@plt, foo@@GLIBC_2.2.5 */
    if (at && at != buf)
        *at = 0;
    return buf;
}

/* GDB's native frames of the thread polling task t (innermost first), from
 * the harness's own frames document. */
static json_t *running_frames(json_t *doc, json_t *frames_doc, json_t *t)
{
    long long id = j_int(t, "id", -1);
    size_t i, k;
    json_t *th, *ft;
    json_array_foreach(j_arr(doc, "threads"), i, th) {
        if (j_int(th, "task", -2) != id)
            continue;
        long long tid = j_int(th, "tid", -1);
        json_array_foreach(j_arr(frames_doc, "threads"), k, ft) {
            if (j_int(ft, "tid", -2) == tid)
                return j_arr(ft, "frames");
        }
    }
    return NULL;
}

static void observe_culprit(json_t *doc, json_t *frames_doc, json_t *t, hlist *out)
{
    json_t *frames = running_frames(doc, frames_doc, t);
    if (!frames)
        return;
    hstr b = {0};
    hstr_printf(&b, "culprit: task %lld ", j_int(t, "id", 0));
    add_quoted(&b, j_str(t, "name"));
    hstr_add(&b, ":");
    size_t i;
    json_t *f;
    int n = 0;
    json_array_foreach(frames, i, f) {
        const char *sym = j_str(f, "function");
        if (sym && !strcmp(sym, "at_root_poll"))
            break;
        char buf[128];
        hstr_printf(&b, "%s%s", n++ ? " <- " : " ", plain_symbol(sym, buf, sizeof buf));
    }
    if (!n)
        hstr_add(&b, " (no frames)");
    hlist_add(out, b.s);
    hstr_free(&b);
}

static void scrub_addresses(const char *s, hstr *b)
{
    while (*s) {
        if (s[0] == '0' && s[1] == 'x' && isxdigit((unsigned char)s[2])) {
            s += 2;
            while (isxdigit((unsigned char)*s))
                s++;
            hstr_add(b, "<addr>");
        } else {
            hstr_addn(b, s, 1);
            s++;
        }
    }
}

static void observe_deadlocks(json_t *dl, hlist *out)
{
    size_t i, k;
    json_t *cyc, *e;
    json_array_foreach(j_arr(dl, "cycles"), i, cyc) {
        hstr b = {0}, via = {0};
        hstr_add(&b, "cycle:");
        json_array_foreach(cyc, k, e) {
            hstr_printf(&b, " %lld ->", j_int(e, "task", 0));
            const char *vk = j_str(json_object_get(e, "via"), "kind");
            hstr_printf(&via, "%s%s", k ? ", " : "", vk ? vk : "?");
        }
        if (json_array_size(cyc))
            hstr_printf(&b, " %lld", j_int(json_array_get(cyc, 0), "task", 0));
        if (via.len)
            hstr_printf(&b, " via %s", via.s);
        hlist_add(out, b.s);
        hstr_free(&b);
        hstr_free(&via);
    }
    json_array_foreach(j_arr(dl, "stuck"), i, e) {
        hstr b = {0};
        hstr_printf(&b, "stuck: task %lld ", j_int(e, "task", 0));
        add_quoted(&b, j_str(e, "name"));
        hstr_add(&b, ": ");
        const char *reason = j_str(e, "reason");
        scrub_addresses(reason ? reason : "?", &b);
        hlist_add(out, b.s);
        hstr_free(&b);
    }
}

/* Thread lines sort by role, then by the task polled: which worker thread
 * a task lands on (and so the thread list's order) is up to the scheduler. */
typedef struct {
    const char *role;
    long long task;
    char *line;
} thread_line;

static int thread_line_cmp(const void *a, const void *b)
{
    const thread_line *x = a, *y = b;
    int c = strcmp(x->role, y->role);
    if (c)
        return c;
    return (x->task > y->task) - (x->task < y->task);
}

static void observe_threads(json_t *doc, hlist *out)
{
    size_t i, k, n = 0;
    json_t *th, *r;
    json_t *threads = j_arr(doc, "threads");
    thread_line *lines = calloc(json_array_size(threads) + 1, sizeof *lines);
    if (!lines)
        return;
    json_array_foreach(threads, i, th) {
        json_t *roots = j_arr(th, "roots");
        if (!roots || !json_array_size(roots))
            continue;
        const char *role = j_str(th, "role");
        hstr b = {0};
        hstr_printf(&b, "thread %s task %lld roots", role ? role : "?", j_int(th, "task", 0));
        json_array_foreach(roots, k, r) {
            hstr_printf(&b, "%s%lld", k ? " <- " : " ",
                        json_is_integer(r) ? (long long)json_integer_value(r) : 0);
        }
        lines[n++] = (thread_line){role ? role : "?", j_int(th, "task", 0), b.s};
    }
    qsort(lines, n, sizeof *lines, thread_line_cmp);
    for (i = 0; i < n; i++) {
        hlist_add(out, lines[i].line);
        free(lines[i].line);
    }
    free(lines);
}

void observe(json_t *doc, json_t *deadlocks, json_t *frames, int live, hlist *out)
{
    hlist_printf(out, "mode %s", live ? "live" : "offline");
    size_t i, k;
    json_t *rt, *t;
    json_array_foreach(j_arr(doc, "runtimes"), i, rt) {
        const char *flavor = j_str(rt, "flavor");
        hlist_printf(out, "runtime %lld %s workers %lld", j_int(rt, "id", 0),
                     flavor ? flavor : "?", j_int(rt, "workers", 0));
        /* Consecutive ids with identical lines collapse into a range. */
        char *prev = NULL;
        long long first = 0, last = 0;
        json_t *tasks = j_arr(rt, "tasks");
        size_t nt = tasks ? json_array_size(tasks) : 0;
        for (k = 0; k <= nt; k++) {
            t = k < nt ? json_array_get(tasks, k) : NULL;
            char *rest = t ? task_rest(t) : NULL;
            long long id = t ? j_int(t, "id", 0) : 0;
            if (prev && rest && id == last + 1 && !strcmp(prev, rest)) {
                last = id;
                free(rest);
                continue;
            }
            if (prev) {
                if (first == last)
                    hlist_printf(out, "task %lld %s", first, prev);
                else
                    hlist_printf(out, "tasks %lld..%lld %s", first, last, prev);
                free(prev);
            }
            prev = rest;
            first = last = id;
        }
    }
    observe_threads(doc, out);
    json_array_foreach(j_arr(doc, "runtimes"), i, rt) {
        json_array_foreach(j_arr(rt, "tasks"), k, t) {
            const char *st = j_str(t, "state");
            if (st && !strcmp(st, "running"))
                observe_culprit(doc, frames, t, out);
        }
    }
    if (deadlocks)
        observe_deadlocks(deadlocks, out);
}
