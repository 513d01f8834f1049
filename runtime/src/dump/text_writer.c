/* text_writer.c - at_dump_write_text: a dump as a tree for people.
 *
 *   runtime 1 (current-thread, 1 worker, 4 spawned)
 *     task 2 "locker" idle for 1.20 ms, 2 polls, parent 1, spawned at main_fn (t.c:90)
 *       await:
 *         f1 at t.c:40
 *         └─ f2 at t.c:30
 *            └─ at_mutex_lock at sync.c:51 [mutex 0x5581.. held by task 3, 1 waiter, 1.20 ms]
 *       native:
 *         f1_poll+0x3c (t.c:41)
 *         └─ f2_poll+0x3c (t.c:31)
 *            └─ at__mutex_lock_poll+0x15 (sync.c:77)
 *
 * The await tree is printed in await order.  The native backtraces of a
 * task (one per traced leaf) are merged into one tree from the root side:
 * common prefixes are printed once, and the children of a node are sorted
 * by symbol, then offset, then address, so the same state prints the same
 * way every time.
 *
 * Every string from the process (names, functions, files, notes) is
 * escaped (at__text_str): no control character or invalid UTF-8 reaches
 * the reader's terminal. */
#define _GNU_SOURCE /* qsort_r */
#include <inttypes.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "asynctrace/dump.h"
#include "dump/utf8.h"

#define AT__TEXT_MAX_DEPTH 512

/* Write at most max bytes of s for a terminal: control characters (C0, DEL
 * and C1, so no escape sequence reaches the terminal) as \n, \t or \xNN /
 * \u00NN, bytes that are not well-formed UTF-8 as \xNN, and, when quoted,
 * quotes and backslashes with a backslash.  One string stays on one line
 * and cannot forge another. */
static void at__text_str(FILE *o, const char *s, size_t max, int quoted)
{
    const unsigned char *p = (const unsigned char *)(s ? s : "?");
    const unsigned char *end = p + strnlen((const char *)p, max);
    while (p < end) {
        uint32_t cp;
        int n = at__utf8_next(p, &cp);
        if (n == 0 || p + n > end) {
            fprintf(o, "\\x%02x", *p++);
            continue;
        }
        if (cp == '\n')
            fputs("\\n", o);
        else if (cp == '\t')
            fputs("\\t", o);
        else if (cp < 0x20 || cp == 0x7f)
            fprintf(o, "\\x%02x", (unsigned)cp);
        else if (cp >= 0x80 && cp <= 0x9f)
            fprintf(o, "\\u%04x", (unsigned)cp);
        else if (quoted && (cp == '"' || cp == '\\'))
            fprintf(o, "\\%c", (int)cp);
        else
            fwrite(p, 1, (size_t)n, o);
        p += n;
    }
}

/* An unquoted string from the process (function, file, symbol, note). */
static void at__text_put(FILE *o, const char *s)
{
    at__text_str(o, s, SIZE_MAX, 0);
}

typedef struct at__text {
    FILE *out;
    uint64_t now;
    int live;
    char prefix[AT__TEXT_MAX_DEPTH * 4 + 64]; /* the tree's guide lines */
} at__text;

static void at__text_duration(FILE *o, uint64_t ns)
{
    if (ns < 1000)
        fprintf(o, "%" PRIu64 " ns", ns);
    else if (ns < 1000000)
        fprintf(o, "%.2f us", (double)ns / 1e3);
    else if (ns < 1000000000)
        fprintf(o, "%.2f ms", (double)ns / 1e6);
    else
        fprintf(o, "%.2f s", (double)ns / 1e9);
}

static uint64_t at__text_since(const at__text *x, uint64_t t)
{
    return t && x->now > t ? x->now - t : 0;
}

static void at__text_resource(at__text *x, const at_dump_resource *r)
{
    FILE *o = x->out;
    fprintf(o, " [%s", at_resource_kind_name(r->kind));
    if (r->object)
        fprintf(o, " 0x%" PRIx64, r->object);
    switch (r->kind) {
    case AT_RES_SLEEP:
        fputs(", deadline in ", o);
        if (r->detail[0] > x->now)
            at__text_duration(o, r->detail[0] - x->now);
        else
            fputs("the past", o);
        break;
    case AT_RES_MUTEX:
        if (r->owner_id)
            fprintf(o, " held by task %" PRIu64, r->owner_id);
        else
            fputs(" free", o);
        fprintf(o, ", %u waiter%s", r->waiters, r->waiters == 1 ? "" : "s");
        break;
    case AT_RES_SEMAPHORE:
        fprintf(o, " wants %" PRIu64 " of %" PRIu64 " available, %u waiter%s", r->detail[0],
                r->permits, r->waiters, r->waiters == 1 ? "" : "s");
        break;
    case AT_RES_NOTIFY:
        fprintf(o, ", %u waiter%s", r->waiters, r->waiters == 1 ? "" : "s");
        break;
    case AT_RES_CHAN_SEND:
    case AT_RES_CHAN_RECV:
        if (r->capacity)
            fprintf(o, " %" PRIu64 "/%" PRIu64, r->len, r->capacity);
        else
            fprintf(o, " %" PRIu64 "/unbounded", r->len);
        fprintf(o, ", %" PRIu64 " sender%s", r->senders, r->senders == 1 ? "" : "s");
        if (r->rx_task_id)
            fprintf(o, ", receiver task %" PRIu64, r->rx_task_id);
        if (r->closed)
            fputs(", closed", o);
        break;
    case AT_RES_ONESHOT:
        if (r->rx_task_id)
            fprintf(o, " receiver task %" PRIu64, r->rx_task_id);
        if (r->closed)
            fputs(", sender gone", o);
        break;
    case AT_RES_JOIN:
        fprintf(o, " task %" PRIu64, r->detail[0]);
        break;
    case AT_RES_IO_READ:
    case AT_RES_IO_WRITE:
        fprintf(o, " fd %" PRIu64, r->detail[0]);
        break;
    case AT_RES_BLOCKING:
        fprintf(o, " job %" PRIu64, r->detail[0]);
        break;
    default:
        break;
    }
    if (r->since_ns) {
        fputs(", for ", o);
        at__text_duration(o, at__text_since(x, r->since_ns));
    }
    if (r->error) {
        fputs(", ", o);
        at__text_put(o, r->error);
    }
    fputs("]", o);
}

static void at__text_frame(at__text *x, const at_dump_frame *f, int depth, int last,
                           int siblings)
{
    FILE *o = x->out;
    size_t len = strlen(x->prefix);
    fputs(x->prefix, o);
    if (depth > 0)
        fputs(siblings > 1 && !last ? "├─ " : "└─ ", o);
    at__text_put(o, f->function);
    if (f->kind != AT_KIND_ASYNC && f->kind != AT_KIND_LEAF)
        fprintf(o, " (%s)", at_frame_kind_name(f->kind));
    if (f->file) {
        fputs(" at ", o);
        at__text_put(o, f->file);
        fprintf(o, ":%u", f->line);
    }
    if (f->resource)
        at__text_resource(x, f->resource);
    if (f->error) {
        fputs(" <", o);
        at__text_put(o, f->error);
        putc('>', o);
    }
    putc('\n', o);
    if (depth >= AT__TEXT_MAX_DEPTH) {
        fprintf(o, "%s   ... (deeper frames not shown)\n", x->prefix);
        return;
    }
    if (depth > 0 && len + 8 < sizeof(x->prefix))
        strcpy(x->prefix + len, siblings > 1 && !last ? "│  " : "   ");
    for (size_t i = 0; i < f->nchildren; i++)
        at__text_frame(x, &f->children[i], depth + 1, i + 1 == f->nchildren,
                       (int)f->nchildren);
    x->prefix[len] = 0;
}

/* ---- Native tree ---- */

typedef struct at__bt_ref {
    const at_dump_backtrace *bt;
} at__bt_ref;

/* Frame of bt at `level` counted from the root side (0 = outermost). */
static const at_dump_native *at__bt_at(const at_dump_backtrace *bt, size_t level)
{
    return level < bt->nframes ? &bt->frames[bt->nframes - 1 - level] : NULL;
}

static int at__native_cmp(const at_dump_native *a, const at_dump_native *b)
{
    const char *sa = a->symbol ? a->symbol : "";
    const char *sb = b->symbol ? b->symbol : "";
    int c = strcmp(sa, sb);
    if (c)
        return c;
    if (a->offset != b->offset)
        return a->offset < b->offset ? -1 : 1;
    if (a->return_address != b->return_address)
        return a->return_address < b->return_address ? -1 : 1;
    return 0;
}

static int at__bt_ref_cmp(const void *pa, const void *pb, void *plevel)
{
    const at__bt_ref *a = pa, *b = pb;
    size_t level = *(const size_t *)plevel;
    return at__native_cmp(at__bt_at(a->bt, level), at__bt_at(b->bt, level));
}

static void at__text_native_line(at__text *x, const at_dump_native *n)
{
    FILE *o = x->out;
    if (n->symbol) {
        at__text_put(o, n->symbol);
        fprintf(o, "+0x%" PRIx64, n->offset);
    } else {
        fprintf(o, "0x%" PRIx64, n->return_address);
    }
    if (n->file) {
        fputs(" (", o);
        at__text_put(o, n->file);
        fprintf(o, ":%u)", n->line);
    }
    if (!n->verified)
        fputs(" [unverified]", o);
    putc('\n', o);
}

/* refs[0..n) share their frames up to `level`; print the distinct frames
 * at `level` in sorted order, each followed by its subtree. */
static void at__text_native(at__text *x, at__bt_ref *refs, size_t n, size_t level, int depth)
{
    /* Drop backtraces that end above this level. */
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        if (level < refs[i].bt->nframes)
            refs[m++] = refs[i];
    if (!m)
        return;
    qsort_r(refs, m, sizeof(*refs), at__bt_ref_cmp, &level);
    size_t groups = 0;
    for (size_t i = 0; i < m; i++)
        if (!i || at__native_cmp(at__bt_at(refs[i - 1].bt, level), at__bt_at(refs[i].bt, level)))
            groups++;
    size_t g = 0;
    for (size_t i = 0; i < m;) {
        size_t j = i + 1;
        while (j < m && !at__native_cmp(at__bt_at(refs[i].bt, level), at__bt_at(refs[j].bt, level)))
            j++;
        int last = ++g == groups;
        size_t len = strlen(x->prefix);
        fputs(x->prefix, x->out);
        if (depth > 0)
            fputs(groups > 1 && !last ? "├─ " : "└─ ", x->out);
        at__text_native_line(x, at__bt_at(refs[i].bt, level));
        if (depth > 0 && len + 8 < sizeof(x->prefix))
            strcpy(x->prefix + len, groups > 1 && !last ? "│  " : "   ");
        if (depth < AT__TEXT_MAX_DEPTH)
            at__text_native(x, refs + i, j - i, level + 1, depth + 1);
        x->prefix[len] = 0;
        i = j;
    }
}

/* A task name in quotes (at most AT_TASK_NAME_MAX bytes). */
static void at__text_name(FILE *o, const char *name)
{
    putc('"', o);
    at__text_str(o, name, AT_TASK_NAME_MAX, 1);
    putc('"', o);
}

static void at__text_task(at__text *x, const at_dump_task *t)
{
    FILE *o = x->out;
    fprintf(o, "  task %" PRIu64 " ", t->id);
    at__text_name(o, t->name);
    fprintf(o, " %s", at_task_state_name(t->state));
    if (t->state == AT_TASK_IDLE && t->state_ns) {
        fputs(" for ", o);
        at__text_duration(o, at__text_since(x, t->state_ns));
    }
    fprintf(o, ", %" PRIu64 " poll%s", t->polls, t->polls == 1 ? "" : "s");
    if (t->parent_id)
        fprintf(o, ", parent %" PRIu64, t->parent_id);
    if (t->spawn_function || t->spawn_file) {
        fprintf(o, ", %s at ", t->spawn_kind == AT_KIND_BLOCK_ON ? "block_on" : "spawned");
        at__text_put(o, t->spawn_function);
        fputs(" (", o);
        at__text_put(o, t->spawn_file);
        fprintf(o, ":%u)", t->spawn_line);
    }
    if (t->thread)
        fprintf(o, ", on thread %d", t->thread);
    if (t->error) {
        fputs(" <", o);
        at__text_put(o, t->error);
        putc('>', o);
    }
    putc('\n', o);
    if (t->await) {
        fputs("    await:\n", o);
        strcpy(x->prefix, "      ");
        at__text_frame(x, t->await, 0, 1, 1);
    }
    if (!x->live)
        return;
    if (!t->traced) {
        fputs("    native: none (", o);
        at__text_put(o, t->trace_note ? t->trace_note : "not polled");
        fputs(")\n", o);
        return;
    }
    size_t nframes = 0;
    for (size_t b = 0; b < t->nbacktraces; b++)
        nframes += t->backtraces[b].nframes;
    if (!nframes) {
        fputs("    native: none (no leaf was reached)\n", o);
        return;
    }
    fputs("    native:\n", o);
    at__bt_ref stack_refs[16];
    at__bt_ref *refs = t->nbacktraces <= 16 ? stack_refs : malloc(t->nbacktraces * sizeof(*refs));
    if (!refs) {
        fputs("      (out of memory)\n", o);
        return;
    }
    for (size_t b = 0; b < t->nbacktraces; b++)
        refs[b].bt = &t->backtraces[b];
    strcpy(x->prefix, "      ");
    at__text_native(x, refs, t->nbacktraces, 0, 0);
    if (refs != stack_refs)
        free(refs);
    if (t->trace_note) {
        fputs("    note: ", o);
        at__text_put(o, t->trace_note);
        putc('\n', o);
    }
}

int at_dump_write_text(const at_dump *d, FILE *out)
{
    at__text x = {.out = out, .now = d->now_ns};
    x.live = d->source && strcmp(d->source, "live") == 0;
    size_t ntasks = 0;
    for (size_t r = 0; r < d->nruntimes; r++)
        ntasks += d->runtimes[r].ntasks;
    fprintf(out, "asynctrace dump (%s): %zu task%s in %zu runtime%s\n",
            d->source ? d->source : "?", ntasks, ntasks == 1 ? "" : "s", d->nruntimes,
            d->nruntimes == 1 ? "" : "s");
    for (size_t r = 0; r < d->nruntimes; r++) {
        const at_dump_runtime *rt = &d->runtimes[r];
        fprintf(out, "runtime %" PRIu64 " (%s, %u worker%s, %" PRIu64 " spawned)", rt->id,
                at_flavor_name(rt->flavor), rt->workers, rt->workers == 1 ? "" : "s",
                rt->spawned_total);
        if (rt->error) {
            fputs(" <", out);
            at__text_put(out, rt->error);
            putc('>', out);
        }
        putc('\n', out);
        for (size_t i = 0; i < rt->ntasks; i++)
            at__text_task(&x, &rt->tasks[i]);
    }
    if (d->nthreads)
        fputs("threads:\n", out);
    for (size_t i = 0; i < d->nthreads; i++) {
        const at_dump_thread *t = &d->threads[i];
        fprintf(out, "  thread %d (%s", t->tid, at_thread_role_name(t->role));
        if (t->worker >= 0)
            fprintf(out, " %d", t->worker);
        fputs(")", out);
        if (t->runtime_id)
            fprintf(out, ", runtime %" PRIu64, t->runtime_id);
        if (t->current_task_id) {
            fprintf(out, ", polling task %" PRIu64 " for ", t->current_task_id);
            at__text_duration(out, at__text_since(&x, t->poll_start_ns));
        } else {
            fputs(", idle", out);
        }
        if (t->nroots) {
            fputs(", roots:", out);
            for (size_t k = 0; k < t->nroots; k++)
                fprintf(out, " %" PRIu64, t->roots[k].task_id);
        }
        putc('\n', out);
    }
    if (d->nerrors)
        fputs("notes:\n", out);
    for (size_t i = 0; i < d->nerrors; i++) {
        fputs("  - ", out);
        at__text_put(out, d->errors[i]);
        putc('\n', out);
    }
    if (fflush(out) != 0 || ferror(out))
        return -1;
    return 0;
}
