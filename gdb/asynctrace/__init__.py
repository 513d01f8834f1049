"""asynctrace: GDB commands that list and backtrace every task of the
asynctrace runtime, from a live process or a core file, without running any
code in the program.  See docs/gdb.md.

Modules: constants (ABI values), backend (the interface of a source of
memory and threads), memory (cached reads), elf (ELF files on disk), abi
(descriptor and layout table), records (what a walk produces), walk
(runtimes, tasks, frames, threads), clock (what "now" is), session (one
reading), jsonout, text, tasktable and deadlock (output and analysis, all
from the records).  Only the GDB front end imports gdb: gdbsource (the GDB backend),
gdblocate (the descriptor in GDB's program space), stops (when each live
inferior stopped), native (GDB's unwinder for running tasks), commands,
printers, and the GDB-only modules options (option tables), params (set/show
asynctrace), output (gdb.write, -output), tasknav (async-task, convenience
functions), framefilter (bt) and api (the Python API for user scripts).
The command-line tool (cli/) uses procsource (a PID), coresource
(an ELF core) and document (a trace document) instead.
"""

_registered = False


def tasks(state=None, name=None, runtime=None):
    """Task records of the selected inferior (inside GDB; see api.py)."""
    from . import api
    return api.tasks(state, name, runtime)


def runtimes():
    """Runtime records of the selected inferior (inside GDB; see api.py)."""
    from . import api
    return api.runtimes()


def threads():
    """Thread records (LWP, GDB thread number, task polled now; see api.py)."""
    from . import api
    return api.threads()


def register():
    """Register the commands, the pretty printers and the event hooks (once)."""
    global _registered
    if _registered:
        return
    import gdb
    from . import commands, framefilter, gdbsource, params, printers, session, stops, tasknav
    session.DEFAULT_BACKEND = gdbsource.GdbBackend
    params.register()
    commands.register()
    tasknav.register()
    framefilter.register()
    printers.register()
    stops.register()
    for event in ("new_objfile", "clear_objfiles"):
        registry = getattr(gdb.events, event, None)
        if registry is not None:
            registry.connect(gdbsource.LOCATOR.clear)
    _registered = True
