/* config.c - where things are.  The harness runs from the source tree
 * (build/asynctrace-harness: scenarios/, gdb/ and harness/ above it) or
 * installed (PREFIX/bin/asynctrace-harness: its helper script in
 * PREFIX/share/asynctrace/harness/, the GDB extension where `make install`
 * put it).  Whatever is not given on the command line or in the suite file
 * is found from the harness binary's own location. */
#define _GNU_SOURCE
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"

/* The GDB extension's loader, relative to an installation prefix: the
 * first that exists wins. */
static const char *const installed_gdb_scripts[] = {
    "share/gdb/auto-load/asynctrace-gdb.py",
    "share/asynctrace/gdb/asynctrace-gdb.py",
    "share/asynctrace/asynctrace-gdb.py",
    "share/gdb/python/asynctrace-gdb.py",
};

#define FRAMES_SCRIPT_INSTALLED "share/asynctrace/harness/native_frames.py"

char *config_exe_dir(void)
{
    char exe[4096];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0)
        return NULL;
    exe[n] = 0;
    return h_strdup(dirname(exe));
}

/* An installed harness: PREFIX/bin with PREFIX/share/asynctrace/harness.
 * Returns the prefix (malloc'd) or NULL. */
char *config_installed_prefix(const char *exe_dir)
{
    char *prefix = h_asprintf("%s/..", exe_dir);
    char *frames = h_asprintf("%s/" FRAMES_SCRIPT_INSTALLED, prefix);
    int ok = h_file_exists(frames);
    free(frames);
    if (ok) {
        char *real = h_realpath(prefix);
        free(prefix);
        return real;
    }
    free(prefix);
    return NULL;
}

/* The source root: the first ancestor of the harness binary's directory
 * holding gdb/, harness/ and scenarios/ (build/asynctrace-harness -> .). */
char *config_find_root(const char *exe_dir)
{
    char *dir = h_strdup(exe_dir);
    for (int i = 0; i < 6; i++) {
        char *g = h_asprintf("%s/gdb/asynctrace-gdb.py", dir);
        char *f = h_asprintf("%s/harness/native_frames.py", dir);
        int ok = h_file_exists(g) && h_file_exists(f);
        free(g);
        free(f);
        if (ok)
            return dir;
        char *up = h_asprintf("%s/..", dir);
        free(dir);
        dir = up;
    }
    free(dir);
    return NULL;
}

/* The GDB extension: $ASYNCTRACE_GDB_SCRIPT, the installed copy, or the
 * source tree's (malloc'd; NULL when none is found). */
char *config_gdb_script(const char *prefix, const char *root)
{
    const char *env = getenv("ASYNCTRACE_GDB_SCRIPT");
    if (env && *env)
        return h_strdup(env);
    for (size_t i = 0; prefix && i < sizeof installed_gdb_scripts / sizeof *installed_gdb_scripts; i++) {
        char *p = h_asprintf("%s/%s", prefix, installed_gdb_scripts[i]);
        if (h_file_exists(p))
            return p;
        free(p);
    }
    return root ? h_asprintf("%s/gdb/asynctrace-gdb.py", root) : NULL;
}

char *config_frames_script(const char *prefix, const char *root)
{
    if (prefix)
        return h_asprintf("%s/" FRAMES_SCRIPT_INSTALLED, prefix);
    return root ? h_asprintf("%s/harness/native_frames.py", root) : NULL;
}
