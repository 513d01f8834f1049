/* gdb_autoload.c - a .debug_gdb_scripts entry naming "asynctrace-gdb.py", so
 * GDB offers to load the asynctrace extension for any program linked with
 * the runtime (when the script's directory is in GDB's auto-load
 * scripts-directory and safe-path; see docs/gdb.md).
 *
 * The entry is a type byte (1: a Python script file name) and a
 * NUL-terminated name; the section is mergeable, so the linker keeps one
 * copy however many objects carry it.  abi.c refers to at__gdb_autoload so
 * that a static link pulls this object in. */
#include "core/internal.h"

__asm__(".pushsection \".debug_gdb_scripts\", \"MS\", @progbits, 1\n"
        ".byte 1\n"
        ".asciz \"asynctrace-gdb.py\"\n"
        ".popsection\n");

/* Referenced from abi.c (the descriptor's object is always linked). */
const char at__gdb_autoload = 1;
