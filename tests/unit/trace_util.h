/* trace_util.h - helpers shared by the live-dump tests (test_trace*.c):
 * finding tasks in a dump, rendering a dump to a string, parsing JSON. */
#ifndef AT_TRACE_UTIL_H
#define AT_TRACE_UTIL_H

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "asynctrace.h"
#include "cunit_main.h"

static inline const at_dump_task *dump_task_named(const at_dump *d, const char *name)
{
    for (size_t r = 0; r < d->nruntimes; r++)
        for (size_t i = 0; i < d->runtimes[r].ntasks; i++)
            if (!strncmp(d->runtimes[r].tasks[i].name, name, AT_TASK_NAME_MAX))
                return &d->runtimes[r].tasks[i];
    return NULL;
}

static inline size_t dump_task_count(const at_dump *d)
{
    size_t n = 0;
    for (size_t r = 0; r < d->nruntimes; r++)
        n += d->runtimes[r].ntasks;
    return n;
}

static inline uint32_t task_state_of(at_join_handle h)
{
    return atomic_load(&h.task->state);
}

/* The dump written by `writer` (at_dump_write_json / _text), malloc'd. */
static inline char *dump_render(const at_dump *d, int (*writer)(const at_dump *, FILE *))
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    AT_ASSERT_EQ_INT(writer(d, f), 0);
    fclose(f);
    return buf;
}

/* The dump as parsed JSON (fails the test when it does not parse). */
static inline json_t *dump_json(const at_dump *d)
{
    char *text = dump_render(d, at_dump_write_json);
    json_error_t err;
    json_t *j = json_loads(text, 0, &err);
    if (!j)
        fprintf(stderr, "JSON error line %d: %s\n%s\n", err.line, err.text, text);
    free(text);
    CU_ASSERT_PTR_NOT_NULL_FATAL(j);
    return j;
}

/* The task object with this name in a parsed document, or NULL. */
static inline json_t *json_task_named(json_t *doc, const char *name)
{
    size_t i, k;
    json_t *rt, *t;
    json_array_foreach(json_object_get(doc, "runtimes"), i, rt)
        json_array_foreach(json_object_get(rt, "tasks"), k, t)
            if (!strcmp(json_string_value(json_object_get(t, "name")), name))
                return t;
    return NULL;
}

/* Symbol name ends with `suffix` (file paths from DWARF may be absolute). */
static inline int ends_with(const char *s, const char *suffix)
{
    if (!s)
        return 0;
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && !strcmp(s + a - b, suffix);
}

#endif
