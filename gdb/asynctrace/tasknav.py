"""Tasks seen from GDB's threads: which task each thread is polling, the
`async-task N` command (select the thread running task N), and the
convenience functions $_async_task() and $_async_task_name().

They read only the thread contexts (and the few task records they point
to), not the task lists, so they stay instant on programs with many tasks.
"""

import gdb

from . import commands
from . import native
from . import output
from . import params
from .options import Options, Usage
from .session import Snapshot, UserError


def _threads_snapshot():
    """A Snapshot of the thread contexts only (no runtime's task list)."""
    return Snapshot(lambda rt, addr: False)


def polled_by_thread(snap=None):
    """{LWP: [(task id, task address, name), ...]} innermost first: the
    tasks whose root frames are on each thread's stack."""
    snap = snap or _threads_snapshot()
    out = {}
    for tid, records, _ in snap.raw_threads:
        tasks = []
        for _, task_addr in records:
            brief = snap.walker.task_brief(task_addr)
            if brief is not None:
                tasks.append((brief[0], task_addr, brief[2]))
        if tasks:
            out[tid] = tasks
    return out


def selected_lwp():
    th = gdb.selected_thread()
    if th is None:
        return None
    pid, lwp, _ = th.ptid
    return lwp or pid


def current_task_ids():
    """Ids of the tasks the selected thread is polling, innermost first."""
    lwp = selected_lwp()
    if lwp is None:
        return []
    return [t[0] for t in polled_by_thread().get(lwp, [])]


def _string(text):
    """A GDB string value (an empty one too: gdb.Value("") would be char[0])."""
    data = text.encode("utf-8") + b"\0"
    return gdb.Value(data, gdb.lookup_type("char").array(len(data) - 1))


def _find_task(snap, task_id):
    """(address, state, name) of task `task_id`, or None."""
    for _, items, _ in snap.runtimes:
        for item in items:
            if item[0] == task_id:
                brief = snap.walker.task_brief(item[1])
                return item[1], item[3], brief[2] if brief else "?"
    return None


class AsyncTask(commands.AsyncCommand):
    NAME = "async-task"
    CLASS = gdb.COMMAND_STACK
    SUMMARY = "Select the thread that is polling asynctrace task ID."
    ARGS = "ID"
    DETAILS = """Like `thread N` for a task: when task ID is being polled on a thread
(state running, or under a nested block_on), that thread becomes the
selected thread, with the task's at_root_poll frame selected, and its
backtrace is printed.  A task that is not on any thread is suspended at
an await: there is no thread to select, and its await chain is printed."""
    OPTIONS = Options()

    def positional(self):
        return commands.task_ids()

    @commands._guard
    def invoke(self, arg, from_tty):
        _, rest = self.parse(arg)
        if len(rest) != 1:
            raise Usage("give one task id")
        task_id = commands._int(rest[0], "a task id")
        snap = Snapshot(None, lambda tid, st, name: tid == task_id)
        found = _find_task(snap, task_id)
        if found is None:
            raise UserError("task %d: no such task (it may have finished and been freed, "
                            "or never existed)" % task_id)
        addr, state, name = found
        lwp, record = snap.roots_by_task.get(addr, (None, 0))
        if lwp is None:
            gdb.write('task %d "%s" is %s: suspended at an await, not on any thread '
                      "(no thread to select)\n" % (task_id, name, state))
            with output.Sink() as sink:
                commands._backtraces(sink, [task_id], {"full": params.get("full")}, False)
            return
        thread = native.find_thread(gdb.selected_inferior(), lwp)
        if thread is None:
            raise UserError("task %d is polled by LWP %d, which GDB does not know as "
                            "a thread" % (task_id, lwp))
        thread.switch()
        root = _root_frame(record)
        if root is not None:
            root.select()
        gdb.write('[Switching to thread %d (LWP %d), polling task %d "%s"]\n'
                  % (thread.num, lwp, task_id, name))
        if root is not None:
            gdb.write(gdb.execute("frame", to_string=True))


def _root_frame(record):
    """The selected thread's at_root_poll frame holding root record `record`."""
    try:
        frame = gdb.newest_frame()
    except gdb.error:
        return None
    level = 0
    while frame is not None and level < native.MAX_NATIVE:
        older = frame.older()
        if frame.type() != gdb.INLINE_FRAME and older is not None:
            sp, osp = native._sp(frame), native._sp(older)
            if sp is not None and osp is not None and sp <= record < osp:
                return frame
        frame = older
        level += 1
    return None


class _TaskFunction(gdb.Function):
    def __init__(self, name):
        super(_TaskFunction, self).__init__(name)

    def _current(self):
        try:
            lwp = selected_lwp()
            if lwp is None:
                return None
            tasks = polled_by_thread().get(lwp)
        except (UserError, gdb.error, Exception):
            return None
        return tasks[0] if tasks else None


class AsyncTaskId(_TaskFunction):
    """$_async_task() - id of the asynctrace task the selected thread is polling.

Usage: $_async_task()
The innermost task under a nested block_on; 0 when the thread is not
polling a task (or the program has no asynctrace runtime)."""

    def __init__(self):
        super(AsyncTaskId, self).__init__("_async_task")

    def invoke(self):
        t = self._current()
        return gdb.Value(t[0] if t else 0)


class AsyncTaskName(_TaskFunction):
    """$_async_task_name([ID]) - name of an asynctrace task, as a string.

Usage: $_async_task_name() or $_async_task_name(ID)
Without an argument, the task the selected thread is polling; "" when
there is none or no such task."""

    def __init__(self):
        super(AsyncTaskName, self).__init__("_async_task_name")

    def invoke(self, *args):
        if len(args) > 1:
            raise gdb.GdbError("$_async_task_name takes at most one argument (a task id)")
        if not args:
            t = self._current()
            return _string(t[2] if t else "")
        try:
            task_id = int(args[0])
        except (gdb.error, ValueError):
            raise gdb.GdbError("$_async_task_name: the argument must be a task id")
        try:
            snap = Snapshot(None, lambda tid, st, name: tid == task_id)
            found = _find_task(snap, task_id)
        except (UserError, gdb.error):
            found = None
        return _string(found[2] if found else "")


def register():
    AsyncTask()
    AsyncTaskId()
    AsyncTaskName()
