/* json_writer.c - at_dump_write_json: a dump as one JSON document in the
 * trace format of docs/trace-format.md (version AT_TRACE_FORMAT_VERSION).
 *
 * Every producer's dump goes through here, so live dumps and snapshots are
 * directly comparable.  The fields "trace" and "native" of a task are
 * written only for live dumps (source "live").  Output is indented, two
 * spaces a level; a frame's resource and each native frame sit on one line.
 * Written with stdio (no JSON library), streaming: memory use does not grow
 * with the dump. */
#include <inttypes.h>
#include <stdarg.h>
#include <string.h>

#include "asynctrace/dump.h"
#include "dump/utf8.h"

typedef struct at__json {
    FILE *out;
    int live;
} at__json;

static void at__json_indent(at__json *j, int depth)
{
    for (int i = 0; i < depth; i++)
        fputs("  ", j->out);
}

/* A JSON string: quotes, backslashes and control characters escaped, and
 * every byte that is not part of well-formed UTF-8 replaced by U+FFFD, so
 * the document is valid UTF-8 whatever a name holds. */
static void at__json_string(at__json *j, const char *s)
{
    if (!s) {
        fputs("null", j->out);
        return;
    }
    FILE *o = j->out;
    putc('"', o);
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        uint32_t cp;
        int n = at__utf8_next(p, &cp);
        if (n == 0) {
            fputs("\\ufffd", o);
            p++;
            continue;
        }
        switch (cp) {
        case '"': fputs("\\\"", o); break;
        case '\\': fputs("\\\\", o); break;
        case '\n': fputs("\\n", o); break;
        case '\r': fputs("\\r", o); break;
        case '\t': fputs("\\t", o); break;
        default:
            if (cp < 0x20 || (cp >= 0x7f && cp <= 0x9f))
                fprintf(o, "\\u%04x", (unsigned)cp);
            else
                fwrite(p, 1, (size_t)n, o);
        }
        p += n;
    }
    putc('"', o);
}

/* A bounded char array (task names) as a JSON string. */
static void at__json_name(at__json *j, const char *s, size_t max)
{
    char buf[AT_TASK_NAME_MAX + 1];
    size_t n = strnlen(s, max < sizeof(buf) - 1 ? max : sizeof(buf) - 1);
    memcpy(buf, s, n);
    buf[n] = 0;
    at__json_string(j, buf);
}

static void at__json_addr(at__json *j, uint64_t a)
{
    fprintf(j->out, "\"0x%" PRIx64 "\"", a);
}

static void at__json_addr_or_null(at__json *j, uint64_t a)
{
    if (a)
        at__json_addr(j, a);
    else
        fputs("null", j->out);
}

static void at__json_id_or_null(at__json *j, uint64_t v)
{
    if (v)
        fprintf(j->out, "%" PRIu64, v);
    else
        fputs("null", j->out);
}

/* A holder table: [[task, count], ...], or with `ids_only` [task, ...]. */
static void at__json_holders(at__json *j, const at_dump_resource *r, int ids_only)
{
    fputc('[', j->out);
    for (size_t i = 0; i < r->nholders; i++) {
        if (ids_only)
            fprintf(j->out, "%s%" PRIu64, i ? ", " : "", r->holders[i].task_id);
        else
            fprintf(j->out, "%s[%" PRIu64 ", %" PRIu64 "]", i ? ", " : "",
                    r->holders[i].task_id, r->holders[i].count);
    }
    fputc(']', j->out);
}

static void at__json_resource(at__json *j, const at_dump_resource *r)
{
    FILE *o = j->out;
    fputs("{\"kind\": ", o);
    at__json_string(j, at_resource_kind_name(r->kind));
    fputs(", \"object\": ", o);
    at__json_addr_or_null(j, r->object);
    fprintf(o, ", \"since_ns\": %" PRIu64, r->since_ns);
    switch (r->kind) {
    case AT_RES_SLEEP:
        fprintf(o, ", \"deadline_ns\": %" PRIu64, r->detail[0]);
        break;
    case AT_RES_MUTEX:
        fprintf(o, ", \"owner\": %" PRIu64 ", \"waiters\": %u", r->owner_id, r->waiters);
        fputs(", \"lock_function\": ", o);
        at__json_string(j, r->lock_function);
        fputs(", \"lock_file\": ", o);
        at__json_string(j, r->lock_file);
        fprintf(o, ", \"lock_line\": %u", r->lock_line);
        break;
    case AT_RES_SEMAPHORE:
        fprintf(o, ", \"wanted\": %" PRIu64 ", \"permits\": %" PRIu64 ", \"waiters\": %u"
                   ", \"capacity\": %" PRIu64 ", \"holders\": ",
                r->detail[0], r->permits, r->waiters, r->sem_capacity);
        at__json_holders(j, r, 0);
        fprintf(o, ", \"holders_truncated\": %s", r->holders_truncated ? "true" : "false");
        break;
    case AT_RES_NOTIFY:
        fprintf(o, ", \"waiters\": %u, \"last_notifier\": %" PRIu64 ", \"notified\": %" PRIu64,
                r->waiters, r->last_notifier, r->notified);
        break;
    case AT_RES_CHAN_SEND:
    case AT_RES_CHAN_RECV:
        fputs(", \"capacity\": ", o);
        if (r->capacity)
            fprintf(o, "%" PRIu64, r->capacity);
        else
            fputs("null", o);
        fprintf(o, ", \"len\": %" PRIu64 ", \"senders\": %" PRIu64
                   ", \"receiver_task\": %" PRIu64 ", \"closed\": %s",
                r->len, r->senders, r->rx_task_id, r->closed ? "true" : "false");
        fputs(", \"sender_tasks\": ", o);
        at__json_holders(j, r, 1);
        fprintf(o, ", \"sender_tasks_truncated\": %s", r->holders_truncated ? "true" : "false");
        break;
    case AT_RES_ONESHOT:
        fprintf(o, ", \"receiver_task\": %" PRIu64 ", \"closed\": %s"
                   ", \"sender_task\": %" PRIu64 ", \"sender_dropped\": %s",
                r->rx_task_id, r->closed ? "true" : "false", r->tx_task_id,
                r->sender_dropped ? "true" : "false");
        break;
    case AT_RES_JOIN:
        fprintf(o, ", \"task\": %" PRIu64, r->detail[0]);
        break;
    case AT_RES_IO_READ:
    case AT_RES_IO_WRITE:
        fprintf(o, ", \"fd\": %" PRIu64, r->detail[0]);
        break;
    case AT_RES_BLOCKING:
        fprintf(o, ", \"job\": %" PRIu64 ", \"thread\": %d", r->detail[0], r->thread);
        break;
    default:
        break;
    }
    if (r->error) {
        fputs(", \"error\": ", o);
        at__json_string(j, r->error);
    }
    putc('}', o);
}

static void at__json_frame(at__json *j, const at_dump_frame *f, int depth)
{
    FILE *o = j->out;
    fputs("{\n", o);
    at__json_indent(j, depth + 1);
    fputs("\"function\": ", o);
    at__json_string(j, f->function);
    fputs(", \"file\": ", o);
    at__json_string(j, f->file);
    fprintf(o, ", \"line\": %u, \"kind\": ", f->line);
    at__json_string(j, at_frame_kind_name(f->kind));
    fputs(", \"address\": ", o);
    at__json_addr(j, f->address);
    fputs(",\n", o);
    at__json_indent(j, depth + 1);
    fputs("\"resource\": ", o);
    if (f->resource)
        at__json_resource(j, f->resource);
    else
        fputs("null", o);
    if (f->error) {
        fputs(", \"error\": ", o);
        at__json_string(j, f->error);
    }
    fputs(",\n", o);
    at__json_indent(j, depth + 1);
    fputs("\"children\": [", o);
    for (size_t i = 0; i < f->nchildren; i++) {
        fputs(i ? ", " : "", o);
        at__json_frame(j, &f->children[i], depth + 1);
    }
    fputs("]\n", o);
    at__json_indent(j, depth);
    putc('}', o);
}

static void at__json_native(at__json *j, const at_dump_native *n)
{
    FILE *o = j->out;
    fputs("{\"return_address\": ", o);
    at__json_addr(j, n->return_address);
    fputs(", \"call_site\": ", o);
    at__json_addr_or_null(j, n->call_site);
    fputs(", \"call_target\": ", o);
    at__json_addr_or_null(j, n->call_target);
    fputs(", \"symbol\": ", o);
    at__json_string(j, n->symbol);
    fprintf(o, ", \"offset\": %" PRIu64 ", \"file\": ", n->offset);
    at__json_string(j, n->file);
    fprintf(o, ", \"line\": %u, \"verified\": %s}", n->line, n->verified ? "true" : "false");
}

/* Bit i's name is entry i (checked in trace/abi.c). */
#define AT__FLAG_NAME(flag, name) name,
static const char *const at__task_flag_names[] = {AT_TASK_FLAG_NAMES(AT__FLAG_NAME)};
#undef AT__FLAG_NAME

/* A live dump's trace status and native backtraces of one task. */
static void at__json_live_trace(at__json *j, const at_dump_task *t, int in)
{
    FILE *o = j->out;
    at__json_indent(j, in);
    fputs("\"trace\": ", o);
    at__json_string(j, t->traced ? "traced" : (t->trace_note ? t->trace_note : "not-polled"));
    fputs(",\n", o);
    at__json_indent(j, in);
    fputs("\"native\": [", o);
    for (size_t b = 0; b < t->nbacktraces; b++) {
        const at_dump_backtrace *bt = &t->backtraces[b];
        fputs(b ? ",\n" : "\n", o);
        at__json_indent(j, in + 1);
        fputs("[", o);
        for (size_t i = 0; i < bt->nframes; i++) {
            fputs(i ? ",\n" : "\n", o);
            at__json_indent(j, in + 2);
            at__json_native(j, &bt->frames[i]);
        }
        if (bt->nframes) {
            putc('\n', o);
            at__json_indent(j, in + 1);
        }
        putc(']', o);
    }
    if (t->nbacktraces) {
        putc('\n', o);
        at__json_indent(j, in);
    }
    fputs("],\n", o);
}

static void at__json_task(at__json *j, const at_dump_task *t, int depth)
{
    FILE *o = j->out;
    int in = depth + 1;
    fputs("{\n", o);
    at__json_indent(j, in);
    fprintf(o, "\"id\": %" PRIu64 ", \"address\": ", t->id);
    at__json_addr(j, t->address);
    fputs(", \"name\": ", o);
    at__json_name(j, t->name, sizeof(t->name));
    fputs(", \"state\": ", o);
    at__json_string(j, at_task_state_name(t->state));
    fputs(",\n", o);
    at__json_indent(j, in);
    fputs("\"flags\": [", o);
    int first = 1;
    for (unsigned b = 0; b < sizeof(at__task_flag_names) / sizeof(*at__task_flag_names); b++)
        if (t->flags & (1u << b)) {
            fputs(first ? "" : ", ", o);
            at__json_string(j, at__task_flag_names[b]);
            first = 0;
        }
    fprintf(o, "], \"parent\": %" PRIu64 ",\n", t->parent_id);
    at__json_indent(j, in);
    fputs("\"spawn\": {\"kind\": ", o);
    at__json_string(j, at_frame_kind_name(t->spawn_kind));
    fputs(", \"function\": ", o);
    at__json_string(j, t->spawn_function);
    fputs(", \"file\": ", o);
    at__json_string(j, t->spawn_file);
    fprintf(o, ", \"line\": %u},\n", t->spawn_line);
    at__json_indent(j, in);
    fprintf(o, "\"polls\": %" PRIu64 ", \"created_ns\": %" PRIu64 ", \"state_ns\": %" PRIu64
               ", \"last_poll_start_ns\": %" PRIu64 ", \"last_poll_end_ns\": %" PRIu64
               ",\n",
            t->polls, t->created_ns, t->state_ns, t->poll_start_ns, t->poll_end_ns);
    at__json_indent(j, in);
    fprintf(o, "\"worker\": %d, \"thread\": ", t->worker);
    at__json_id_or_null(j, (uint64_t)(uint32_t)t->thread);
    if (t->error) {
        fputs(", \"error\": ", o);
        at__json_string(j, t->error);
    }
    fputs(",\n", o);
    if (j->live)
        at__json_live_trace(j, t, in);
    at__json_indent(j, in);
    fputs("\"await\": ", o);
    if (t->await)
        at__json_frame(j, t->await, in);
    else
        fputs("null", o);
    putc('\n', o);
    at__json_indent(j, depth);
    putc('}', o);
}

static void at__json_runtime(at__json *j, const at_dump_runtime *r, int depth)
{
    FILE *o = j->out;
    fputs("{\n", o);
    at__json_indent(j, depth + 1);
    fprintf(o, "\"id\": %" PRIu64 ", \"address\": ", r->id);
    at__json_addr(j, r->address);
    fputs(", \"flavor\": ", o);
    at__json_string(j, at_flavor_name(r->flavor));
    fprintf(o, ", \"workers\": %u, \"now_ns\": %" PRIu64 ", \"spawned_total\": %" PRIu64,
            r->workers, r->now_ns, r->spawned_total);
    if (r->error) {
        fputs(", \"error\": ", o);
        at__json_string(j, r->error);
    }
    fputs(",\n", o);
    at__json_indent(j, depth + 1);
    fputs("\"tasks\": [", o);
    for (size_t i = 0; i < r->ntasks; i++) {
        fputs(i ? ", " : "", o);
        at__json_task(j, &r->tasks[i], depth + 1);
    }
    fputs("]\n", o);
    at__json_indent(j, depth);
    putc('}', o);
}

static void at__json_thread(at__json *j, const at_dump_thread *t)
{
    FILE *o = j->out;
    fprintf(o, "{\"tid\": %d, \"role\": ", t->tid);
    at__json_string(j, at_thread_role_name(t->role));
    fprintf(o, ", \"worker\": %d, \"runtime\": ", t->worker);
    at__json_id_or_null(j, t->runtime_id);
    fputs(", \"task\": ", o);
    at__json_id_or_null(j, t->current_task_id);
    fprintf(o, ", \"poll_start_ns\": %" PRIu64 ", \"roots\": [", t->poll_start_ns);
    for (size_t i = 0; i < t->nroots; i++)
        fprintf(o, "%s%" PRIu64, i ? ", " : "", t->roots[i].task_id);
    fputs("]}", o);
}

int at_dump_write_json(const at_dump *d, FILE *out)
{
    at__json j = {out, d->source && strcmp(d->source, "live") == 0};
    fputs("{\n  \"format\": \"asynctrace-trace\", ", out);
    fprintf(out, "\"version\": %d, \"source\": ", d->version ? d->version : AT_TRACE_FORMAT_VERSION);
    at__json_string(&j, d->source);
    fprintf(out, ",\n  \"clock\": {\"now_ns\": %" PRIu64 ", \"kind\": ", d->now_ns);
    at__json_string(&j, d->clock ? d->clock : "live");
    /* Producers that set no now_source: a "recorded" clock is only the
     * runtime's last reading (a lower bound), "live" is exact. */
    int recorded = d->clock && !strcmp(d->clock, "recorded");
    fputs(", \"source\": ", out);
    at__json_string(&j, d->now_source ? d->now_source : recorded ? "runtime-clock" : "live");
    fprintf(out, ", \"exact\": %s, \"pair\": ",
            (d->now_source ? d->now_exact : !recorded) ? "true" : "false");
    if (d->clock_mono_ns)
        fprintf(out, "{\"mono_ns\": %" PRIu64 ", \"real_ns\": %" PRIu64 "}", d->clock_mono_ns,
                d->clock_real_ns);
    else
        fputs("null", out);
    fprintf(out, "}, \"generation\": %" PRIu64 ",\n  \"runtimes\": [", d->generation);
    for (size_t i = 0; i < d->nruntimes; i++) {
        fputs(i ? ", " : "", out);
        at__json_runtime(&j, &d->runtimes[i], 1);
    }
    fputs("],\n  \"threads\": [", out);
    for (size_t i = 0; i < d->nthreads; i++) {
        fputs(i ? ",\n    " : "\n    ", out);
        at__json_thread(&j, &d->threads[i]);
    }
    fputs(d->nthreads ? "\n  ],\n  \"errors\": [" : "],\n  \"errors\": [", out);
    for (size_t i = 0; i < d->nerrors; i++) {
        fputs(i ? ",\n    " : "\n    ", out);
        at__json_string(&j, d->errors[i]);
    }
    fputs(d->nerrors ? "\n  ]\n}\n" : "]\n}\n", out);
    if (fflush(out) != 0 || ferror(out))
        return -1;
    return 0;
}
