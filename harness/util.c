/* util.c - small helpers of the harness: growable strings and string
 * lists, files and directories, the clock, tolerant JSON accessors. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

void *h_xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p) {
        fputs("asynctrace-harness: out of memory\n", stderr);
        exit(2);
    }
    return p;
}

static void *h_xrealloc(void *p, size_t n)
{
    p = realloc(p, n ? n : 1);
    if (!p) {
        fputs("asynctrace-harness: out of memory\n", stderr);
        exit(2);
    }
    return p;
}

char *h_strdup(const char *s)
{
    size_t n = strlen(s) + 1;
    return memcpy(h_xmalloc(n), s, n);
}

char *h_asprintf(const char *fmt, ...)
{
    va_list ap;
    char *s;
    va_start(ap, fmt);
    if (vasprintf(&s, fmt, ap) < 0) {
        fputs("asynctrace-harness: out of memory\n", stderr);
        exit(2);
    }
    va_end(ap);
    return s;
}

void hstr_addn(hstr *b, const char *s, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        b->cap = (b->len + n + 1) * 2;
        b->s = h_xrealloc(b->s, b->cap);
    }
    memcpy(b->s + b->len, s, n);
    b->len += n;
    b->s[b->len] = 0;
}

void hstr_add(hstr *b, const char *s)
{
    hstr_addn(b, s, strlen(s));
}

char *h_vformat(const char *fmt, va_list ap)
{
    char *s;
    return vasprintf(&s, fmt, ap) < 0 ? NULL : s;
}

void hstr_printf(hstr *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s = h_vformat(fmt, ap);
    va_end(ap);
    if (s) {
        hstr_add(b, s);
        free(s);
    }
}

void hstr_free(hstr *b)
{
    free(b->s);
    b->s = NULL;
    b->len = b->cap = 0;
}

void hlist_add(hlist *l, const char *s)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 16;
        l->v = h_xrealloc(l->v, l->cap * sizeof *l->v);
    }
    l->v[l->n++] = h_strdup(s);
}

void hlist_printf(hlist *l, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s = h_vformat(fmt, ap);
    va_end(ap);
    if (s) {
        hlist_add(l, s);
        free(s);
    }
}

void hlist_free(hlist *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i]);
    free(l->v);
    l->v = NULL;
    l->n = l->cap = 0;
}

char *h_read_file(const char *path, size_t *lenp)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return NULL;
    hstr b = {0};
    char buf[65536];
    for (;;) {
        ssize_t n = read(fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            int e = errno;
            close(fd);
            hstr_free(&b);
            errno = e;
            return NULL;
        }
        if (n == 0)
            break;
        hstr_addn(&b, buf, (size_t)n);
    }
    close(fd);
    if (!b.s)
        hstr_addn(&b, "", 0);
    if (lenp)
        *lenp = b.len;
    return b.s;
}

int h_write_file(const char *path, const char *data, size_t len)
{
    char *tmp = h_asprintf("%s.tmp%d", path, (int)getpid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        free(tmp);
        return -errno;
    }
    size_t off = 0;
    while (off < len) {
        ssize_t n = write(fd, data + off, len - off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            int e = errno;
            close(fd);
            unlink(tmp);
            free(tmp);
            return -e;
        }
        off += (size_t)n;
    }
    close(fd);
    int rc = rename(tmp, path) ? -errno : 0;
    free(tmp);
    return rc;
}

int h_mkdir_p(const char *path)
{
    char *p = h_strdup(path);
    for (char *s = p + 1; *s; s++) {
        if (*s != '/')
            continue;
        *s = 0;
        if (mkdir(p, 0755) && errno != EEXIST) {
            int e = errno;
            free(p);
            return -e;
        }
        *s = '/';
    }
    int rc = (mkdir(p, 0755) && errno != EEXIST) ? -errno : 0;
    free(p);
    return rc;
}

int h_rm_rf(const char *path)
{
    struct stat st;
    if (lstat(path, &st))
        return errno == ENOENT ? 0 : -errno;
    if (S_ISDIR(st.st_mode)) {
        DIR *d = opendir(path);
        if (!d)
            return -errno;
        struct dirent *e;
        while ((e = readdir(d))) {
            if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
                continue;
            char *sub = h_asprintf("%s/%s", path, e->d_name);
            h_rm_rf(sub);
            free(sub);
        }
        closedir(d);
        return rmdir(path) ? -errno : 0;
    }
    return unlink(path) ? -errno : 0;
}

int h_file_exists(const char *path)
{
    return access(path, F_OK) == 0;
}

double h_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

const char *j_str(json_t *o, const char *key)
{
    json_t *v = o ? json_object_get(o, key) : NULL;
    return json_is_string(v) ? json_string_value(v) : NULL;
}

long long j_int(json_t *o, const char *key, long long dflt)
{
    json_t *v = o ? json_object_get(o, key) : NULL;
    if (json_is_integer(v))
        return json_integer_value(v);
    if (json_is_real(v))
        return (long long)json_real_value(v);
    return dflt;
}

json_t *j_arr(json_t *o, const char *key)
{
    json_t *v = o ? json_object_get(o, key) : NULL;
    return json_is_array(v) ? v : NULL;
}

/* The canonical form of a path (malloc'd); the path itself if it does not
 * exist yet. */
char *h_realpath(const char *path)
{
    char *r = realpath(path, NULL);
    return r ? r : h_strdup(path);
}

const char *h_rel(const char *path)
{
    static char cwd[4096];
    static size_t n;
    if (!n) {
        if (!getcwd(cwd, sizeof cwd - 1))
            return path;
        n = strlen(cwd);
    }
    if (!strncmp(path, cwd, n) && path[n] == '/')
        return path + n + 1;
    return path;
}
