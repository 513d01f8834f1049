"""asynctrace: GDB commands that list and backtrace every task of the
asynctrace runtime, from a live process or a core file, without running any
code in the program.  See docs/gdb.md.

Modules: constants (ABI values), memory (cached reads), elf (section tables),
abi (descriptor and layout table), records (what a walk produces), walk
(runtimes, tasks, frames, threads), clock (what "now" is), stops (when
each live inferior stopped), session (one reading), native (GDB's
unwinder for running tasks), jsonout, text and deadlock (output and
analysis, all from the records), commands, printers.
"""

_registered = False


def register():
    """Register the commands, the pretty printers and the event hooks (once)."""
    global _registered
    if _registered:
        return
    import gdb
    from . import commands, printers, session, stops
    commands.register()
    printers.register()
    stops.register()
    for event in ("new_objfile", "clear_objfiles"):
        registry = getattr(gdb.events, event, None)
        if registry is not None:
            registry.connect(session.LOCATOR.clear)
    _registered = True
