/* gdbout.c - pick the JSON documents out of a GDB batch run's stdout.
 *
 * The harness runs each GDB command after an `echo` of a marker line
 * (GDB_MARK name@@), so a document is the text between its marker and the
 * next one, whatever else GDB printed around it (thread notices, the
 * frame it stopped in). */
#define _GNU_SOURCE
#include <stdio.h>
#include <string.h>

#include "harness.h"

json_t *gdbout_document(const char *output, const char *name, char *err, size_t errlen)
{
    char mark[128];
    snprintf(mark, sizeof mark, GDB_MARK "%s@@", name);
    const char *start = strstr(output, mark);
    if (!start) {
        snprintf(err, errlen, "GDB never ran `%s` (its marker is missing from the output)", name);
        return NULL;
    }
    start += strlen(mark);
    const char *end = strstr(start, GDB_MARK);
    if (!end)
        end = start + strlen(start);
    const char *brace = memchr(start, '{', (size_t)(end - start));
    if (!brace) {
        /* Show the first line GDB printed instead (usually its error). */
        while (start < end && (*start == '\n' || *start == ' '))
            start++;
        int n = (int)strcspn(start, "\n");
        if (start + n > end)
            n = (int)(end - start);
        if (n > 200)
            n = 200;
        snprintf(err, errlen, "`%s` printed no JSON document%s%.*s", name,
                 n ? ": " : "", n, start);
        return NULL;
    }
    json_error_t je;
    json_t *doc = json_loadb(brace, (size_t)(end - brace), JSON_DISABLE_EOF_CHECK, &je);
    if (!doc) {
        snprintf(err, errlen, "`%s` printed invalid JSON (line %d, column %d: %s)",
                 name, je.line, je.column, je.text);
        return NULL;
    }
    if (!json_is_object(doc)) {
        json_decref(doc);
        snprintf(err, errlen, "`%s` printed JSON that is not an object", name);
        return NULL;
    }
    return doc;
}
