"""A frame filter, so GDB's own `bt` shows tasks: on a thread that is
polling asynctrace tasks, each `at_root_poll` frame is named with the task
it polls (`at_root_poll [task 2 "inner"]`), and the poll function of each
async function in that task's await tree with the function and the line of
its current await (`inner_work_poll [async inner_work at states.c:257]`);
when GDB has no line for such a frame (no debug information), the await's
file and line are shown as the frame's.

It only reads memory (the thread contexts and the await trees of the tasks
on the selected thread's stack), and gives up silently, leaving frames as
they are, whenever anything cannot be read: a backtrace must never fail
because of it.  `disable frame-filter global asynctrace` turns it off.
"""

import gdb
from gdb.FrameDecorator import FrameDecorator

from . import native

MAX_TREE = 4096


class _RootInfo(object):
    __slots__ = ("record", "task_id", "name", "state", "awaits")

    def __init__(self, record, task_id, name, state, awaits):
        self.record = record
        self.task_id = task_id
        self.name = name
        self.state = state
        self.awaits = awaits  # poll function name -> (function, file, line)


def _awaits_of(task):
    """{"<function>_poll": (function, file, line)} of a Task's await tree."""
    out = {}
    root = task.await_tree()
    stack = [root] if root is not None else []
    seen = 0
    while stack and seen < MAX_TREE:
        f = stack.pop()
        seen += 1
        if f.function is not None and f.kind == "async":
            out.setdefault(f.function + "_poll", (f.function, f.file, f.line))
        stack.extend(f.children)
    return out


def thread_roots(lwp):
    """[_RootInfo] of the tasks whose root frames are on thread `lwp`'s
    stack, innermost first; [] when there are none or nothing is readable."""
    from .session import Snapshot  # late: the package may load before a target
    snap = Snapshot(lambda rt, addr: False)
    out = []
    for tid, records, _ in snap.raw_threads:
        if tid != lwp:
            continue
        for record, task_addr in records:
            brief = snap.walker.task_brief(task_addr)
            if brief is None:
                continue
            try:
                task = snap.walker.task(task_addr, None, {})
                awaits = _awaits_of(task)
            except Exception:
                awaits = {}
            out.append(_RootInfo(record, brief[0], brief[2], brief[1], awaits))
    return out


class TaskFrameDecorator(FrameDecorator):
    def __init__(self, base, label, where=None):
        super(TaskFrameDecorator, self).__init__(base)
        self._label = label
        self._where = where  # (file, line) from the await record, or None

    def function(self):
        name = super(TaskFrameDecorator, self).function()
        if isinstance(name, int):
            name = "0x%x" % name
        return "%s [%s]" % (name or "??", self._label)

    def filename(self):
        got = super(TaskFrameDecorator, self).filename()
        if self._where is not None and (got is None or got == self._fallback_name()):
            return self._where[0]
        return got

    def line(self):
        got = super(TaskFrameDecorator, self).line()
        if got is None and self._where is not None:
            return self._where[1]
        return got

    def _fallback_name(self):
        # FrameDecorator.filename() falls back to the object file's name.
        try:
            pc = self.inferior_frame().pc()
            return gdb.solib_name(pc) or gdb.current_progspace().filename
        except gdb.error:
            return None


class AsyncFrameFilter(object):
    def __init__(self):
        self.name = "asynctrace"
        self.priority = 100
        self.enabled = True

    def filter(self, frame_iter):
        try:
            th = gdb.selected_thread()
            lwp = (th.ptid[1] or th.ptid[0]) if th is not None else None
            roots = thread_roots(lwp) if lwp else []
        except Exception:
            roots = []
        if not roots:
            return frame_iter
        return _decorate(frame_iter, roots)


def _decorate(frame_iter, roots):
    """Decorate frames from the innermost out: poll frames get the await
    of the task whose at_root_poll frame comes next below them."""
    pending = []  # frames above the next root frame, not yet yielded
    remaining = list(roots)  # innermost first
    for dec in frame_iter:
        frame = dec.inferior_frame()
        pending.append(dec)
        info = _root_at(frame, remaining)
        if info is None:
            continue
        remaining.remove(info)
        for d in pending[:-1]:
            yield _await_decorated(d, info)
        yield TaskFrameDecorator(dec, 'task %d "%s"' % (info.task_id, info.name))
        pending = []
    for d in pending:
        yield d


def _root_at(frame, roots):
    """The _RootInfo whose root record lies in `frame`'s stack area."""
    try:
        if frame.type() == gdb.INLINE_FRAME:
            return None
        older = frame.older()
        if older is None:
            return None
        sp, osp = native._sp(frame), native._sp(older)
    except gdb.error:
        return None
    if sp is None or osp is None:
        return None
    for info in roots:
        if sp <= info.record < osp:
            return info
    return None


def _await_decorated(dec, info):
    try:
        name = dec.inferior_frame().name()
    except gdb.error:
        name = None
    hit = info.awaits.get(name) if name else None
    if hit is None:
        return dec
    function, file, line = hit
    short = file.rsplit("/", 1)[-1] if file else "?"
    return TaskFrameDecorator(dec, "async %s at %s:%s" % (function, short, line),
                              (file, line))


def register():
    f = AsyncFrameFilter()
    gdb.frame_filters[f.name] = f
