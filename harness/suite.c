/* suite.c - suite files: the scenarios of a project and their settings in
 * one place, so CI runs `asynctrace-harness --suite FILE` (docs/harness.md,
 * "Suite files").  One setting per line; relative paths are taken from the
 * file's own directory; `#` starts a comment. */
#define _GNU_SOURCE
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

/* dir/value unless value is absolute. */
static char *suite_path(const char *dir, const char *value)
{
    return value[0] == '/' ? h_strdup(value) : h_asprintf("%s/%s", dir, value);
}

static int positive(const char *v, double *out)
{
    char *end;
    double d = strtod(v, &end);
    if (*end || d <= 0)
        return 0;
    *out = d;
    return 1;
}

static int count(const char *v, unsigned long long *out)
{
    char *end;
    if (!*v || *v == '-')
        return 0;
    unsigned long long n = strtoull(v, &end, 10);
    if (*end)
        return 0;
    *out = n;
    return 1;
}

/* One `key value` line; NULL or the reason it is wrong. */
static const char *suite_set(hsuite *s, const char *dir, const char *key, const char *v)
{
    unsigned long long n;
    if (!*v)
        return "missing value";
    if (!strcmp(key, "name")) {
        free(s->name);
        s->name = h_strdup(v);
    } else if (!strcmp(key, "bin-dir")) {
        free(s->bin_dir);
        s->bin_dir = suite_path(dir, v);
    } else if (!strcmp(key, "expect-dir")) {
        free(s->expect_dir);
        s->expect_dir = suite_path(dir, v);
    } else if (!strcmp(key, "gdb-script")) {
        free(s->gdb_script);
        s->gdb_script = suite_path(dir, v);
    } else if (!strcmp(key, "timeout")) {
        return positive(v, &s->timeout) ? NULL : "timeout takes a positive number of seconds";
    } else if (!strcmp(key, "gdb-timeout")) {
        return positive(v, &s->gdb_timeout) ? NULL : "gdb-timeout takes a positive number of seconds";
    } else if (!strcmp(key, "seeds")) {
        if (!count(v, &n) || !n)
            return "seeds takes a positive count";
        s->nseeds = (unsigned long)n;
    } else if (!strcmp(key, "seed")) {
        if (!count(v, &s->seed))
            return "seed takes a number";
        s->has_seed = 1;
    } else if (!strcmp(key, "scenario")) {
        if (strchr(v, '/') || strchr(v, ' '))
            return "a scenario is a name (a file of bin-dir), not a path";
        hlist_add(&s->scenarios, v);
    } else {
        return "unknown setting (expected name, bin-dir, expect-dir, gdb-script, timeout, "
               "gdb-timeout, seeds, seed or scenario)";
    }
    return NULL;
}

int suite_load(const char *path, hsuite *s, char *err, size_t errlen)
{
    memset(s, 0, sizeof *s);
    char *text = h_read_file(path, NULL);
    if (!text) {
        snprintf(err, errlen, "%s: cannot read: %m", path);
        return -1;
    }
    char *pcopy = h_strdup(path), *bcopy = h_strdup(path);
    char *dir = dirname(pcopy), *base = basename(bcopy);
    char *dot = strrchr(base, '.');
    if (dot && dot != base)
        *dot = 0;
    s->name = h_strdup(base);
    int lineno = 0, rc = 0;
    for (char *p = text, *nl; p && *p; p = nl ? nl + 1 : NULL) {
        nl = strchr(p, '\n');
        if (nl)
            *nl = 0;
        lineno++;
        char *hash = strchr(p, '#');
        if (hash)
            *hash = 0;
        char key[64], *v = p;
        size_t n = 0;
        while (*v == ' ' || *v == '\t')
            v++;
        while (v[n] && v[n] != ' ' && v[n] != '\t')
            n++;
        if (!n)
            continue;
        snprintf(key, sizeof key, "%.*s", (int)n, v);
        v += n;
        while (*v == ' ' || *v == '\t')
            v++;
        for (size_t k = strlen(v); k && (v[k - 1] == ' ' || v[k - 1] == '\t' || v[k - 1] == '\r');)
            v[--k] = 0;
        const char *why = suite_set(s, dir, key, v);
        if (why) {
            snprintf(err, errlen, "%s:%d: %s: %s", path, lineno, key, why);
            rc = -1;
            break;
        }
    }
    free(text);
    free(pcopy);
    free(bcopy);
    if (rc)
        suite_free(s);
    return rc;
}

void suite_free(hsuite *s)
{
    free(s->name);
    free(s->bin_dir);
    free(s->expect_dir);
    free(s->gdb_script);
    hlist_free(&s->scenarios);
    memset(s, 0, sizeof *s);
}
