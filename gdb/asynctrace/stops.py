"""When each live inferior was stopped, from GDB's events (the "now" of
durations, clock.py).  Registered when the package loads.

A stop event is reported only after GDB has done its work around the stop:
on an attach, after reading every shared library's symbols (often hundreds
of milliseconds).  So the first sign of a stop is kept instead: on an
attach, the first new-thread event (GDB adds the threads right after the
process stopped; it resumes and stops each thread as it attaches to it,
so those resumes do not count), or the moment this package was loaded if
that happened while the process was already stopped but before GDB
reported the stop (auto-load during an attach).  The next stop event
consumes that first sign; a plain stop (not a signal, a breakpoint, ...)
uses it.  Other stops are reported at once and use the event's time.  A
resume forgets the stop.

Loaded after the stop was reported (e.g. `gdb -p PID -ex 'source ...'`),
the package cannot know the moment: stop_time() is None and durations fall
back to lower bounds.
"""

import time

import gdb

_stops = {}  # inferior number -> (pid, monotonic ns of the stop)
_pending = {}  # inferior number -> (pid, ns, by load): first sign of a stop


def _inferior_of(event):
    thread = getattr(event, "inferior_thread", None)
    if thread is not None and thread.is_valid():
        return thread.inferior
    return gdb.selected_inferior()


def _on_new_thread(event):
    inf = _inferior_of(event)
    if inf.num not in _pending and inf.num not in _stops:
        _pending[inf.num] = (inf.pid, time.monotonic_ns(), False)


def _on_stop(event):
    now = time.monotonic_ns()
    inf = gdb.selected_inferior()
    first = _pending.pop(inf.num, None)
    # A plain StopEvent (not a signal, breakpoint, ...) ends an attach.
    if type(event) is gdb.StopEvent and first is not None and first[0] == inf.pid:
        now = first[1]
    _stops[inf.num] = (inf.pid, now)


def _on_resume(event):
    num = _inferior_of(event).num
    _stops.pop(num, None)
    first = _pending.get(num)
    if first is not None and first[2]:  # loaded while stopped, now resumed
        del _pending[num]


def _on_exit(event):
    inf = getattr(event, "inferior", None)
    num = inf.num if inf is not None else gdb.selected_inferior().num
    _stops.pop(num, None)
    _pending.pop(num, None)


def stop_time(inferior):
    """Monotonic ns at which `inferior` stopped, or None if unknown."""
    hit = _stops.get(inferior.num)
    if hit is not None and hit[0] == inferior.pid:
        return hit[1]
    return None


def register():
    for name, fn in (("new_thread", _on_new_thread), ("stop", _on_stop),
                     ("cont", _on_resume), ("exited", _on_exit)):
        registry = getattr(gdb.events, name, None)
        if registry is not None:
            registry.connect(fn)
    # Loaded while a process is stopped: maybe in the middle of an attach.
    try:
        inf = gdb.selected_inferior()
        thread = gdb.selected_thread()
        if inf.pid and thread is not None and not thread.is_running():
            _pending.setdefault(inf.num, (inf.pid, time.monotonic_ns(), True))
    except (gdb.error, RuntimeError):
        pass
