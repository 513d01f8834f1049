"""Tasks as stacks, for the exports (pprof.py, folded and dot in
exports.py): the await path of each task from its root future down to the
leaf it waits in, what it waits for, and how long.  From the records alone,
so every source gives the same export.
"""

from . import text

UNKNOWN = "?"


class TaskStack(object):
    """One task: frames root first as (function, file, line), the state,
    the wait kind ("" when not waiting on a resource), nanoseconds in that
    state (0 unknown)."""
    __slots__ = ("task", "frames", "state", "wait", "wait_ns")

    def __init__(self, task, frames, state, wait, wait_ns):
        self.task = task
        self.frames = frames
        self.state = state
        self.wait = wait
        self.wait_ns = wait_ns


def task_stack(task, now):
    """The TaskStack of a Task (the first path that waits on a resource,
    as the task table's WHERE column shows)."""
    tree = task.await_tree()
    frames = ()
    wait = ""
    if tree is not None:
        paths = text.leaf_paths(tree)
        waiting = [p for p in paths if p[-1].resource is not None]
        path = waiting[0] if waiting else paths[0]
        frames = tuple((f.function or UNKNOWN, f.file or "", f.line or 0) for f in path)
        if path[-1].resource is not None:
            wait = path[-1].resource.kind
    if not frames:  # finished, or no future: the state stands for the stack
        frames = (("(%s)" % task.state, "", 0),)
    wait_ns = now - task.state_ns if now and task.state_ns and now > task.state_ns else 0
    return TaskStack(task, frames, task.state, wait, wait_ns)


def stacks(snap):
    """TaskStacks of every task of a Snapshot, in order."""
    return [task_stack(t, snap.now) for _, t in snap.tasks()]
