/* cfi_rule.c - does the code at a return address keep a standard frame
 * pointer?  Read from the call frame information (.eh_frame, through
 * elfutils' libdwfl), never guessed from the stack.
 *
 * "Standard" is the rule GCC and Clang emit after `push %rbp; mov %rsp,%rbp`:
 * the CFA is %rbp + 16, the caller's %rbp is saved at CFA - 16 and the
 * return address at CFA - 8.  For such a frame, following %rbp gives the
 * caller's frame and return address exactly as a CFI unwinder (libunwind)
 * does; trace_capture.c walks a stack that way only when every frame on it
 * keeps the rule, and asks libunwind otherwise. */
#include <dwarf.h>
#include <elfutils/libdwfl.h>
#include <stdlib.h>
#include <unistd.h>

#include "trace/trace_internal.h"

#define AT__DW_RBP 6
#define AT__DW_RA 16

Dwfl *at__dwfl_self_open(void)
{
    static char *debuginfo_path;
    static const Dwfl_Callbacks callbacks = {
        .find_elf = dwfl_linux_proc_find_elf,
        .find_debuginfo = dwfl_standard_find_debuginfo,
        .debuginfo_path = &debuginfo_path,
    };
    Dwfl *dwfl = dwfl_begin(&callbacks);
    if (!dwfl)
        return NULL;
    dwfl_report_begin(dwfl);
    if (dwfl_linux_proc_report(dwfl, getpid()) != 0 ||
        dwfl_report_end(dwfl, NULL, NULL) != 0) {
        dwfl_end(dwfl);
        return NULL;
    }
    return dwfl;
}

/* ops is exactly "DW_OP_call_frame_cfa; DW_OP_plus_uconst off" (off taken
 * modulo 2^64, as libdw spells a negative offset). */
static int at__saved_at_cfa(const Dwarf_Op *ops, size_t n, int64_t off)
{
    return n == 2 && ops[0].atom == DW_OP_call_frame_cfa && ops[1].atom == DW_OP_plus_uconst &&
           ops[1].number == (Dwarf_Word)off;
}

static int at__rule_of(Dwfl *dwfl, uint64_t ra)
{
    Dwarf_Addr pc = (Dwarf_Addr)ra - 1; /* inside the call, as unwinders look */
    Dwfl_Module *mod = dwfl_addrmodule(dwfl, pc);
    Dwarf_Addr bias;
    Dwarf_CFI *cfi = mod ? dwfl_module_eh_cfi(mod, &bias) : NULL;
    Dwarf_Frame *frame;
    if (!cfi || dwarf_cfi_addrframe(cfi, pc - bias, &frame) != 0)
        return 0;
    int ok = 0;
    bool signal = true;
    Dwarf_Op *ops, mem[3];
    size_t n;
    if (dwarf_frame_info(frame, NULL, NULL, &signal) == AT__DW_RA && !signal &&
        dwarf_frame_cfa(frame, &ops, &n) == 0 && n == 1 && ops[0].atom == DW_OP_bregx &&
        ops[0].number == AT__DW_RBP && ops[0].number2 == 16 &&
        dwarf_frame_register(frame, AT__DW_RBP, mem, &ops, &n) == 0 &&
        at__saved_at_cfa(ops, n, -16) &&
        dwarf_frame_register(frame, AT__DW_RA, mem, &ops, &n) == 0 && at__saved_at_cfa(ops, n, -8))
        ok = 1;
    free(frame);
    return ok;
}

int at__keeps_frame_pointer(at__collector *c, uint64_t ra)
{
    uint64_t known = at__addr_map_get(&c->fp_rule, ra);
    if (known)
        return known == 1;
    if (!c->dwfl && !c->dwfl_failed) {
        c->dwfl = at__dwfl_self_open();
        c->dwfl_failed = !c->dwfl;
    }
    int ok = c->dwfl ? at__rule_of(c->dwfl, ra) : 0;
    if (at__addr_map_put(&c->fp_rule, ra, ok ? 1 : 2) < 0)
        c->oom = 1;
    return ok;
}

void at__cfi_close(at__collector *c)
{
    if (c->dwfl)
        dwfl_end(c->dwfl);
    c->dwfl = NULL;
    at__addr_map_free(&c->fp_rule);
}
