/* asynctrace/snapshot.h - the in-process snapshot walker.
 *
 * Reads the runtime's records the way an outside tool does: starting from
 * the descriptor asynctrace_debug, through the layout table's offsets, with
 * every read checked (process_vm_readv on the process itself, so a garbage
 * pointer yields "corrupt: ..." instead of a crash), every list bounded, and
 * no locks taken.  It runs no task code, so it works while a runtime is
 * stuck.  It is the reference the GDB walker is tested against. */
#ifndef ASYNCTRACE_SNAPSHOT_H
#define ASYNCTRACE_SNAPSHOT_H

#include "asynctrace/dump.h"

#ifdef __cplusplus
extern "C" {
#endif
/* Everything declared here is the library's exported API (it is built
 * with -fvisibility=hidden). */
#pragma GCC visibility push(default)

/* Walk limits (a walk never exceeds them; what is cut is reported). */
#define AT_SNAPSHOT_MAX_TASKS   (1u << 24)
#define AT_SNAPSHOT_MAX_DEPTH   256u   /* frames along one await chain */
#define AT_SNAPSHOT_MAX_CHILDREN 4096u /* children of one combinator frame */
#define AT_SNAPSHOT_MAX_THREADS 4096u
#define AT_SNAPSHOT_MAX_RUNTIMES 1024u

/* Take a snapshot of every runtime in the process.  Returns NULL only when
 * out of memory; problems met on the way are reported inside the dump. */
at_dump *at_snapshot_take(void);

/* The same walk over an arbitrary descriptor address (tests use it on
 * deliberately corrupted copies). */
at_dump *at_snapshot_take_at(const void *descriptor);

#pragma GCC visibility pop
#ifdef __cplusplus
}
#endif
#endif
