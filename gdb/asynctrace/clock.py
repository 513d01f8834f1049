"""What "now" is for one reading: the moment durations are measured
against (docs/gdb.md, "Durations").  Knows nothing of GDB: every source (a
stopped live process, a core file, a trace document) gives the facts it has
and gets a Now.

- A live process: the moment it was stopped, when the source saw the stop
  happen ("stopped", exact).  Otherwise only lower bounds are known: the
  runtime's last clock reading, and the moment the debugger itself started
  (it cannot have stopped the process before it started): the later of the
  two ("runtime-clock" or "gdb-start", not exact).
- A core file: the moment the core was written (its file's modification
  time; ELF core notes carry no wall time), turned into the program's
  monotonic clock through the clock pair the runtime records (CLOCK_MONOTONIC
  and CLOCK_REALTIME read together).  Without a pair, or when the result is
  earlier than the runtime's own last reading (a core copied without its
  time, a stepped wall clock), the runtime's last reading: a lower bound.
"""

import os
import time
from collections import namedtuple


class Now(namedtuple("_Now", "ns source exact note")):
    """ns: monotonic nanoseconds; source: "stopped", "core",
    "runtime-clock", "gdb-start", "live" or "document"; exact: False when
    durations are only lower bounds; note: one sentence for the output."""
    __slots__ = ()


NOTES = {
    "stopped": "durations up to the moment the process was stopped",
    "live": "durations against the live clock",
    "core": "durations up to the moment the core file was written",
    "runtime-clock": ("durations are lower bounds: measured to the last clock "
                      "reading the program recorded"),
    "gdb-start": ("durations are lower bounds: measured to the moment GDB "
                  "started (load the extension before attaching, e.g. with "
                  "-iex, for exact ones)"),
    "document": "durations against the document's clock",
}


COARSE_SLACK_NS = 50000000


def make(ns, source, exact):
    return Now(ns, source, exact, NOTES.get(source, source))


def floor_of(readings):
    """The latest of the runtime's clock readings (0 when none)."""
    return max([r for r in readings if r] or [0])


def process_start_mono():
    """CLOCK_MONOTONIC time at which this process started, or None.  (The
    kernel gives the start in clock ticks since boot, on CLOCK_BOOTTIME.)"""
    try:
        with open("/proc/self/stat") as f:
            stat = f.read()
        ticks = int(stat[stat.rindex(")") + 2:].split()[19])
        hz = os.sysconf("SC_CLK_TCK")
        boot = time.clock_gettime_ns(time.CLOCK_BOOTTIME)
        mono = time.monotonic_ns()
    except (OSError, ValueError, IndexError, AttributeError):
        return None
    return mono - (boot - ticks * 1000000000 // hz)


def live_now(stop_ns, floor, start_ns):
    """Now of a live process: its stop moment if known, else the best lower
    bound (the runtime's clock `floor` or the debugger's `start_ns`)."""
    if stop_ns:
        return make(max(stop_ns, floor), "stopped", True)
    if start_ns and start_ns > floor:
        return make(start_ns, "gdb-start", False)
    return make(floor, "runtime-clock", False)


def file_time_ns(path):
    """Modification time of a file in wall-clock ns, or None."""
    try:
        return os.stat(path).st_mtime_ns
    except (OSError, TypeError, ValueError):
        return None


def core_now(core_path, pair, floor):
    """Now of a core: its write time on the program's monotonic clock
    through the clock pair (mono, real), else the runtime's clock."""
    written = file_time_ns(core_path) if core_path else None
    if pair and written:
        mono, real = pair
        ns = written - (real - mono)
        # File times come from the kernel's coarse clock (a tick, a few
        # ms, behind): a little before the runtime's last reading is fine.
        if ns >= floor - COARSE_SLACK_NS:
            return make(max(ns, floor), "core", True)
    return make(floor, "runtime-clock", False)
