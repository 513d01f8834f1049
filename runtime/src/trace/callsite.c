/* callsite.c - find the call instruction that ends at a return address,
 * with capstone (x86-64).
 *
 * A return address is where a call resumes; the call itself ends exactly
 * there.  x86 cannot be decoded backwards, so every length a call can have
 * is tried: E8 rel32 (5 bytes) and FF /2 with its ModRM, SIB and
 * displacement forms, optionally behind a REX or notrack prefix (2 to 9
 * bytes).  A candidate counts when capstone decodes, at ra - len, one call
 * instruction of exactly len bytes.  When several lengths decode (a byte
 * sequence can be read more than one way), the choice is:
 *   1. a direct call whose target is the procedure the frame above called
 *      (the callee's start, known from the unwind);
 *   2. else the shortest indirect call, extended over prefix bytes in front
 *      of it that still decode as the same call;
 *   3. else a direct call to somewhere else (a PLT stub, for instance).
 * No candidate: the frame is kept and marked unverified by the caller.
 *
 * Memory read: only [max(lo, ra - 9), ra), inside the procedure that
 * contains the return address, which the unwinder found mapped. */
#include <capstone/capstone.h>
#include <stdlib.h>

#include "trace/trace_internal.h"

#define AT__CALL_MIN_LEN 2
#define AT__CALL_MAX_LEN 9

struct at__callsite_decoder {
    csh handle;
    cs_insn *insn;
};

at__callsite_decoder *at__callsite_open(void)
{
    at__callsite_decoder *d = calloc(1, sizeof(*d));
    if (!d)
        return NULL;
    if (cs_open(CS_ARCH_X86, CS_MODE_64, &d->handle) != CS_ERR_OK) {
        free(d);
        return NULL;
    }
    cs_option(d->handle, CS_OPT_DETAIL, CS_OPT_ON);
    d->insn = cs_malloc(d->handle);
    if (!d->insn) {
        cs_close(&d->handle);
        free(d);
        return NULL;
    }
    return d;
}

void at__callsite_close(at__callsite_decoder *d)
{
    if (!d)
        return;
    cs_free(d->insn, 1);
    cs_close(&d->handle);
    free(d);
}

/* Decode one instruction at ra - len; 1 if it is a call of exactly len
 * bytes, with *target set for a direct (immediate) call, else 0. */
static int at__call_of_len(at__callsite_decoder *d, uint64_t ra, unsigned len,
                           uint64_t *target)
{
    const uint8_t *code = (const uint8_t *)(uintptr_t)(ra - len);
    size_t size = len;
    uint64_t addr = ra - len;
    if (!cs_disasm_iter(d->handle, &code, &size, &addr, d->insn))
        return 0;
    if (d->insn->size != len || d->insn->id != X86_INS_CALL)
        return 0;
    *target = 0;
    const cs_x86 *x = &d->insn->detail->x86;
    if (x->op_count == 1 && x->operands[0].type == X86_OP_IMM)
        *target = (uint64_t)x->operands[0].imm;
    return 1;
}

static int at__is_prefix(uint8_t b)
{
    return (b >= 0x40 && b <= 0x4f) || b == 0x3e || b == 0x2e || b == 0x66 ||
           b == 0x67 || b == 0xf2;
}

int at__callsite_find(at__callsite_decoder *d, uint64_t ra, uint64_t lo,
                      uint64_t callee, at__callsite *out)
{
    if (!d || ra < AT__CALL_MAX_LEN)
        return 0;
    uint64_t target[AT__CALL_MAX_LEN + 1] = {0};
    int ok[AT__CALL_MAX_LEN + 1] = {0};
    for (unsigned len = AT__CALL_MIN_LEN; len <= AT__CALL_MAX_LEN; len++)
        if (!lo || ra - len >= lo)
            ok[len] = at__call_of_len(d, ra, len, &target[len]);

    unsigned pick = 0;
    for (unsigned len = AT__CALL_MIN_LEN; len <= AT__CALL_MAX_LEN && !pick; len++)
        if (ok[len] && target[len] && callee && target[len] == callee)
            pick = len;
    for (unsigned len = AT__CALL_MIN_LEN; len <= AT__CALL_MAX_LEN && !pick; len++)
        if (ok[len] && !target[len]) {
            pick = len;
            while (pick < AT__CALL_MAX_LEN && ok[pick + 1] && !target[pick + 1] &&
                   at__is_prefix(*(const uint8_t *)(uintptr_t)(ra - pick - 1)))
                pick++;
        }
    for (unsigned len = AT__CALL_MIN_LEN; len <= AT__CALL_MAX_LEN && !pick; len++)
        if (ok[len])
            pick = len;
    if (!pick)
        return 0;
    out->site = ra - pick;
    out->target = target[pick];
    out->length = pick;
    return 1;
}
