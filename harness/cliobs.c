/* cliobs.c - the command-line tool `asynctrace` as two more observers of a
 * scenario: on the PID at its checkpoint (stopping mode) and on the core
 * GDB made; their trace documents and deadlock reports must equal GDB's.
 * The deadlock report is the CLI's analysis of its own document (one read
 * of the PID, one of the core). */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

/* The clock readings a runtime stores as it runs (a multi-thread runtime's
 * workers update now_ns): equal in `cli` to `gdb`'s, since the CLI read the
 * PID a moment before GDB did. */
void cli_align_clocks(json_t *gdb, json_t *cli)
{
    json_t *ra = json_object_get(gdb, "runtimes"), *rb = json_object_get(cli, "runtimes");
    for (size_t i = 0; i < json_array_size(ra) && i < json_array_size(rb); i++) {
        json_t *a = json_array_get(ra, i), *b = json_array_get(rb, i);
        json_t *now = json_object_get(a, "now_ns");
        if (now && json_object_get(b, "now_ns") &&
            json_equal(json_object_get(a, "id"), json_object_get(b, "id")))
            json_object_set(b, "now_ns", now);
    }
}

/* Run `asynctrace CMD TARGET...` with the JSON output in WORK/cli-TAG-CMD.json;
 * the parsed document, or NULL with the reason in `why`. */
json_t *cli_observe(const hconfig *cfg, const char *work, const char *tag,
                    const char *cmd, char **target, int ntarget, char *why, size_t len)
{
    char *argv[8];
    int n = 0;
    argv[n++] = (char *)cfg->cli_path;
    argv[n++] = (char *)cmd;
    argv[n++] = "--json";
    for (int i = 0; i < ntarget && n < 7; i++)
        argv[n++] = target[i];
    argv[n] = NULL;
    char *outp = h_asprintf("%s/cli-%s-%s.json", work, tag, cmd);
    char *errp = h_asprintf("%s/cli-%s-%s.err", work, tag, cmd);
    int status = 0;
    json_t *doc = NULL;
    int rc = proc_run(argv, outp, errp, cfg->gdb_timeout, &status);
    if (rc == -ETIMEDOUT) {
        snprintf(why, len, "asynctrace %s (%s) did not finish within %.0fs", cmd, tag,
                 cfg->gdb_timeout);
    } else if (rc) {
        snprintf(why, len, "cannot run %s: %s", cfg->cli_path, strerror(-rc));
    } else if (status != 0) {
        char *err = h_read_file(errp, NULL);
        snprintf(why, len, "asynctrace %s (%s) failed: %s", cmd, tag,
                 err ? strtok(err, "\n") : "no message");
        free(err);
    } else {
        json_error_t e;
        doc = json_load_file(outp, 0, &e);
        if (!doc)
            snprintf(why, len, "asynctrace %s (%s) printed invalid JSON: %s", cmd, tag,
                     e.text);
    }
    free(outp);
    free(errp);
    return doc;
}
