"""What a thread that is inside a task's poll is doing, for the diagnosis
(diagnose.py): its native frames, from whatever backend the reading came
from (GDB, a PID, a core), and whether it sits in a system call.  Reads
memory only, so it works on cores; imports nothing of GDB.
"""

from . import text


SYSCALL_INSN = b"\x0f\x05"  # x86-64 `syscall`: a thread in a system call has
# its pc right after it


def in_syscall(mem, frames):
    """True when the innermost frame's pc follows a `syscall` instruction
    (the thread sits in a system call), False when it does not, None when
    that cannot be read.  Reads memory only: works on cores."""
    if not frames or mem is None:  # (a trace document has no memory)
        return None
    try:
        return bytes(mem.read(frames[0].pc - 2, 2)) == SYSCALL_INSN
    except Exception:  # unreadable text: cannot tell
        return None


def running_facts(snap, task):
    """{lwp, frames, in_syscall} of a task being polled on a thread (for
    diagnose.py), or None."""
    lwp, record = snap.root_of(task)
    if lwp is None:
        return None
    frames, _ = snap.backend.native_frames(lwp, record)
    return {"lwp": lwp, "frames": frames or [],
            "in_syscall": in_syscall(getattr(snap, "mem", None), frames)}


def native_of_snapshot(snap):
    """native_of(task) for text.tasks_table (GDB's info async-tasks and the
    CLI's ps): (LWP, function, nested, lines the polls are executing) of a
    task being polled on a thread, None for the others."""
    roots = snap.roots_by_task

    def native_of(t):
        if t.address not in roots:
            return None
        lwp, record = roots[t.address]
        nested = t.thread is None
        fn = None if nested else snap.backend.innermost_function(lwp)
        frames, _ = snap.backend.native_frames(lwp, record)
        return (lwp, fn, nested, text.running_lines(frames))
    return native_of
