# native_frames.py - sourced into GDB by asynctrace-harness.
#
# Defines `asynctrace-harness-frames`: prints, as one JSON object, the
# native frames of every thread of the inferior (innermost first, inline
# frames skipped, at most 64 per thread, stopping after the first
# at_root_poll), from GDB's own unwinder.  The harness joins them with the
# extension's thread list to name the call a running task is stuck in,
# independently of the extension's own unwinding.  Each thread also says
# which system call it is stopped in ("syscall": the number, from the
# kernel's orig_rax on x86-64; absent when it is not in one or the
# architecture has no such register).  Reads registers and memory only, so
# it works on live processes and on cores alike.
import json

import gdb

MAX_FRAMES = 64


def _syscall(frame):
    try:
        nr = int(frame.read_register("orig_rax"))
    except (gdb.error, ValueError):
        return None
    return nr if nr >= 0 else None


def _frames(thread):
    out = []
    thread.switch()
    frame = gdb.newest_frame()
    while frame is not None and len(out) < MAX_FRAMES:
        if frame.type() != gdb.INLINE_FRAME:
            name = frame.name()
            out.append({"function": name, "pc": "0x%x" % frame.pc()})
            if name == "at_root_poll":
                break
        try:
            frame = frame.older()
        except gdb.error:
            break
    return out


class HarnessFrames(gdb.Command):
    """Print every thread's native frames down to at_root_poll as JSON."""

    def __init__(self):
        super(HarnessFrames, self).__init__("asynctrace-harness-frames", gdb.COMMAND_DATA)

    def invoke(self, arg, from_tty):
        inferior = gdb.selected_inferior()
        old = gdb.selected_thread()
        threads = []
        for th in sorted(inferior.threads(), key=lambda t: t.ptid[1] or t.ptid[0]):
            lwp = th.ptid[1] or th.ptid[0]
            try:
                entry = {"tid": lwp, "frames": _frames(th)}
                nr = _syscall(gdb.newest_frame())
                if nr is not None:
                    entry["syscall"] = nr
                threads.append(entry)
            except gdb.error as e:
                threads.append({"tid": lwp, "frames": [], "error": str(e)})
        if old is not None:
            old.switch()
        gdb.write(json.dumps({"threads": threads}) + "\n")


HarnessFrames()
