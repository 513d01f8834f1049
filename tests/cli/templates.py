"""A test of tests/cli/run.py: the chain templates of the task walk
(gdb/asynctrace/chaintpl.py) accept only what the frame-by-frame walk
accepts.  On a core of the many program (1,500 tasks in five shapes), one
word of one frame of a task whose shape repeats is damaged in memory as the
walk reads it: that task, and no other, must say which frame is wrong."""

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


TESTS = [("chain templates: a damaged frame in a repeated shape is caught", t_templates)]
