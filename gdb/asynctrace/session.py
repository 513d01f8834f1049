"""One reading of the inferior: which target it is (live process or core),
what "now" is, and the runtimes, tasks and threads.

Each command takes a fresh Snapshot (a live process may have run since the
last command); the descriptor's location is cached across commands by the
Locator until object files change.  The first pass reads the lists (ids,
names, links checked); tasks are then walked into records (records.py) in
batches, on demand: the JSON writer and the text output both read those.
"""

import gc
import json
import re
import time

import gdb

from . import abi as abimod
from . import clock
from . import jsonout
from . import stops
from .memory import Memory, ReadError
from .walk import Walker

LOCATOR = abimod.Locator()


class no_gc(object):
    """A walk (and the formatting of what it read) allocates a great many
    small objects and frees none of them before it ends: the cyclic
    collector would only slow it down."""

    def __enter__(self):
        self.enabled = gc.isenabled()
        gc.disable()

    def __exit__(self, *exc):
        if self.enabled:
            gc.enable()


class UserError(Exception):
    """A problem to tell the user in one sentence (becomes gdb.GdbError)."""


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


def live_clock_ns():
    return time.clock_gettime_ns(time.CLOCK_MONOTONIC)


def core_path():
    """The file name of the core GDB has loaded, or None."""
    try:
        text = gdb.execute("info target", to_string=True)
    except gdb.error:
        return None
    m = re.search(r"core dump file:\s*`(.+?)'", text)
    return m.group(1) if m else None


def reading_now(inferior, kind, abi, mem, floor):
    """The clock.Now durations are measured against (clock.py)."""
    if kind == "live":
        return clock.live_now(stops.stop_time(inferior), floor, clock.process_start_mono())
    if kind == "core":
        try:
            pair = abi.clock_pair(mem)
        except ReadError:
            pair = None
        return clock.core_now(core_path(), pair, floor)
    return clock.make(floor, "runtime-clock", False)


def open_reader():
    """(walker, now, clock kind) for a quick look (pretty printers)."""
    inferior = gdb.selected_inferior()
    kind = target_kind(inferior)
    if kind is None:
        raise UserError("there is no process or core file to read")
    address, how = LOCATOR.find()
    mem = Memory(inferior)
    try:
        abi = abimod.Abi(mem, address, how)
    except abimod.AbiError as e:
        raise UserError(str(e))
    w = Walker(abi, mem)
    now = reading_now(inferior, kind, abi, mem, abi.read_head(mem)[3])
    return w, now.ns, now.source


class Snapshot(object):
    """Everything one command needs: abi, walker, the lists, task records
    and the document on demand, raw thread data for native unwinding."""

    def __init__(self, runtime_filter=None, keep=None):
        inferior = gdb.selected_inferior()
        self.kind = target_kind(inferior)
        if self.kind is None:
            raise UserError("there is no process or core file to read: attach to "
                            "a process (gdb -p PID), run the program, or load a "
                            "core (gdb PROG CORE)")
        thread = gdb.selected_thread()
        if thread is not None and thread.is_running():
            raise UserError("the selected thread is running; interrupt the "
                            "program first (asynctrace reads a stopped process)")
        address, how = LOCATOR.find()
        self.inferior = inferior
        self.mem = Memory(inferior)
        try:
            self.abi = abimod.Abi(self.mem, address, how)
        except abimod.AbiError as e:
            raise UserError(str(e))
        self.walker = Walker(self.abi, self.mem)
        self.source = "gdb-core" if self.kind == "core" else "gdb-live"
        self._document = None
        self._json = None
        self._task_index = None
        with no_gc():
            self._read_lists(runtime_filter, keep)

    def _read_lists(self, runtime_filter, keep):
        """The first pass: descriptor, runtimes, threads, and every owned
        list (ids, names, links checked).  Task details come in batches()."""
        w = self.walker
        self.errors = []
        try:
            rt_head, th_head, self.generation, clock_ns, _ = self.abi.read_head(self.mem)
        except ReadError as e:
            raise UserError("the descriptor asynctrace_debug cannot be read (%s)" % e)
        runtimes = w.runtimes(rt_head, self.errors)
        self.threads, self.threads_by_task, raw = w.threads(th_head, self.errors)
        self.raw_threads = raw
        # Every task with a root frame on a thread's stack (nested block_on
        # puts several there): task address -> (LWP, root frame address).
        self.roots_by_task = {}
        for tid, records, _ in raw:
            for record, task_addr in records:
                self.roots_by_task.setdefault(task_addr, (tid, record))
        floor = clock.floor_of([clock_ns] + [r[0]["now_ns"] for r in runtimes])
        try:
            self.clock_pair = self.abi.clock_pair(self.mem)
        except ReadError:
            self.clock_pair = None
        now = reading_now(self.inferior, self.kind, self.abi, self.mem, floor)
        # now_ns / now_source / now_exact: what durations are measured
        # against (clock.py); `now` is the same as now_ns.
        self.now_ns = self.now = now.ns
        self.now_source = now.source
        self.now_exact = now.exact
        self.now_note = now.note
        self.clock_kind = "live" if self.kind == "live" else "recorded"
        self.ntasks = 0
        self.task_counts = {}  # runtime id -> its task_count field
        self.runtime_flags = {}
        # (runtime dict, [(id, address, error, state)], list errors)
        self.runtimes = []
        for rt, addr, owned, count, flags in runtimes:
            if runtime_filter is not None and not runtime_filter(rt, addr):
                continue
            rt_errors = []
            tasks = w.task_list(addr, owned, rt_errors, keep)
            self.task_counts[rt["id"]] = count
            self.runtime_flags[rt["id"]] = flags
            self.runtimes.append((rt, tasks, rt_errors))
            self.ntasks += len(tasks)

    def batches(self, items, batch=256):
        """Task records of `items` (a runtime's list from the first pass),
        `batch` at a time (the second pass: await trees and resources are
        read here)."""
        for start in range(0, len(items), batch):
            with no_gc():
                tasks = self.walker.tasks(items[start:start + batch], self.threads_by_task)
            yield tasks

    def tasks(self, batch=256):
        """(runtime dict, Task) of every task, in order."""
        for rt, items, _ in self.runtimes:
            for tasks in self.batches(items, batch):
                for t in tasks:
                    yield rt, t

    def write(self, out, batch=256):
        """Write the trace document as JSON text through `out(str)`."""
        with no_gc():
            jsonout.write_document(self, out, batch)

    def blocked(self, kinds, state="idle"):
        """Tasks in `state` that wait on a resource of one of `kinds` (the
        candidates of the deadlock analysis)."""
        out = []
        for rt, items, _ in self.runtimes:
            items = [t for t in items if t[3] == state]
            for tasks in self.batches(items):
                for t in tasks:
                    if any(r.kind in kinds for r in t.resources()):
                        out.append(t)
        return out

    @property
    def json(self):
        """The whole trace document as one JSON string."""
        if self._json is None:
            parts = []
            self.write(parts.append)
            self._json = "".join(parts)
        return self._json

    @property
    def document(self):
        """The trace document as Python objects (parsed from the JSON: for
        the indented output of small documents)."""
        if self._document is None:
            self._document = json.loads(self.json)
        return self._document

    @property
    def task_index(self):
        """{task id: Task} of every task this reading kept, across runtimes
        (built on first use; it walks every task).  A holder or owner id
        that is not here and not task_exists() names a task that no longer
        exists (freed: finished and released)."""
        if self._task_index is None:
            index = {}
            for _, t in self.tasks():
                index[t.id] = t
            self._task_index = index
        return self._task_index

    def task_exists(self, task_id):
        """Whether a task with this id is on a list of the runtimes read
        (whatever its state, and even when a filter left it out)."""
        return task_id in self.walker.names

    def root_of(self, task):
        """(LWP, root frame address) of a Task being polled on some thread
        (directly or under a nested block_on), else (None, 0)."""
        return self.roots_by_task.get(task.address, (None, 0))
