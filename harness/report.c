/* report.c - what the harness tells: one text line per scenario (with its
 * differences, diagnosis, replay command and kept files), or TAP on stdout
 * (--tap), and a JUnit XML file (--junit FILE) as Jenkins and GitLab read
 * it.  Results arrive from the worker threads in completion order. */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

#define SHOWN_DIFFS 25

typedef struct kept {
    char *name;
    hresult res; /* its lists moved here */
} kept;

struct hreport {
    const hconfig *cfg;
    size_t total, done, passed, failed, skipped;
    int tty, text; /* text: the text lines on stdout (not TAP there) */
    FILE *tapf;    /* TAP goes here, NULL: no TAP */
    const char *tap_file, *junit_file;
    kept *all;
    char stamp[32];
    pthread_mutex_t lock;
};

hreport *report_new(const hconfig *cfg, size_t total, int tap, const char *tap_file,
                    const char *junit_file)
{
    hreport *r = calloc(1, sizeof *r);
    if (!r)
        abort();
    r->cfg = cfg;
    r->total = total;
    r->text = !tap || tap_file;
    r->tap_file = tap_file;
    r->junit_file = junit_file;
    r->tty = r->text && isatty(1);
    r->all = calloc(total ? total : 1, sizeof *r->all);
    pthread_mutex_init(&r->lock, NULL);
    time_t now = time(NULL);
    struct tm tm;
    strftime(r->stamp, sizeof r->stamp, "%Y-%m-%dT%H:%M:%S", localtime_r(&now, &tm));
    r->tapf = tap ? stdout : NULL;
    if (tap && tap_file && !(r->tapf = fopen(tap_file, "w"))) {
        fprintf(stderr, "asynctrace-harness: cannot write %s: %m\n", tap_file);
        r->tapf = NULL;
    }
    if (r->tapf) {
        fprintf(r->tapf, "TAP version 13\n1..%zu\n", total);
        fflush(r->tapf);
    }
    if (r->tty) {
        printf("[0/%zu] running ...", total);
        fflush(stdout);
    }
    return r;
}

/* ---- Text ------------------------------------------------------------------- */

static void text_result(hreport *r, const char *name, const hresult *res)
{
    const hconfig *cfg = r->cfg;
    if (r->tty)
        fputs("\r\033[K", stdout);
    const char *tag = res->verdict == H_OK ? "ok  " : res->verdict == H_SKIP ? "SKIP" : "FAIL";
    printf("%s %-28s %6.2fs%s%s\n", tag, name, res->seconds, res->reason[0] ? "  " : "",
           res->reason);
    size_t shown = cfg->verbose ? res->diffs.n
                                : (res->diffs.n < SHOWN_DIFFS ? res->diffs.n : SHOWN_DIFFS);
    for (size_t i = 0; i < shown; i++)
        printf("       %s\n", res->diffs.v[i]);
    if (shown < res->diffs.n)
        printf("       ... %zu more in %s/%s/diff.txt\n", res->diffs.n - shown,
               h_rel(cfg->out_dir), name);
    for (size_t i = 0; i < res->diagnosis.n; i++)
        printf("       %s %s\n", i ? "          " : "diagnosis:", res->diagnosis.v[i]);
    if (res->replay) {
        printf("       replay: %s\n", res->replay);
        printf("       by hand: ASYNCTRACE_SCHED_SEED=%llu %s/%s\n", res->seed,
               h_rel(cfg->bin_dir), name);
    }
    if (res->verdict == H_FAIL)
        printf("       (dumps, core and outputs kept in %s/%s/)\n", h_rel(cfg->out_dir), name);
    if (r->tty && r->done < r->total)
        printf("[%zu/%zu] %zu failed so far ...", r->done, r->total, r->failed);
    fflush(stdout);
}

/* ---- TAP -------------------------------------------------------------------- */

/* A YAML single-quoted scalar. */
static void yaml_str(FILE *f, const char *s)
{
    fputc('\'', f);
    for (; *s; s++) {
        if (*s == '\'')
            fputs("''", f);
        else if ((unsigned char)*s >= 0x20)
            fputc(*s, f);
    }
    fputc('\'', f);
}

static void yaml_list(FILE *f, const char *key, const hlist *l)
{
    if (!l->n)
        return;
    fprintf(f, "  %s:\n", key);
    for (size_t i = 0; i < l->n; i++) {
        fputs("    - ", f);
        yaml_str(f, l->v[i]);
        fputc('\n', f);
    }
}

static void tap_result(hreport *r, const char *name, const hresult *res)
{
    FILE *f = r->tapf;
    if (res->verdict == H_SKIP) {
        fprintf(f, "ok %zu - %s # SKIP %s\n", r->done, name, res->reason);
    } else if (res->verdict == H_OK) {
        fprintf(f, "ok %zu - %s\n", r->done, name);
    } else {
        fprintf(f, "not ok %zu - %s\n  ---\n  message: ", r->done, name);
        yaml_str(f, res->reason);
        fprintf(f, "\n  duration_ms: %.0f\n", res->seconds * 1000);
        if (res->seeded)
            fprintf(f, "  seed: %llu\n", res->seed);
        if (res->replay) {
            fputs("  replay: ", f);
            yaml_str(f, res->replay);
            fputc('\n', f);
        }
        yaml_list(f, "diffs", &res->diffs);
        yaml_list(f, "diagnosis", &res->diagnosis);
        yaml_list(f, "artefacts", &res->artefacts);
        fputs("  ...\n", f);
    }
    fflush(f);
}

void report_result(hreport *r, const char *name, const hresult *res)
{
    pthread_mutex_lock(&r->lock);
    r->done++;
    if (res->verdict == H_OK)
        r->passed++;
    else if (res->verdict == H_SKIP)
        r->skipped++;
    else
        r->failed++;
    if (r->tapf)
        tap_result(r, name, res);
    if (r->text)
        text_result(r, name, res);
    kept *k = &r->all[r->done - 1];
    k->name = h_strdup(name);
    k->res = *res;
    k->res.replay = res->replay ? h_strdup(res->replay) : NULL;
    /* Deep copies of the lists: the caller frees its own. */
    memset(&k->res.diffs, 0, sizeof k->res.diffs);
    memset(&k->res.diagnosis, 0, sizeof k->res.diagnosis);
    memset(&k->res.artefacts, 0, sizeof k->res.artefacts);
    for (size_t i = 0; i < res->diffs.n; i++)
        hlist_add(&k->res.diffs, res->diffs.v[i]);
    for (size_t i = 0; i < res->diagnosis.n; i++)
        hlist_add(&k->res.diagnosis, res->diagnosis.v[i]);
    for (size_t i = 0; i < res->artefacts.n; i++)
        hlist_add(&k->res.artefacts, res->artefacts.v[i]);
    pthread_mutex_unlock(&r->lock);
}

/* ---- JUnit XML ---------------------------------------------------------------- */

/* XML text or attribute value: escaped, characters XML 1.0 forbids dropped. */
static void xml_str(FILE *f, const char *s)
{
    for (; s && *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '&')
            fputs("&amp;", f);
        else if (c == '<')
            fputs("&lt;", f);
        else if (c == '>')
            fputs("&gt;", f);
        else if (c == '"')
            fputs("&quot;", f);
        else if (c >= 0x20 || c == '\n' || c == '\t')
            fputc(c, f);
    }
}

static void xml_lines(FILE *f, const char *title, const hlist *l)
{
    if (!l->n)
        return;
    fprintf(f, "%s:\n", title);
    for (size_t i = 0; i < l->n; i++) {
        fputs("  ", f);
        xml_str(f, l->v[i]);
        fputc('\n', f);
    }
}

static void junit_case(hreport *r, FILE *f, const kept *k)
{
    const hresult *res = &k->res;
    fputs("    <testcase classname=\"", f);
    xml_str(f, r->cfg->suite_name);
    fputs("\" name=\"", f);
    xml_str(f, k->name);
    fprintf(f, "\" time=\"%.3f\">\n", res->seconds);
    if (res->verdict == H_SKIP) {
        fputs("      <skipped message=\"", f);
        xml_str(f, res->reason);
        fputs("\"/>\n", f);
    } else if (res->verdict == H_FAIL) {
        fputs("      <failure message=\"", f);
        xml_str(f, res->reason);
        fprintf(f, "\" type=\"%s\">", res->diagnosis.n ? "hang" : "mismatch");
        for (size_t i = 0; i < res->diffs.n; i++) {
            xml_str(f, res->diffs.v[i]);
            fputc('\n', f);
        }
        fputs("</failure>\n      <system-out>", f);
        if (res->seeded)
            fprintf(f, "seed: %llu\n", res->seed);
        if (res->replay) {
            fputs("replay: ", f);
            xml_str(f, res->replay);
            fputc('\n', f);
        }
        xml_lines(f, "diagnosis", &res->diagnosis);
        xml_lines(f, "artefacts", &res->artefacts);
        fputs("</system-out>\n", f);
    }
    fputs("    </testcase>\n", f);
}

static int cmp_kept(const void *a, const void *b)
{
    return strcmp(((const kept *)a)->name, ((const kept *)b)->name);
}

static int junit_write(hreport *r, double seconds)
{
    FILE *f = fopen(r->junit_file, "w");
    if (!f) {
        fprintf(stderr, "asynctrace-harness: cannot write %s: %m\n", r->junit_file);
        return -1;
    }
    qsort(r->all, r->done, sizeof *r->all, cmp_kept);
    char host[256] = "localhost";
    gethostname(host, sizeof host - 1);
    fputs("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"", f);
    xml_str(f, r->cfg->suite_name);
    fprintf(f, "\" tests=\"%zu\" failures=\"%zu\" errors=\"0\" skipped=\"%zu\" time=\"%.3f\">\n",
            r->done, r->failed, r->skipped, seconds);
    fputs("  <testsuite name=\"", f);
    xml_str(f, r->cfg->suite_name);
    fprintf(f, "\" tests=\"%zu\" failures=\"%zu\" errors=\"0\" skipped=\"%zu\" time=\"%.3f\" "
               "timestamp=\"%s\" hostname=\"",
            r->done, r->failed, r->skipped, seconds, r->stamp);
    xml_str(f, host);
    fputs("\">\n", f);
    for (size_t i = 0; i < r->done; i++)
        junit_case(r, f, &r->all[i]);
    fputs("  </testsuite>\n</testsuites>\n", f);
    return fclose(f) ? -1 : 0;
}

int report_finish(hreport *r, double seconds)
{
    if (r->tty)
        fputs("\r\033[K", stdout);
    int rc = r->failed ? 1 : 0;
    for (int tap = 0; tap < 2; tap++) {
        FILE *out = tap ? r->tapf : r->text ? stdout : NULL;
        if (!out)
            continue;
        fprintf(out, "%s%zu passed, %zu failed", tap ? "# " : "", r->passed, r->failed);
        if (r->skipped)
            fprintf(out, ", %zu skipped", r->skipped);
        fprintf(out, " (%.1fs)\n", seconds);
        fflush(out);
    }
    if (r->tapf && r->tapf != stdout)
        fclose(r->tapf);
    if (r->junit_file && junit_write(r, seconds))
        rc = 2;
    for (size_t i = 0; i < r->done; i++) {
        free(r->all[i].name);
        result_free(&r->all[i].res);
    }
    free(r->all);
    pthread_mutex_destroy(&r->lock);
    free(r);
    return rc;
}
