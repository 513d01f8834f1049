/* dump_file.c - write a dump document to a file without hurting anything
 * already on disk: the document goes to a fresh temporary file next to the
 * target, created with O_CREAT|O_EXCL|O_NOFOLLOW and mode 0600 (so a
 * planted symlink or an existing file is never opened, and the dump, which
 * names functions, files and addresses, is readable by its owner only
 * whatever the umask), then renamed over the target (rename replaces a
 * symlink at the target rather than following it; a reader never sees half
 * a document). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "trace/trace_internal.h"

/* Tries of unique temporary names before giving up (each one taken). */
#define AT__TMP_TRIES 64

static unsigned at__tmp_serial;

/* Create "<path>.tmp.<pid>.<n>" exclusively; its name goes to *tmp_out. */
static int at__dump_file_create(const char *path, char **tmp_out)
{
    size_t cap = strlen(path) + 48;
    char *tmp = malloc(cap);
    if (!tmp) {
        errno = ENOMEM;
        return -1;
    }
    for (int i = 0; i < AT__TMP_TRIES; i++) {
        unsigned n = __atomic_fetch_add(&at__tmp_serial, 1, __ATOMIC_RELAXED);
        snprintf(tmp, cap, "%s.tmp.%d.%u", path, (int)getpid(), n);
        int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd >= 0) {
            *tmp_out = tmp;
            return fd;
        }
        if (errno != EEXIST)
            break;
    }
    int saved = errno;
    free(tmp);
    errno = saved;
    return -1;
}

int at__dump_write_file(const at_dump *d, const char *path, int text)
{
    char *tmp = NULL;
    int fd = at__dump_file_create(path, &tmp);
    if (fd < 0)
        return -errno;
    FILE *f = fdopen(fd, "w");
    if (!f) {
        int e = errno;
        close(fd);
        unlink(tmp);
        free(tmp);
        return -e;
    }
    int rc = text ? at_dump_write_text(d, f) : at_dump_write_json(d, f);
    int e = rc < 0 ? EIO : 0;
    if (fclose(f) != 0 && !e)
        e = errno;
    if (!e && rename(tmp, path) != 0)
        e = errno;
    if (e)
        unlink(tmp);
    free(tmp);
    return -e;
}
