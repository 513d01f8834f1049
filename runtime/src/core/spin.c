/* spin.c - the contended wait of the primitives' spin lock (core/internal.h):
 * the uncontended lock is one exchange, inline; this is the rest, out of
 * line. */
#include "core/internal.h"

void at__spin_lock_wait(_Atomic uint32_t *l)
{
    unsigned spins = 0;
    do {
        while (atomic_load_explicit(l, memory_order_relaxed))
            at__spin_pause(&spins);
    } while (atomic_exchange_explicit(l, 1, memory_order_acquire));
}
