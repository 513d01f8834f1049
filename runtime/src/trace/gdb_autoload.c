/* gdb_autoload.c - a .debug_gdb_scripts entry naming the installed GDB
 * loader by its absolute path, so GDB offers to load the asynctrace
 * extension for any program linked with the runtime (when that file is in
 * GDB's auto-load safe-path; see docs/gdb.md).
 *
 * The name is absolute on purpose: GDB looks a relative name up in its
 * current directory first, so an entry "asynctrace-gdb.py" would run any
 * file of that name planted where the debugger is started.  The build sets
 * AT_GDB_AUTOLOAD_SCRIPT to $(PREFIX)/share/gdb/auto-load/asynctrace-gdb.py
 * (mk/gdb.mk); only an absolute path is accepted.
 *
 * The entry is a type byte (1: a Python script file name) and a
 * NUL-terminated name; the section is mergeable, so the linker keeps one
 * copy however many objects carry it.  abi.c refers to at__gdb_autoload so
 * that a static link pulls this object in. */
#include "core/internal.h"

#ifndef AT_GDB_AUTOLOAD_SCRIPT
#define AT_GDB_AUTOLOAD_SCRIPT "/usr/local/share/gdb/auto-load/asynctrace-gdb.py"
#endif

__asm__(".pushsection \".debug_gdb_scripts\", \"MS\", @progbits, 1\n"
        ".byte 1\n"
        ".asciz \"" AT_GDB_AUTOLOAD_SCRIPT "\"\n"
        ".popsection\n");

/* Referenced from abi.c (the descriptor's object is always linked). */
const char at__gdb_autoload = 1;
