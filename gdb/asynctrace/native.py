"""Native frames of a thread that is inside a task's poll, from GDB's own
unwinder (the GDB backend's part; the CLI has build/asynctrace-unwind):
innermost frame first, down to the frame of `at_root_poll`.

Selecting a thread and walking gdb.Frame objects only reads registers and
memory (it works on core files); the previously selected thread and frame
are restored afterwards.  The task's root poll frame is the frame whose
stack area holds the task's at_root_frame record (at_root_poll keeps it in
its own frame), which works without symbols and picks the right one of
several at_root_poll frames under nested block_on; the name is the
fallback when registers are unavailable.
"""

import gdb

from .backend import MAX_NATIVE, ROOT_POLL, NativeFrame  # noqa: F401 (re-exported)


def find_thread(inferior, lwp):
    for th in inferior.threads():
        if th.ptid[1] == lwp or (th.ptid[1] == 0 and th.ptid[0] == lwp):
            return th
    return None


def _sp(frame):
    try:
        return int(frame.read_register("sp"))
    except (gdb.error, ValueError):
        return None


def frames_of(inferior, lwp, root_record=0):
    """(list of NativeFrame of thread `lwp` from the innermost down to the
    at_root_poll frame holding `root_record` (inclusive), None), or
    (None, reason) when the thread or its frames cannot be had."""
    thread = find_thread(inferior, lwp)
    if thread is None:
        return None, "LWP %d is not a thread of this process" % lwp
    old_thread = gdb.selected_thread()
    try:
        old_frame = gdb.selected_frame()
    except gdb.error:
        old_frame = None
    out = []
    try:
        thread.switch()
        frame = gdb.newest_frame()
        level = 0
        while frame is not None and level < MAX_NATIVE:
            name = frame.name()
            older = frame.older()
            inline = frame.type() == gdb.INLINE_FRAME
            sp = _sp(frame)
            osp = _sp(older) if older is not None else None
            if inline:
                is_root = False
            elif root_record and sp is not None and osp is not None:
                is_root = sp <= root_record < osp
            else:
                is_root = name == ROOT_POLL
            sal = frame.find_sal()
            file = sal.symtab.filename if sal is not None and sal.symtab else None
            line = sal.line if sal is not None and sal.symtab else 0
            out.append(NativeFrame(level, frame.pc(), name, file, line, is_root, inline))
            if is_root:
                break
            frame = older
            level += 1
    except gdb.error as e:
        if not out:
            return None, "cannot unwind LWP %d: %s" % (lwp, e)
    finally:
        try:
            if old_thread is not None and old_thread.is_valid():
                old_thread.switch()
            if old_frame is not None and old_frame.is_valid():
                old_frame.select()
        except gdb.error:
            pass
    return out, None


def innermost_function(inferior, lwp):
    """Name (or pc) of the function thread `lwp` is in now, or None."""
    thread = find_thread(inferior, lwp)
    if thread is None:
        return None
    old_thread = gdb.selected_thread()
    try:
        old_frame = gdb.selected_frame()
    except gdb.error:
        old_frame = None
    try:
        thread.switch()
        frame = gdb.newest_frame()
        name = frame.name()
        return name if name else "0x%x" % frame.pc()
    except gdb.error:
        return None
    finally:
        try:
            if old_thread is not None and old_thread.is_valid():
                old_thread.switch()
            if old_frame is not None and old_frame.is_valid():
                old_frame.select()
        except gdb.error:
            pass
