/* asynctrace-unwind - native frames of every thread of a process or a core,
 * for the command-line tool (gdb/asynctrace/unwind.py), with elfutils'
 * libdwfl: one JSON object per line and thread,
 *   {"tid":N,"frames":[{"pc":N,"sp":N,"function":S|null,"file":S|null,
 *                       "line":N,"inline":B}, ...],"error":S?}
 * innermost frame first; inlined calls are frames of their own (as GDB shows
 * them), sharing the pc and sp of the real frame that holds them.
 *
 * usage: asynctrace-unwind --pid PID
 *        asynctrace-unwind --core CORE --exe EXE
 * A PID is attached (ptrace) and stopped only while it is unwound; nothing
 * is written to it.  Exit status 0, or 1 with a message on stderr.
 */
#define _GNU_SOURCE
#include <dwarf.h>
#include <elfutils/libdw.h>
#include <elfutils/libdwfl.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_FRAMES 128
#define X86_64_RSP 7

static char *debuginfo_path;

static const Dwfl_Callbacks proc_callbacks = {
    .find_elf = dwfl_linux_proc_find_elf,
    .find_debuginfo = dwfl_standard_find_debuginfo,
    .debuginfo_path = &debuginfo_path,
};

static const Dwfl_Callbacks core_callbacks = {
    .find_elf = dwfl_build_id_find_elf,
    .find_debuginfo = dwfl_standard_find_debuginfo,
    .debuginfo_path = &debuginfo_path,
};

/* A JSON string literal of s (or null). */
static void json_str(const char *s)
{
    if (!s) {
        fputs("null", stdout);
        return;
    }
    putchar('"');
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\')
            printf("\\%c", *p);
        else if (*p < 0x20)
            printf("\\u%04x", *p);
        else
            putchar(*p);
    }
    putchar('"');
}

struct walk {
    int n;       /* frames printed so far */
};

static void frame_out(struct walk *w, Dwarf_Addr pc, Dwarf_Word sp, const char *fn,
                      const char *file, int line, int is_inline)
{
    printf("%s{\"pc\":%" PRIu64 ",\"sp\":%" PRIu64 ",\"function\":", w->n ? "," : "",
           (uint64_t)pc, (uint64_t)sp);
    json_str(fn);
    fputs(",\"file\":", stdout);
    json_str(file);
    printf(",\"line\":%d,\"inline\":%s}", line, is_inline ? "true" : "false");
    w->n++;
}

/* The name of a DIE of a function (through its abstract origin). */
static const char *die_name(Dwarf_Die *die)
{
    Dwarf_Attribute attr;
    Dwarf_Die origin;
    const char *name = dwarf_diename(die);
    if (name)
        return name;
    if (dwarf_attr_integrate(die, DW_AT_abstract_origin, &attr) &&
        dwarf_formref_die(&attr, &origin))
        return dwarf_diename(&origin);
    return NULL;
}

/* One real frame at pc: its inlined calls first (innermost first), then the
 * function itself; each call's line is where the next inner one was
 * called from. */
static void frame_with_inlines(struct walk *w, Dwfl_Module *mod, Dwarf_Addr pc,
                               Dwarf_Addr adj, Dwarf_Word sp)
{
    const char *symname = mod ? dwfl_module_addrname(mod, adj) : NULL;
    const char *file = NULL;
    int line = 0;
    Dwfl_Line *dl = mod ? dwfl_module_getsrc(mod, adj) : NULL;
    if (dl)
        file = dwfl_lineinfo(dl, NULL, &line, NULL, NULL, NULL);
    Dwarf_Addr bias = 0;
    Dwarf_Die *cu = mod ? dwfl_module_addrdie(mod, adj, &bias) : NULL;
    Dwarf_Die *scopes = NULL;
    int nscopes = cu ? dwarf_getscopes(cu, adj - bias, &scopes) : 0;
    if (nscopes > 0) {
        /* dwarf_getscopes continues from an inlined call into the scopes
         * of its abstract definition; the calls it was inlined into (one
         * frame each, as GDB shows them) are the concrete DIEs that
         * contain the innermost scope. */
        Dwarf_Die inner = scopes[0];
        free(scopes);
        scopes = NULL;
        nscopes = dwarf_getscopes_die(&inner, &scopes);
    }
    for (int i = 0; i < nscopes; i++) {
        Dwarf_Die *s = &scopes[i];
        int tag = dwarf_tag(s);
        if (tag == DW_TAG_inlined_subroutine) {
            frame_out(w, pc, sp, die_name(s), file, line, 1);
            Dwarf_Attribute attr;
            Dwarf_Word v;
            Dwarf_Files *files;
            line = 0;
            if (dwarf_formudata(dwarf_attr(s, DW_AT_call_line, &attr), &v) == 0)
                line = (int)v;
            if (dwarf_formudata(dwarf_attr(s, DW_AT_call_file, &attr), &v) == 0 &&
                dwarf_getsrcfiles(cu, &files, NULL) == 0)
                file = dwarf_filesrc(files, v, NULL, NULL);
        } else if (tag == DW_TAG_subprogram) {
            const char *name = die_name(s);
            frame_out(w, pc, sp, name ? name : symname, file, line, 0);
            free(scopes);
            return;
        }
    }
    free(scopes);
    frame_out(w, pc, sp, symname, file, line, 0);
}

static int frame_cb(Dwfl_Frame *frame, void *arg)
{
    struct walk *w = arg;
    Dwarf_Addr pc;
    bool activation;
    Dwarf_Word sp = 0;
    if (!dwfl_frame_pc(frame, &pc, &activation))
        return DWARF_CB_ABORT;
    dwfl_frame_reg(frame, X86_64_RSP, &sp);
    Dwarf_Addr adj = activation ? pc : pc - 1;
    Dwfl *dwfl = dwfl_thread_dwfl(dwfl_frame_thread(frame));
    frame_with_inlines(w, dwfl_addrmodule(dwfl, adj), pc, adj, sp);
    return w->n >= MAX_FRAMES ? DWARF_CB_ABORT : DWARF_CB_OK;
}

static int thread_cb(Dwfl_Thread *thread, void *arg)
{
    struct walk w = {0};
    printf("{\"tid\":%d,\"frames\":[", (int)dwfl_thread_tid(thread));
    int rc = dwfl_thread_getframes(thread, frame_cb, &w);
    fputs("]", stdout);
    if (rc == -1 && w.n == 0) {
        fputs(",\"error\":", stdout);
        json_str(dwfl_errmsg(-1));
    }
    fputs("}\n", stdout);
    return DWARF_CB_OK;
}

static int fail(const char *what)
{
    fprintf(stderr, "asynctrace-unwind: %s: %s\n", what, dwfl_errmsg(-1));
    return 1;
}

static int unwind_pid(pid_t pid)
{
    Dwfl *dwfl = dwfl_begin(&proc_callbacks);
    if (!dwfl)
        return fail("dwfl_begin");
    if (dwfl_linux_proc_report(dwfl, pid) != 0)
        return fail("cannot read the mappings of the process");
    dwfl_report_end(dwfl, NULL, NULL);
    int err = dwfl_linux_proc_attach(dwfl, pid, false);
    if (err != 0) {
        fprintf(stderr, "asynctrace-unwind: cannot attach to %d: %s\n", (int)pid,
                err > 0 ? strerror(err) : dwfl_errmsg(-1));
        return 1;
    }
    int rc = dwfl_getthreads(dwfl, thread_cb, NULL);
    dwfl_end(dwfl);  /* detaches */
    return rc == 0 ? 0 : fail("dwfl_getthreads");
}

static int unwind_core(const char *core, const char *exe)
{
    elf_version(EV_CURRENT);
    int fd = open(core, O_RDONLY);
    if (fd < 0) {
        perror(core);
        return 1;
    }
    Elf *elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
    Dwfl *dwfl = dwfl_begin(&core_callbacks);
    if (!elf || !dwfl)
        return fail("cannot read the core");
    if (dwfl_core_file_report(dwfl, elf, exe) < 0)
        return fail("cannot read the core's mappings");
    dwfl_report_end(dwfl, NULL, NULL);
    if (dwfl_core_file_attach(dwfl, elf) < 0)
        return fail("cannot read the core's threads");
    int rc = dwfl_getthreads(dwfl, thread_cb, NULL);
    dwfl_end(dwfl);
    elf_end(elf);
    close(fd);
    return rc == 0 ? 0 : fail("dwfl_getthreads");
}

int main(int argc, char **argv)
{
    unsetenv("DEBUGINFOD_URLS");  /* never reach out to the network */
    if (argc == 3 && strcmp(argv[1], "--pid") == 0)
        return unwind_pid((pid_t)atoi(argv[2]));
    if (argc == 5 && strcmp(argv[1], "--core") == 0 && strcmp(argv[3], "--exe") == 0)
        return unwind_core(argv[2], argv[4]);
    fprintf(stderr, "usage: asynctrace-unwind --pid PID | --core CORE --exe EXE\n");
    return 1;
}
