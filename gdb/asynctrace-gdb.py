# asynctrace-gdb.py - GDB loader for the asynctrace extension.
#
# GDB runs it by itself once installed (the library's .debug_gdb_scripts
# entry names it; installed again as libasynctrace.so.N-gdb.py, GDB's
# per-object-file script), or `source gdb/asynctrace-gdb.py` from a source
# tree.  It puts the directory of the Python package on sys.path and
# registers the commands, parameters, frame filter, convenience functions
# and pretty printers (docs/gdb.md).  Running it again changes nothing.
import os
import sys

# `make install` replaces this line with the installed package directory.
_PYTHON_DIR = None


def _asynctrace_load():
    here = _PYTHON_DIR or os.path.dirname(os.path.abspath(__file__))
    if here not in sys.path:
        sys.path.insert(0, here)
    try:
        import asynctrace
    except ImportError as e:  # the library's script, without the package
        sys.stderr.write("asynctrace: the GDB extension is not installed (%s; install "
                         "asynctrace-gdb, or make install)\n" % e)
        return
    asynctrace.register()


_asynctrace_load()
del _asynctrace_load
