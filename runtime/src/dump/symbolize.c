/* symbolize.c - raw backtraces to at_dump_native frames: call site
 * (capstone, callsite.c), function name and offset, file:line.
 *
 * Where the answers come from:
 *  - function names: libunwind's unw_get_proc_name, read during the capture
 *    (once per procedure, trace_capture.c); when it has none, the ELF symbol
 *    table through elfutils' libdwfl (dwfl_module_addrinfo);
 *  - file:line: the DWARF line table (.debug_line) through libdwfl
 *    (dwfl_module_getsrc), looked up at the call instruction, so the line is
 *    the line of the call.  When the call comes from code inlined into the
 *    frame's function (at_poll, say), the position reported is where the
 *    outermost inlined call sits in that function (DW_AT_call_file/line of
 *    the DW_TAG_inlined_subroutine, via dwarf_getscopes), so the line is in
 *    the function the frame names.  Paths under the compilation directory
 *    are given relative to it, as __FILE__ spells them.  No debug info:
 *    null/0;
 *  - offsets: call site (or the return address when unverified) minus the
 *    procedure start libunwind reported.
 * Each distinct return address is resolved once per dump, and identical
 * backtraces (same return addresses) share one frame array in the dump, so
 * resolving costs per distinct suspension point, not per task.  libdwfl is
 * set up lazily (reading /proc/self/maps) only when a dump has frames. */
#include <dwarf.h>
#include <elfutils/libdwfl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "trace/trace_internal.h"

typedef struct at__resolver {
    at_dump *dump;
    const at__collector *collector;
    at__callsite_decoder *decoder;
    Dwfl *dwfl;
    int dwfl_tried;
    at__addr_map index;     /* ip -> 1 + index in natives[] */
    at_dump_native *natives;
    size_t nnatives, natives_cap;
} at__resolver;

/* A DWARF path as compiled: relative to the compilation directory when it
 * lies under it (so it reads like __FILE__ and the sites' file names). */
static const char *at__as_compiled(at__resolver *r, Dwarf_Die *cu, const char *path)
{
    Dwarf_Attribute attr;
    const char *dir = cu ? dwarf_formstring(dwarf_attr(cu, DW_AT_comp_dir, &attr)) : NULL;
    size_t len = dir ? strlen(dir) : 0;
    if (len && strncmp(path, dir, len) == 0 && path[len] == '/')
        path += len + 1;
    return at_dump_strdup(r->dump, path);
}

/* When `addr` lies in code inlined into its function, set n->file/line to
 * the call of the outermost inlined function and return 1. */
static int at__inlined_call_line(at__resolver *r, Dwfl_Module *mod, uint64_t addr,
                                 at_dump_native *n)
{
    Dwarf_Addr bias;
    Dwarf_Die *cu = dwfl_module_addrdie(mod, (Dwarf_Addr)addr, &bias);
    if (!cu)
        return 0;
    Dwarf_Die *scopes = NULL;
    int nscopes = dwarf_getscopes(cu, (Dwarf_Addr)addr - bias, &scopes);
    int outer = -1;
    for (int i = 0; i < nscopes; i++)
        if (dwarf_tag(&scopes[i]) == DW_TAG_inlined_subroutine)
            outer = i;
    int found = 0;
    Dwarf_Attribute attr;
    Dwarf_Word line = 0, file = 0;
    Dwarf_Files *files;
    size_t nfiles;
    if (outer >= 0 &&
        dwarf_formudata(dwarf_attr(&scopes[outer], DW_AT_call_line, &attr), &line) == 0 &&
        dwarf_formudata(dwarf_attr(&scopes[outer], DW_AT_call_file, &attr), &file) == 0 &&
        dwarf_getsrcfiles(cu, &files, &nfiles) == 0 && file < nfiles) {
        const char *path = dwarf_filesrc(files, file, NULL, NULL);
        if (path && line) {
            n->file = at__as_compiled(r, cu, path);
            n->line = (uint32_t)line;
            found = 1;
        }
    }
    free(scopes);
    return found;
}

/* Name (via libdwfl's symbol tables) and file:line of address `addr`. */
static void at__dwfl_lookup(at__resolver *r, uint64_t addr, uint64_t line_addr,
                            at_dump_native *n)
{
    if (!r->dwfl_tried) {
        r->dwfl_tried = 1;
        r->dwfl = at__dwfl_self_open();
    }
    if (!r->dwfl)
        return;
    Dwfl_Module *mod = dwfl_addrmodule(r->dwfl, (Dwarf_Addr)addr);
    if (!mod)
        return;
    if (!n->symbol) {
        GElf_Off off;
        GElf_Sym sym;
        const char *name = dwfl_module_addrinfo(mod, (GElf_Addr)addr, &off, &sym,
                                                NULL, NULL, NULL);
        if (name)
            n->symbol = at_dump_strdup(r->dump, name);
    }
    if (at__inlined_call_line(r, mod, line_addr, n))
        return;
    Dwfl_Line *line = dwfl_module_getsrc(mod, (Dwarf_Addr)line_addr);
    if (line) {
        int lineno = 0;
        const char *file = dwfl_lineinfo(line, NULL, &lineno, NULL, NULL, NULL);
        if (file && lineno > 0) {
            Dwarf_Addr bias;
            n->file = at__as_compiled(r, dwfl_module_addrdie(mod, (Dwarf_Addr)line_addr, &bias),
                                      file);
            n->line = (uint32_t)lineno;
        }
    }
}

static void at__resolve_one(at__resolver *r, const at__raw_frame *f, uint64_t callee,
                            at_dump_native *n)
{
    memset(n, 0, sizeof(*n));
    n->return_address = f->ip;
    n->proc_start = f->start;
    at__callsite cs;
    if (at__callsite_find(r->decoder, f->ip, f->start, callee, &cs)) {
        n->verified = 1;
        n->call_site = cs.site;
        n->call_target = cs.target;
    }
    uint64_t at = n->verified ? n->call_site : f->ip - 1;
    n->offset = f->start ? (n->verified ? n->call_site : f->ip) - f->start : 0;
    const char *name = at__collector_name(r->collector, f->start);
    if (name)
        n->symbol = at_dump_strdup(r->dump, name);
    at__dwfl_lookup(r, f->ip - 1, at, n);
}

/* Index of the resolved frame for f, resolving it on first sight; -1 on
 * allocation failure. */
static long at__resolved(at__resolver *r, const at__raw_frame *f, uint64_t callee)
{
    uint64_t idx = at__addr_map_get(&r->index, f->ip);
    if (idx)
        return (long)(idx - 1);
    if (r->nnatives == r->natives_cap) {
        size_t ncap = r->natives_cap ? r->natives_cap * 2 : 64;
        at_dump_native *nn = realloc(r->natives, ncap * sizeof(*nn));
        if (!nn)
            return -1;
        r->natives = nn;
        r->natives_cap = ncap;
    }
    at__resolve_one(r, f, callee, &r->natives[r->nnatives]);
    if (at__addr_map_put(&r->index, f->ip, r->nnatives + 1) < 0)
        return -1;
    return (long)r->nnatives++;
}

static uint64_t at__bt_hash(const at__raw_frame *f, size_t n)
{
    uint64_t h = 0x9e3779b97f4a7c15ull ^ n;
    for (size_t i = 0; i < n; i++) {
        h ^= f[i].ip;
        h *= 0x100000001b3ull;
        h ^= h >> 29;
    }
    return h ? h : 1;
}

static int at__same_frames(const at__collector *c, const at__raw_backtrace *a,
                           const at__raw_backtrace *b)
{
    if (a->count != b->count)
        return 0;
    for (size_t i = 0; i < a->count; i++)
        if (c->frames[a->first + i].ip != c->frames[b->first + i].ip)
            return 0;
    return 1;
}

int at__symbolize_backtraces(at_dump *d, const at__collector *c,
                             at_dump_backtrace *out)
{
    at__resolver r = {.dump = d, .collector = c};
    at__addr_map shared = {0}; /* backtrace hash -> 1 + index of a backtrace */
    int rc = 0;
    r.decoder = at__callsite_open();
    const uint64_t leaf_start = (uint64_t)(uintptr_t)at_trace_leaf;
    for (size_t b = 0; b < c->nbts && rc == 0; b++) {
        const at__raw_backtrace *bt = &c->bts[b];
        const at__raw_frame *frames = &c->frames[bt->first];
        out[b].nframes = 0;
        out[b].frames = NULL;
        if (!bt->count)
            continue;
        /* Tasks suspended at the same place come one after another. */
        if (b && at__same_frames(c, &c->bts[b - 1], bt)) {
            out[b] = out[b - 1];
            continue;
        }
        uint64_t h = at__bt_hash(frames, bt->count);
        uint64_t other = at__addr_map_get(&shared, h);
        if (other && at__same_frames(c, &c->bts[other - 1], bt)) {
            out[b] = out[other - 1];
            continue;
        }
        at_dump_native *nf = at_dump_alloc(d, bt->count * sizeof(*nf));
        if (!nf) {
            rc = AT_ENOMEM;
            break;
        }
        for (size_t i = 0; i < bt->count; i++) {
            uint64_t callee = i ? frames[i - 1].start : leaf_start;
            long k = at__resolved(&r, &frames[i], callee);
            if (k < 0) {
                rc = AT_ENOMEM;
                break;
            }
            nf[i] = r.natives[k];
        }
        if (rc < 0)
            break;
        out[b].frames = nf;
        out[b].nframes = bt->count;
        if (!other && at__addr_map_put(&shared, h, b + 1) < 0)
            rc = AT_ENOMEM;
    }
    at__addr_map_free(&shared);
    at__addr_map_free(&r.index);
    free(r.natives);
    at__callsite_close(r.decoder);
    if (r.dwfl)
        dwfl_end(r.dwfl);
    return rc;
}
