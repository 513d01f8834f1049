"""The GDB backend (backend.py): memory, threads and native frames of GDB's
selected inferior, a live process GDB has stopped or a core file.  The only
module besides commands, printers, native and gdblocate that imports gdb.
"""

import re

import gdb

from . import clock
from . import native
from . import stops
from .backend import Backend, UserError
from .gdblocate import Locator

LOCATOR = Locator()


def target_kind(inferior):
    """"live", "core", "remote", or None (no process and no core)."""
    if inferior is None or not inferior.is_valid() or inferior.pid == 0:
        return None
    conn = getattr(inferior, "connection", None)
    ctype = getattr(conn, "type", None) if conn is not None else None
    if ctype == "core":
        return "core"
    if ctype is not None:
        return "live" if ctype == "native" else "remote"
    # Older GDB: ask the target stack.
    try:
        text = gdb.execute("info target", to_string=True)
    except gdb.error:
        text = ""
    return "core" if "core dump" in text or "core file" in text else "live"


def core_path():
    """The file name of the core GDB has loaded, or None."""
    try:
        text = gdb.execute("info target", to_string=True)
    except gdb.error:
        return None
    m = re.search(r"core dump file:\s*`(.+?)'", text)
    return m.group(1) if m else None


def _non_stop():
    try:
        return bool(gdb.parameter("non-stop"))
    except (gdb.error, RuntimeError):
        return False


class GdbBackend(Backend):
    """The selected inferior.  A remote target reads like a live one whose
    clock is not ours: its "now" is the runtime's last reading."""

    read_errors = (gdb.MemoryError, gdb.error, OverflowError, ValueError)

    def __init__(self):
        self.inferior = gdb.selected_inferior()
        self.target = target_kind(self.inferior)
        self.kind = "core" if self.target == "core" else "live"
        self.source = "gdb-core" if self.target == "core" else "gdb-live"
        self.read_memory = self.inferior.read_memory if self.target else None

    def check_ready(self):
        if self.target is None:
            raise UserError("there is no process or core file to read: attach to "
                            "a process (gdb -p PID), run the program, or load a "
                            "core (gdb PROG CORE)")
        thread = gdb.selected_thread()
        if thread is not None and thread.is_running():
            raise UserError("the selected thread is running; interrupt the "
                            "program first (asynctrace reads a stopped process)")

    def find_descriptor(self):
        return LOCATOR.find()

    def clock(self):
        if self.target == "live":
            return Backend.clock(self)
        return None

    def now(self, floor, pair):
        """Live: the moment GDB stopped the process (stops.py), else a lower
        bound; a core: its write time (clock.py); remote: the runtime's
        clock (another machine's monotonic clock is not ours)."""
        if self.target == "live":
            return clock.live_now(stops.stop_time(self.inferior), floor,
                                  clock.process_start_mono())
        if self.target == "core":
            return clock.core_now(core_path(), pair, floor)
        return clock.make(floor, "runtime-clock", False)

    def native_frames(self, lwp, root_record=0):
        return native.frames_of(self.inferior, lwp, root_record)

    def innermost_function(self, lwp):
        return native.innermost_function(self.inferior, lwp)

    def notes(self):
        """A note when some threads of a live process run while we read
        (non-stop mode): what they change under the walk may read torn.
        In all-stop mode every thread is stopped at the prompt; a thread
        GDB still lists as running there is one that is exiting (seen when
        attaching right as a thread ends), which runs none of the program's
        code: no note."""
        if self.target != "live" or not _non_stop():
            return []
        try:
            running = [t.num for t in self.inferior.threads()
                       if t.is_valid() and t.is_running()]
        except gdb.error:
            return []
        if not running:
            return []
        return ["in-flux: %d of the program's threads are running (non-stop mode), so "
                "this reads a moving target: records they change may read torn; "
                "interrupt them (interrupt -a) for a consistent picture" % len(running)]
