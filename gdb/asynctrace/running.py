"""Facts about a task being polled on a thread, for the diagnosis
(diagnose.py): its thread, that thread's native frames (from the reading's
backend: GDB's unwinder, or the unwind helper for a PID or a core), and
whether the thread sits in a system call.  Nothing here imports gdb.
"""

SYSCALL_INSN = b"\x0f\x05"  # x86-64 `syscall`: a thread in a system call has
# its pc right after it


def in_syscall(mem, frames):
    """True when the innermost frame's pc follows a `syscall` instruction
    (the thread sits in a system call), False when it does not, None when
    that cannot be read.  Reads memory only: works on cores."""
    if not frames or mem is None:
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
