/* gdb_autoload.c - a .debug_gdb_scripts entry naming the installed GDB
 * loader by its absolute path (AT_GDB_LOADER, set by mk/install.mk from
 * DATADIR), so GDB loads the asynctrace extension for any program linked
 * with the runtime, statically or not, and for its core files, when that
 * file is in GDB's auto-load safe-path (always for PREFIX=/usr; see
 * docs/gdb.md).  An absolute name is never looked up along GDB's source
 * path, so a file in the current directory cannot stand in for it.
 *
 * The entry is a type byte (1: a Python script file name) and a
 * NUL-terminated name; the section is mergeable, so the linker keeps one
 * copy however many objects carry it.  abi.c refers to at__gdb_autoload so
 * that a static link pulls this object in. */
#include "internal.h"

#ifndef AT_GDB_LOADER
#error "AT_GDB_LOADER (the installed asynctrace-gdb.py) must be defined: build with make"
#endif

__asm__(".pushsection \".debug_gdb_scripts\", \"MS\", @progbits, 1\n"
        ".byte 1\n"
        ".asciz \"" AT_GDB_LOADER "\"\n"
        ".popsection\n");

/* Referenced from abi.c (the descriptor's object is always linked). */
const char at__gdb_autoload = 1;
