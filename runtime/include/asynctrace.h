/* asynctrace.h - the public header of the asynctrace runtime.
 *
 * A C asynchronous runtime whose every task can be explained: stackless
 * futures with persistent await frames, a scheduler, timers, sync
 * primitives and channels, live task dumps, and a debugger ABI that lets
 * GDB (or any memory reader) list every task from a live process or a core.
 *
 * Start with asynctrace/future.h (writing async functions) and
 * asynctrace/runtime.h (running them); docs/ has the guides. */
#ifndef ASYNCTRACE_H
#define ASYNCTRACE_H

#include "asynctrace/abi.h"
#include "asynctrace/future.h"
#include "asynctrace/runtime.h"
#include "asynctrace/time.h"
#include "asynctrace/sync.h"
#include "asynctrace/channel.h"
#include "asynctrace/combinators.h"
#include "asynctrace/dump.h"
#include "asynctrace/snapshot.h"
#include "asynctrace/trace.h"
#include "asynctrace/io.h"
#include "asynctrace/blocking.h"

#endif /* ASYNCTRACE_H */
