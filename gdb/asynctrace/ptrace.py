"""Stopping a live process for the shortest time, through ptrace(2) by
ctypes: PTRACE_SEIZE every thread (no signal is sent), PTRACE_INTERRUPT it,
wait for the stop; later PTRACE_DETACH every thread (it resumes as it was,
with any signal that arrived meanwhile delivered).
Nothing is written to the process and no code runs in it.

Threads that appear while the others are being seized are seized too (the
thread list is re-read until it stops growing); a thread that exits on the
way is forgotten.
"""

import ctypes
import errno
import os
import time

PTRACE_DETACH = 17
PTRACE_SEIZE = 0x4206
PTRACE_INTERRUPT = 0x4207
WALL = 0x40000000
MAX_ROUNDS = 16

_libc = None


def _ptrace():
    global _libc
    if _libc is None:
        _libc = ctypes.CDLL(None, use_errno=True)
        _libc.ptrace.restype = ctypes.c_long
        _libc.ptrace.argtypes = (ctypes.c_long, ctypes.c_long, ctypes.c_void_p,
                                 ctypes.c_void_p)
    return _libc.ptrace


def _call(request, tid, data=0):
    fn = _ptrace()
    if fn(request, tid, None, ctypes.c_void_p(data) if data else None) == -1:
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e))


def thread_ids(pid):
    """LWPs of process `pid` now (sorted)."""
    return sorted(int(t) for t in os.listdir("/proc/%d/task" % pid))


class Stopper(object):
    """stop() seizes and interrupts every thread of `pid`; resume() detaches.
    stopped_ns is the time between the first interrupt and the detach."""

    def __init__(self, pid):
        self.pid = pid
        self.seized = []
        self.pending = {}  # tid -> signal caught in a signal-delivery stop
        self.t_stop = None
        self.stopped_ns = None

    def stop(self):
        """Stop every thread.  OSError (errno EPERM, ESRCH, ...) when the
        process cannot be stopped; what was seized is released first."""
        try:
            self._stop()
        except BaseException:
            self.resume()
            raise
        return self.seized

    def _stop(self):
        done = set()
        for _ in range(MAX_ROUNDS):
            fresh = [t for t in thread_ids(self.pid) if t not in done]
            if not fresh:
                return
            for tid in fresh:
                done.add(tid)
                try:
                    _call(PTRACE_SEIZE, tid)
                except OSError as e:
                    if e.errno == errno.ESRCH and tid != self.pid:
                        continue  # exited on the way
                    raise
                if self.t_stop is None:
                    self.t_stop = time.monotonic_ns()
                self.seized.append(tid)
                _call(PTRACE_INTERRUPT, tid)
                self._wait(tid)

    def _wait(self, tid):
        while True:
            try:
                _, status = os.waitpid(tid, WALL)
            except ChildProcessError:
                return
            except InterruptedError:
                continue
            if os.WIFEXITED(status) or os.WIFSIGNALED(status):
                self.seized.remove(tid)
                return
            if os.WIFSTOPPED(status):
                if status >> 16 == 0:  # a signal on its way in: give it back
                    self.pending[tid] = os.WSTOPSIG(status)
                return

    def resume(self):
        for tid in self.seized:
            try:
                _call(PTRACE_DETACH, tid, self.pending.get(tid, 0))
            except OSError:
                pass  # it exited meanwhile
        self.seized = []
        if self.t_stop is not None and self.stopped_ns is None:
            self.stopped_ns = time.monotonic_ns() - self.t_stop
