"""Where a reading's memory and threads come from: the interface every
source implements, so that walking, analysis and formatting know nothing
about GDB.

Sources: the GDB inferior (gdbsource.py), a live process by PID
(procsource.py), an ELF core with its executable (coresource.py).  A trace
document (document.py) has no memory at all: it is loaded straight into the
records of records.py.

A backend answers:
  kind                "live" or "core"
  source              the trace document's "source" field for this reading
  read_memory(a, n)   a buffer of n bytes at address a; raises one of
                      read_errors when any of it is unreadable
  find_descriptor()   (address, how it was found) of asynctrace_debug;
                      raises abi.AbiError when the program has no runtime
  check_ready()       raises UserError when it cannot be read now
  pause()             called once the descriptor and layout table are read
                      (they never change), right before the lists are
                      walked: a PID is stopped here, not earlier
  clock()             (now_ns, clock kind) of a live process, or None to use
                      the runtime's own last clock reading (a core)
  now(floor, pair)    the clock.Now durations are measured against, given
                      the runtime's latest clock reading and its clock pair
                      ((mono, real) or None); by default from clock()
  native_frames(lwp, root_record)
                      ([NativeFrame] innermost first, down to the
                      at_root_poll frame holding root_record, None), or
                      (None, reason)
  innermost_function(lwp)
                      name (or 0x-address) of the function thread lwp is
                      in now, or None
  notes()             lines about the reading itself (a torn read, how long
                      the process was stopped), [] for none
  close()             release what the reading holds (detach, close files)
"""

import time

from . import clock as clockmod

ROOT_POLL = "at_root_poll"

# Exit statuses of the command-line tool (docs/cli.md).
EXIT_ERROR = 1  # anything else (unreadable descriptor, bad document, ...)
EXIT_USAGE = 2
EXIT_NO_PROCESS = 3  # no such process, or no such file
EXIT_NOT_PERMITTED = 4
EXIT_NOT_ASYNCTRACE = 5
EXIT_ABI_MISMATCH = 6
EXIT_BAD_CORE = 7  # truncated or not a core
EXIT_WRONG_EXE = 8  # the executable is not the one the core was made from
MAX_NATIVE = 128


class UserError(Exception):
    """A problem to tell the user in one sentence (gdb.GdbError in GDB, an
    `asynctrace: ...` line and a non-zero exit status in the CLI).  `code`
    is the CLI's exit status for it (docs/cli.md)."""

    def __init__(self, message, code=1):
        Exception.__init__(self, message)
        self.code = code


class NativeFrame(object):
    """One native frame of a thread: level (0 innermost), pc, function (or
    None), source file and line (None, 0 when unknown), whether it is the
    task's at_root_poll frame, whether it is an inlined call."""
    __slots__ = ("level", "pc", "function", "file", "line", "is_root", "inline")

    def __init__(self, level, pc, function, file, line, is_root, inline=False):
        self.inline = inline
        self.level = level
        self.pc = pc
        self.function = function
        self.file = file
        self.line = line
        self.is_root = is_root


def live_clock_ns():
    return time.clock_gettime_ns(time.CLOCK_MONOTONIC)


class Backend(object):
    """Defaults shared by the memory backends (see the module comment)."""

    kind = "live"
    source = "live"
    read_errors = (OSError, ValueError, OverflowError)

    def read_memory(self, address, size):
        raise NotImplementedError

    def find_descriptor(self):
        raise NotImplementedError

    def check_ready(self):
        pass

    def pause(self):
        pass

    def clock(self):
        if self.kind == "live":
            return live_clock_ns(), "live"
        return None

    def now(self, floor, pair):
        c = self.clock()
        if c is None:
            return clockmod.make(floor, "runtime-clock", False)
        return clockmod.make(max(c[0], floor), "live", True)

    def native_frames(self, lwp, root_record=0):
        return None, "native frames are not available from this source"

    def innermost_function(self, lwp):
        return None

    def notes(self):
        return []

    def close(self):
        pass
