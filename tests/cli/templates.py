"""Tests of tests/cli/run.py: the chain templates of the task walk
(gdb/asynctrace/chaintpl.py) accept only what the frame-by-frame walk
accepts.  On a core of the many program (1,500 tasks in five shapes), one
word of one frame of a task whose shape repeats is damaged in memory as the
walk reads it: that task, and no other, must say which frame is wrong.
The walk's C accelerator (gdb/asynctrace/_speedups.c) gives the same
records as the Python loops, on the healthy core and on each damage."""

import os
import sys

from gdbrun import Program, TestFailure, run_gdb

PKG = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))), "gdb")
VICTIM = 502  # shape 0 (... -> outer3 -> mid3 -> inner3 -> at_sleep), long after the first


def _core(ctx):
    exe = ctx.prog("many")
    core = os.path.join(ctx.tmp, "many-templates.core")
    prog = Program(exe)
    try:
        run_gdb(["-p", str(prog.pid)], [("gcore", "generate-core-file %s" % core)])
    finally:
        prog.kill()
    return core, exe


def _tasks(core, exe, patch=None):
    """{id: Task} of a reading of the core; `patch` (address, 8 bytes)
    changes memory as the walk reads it."""
    if PKG not in sys.path:
        sys.path.insert(0, PKG)
    from asynctrace import coresource, session
    be = coresource.CoreBackend(core, exe)
    if patch is not None:
        read = be.read_memory
        where, word = patch

        def read_memory(address, size):
            data = read(address, size)
            if address <= where < address + size:
                data = bytearray(data)
                data[where - address:where - address + 8] = word
                data = bytes(data)
            return data
        be.read_memory = read_memory
    snap = session.Snapshot(None, None, be)
    walker = snap.walker
    return {t.id: t for _, t in snap.tasks()}, walker


def _canon(value):
    """A record as plain nested tuples (shared records compared by value)."""
    from asynctrace import records
    if isinstance(value, records.Task):
        tree = value.await_tree()
        return tuple(_canon(v) for v in value[:15]) + (_canon(tree),)
    if isinstance(value, tuple):
        return tuple(_canon(v) for v in value)
    if isinstance(value, list):
        return [_canon(v) for v in value]
    if isinstance(value, (records.Frame, records.Site, records.Head)):
        return tuple(_canon(getattr(value, k)) for k in value.__slots__)
    return value


def _readings(core, exe, patch):
    """The canonical tasks of one reading by the C walk and one by the
    pure-Python walk, and how often each C loop ran."""
    from asynctrace import accel
    module = accel.speedups
    calls = {"owned": 0, "tasks": 0}

    class Counting(object):
        def __getattr__(self, name):
            return getattr(module, name)

        def owned(self, *args):
            calls["owned"] += 1
            return module.owned(*args)

        def tasks(self, *args):
            calls["tasks"] += 1
            return module.tasks(*args)
    accel.speedups = Counting()
    try:
        fast = {k: _canon(t) for k, t in _tasks(core, exe, patch)[0].items()}
        accel.pure(True)
        pure = {k: _canon(t) for k, t in _tasks(core, exe, patch)[0].items()}
    finally:
        accel.pure(False)
    return fast, pure, calls


def _frame_errors(task):
    out = []
    stack = [task.await_tree()] if task.await_tree() is not None else []
    while stack:
        f = stack.pop()
        if f.error:
            out.append(f.error)
        stack.extend(f.children)
    return out


def t_templates(ctx):
    """A link or a site changed in one task of a repeated shape is reported
    for that task; its neighbours of the same shape still share the chain."""
    core, exe = _core(ctx)
    tasks, walker = _tasks(core, exe)
    victim = tasks[VICTIM]
    if victim.chain is None or victim.error or len(victim.frames) < 4:
        raise TestFailure("task %d is not a healthy chain of 4 frames or more: %r"
                          % (VICTIM, victim))
    if not walker.templates:
        raise TestFailure("no chain template was made for 1,500 tasks in five shapes")
    fields = walker.abi.records["frame"].fields
    third = victim.frames[2]
    cases = [
        ("parent", third + fields["parent"][0], third + 8,
         "corrupt: frame 0x%x is not part of this await tree (its parent link is 0x%x, "
         "not 0x%x)" % (third, third + 8, victim.frames[1])),
        ("sibling", third + fields["sibling"][0], victim.frames[0], None),
        ("site", third + fields["site"][0], 0x10, "corrupt: site 0x10 unreadable (site "
         "of frame 0x%x)" % third),
    ]
    for what, where, value, want in cases:
        got, _ = _tasks(core, exe, (where, value.to_bytes(8, "little")))
        bad = got[VICTIM]
        if bad.chain is not None and bad.chain is got[VICTIM - 5].chain:
            raise TestFailure("%s changed, yet task %d kept its shape's chain" % (what, VICTIM))
        errors = _frame_errors(bad) + ([bad.error] if bad.error else [])
        if not errors:
            raise TestFailure("%s changed in task %d: no error" % (what, VICTIM))
        if want is not None and want not in errors:
            raise TestFailure("%s changed in task %d: %r, not %r" % (what, VICTIM, errors, want))
        for tid in (VICTIM - 5, VICTIM + 5):
            other = got[tid]
            if other.error or other.chain is None or other.chain is not got[VICTIM - 10].chain:
                raise TestFailure("%s changed in task %d, and task %d of the same shape "
                                  "lost its chain: %r" % (what, VICTIM, tid, other))


def t_accel(ctx):
    """The C walk and the Python walk read the same records, healthy or
    damaged (a frame link, a task's list link, its name, its state)."""
    if PKG not in sys.path:
        sys.path.insert(0, PKG)
    from asynctrace import accel
    if accel.speedups is None:
        raise TestFailure("the walk's C accelerator is not loaded (make builds "
                          "gdb/asynctrace/_speedups*.so)")
    core, exe = _core(ctx)
    tasks, walker = _tasks(core, exe)
    victim = tasks[VICTIM]
    task_f = walker.abi.records["task"].fields
    frame_f = walker.abi.records["frame"].fields
    patches = [None,
               (victim.frames[2] + frame_f["parent"][0], (victim.frames[2] + 8)),
               (victim.frames[1] + frame_f["child"][0], 0),
               (victim.address + task_f["owned_prev"][0], victim.address),
               (victim.address + task_f["name"][0], int.from_bytes(b"x" * 8, "little")),
               (victim.address + task_f["state"][0], 0x7700000077),
               (victim.address + task_f["owned_next"][0], victim.address)]
    for patch in patches:
        raw = None if patch is None else (patch[0], patch[1].to_bytes(8, "little"))
        fast, pure, calls = _readings(core, exe, raw)
        if fast != pure:
            diff = sorted(k for k in set(fast) | set(pure) if fast.get(k) != pure.get(k))
            raise TestFailure("patch %r: the C and Python walks differ on tasks %s: %r / %r"
                              % (patch, diff[:5], fast.get(diff[0]), pure.get(diff[0])))
        if patch is None and (len(fast) != 1501 or not calls["owned"] or
                              not calls["tasks"]):
            raise TestFailure("the healthy core: %d tasks, C loops run %r"
                              % (len(fast), calls))


TESTS = [("chain templates: a damaged frame in a repeated shape is caught", t_templates),
         ("the walk's C accelerator reads what the Python walk reads", t_accel)]
