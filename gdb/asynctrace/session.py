"""One reading of a program through a backend (backend.py: the GDB
inferior, a PID, a core): which target it is (live process or core), what
"now" is, and the runtimes, tasks and threads.

Each command takes a fresh Snapshot (a live process may have run since the
last command); a backend may cache the descriptor's location across
commands.  The first pass reads the lists (ids, names, links checked); tasks
are then walked into records (records.py) in batches, on demand: the JSON
writer and the text output both read those.  Nothing here knows GDB: the
GDB front end sets DEFAULT_BACKEND.
"""

import gc
import json

from . import abi as abimod
from . import clock as clockmod
from . import jsonout
from .backend import UserError  # noqa: F401 (re-exported)
from .memory import Memory, ReadError
from .walk import Walker

# A callable returning the backend of a Snapshot made without one (the
# GDB front end sets it to gdbsource.GdbBackend).
DEFAULT_BACKEND = None


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


def _backend(backend):
    if backend is None:
        if DEFAULT_BACKEND is None:
            raise UserError("no source of memory to read")
        backend = DEFAULT_BACKEND()
    backend.check_ready()
    return backend


def _open_abi(backend, mem):
    try:
        address, how = backend.find_descriptor()
        return abimod.Abi(mem, address, how)
    except abimod.AbiError as e:
        raise UserError(str(e), e.code)


def open_reader(backend=None):
    """(walker, now, clock kind) for a quick look (pretty printers)."""
    backend = _backend(backend)
    mem = Memory(backend)
    abi = _open_abi(backend, mem)
    w = Walker(abi, mem)
    now = reading_now(backend, abi, mem, abi.read_head(mem)[3])
    return w, now.ns, now.source


def reading_now(backend, abi, mem, floor):
    """The clock.Now durations are measured against: the backend's answer
    (clock.py) from the runtime's latest clock reading `floor` and the
    clock pair the runtime recorded."""
    try:
        pair = abi.clock_pair(mem)
    except ReadError:
        pair = None
    return backend.now(floor, pair)


class Snapshot(object):
    """Everything one command needs: abi, walker, the lists, task records
    and the document on demand, raw thread data for native unwinding."""

    def __init__(self, runtime_filter=None, keep=None, backend=None):
        self.backend = backend = _backend(backend)
        self.kind = backend.kind
        self.mem = Memory(backend)
        self.abi = _open_abi(backend, self.mem)
        self.walker = Walker(self.abi, self.mem)
        self.source = backend.source
        backend.pause()
        self.mem.reset()
        self._document = None
        self._json = None
        self._task_index = None
        # Notes of the whole reading: a damaged layout table (read with the
        # layout the ABI version fixes), threads running under the walk.
        self.errors = list(self.abi.notes)
        self.errors.extend(backend.notes())
        with no_gc():
            self._read_lists(runtime_filter, keep)

    @property
    def names(self):
        """Task id -> name, of every task met on a list."""
        return self.walker.names

    def _read_lists(self, runtime_filter, keep):
        """The first pass: descriptor, runtimes, threads, and every owned
        list (ids, names, links checked).  Task details come in batches()."""
        try:
            rt_head, th_head, self.generation, clock_ns, next_id = \
                self.abi.read_head(self.mem)
        except ReadError as e:
            raise UserError("the descriptor asynctrace_debug cannot be read (%s)" % e)
        w = self.walker = Walker(self.abi, self.mem, next_id)
        runtimes = w.runtimes(rt_head, self.errors)
        self.threads, self.threads_by_task, raw = w.threads(th_head, self.errors)
        self.raw_threads = raw
        # Every task with a root frame on a thread's stack (nested block_on
        # puts several there): task address -> (LWP, root frame address).
        self.roots_by_task = {}
        for tid, records, _ in raw:
            for record, task_addr in records:
                self.roots_by_task.setdefault(task_addr, (tid, record))
        w.polled = frozenset(self.roots_by_task).union(self.threads_by_task)
        floor = clockmod.floor_of([clock_ns] + [r[0]["now_ns"] for r in runtimes])
        try:
            self.clock_pair = self.abi.clock_pair(self.mem)
        except ReadError:
            self.clock_pair = None
        now = self.backend.now(floor, self.clock_pair)
        # now_ns / now_source / now_exact: what durations are measured
        # against (clock.py); `now` is the same as now_ns.
        self.now_ns = self.now = now.ns
        self.now_source = now.source
        self.now_exact = now.exact
        self.now_note = now.note
        self.clock_kind = "live" if self.kind == "live" else "recorded"
        self.ntasks = 0
        self.task_counts = {}  # runtime id -> how many tasks its owned list has
        self.runtime_flags = {}
        # (runtime dict, [(id, address, error, state)], list errors)
        self.runtimes = []
        for rt, addr, owned, count, flags in runtimes:
            if runtime_filter is not None and not runtime_filter(rt, addr):
                continue
            rt_errors = []
            tasks, walked = w.task_list(addr, owned, rt_errors, keep)
            if walked != count and not rt_errors:
                rt_errors.append("corrupt: the runtime's task_count says %d tasks, but "
                                 "its owned list has %d" % (count, walked))
            self.task_counts[rt["id"]] = walked
            self.runtime_flags[rt["id"]] = flags
            self.runtimes.append((rt, tasks, rt_errors))
            self.ntasks += len(tasks)
        if runtime_filter is None:
            self.errors.extend(self._cross_check(raw))

    def _cross_check(self, raw):
        """What the thread contexts say that the lists do not: a runtime a
        thread drives that is not on the runtime list, a task on a thread's
        root frames that is on no runtime's task list (a list cut short by
        a bad link would otherwise lose them in silence)."""
        w = self.walker
        out = []
        for th in self.threads:
            if th["runtime"] is not None and th["runtime"] not in self.task_counts:
                out.append("corrupt: thread %d drives runtime %d, which is not on the "
                           "runtime list" % (th["tid"], th["runtime"]))
            for tid in th["roots"]:
                if tid not in w.task_addrs:
                    out.append("corrupt: thread %d polls task %d, which is on no "
                               "runtime's task list" % (th["tid"], tid))
        return out

    def freeze(self):
        """Walk every task now: later batches() come from these records, so
        the source can be released (a stopped process resumed) before the
        output is made."""
        frozen = {}
        for _, items, _ in self.runtimes:
            for tasks in self.batches(items):
                for t in tasks:
                    frozen[t.address] = t
        self.frozen = frozen

    frozen = None  # task address -> Task, once freeze() has walked them all

    def batches(self, items, batch=256):
        """Task records of `items` (a runtime's list from the first pass),
        `batch` at a time (the second pass: await trees and resources are
        read here)."""
        frozen = self.frozen
        if frozen is not None:
            for start in range(0, len(items), batch):
                yield [frozen[it[1]] for it in items[start:start + batch]]
            return
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

    def blocked(self, wanted):
        """The Task records `wanted(task)` accepts (the candidates of the
        deadlock analysis)."""
        out = []
        for rt, items, _ in self.runtimes:
            for tasks in self.batches(items):
                for t in tasks:
                    if wanted(t):
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
        return task_id in self.names

    def native_of(self, task):
        """(LWP, native frames innermost first down to its at_root_poll, or
        None, and why not) of a task being polled on a thread, else None.
        Unwound once per reading."""
        lwp, record = self.root_of(task)
        if lwp is None:
            return None
        cache = self.__dict__.setdefault("_natives", {})
        hit = cache.get((lwp, record))
        if hit is None:
            try:
                frames, why = self.backend.native_frames(lwp, record)
            except Exception as e:  # a backend that cannot unwind this thread
                frames, why = None, str(e)
            hit = cache[(lwp, record)] = (lwp, frames, why)
        return hit

    def current_line(self, task):
        """(function, file, line) that a task being polled on a thread is
        executing: the innermost native frame in the poll function of one
        of the async functions of its await tree (`name_poll`), which knows
        the line the await frames cannot (they give the function's
        definition or its last await).  None when the task is not running,
        its frames cannot be unwound, or no such frame has a line."""
        nat = self.native_of(task)
        if nat is None or not nat[1]:
            return None
        names = set()
        stack = [task.await_tree()] if task.await_tree() is not None else []
        while stack:
            f = stack.pop()
            if f.kind == "async" and f.function:
                names.add(f.function + "_poll")
            stack.extend(f.children)
        for fr in nat[1]:
            if fr.function in names and fr.line:
                return fr.function[:-len("_poll")], fr.file, fr.line
        return None

    def root_of(self, task):
        """(LWP, root frame address) of a Task being polled on some thread
        (directly or under a nested block_on), else (None, 0)."""
        return self.roots_by_task.get(task.address, (None, 0))
