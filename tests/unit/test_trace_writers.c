/* test_trace_writers.c - the JSON and text writers on a dump built by hand
 * (exact output), and call-site decoding on known x86-64 byte sequences. */
#include "trace_util.h"
#include "trace/trace_internal.h"

/* ---- A dump built by hand ---- */

static at_dump_native native(at_dump *d, const char *sym, uint64_t ra, uint64_t off,
                             const char *file, uint32_t line, int verified)
{
    at_dump_native n = {0};
    n.return_address = ra;
    n.call_site = verified ? ra - 5 : 0;
    n.proc_start = ra - 5 - off;
    n.symbol = sym ? at_dump_strdup(d, sym) : NULL;
    n.offset = off;
    n.file = file;
    n.line = line;
    n.verified = verified;
    return n;
}

static at_dump *sample_dump(const char *source)
{
    at_dump *d = calloc(1, sizeof(*d));
    d->version = AT_TRACE_FORMAT_VERSION;
    d->source = source;
    d->clock = "live";
    d->now_ns = 10 * AT_SEC;
    d->generation = 7;
    d->nruntimes = 1;
    d->runtimes = at_dump_alloc(d, sizeof(at_dump_runtime));
    at_dump_runtime *r = d->runtimes;
    r->address = 0x1000;
    r->id = 1;
    r->flavor = AT_FLAVOR_CURRENT_THREAD;
    r->workers = 1;
    r->now_ns = 9 * AT_SEC;
    r->spawned_total = 2;
    r->ntasks = 2;
    r->tasks = at_dump_alloc(d, 2 * sizeof(at_dump_task));

    at_dump_task *m = &r->tasks[0];
    m->address = 0x2000;
    m->id = 1;
    strcpy(m->name, "main");
    m->state = AT_TASK_RUNNING;
    m->flags = AT_TF_BLOCK_ON;
    m->spawn_function = "main";
    m->spawn_file = "t.c";
    m->spawn_line = 10;
    m->spawn_kind = AT_KIND_BLOCK_ON;
    m->polls = 3;
    m->created_ns = 1 * AT_SEC;
    m->state_ns = 9 * AT_SEC;
    m->poll_start_ns = 9 * AT_SEC;
    m->poll_end_ns = 8 * AT_SEC;
    m->worker = 0;
    m->thread = 42;
    m->trace_note = "running";
    m->await = at_dump_alloc(d, sizeof(at_dump_frame));
    *m->await = (at_dump_frame){.function = "main_fn", .file = "t.c", .line = 20,
                                .kind = AT_KIND_ASYNC, .address = 0x2100, .poll = 0x9000};
    m->await->nchildren = 1;
    m->await->children = at_dump_alloc(d, sizeof(at_dump_frame));
    *m->await->children = (at_dump_frame){.function = "at_dump_tasks", .file = "dump.c",
                                          .line = 5, .kind = AT_KIND_LEAF, .address = 0x2140,
                                          .resource = at_dump_alloc(d, sizeof(at_dump_resource))};
    m->await->children->resource->kind = AT_RES_DUMP;
    m->await->children->resource->object = 0x1000;
    m->await->children->resource->since_ns = 9 * AT_SEC;

    at_dump_task *t = &r->tasks[1];
    t->address = 0x3000;
    t->id = 2;
    t->parent_id = 1;
    strcpy(t->name, "q\"uote\n");
    t->state = AT_TASK_IDLE;
    t->flags = AT_TF_DETACHED | AT_TF_NOTIFIED;
    t->spawn_function = "main_fn";
    t->spawn_file = "t.c";
    t->spawn_line = 21;
    t->spawn_kind = AT_KIND_SPAWN;
    t->polls = 1;
    t->created_ns = 2 * AT_SEC;
    t->state_ns = 8 * AT_SEC;
    t->poll_start_ns = 7 * AT_SEC;
    t->poll_end_ns = 8 * AT_SEC;
    t->worker = 0;
    t->traced = 1;
    at_dump_frame *top = at_dump_alloc(d, sizeof(at_dump_frame));
    *top = (at_dump_frame){.function = "worker", .file = "t.c", .line = 30,
                           .kind = AT_KIND_ASYNC, .address = 0x3100};
    top->nchildren = 1;
    top->children = at_dump_alloc(d, sizeof(at_dump_frame));
    at_dump_frame *all = top->children;
    *all = (at_dump_frame){.function = "at_join_all", .file = "comb.c", .line = 61,
                           .kind = AT_KIND_JOIN_ALL, .address = 0x3140};
    all->nchildren = 2;
    all->children = at_dump_alloc(d, 2 * sizeof(at_dump_frame));
    all->children[0] = (at_dump_frame){.function = "at_sleep", .file = "time.c", .line = 123,
                                       .kind = AT_KIND_LEAF, .address = 0x3180,
                                       .resource = at_dump_alloc(d, sizeof(at_dump_resource))};
    all->children[0].resource->kind = AT_RES_SLEEP;
    all->children[0].resource->since_ns = 8 * AT_SEC;
    all->children[0].resource->detail[0] = 12 * AT_SEC;
    all->children[1] = (at_dump_frame){.function = "at_mutex_lock", .file = "sync.c", .line = 140,
                                       .kind = AT_KIND_LEAF, .address = 0x31e0,
                                       .resource = at_dump_alloc(d, sizeof(at_dump_resource))};
    all->children[1].resource->kind = AT_RES_MUTEX;
    all->children[1].resource->object = 0x5000;
    all->children[1].resource->since_ns = 8 * AT_SEC;
    all->children[1].resource->owner_id = 1;
    all->children[1].resource->waiters = 2;
    t->await = top;
    /* Two leaves: the mutex's backtrace first, so sorting must reorder. */
    t->nbacktraces = 2;
    t->backtraces = at_dump_alloc(d, 2 * sizeof(at_dump_backtrace));
    for (int b = 0; b < 2; b++) {
        at_dump_native *f = at_dump_alloc(d, 3 * sizeof(at_dump_native));
        f[0] = b == 0 ? native(d, "mutex_poll", 0x7015, 0x10, "sync.c", 90, 1)
                      : native(d, "sleep_poll", 0x7115, 0x10, "time.c", 143, 1);
        f[1] = b == 0 ? native(d, "join_all_poll", 0x7245, 0x40, "comb.c", 50, 1)
                      : native(d, "join_all_poll", 0x7255, 0x50, "comb.c", 50, 1);
        f[2] = native(d, "worker_poll", 0x7325, 0x20, "t.c", 30, 1);
        t->backtraces[b].frames = f;
        t->backtraces[b].nframes = 3;
    }

    d->nthreads = 1;
    d->threads = at_dump_alloc(d, sizeof(at_dump_thread));
    d->threads[0] = (at_dump_thread){.tid = 42, .role = AT_ROLE_BLOCK_ON, .worker = -1,
                                     .runtime_id = 1, .current_task_id = 1,
                                     .poll_start_ns = 9 * AT_SEC};
    d->threads[0].nroots = 1;
    d->threads[0].roots = at_dump_alloc(d, sizeof(at_dump_root));
    d->threads[0].roots[0].task_id = 1;
    at_dump_note(d, "a note with \"quotes\"");
    return d;
}

static const char *expected_text =
    "asynctrace dump (live): 2 tasks in 1 runtime\n"
    "runtime 1 (current-thread, 1 worker, 2 spawned)\n"
    "  task 1 \"main\" running, 3 polls, block_on at main (t.c:10), on thread 42\n"
    "    await:\n"
    "      main_fn at t.c:20\n"
    "      └─ at_dump_tasks at dump.c:5 [dump 0x1000, for 1.00 s]\n"
    "    native: none (running)\n"
    "  task 2 \"q\\\"uote\\n\" idle for 2.00 s, 1 poll, parent 1, spawned at main_fn (t.c:21)\n"
    "    await:\n"
    "      worker at t.c:30\n"
    "      └─ at_join_all (join-all) at comb.c:61\n"
    "         ├─ at_sleep at time.c:123 [sleep, deadline in 2.00 s, for 2.00 s]\n"
    "         └─ at_mutex_lock at sync.c:140 [mutex 0x5000 held by task 1, 2 waiters, for 2.00 s]\n"
    "    native:\n"
    "      worker_poll+0x20 (t.c:30)\n"
    "      ├─ join_all_poll+0x40 (comb.c:50)\n"
    "      │  └─ mutex_poll+0x10 (sync.c:90)\n"
    "      └─ join_all_poll+0x50 (comb.c:50)\n"
    "         └─ sleep_poll+0x10 (time.c:143)\n"
    "threads:\n"
    "  thread 42 (block-on), runtime 1, polling task 1 for 1.00 s, roots: 1\n"
    "notes:\n"
    "  - a note with \"quotes\"\n";

AT_TEST(text_writer_exact_tree)
{
    at_dump *d = sample_dump("live");
    char *text = dump_render(d, at_dump_write_text);
    if (strcmp(text, expected_text))
        fprintf(stderr, "got:\n%s\nexpected:\n%s\n", text, expected_text);
    AT_ASSERT_EQ_STR(text, expected_text);
    free(text);
    at_dump_free(d);
}

AT_TEST(text_writer_merges_common_prefixes_in_a_stable_order)
{
    at_dump *d = sample_dump("live");
    at_dump_task *t = &d->runtimes[0].tasks[1];
    /* Same call sites in join_all_poll: one branch, leaves sorted by name. */
    t->backtraces[1].frames[1] = t->backtraces[0].frames[1];
    char *a = dump_render(d, at_dump_write_text);
    at_dump_backtrace swap = t->backtraces[0];
    t->backtraces[0] = t->backtraces[1];
    t->backtraces[1] = swap;
    char *b = dump_render(d, at_dump_write_text);
    AT_ASSERT_EQ_STR(a, b);
    const char *want = "    native:\n"
                       "      worker_poll+0x20 (t.c:30)\n"
                       "      └─ join_all_poll+0x40 (comb.c:50)\n"
                       "         ├─ mutex_poll+0x10 (sync.c:90)\n"
                       "         └─ sleep_poll+0x10 (time.c:143)\n"
                       "threads:\n";
    CU_ASSERT_PTR_NOT_NULL(strstr(a, want));
    if (!strstr(a, want))
        fprintf(stderr, "%s", a);
    free(a);
    free(b);
    at_dump_free(d);
}

static const char *expected_json =
    "{\"format\": \"asynctrace-trace\", \"version\": 1, \"source\": \"live\","
    " \"clock\": {\"now_ns\": 10000000000, \"kind\": \"live\", \"source\": \"live\","
    " \"exact\": true, \"pair\": null}, \"generation\": 7,"
    " \"runtimes\": [{\"id\": 1, \"address\": \"0x1000\", \"flavor\": \"current-thread\","
    "  \"workers\": 1, \"now_ns\": 9000000000, \"spawned_total\": 2, \"tasks\": ["
    "  {\"id\": 1, \"address\": \"0x2000\", \"name\": \"main\", \"state\": \"running\","
    "   \"flags\": [\"block-on\"], \"parent\": 0,"
    "   \"spawn\": {\"kind\": \"block-on\", \"function\": \"main\", \"file\": \"t.c\", \"line\": 10},"
    "   \"polls\": 3, \"created_ns\": 1000000000, \"state_ns\": 9000000000,"
    "   \"last_poll_start_ns\": 9000000000, \"last_poll_end_ns\": 8000000000,"
    "   \"worker\": 0, \"thread\": 42, \"trace\": \"running\", \"native\": [],"
    "   \"await\": {\"function\": \"main_fn\", \"file\": \"t.c\", \"line\": 20, \"kind\": \"async\","
    "    \"address\": \"0x2100\", \"resource\": null, \"children\": ["
    "     {\"function\": \"at_dump_tasks\", \"file\": \"dump.c\", \"line\": 5, \"kind\": \"leaf\","
    "      \"address\": \"0x2140\", \"resource\": {\"kind\": \"dump\", \"object\": \"0x1000\","
    "      \"since_ns\": 9000000000}, \"children\": []}]}},"
    "  {\"id\": 2, \"address\": \"0x3000\", \"name\": \"q\\\"uote\\n\", \"state\": \"idle\","
    "   \"flags\": [\"notified\", \"detached\"], \"parent\": 1,"
    "   \"spawn\": {\"kind\": \"spawn\", \"function\": \"main_fn\", \"file\": \"t.c\", \"line\": 21},"
    "   \"polls\": 1, \"created_ns\": 2000000000, \"state_ns\": 8000000000,"
    "   \"last_poll_start_ns\": 7000000000, \"last_poll_end_ns\": 8000000000,"
    "   \"worker\": 0, \"thread\": null, \"trace\": \"traced\", \"native\": ["
    "    [{\"return_address\": \"0x7015\", \"call_site\": \"0x7010\", \"call_target\": null,"
    "      \"symbol\": \"mutex_poll\", \"offset\": 16, \"file\": \"sync.c\", \"line\": 90, \"verified\": true},"
    "     {\"return_address\": \"0x7245\", \"call_site\": \"0x7240\", \"call_target\": null,"
    "      \"symbol\": \"join_all_poll\", \"offset\": 64, \"file\": \"comb.c\", \"line\": 50, \"verified\": true},"
    "     {\"return_address\": \"0x7325\", \"call_site\": \"0x7320\", \"call_target\": null,"
    "      \"symbol\": \"worker_poll\", \"offset\": 32, \"file\": \"t.c\", \"line\": 30, \"verified\": true}],"
    "    [{\"return_address\": \"0x7115\", \"call_site\": \"0x7110\", \"call_target\": null,"
    "      \"symbol\": \"sleep_poll\", \"offset\": 16, \"file\": \"time.c\", \"line\": 143, \"verified\": true},"
    "     {\"return_address\": \"0x7255\", \"call_site\": \"0x7250\", \"call_target\": null,"
    "      \"symbol\": \"join_all_poll\", \"offset\": 80, \"file\": \"comb.c\", \"line\": 50, \"verified\": true},"
    "     {\"return_address\": \"0x7325\", \"call_site\": \"0x7320\", \"call_target\": null,"
    "      \"symbol\": \"worker_poll\", \"offset\": 32, \"file\": \"t.c\", \"line\": 30, \"verified\": true}]],"
    "   \"await\": {\"function\": \"worker\", \"file\": \"t.c\", \"line\": 30, \"kind\": \"async\","
    "    \"address\": \"0x3100\", \"resource\": null, \"children\": ["
    "     {\"function\": \"at_join_all\", \"file\": \"comb.c\", \"line\": 61, \"kind\": \"join-all\","
    "      \"address\": \"0x3140\", \"resource\": null, \"children\": ["
    "       {\"function\": \"at_sleep\", \"file\": \"time.c\", \"line\": 123, \"kind\": \"leaf\","
    "        \"address\": \"0x3180\", \"resource\": {\"kind\": \"sleep\", \"object\": null,"
    "        \"since_ns\": 8000000000, \"deadline_ns\": 12000000000}, \"children\": []},"
    "       {\"function\": \"at_mutex_lock\", \"file\": \"sync.c\", \"line\": 140, \"kind\": \"leaf\","
    "        \"address\": \"0x31e0\", \"resource\": {\"kind\": \"mutex\", \"object\": \"0x5000\","
    "        \"since_ns\": 8000000000, \"owner\": 1, \"waiters\": 2, \"lock_function\": null,"
    "        \"lock_file\": null, \"lock_line\": 0}, \"children\": []}]}]}}]}],"
    " \"threads\": [{\"tid\": 42, \"role\": \"block-on\", \"worker\": -1, \"runtime\": 1, \"task\": 1,"
    "   \"poll_start_ns\": 9000000000, \"roots\": [1]}],"
    " \"errors\": [\"a note with \\\"quotes\\\"\"]}";

AT_TEST(json_writer_exact_document)
{
    at_dump *d = sample_dump("live");
    json_t *got = dump_json(d);
    json_error_t err;
    json_t *want = json_loads(expected_json, 0, &err);
    if (!want)
        fprintf(stderr, "expected JSON does not parse: line %d col %d: %s\n", err.line,
                err.column, err.text);
    CU_ASSERT_PTR_NOT_NULL_FATAL(want);
    if (!json_equal(got, want)) {
        char *g = json_dumps(got, JSON_INDENT(1) | JSON_PRESERVE_ORDER);
        fprintf(stderr, "got:\n%s\n", g);
        free(g);
    }
    CU_ASSERT_TRUE(json_equal(got, want));
    json_decref(got);
    json_decref(want);
    at_dump_free(d);
}

AT_TEST(json_writer_omits_trace_fields_outside_live_dumps)
{
    at_dump *d = sample_dump("snapshot");
    json_t *j = dump_json(d);
    json_t *t = json_task_named(j, "main");
    CU_ASSERT_PTR_NOT_NULL_FATAL(t);
    CU_ASSERT_PTR_NULL(json_object_get(t, "trace"));
    CU_ASSERT_PTR_NULL(json_object_get(t, "native"));
    CU_ASSERT_PTR_NOT_NULL(json_object_get(t, "await"));
    json_decref(j);
    /* And the text form has no native section. */
    char *text = dump_render(d, at_dump_write_text);
    CU_ASSERT_PTR_NULL(strstr(text, "native"));
    free(text);
    at_dump_free(d);
}

/* ---- Call sites ---- */

/* Known instructions, each ending at the offset in the comment. */
static const uint8_t code[] = {
    0x90, 0x90, 0x90, 0x90, 0x90, 0x90, 0x90, 0x90, 0x90, 0x90, /* nops */
    0xe8, 0x10, 0x00, 0x00, 0x00,             /* call rel32          -> 15 */
    0xff, 0xd0,                               /* call *%rax          -> 17 */
    0x41, 0xff, 0xd0,                         /* call *%r8           -> 20 */
    0xff, 0x50, 0x08,                         /* call *0x8(%rax)     -> 23 */
    0xff, 0x15, 0x00, 0x01, 0x00, 0x00,       /* call *0x100(%rip)   -> 29 */
    0xff, 0x94, 0x24, 0x00, 0x01, 0x00, 0x00, /* call *0x100(%rsp)   -> 36 */
    0x41, 0xff, 0x94, 0x24, 0x00, 0x01, 0x00, 0x00, /* call *0x100(%r12) -> 44 */
    0x48, 0x89, 0xc7,                         /* mov %rax,%rdi       -> 47 */
    0xe8, 0x00, 0x00, 0xff, 0xd0,             /* call rel32 ending in ff d0 -> 52 */
    0xc3,
};

static void expect_call(at__callsite_decoder *dec, unsigned end, unsigned len,
                        uint64_t target, uint64_t callee)
{
    uint64_t base = (uint64_t)(uintptr_t)code;
    at__callsite cs = {0};
    AT_ASSERT_EQ_INT(at__callsite_find(dec, base + end, base, callee, &cs), 1);
    AT_ASSERT_EQ_U64(cs.site, base + end - len);
    AT_ASSERT_EQ_U64(cs.length, len);
    AT_ASSERT_EQ_U64(cs.target, target);
}

AT_TEST(callsite_decodes_every_call_form)
{
    at__callsite_decoder *dec = at__callsite_open();
    CU_ASSERT_PTR_NOT_NULL_FATAL(dec);
    uint64_t base = (uint64_t)(uintptr_t)code;
    expect_call(dec, 15, 5, base + 15 + 0x10, 0);
    expect_call(dec, 17, 2, 0, 0);
    expect_call(dec, 20, 3, 0, 0); /* the REX prefix belongs to the call */
    expect_call(dec, 23, 3, 0, 0);
    expect_call(dec, 29, 6, 0, 0);
    expect_call(dec, 36, 7, 0, 0);
    expect_call(dec, 44, 8, 0, 0);
    at__callsite cs;
    AT_ASSERT_EQ_INT(at__callsite_find(dec, base + 47, base, 0, &cs), 0);
    /* Not below the procedure's start: only the 2-byte reading fits. */
    AT_ASSERT_EQ_INT(at__callsite_find(dec, base + 15, base + 13, 0, &cs), 0);
    /* Ambiguous bytes: "ff d0" alone, or the tail of a direct call.  The
     * callee the unwinder saw decides; without it the indirect call wins. */
    uint64_t direct = base + 52 + (uint64_t)(int64_t)(int32_t)0xd0ff0000u;
    expect_call(dec, 52, 5, direct, direct);
    expect_call(dec, 52, 2, 0, 0);
    at__callsite_close(dec);
}

/* ---- Hostile strings ---- */

/* A task whose name and frames hold invalid UTF-8 (a lone 0xff, an overlong
 * NUL 0xc0 0x80), a terminal escape (ESC [31m), a newline, a quote, and a C1
 * control (U+009B, CSI) as valid UTF-8. */
static const char hostile_name[] = "bad\xff\xc0\x80 \x1b[31mred\nline\"q\xc2\x9b";

static at_dump *hostile_dump(void)
{
    at_dump *d = calloc(1, sizeof(*d));
    d->version = AT_TRACE_FORMAT_VERSION;
    d->source = "snapshot";
    d->clock = "live";
    d->nruntimes = 1;
    d->runtimes = at_dump_alloc(d, sizeof(at_dump_runtime));
    at_dump_runtime *r = d->runtimes;
    r->id = 1;
    r->workers = 1;
    r->ntasks = 1;
    r->tasks = at_dump_alloc(d, sizeof(at_dump_task));
    at_dump_task *t = r->tasks;
    t->id = 3;
    strcpy(t->name, hostile_name);
    t->state = AT_TASK_IDLE;
    t->spawn_function = "spawner\x1b]0;title\x07";
    t->spawn_file = "f\xe0\x80\xaf.c";            /* overlong '/' */
    t->spawn_line = 7;
    t->spawn_kind = AT_KIND_SPAWN;
    t->await = at_dump_alloc(d, sizeof(at_dump_frame));
    *t->await = (at_dump_frame){.function = "fn\r\n  task 99 \"forged\"", .file = "ok.c",
                                .line = 1, .kind = AT_KIND_ASYNC, .error = "corrupt: \xed\xa0\x80"};
    at_dump_note(d, "note \x1b[2J\xf4\x90\x80\x80");   /* a surrogate above, > U+10FFFF here */
    return d;
}

AT_TEST(json_writer_writes_valid_utf8_and_escapes_controls)
{
    at_dump *d = hostile_dump();
    char *text = dump_render(d, at_dump_write_json);
    for (const unsigned char *p = (const unsigned char *)text; *p; p++)
        CU_ASSERT_FATAL(*p >= 0x20 || *p == '\n');
    json_error_t err;
    json_t *doc = json_loads(text, 0, &err); /* jansson: strict UTF-8 */
    if (!doc)
        fprintf(stderr, "JSON error line %d: %s\n%s\n", err.line, err.text, text);
    CU_ASSERT_PTR_NOT_NULL_FATAL(doc);
    json_t *t = json_array_get(json_object_get(json_array_get(json_object_get(doc, "runtimes"),
                                                              0), "tasks"), 0);
    AT_ASSERT_EQ_STR(json_string_value(json_object_get(t, "name")),
                     "bad\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd \x1b[31mred\nline\"q\xc2\x9b");
    json_t *spawn = json_object_get(t, "spawn");
    AT_ASSERT_EQ_STR(json_string_value(json_object_get(spawn, "function")),
                     "spawner\x1b]0;title\x07");
    AT_ASSERT_EQ_STR(json_string_value(json_object_get(spawn, "file")),
                     "f\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd.c");
    json_t *aw = json_object_get(t, "await");
    AT_ASSERT_EQ_STR(json_string_value(json_object_get(aw, "error")),
                     "corrupt: \xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
    AT_ASSERT_EQ_STR(json_string_value(json_array_get(json_object_get(doc, "errors"), 0)),
                     "note \x1b[2J\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
    json_decref(doc);
    free(text);
    at_dump_free(d);
}

AT_TEST(text_writer_escapes_every_string_from_the_process)
{
    at_dump *d = hostile_dump();
    char *text = dump_render(d, at_dump_write_text);
    static const char *want =
        "asynctrace dump (snapshot): 1 task in 1 runtime\n"
        "runtime 1 (current-thread, 1 worker, 0 spawned)\n"
        "  task 3 \"bad\\xff\\xc0\\x80 \\x1b[31mred\\nline\\\"q\\u009b\" idle, 0 polls, "
        "spawned at spawner\\x1b]0;title\\x07 (f\\xe0\\x80\\xaf.c:7)\n"
        "    await:\n"
        "      fn\\x0d\\n  task 99 \"forged\" at ok.c:1 <corrupt: \\xed\\xa0\\x80>\n"
        "notes:\n"
        "  - note \\x1b[2J\\xf4\\x90\\x80\\x80\n";
    if (strcmp(text, want))
        fprintf(stderr, "got:\n%s\nexpected:\n%s\n", text, want);
    AT_ASSERT_EQ_STR(text, want);
    free(text);
    at_dump_free(d);
}
