# asynctrace-gdb.py - GDB loader for the asynctrace extension.
#
# `source gdb/asynctrace-gdb.py` (or GDB's auto-load, from the runtime's
# .debug_gdb_scripts entry) puts the directory of this file on sys.path and
# registers the commands info async-tasks, async-bt, info async-threads,
# info async-runtimes and info async-deadlocks, plus pretty printers.
import os
import sys

def _asynctrace_load():
    here = os.path.dirname(os.path.abspath(__file__))
    if here not in sys.path:
        sys.path.insert(0, here)
    import asynctrace
    asynctrace.register()

_asynctrace_load()
del _asynctrace_load
