"""Reading many spans of another process's memory in one system call:
process_vm_readv(2) by ctypes, into a caller's writable buffer.  Used while
the process is stopped (procsource.py), where every millisecond counts:
one call for every writable mapping copies faster than a pread of
/proc/PID/mem per mapping.
"""

import ctypes

MAX_IOV = 1024  # IOV_MAX on Linux


class _Iovec(ctypes.Structure):
    _fields_ = [("base", ctypes.c_void_p), ("len", ctypes.c_size_t)]


_readv = None


def _fn():
    global _readv
    if _readv is None:
        libc = ctypes.CDLL(None, use_errno=True)
        fn = libc.process_vm_readv
        fn.restype = ctypes.c_ssize_t
        fn.argtypes = (ctypes.c_int, ctypes.c_void_p, ctypes.c_ulong, ctypes.c_void_p,
                       ctypes.c_ulong, ctypes.c_ulong)
        _readv = fn
    return _readv


def read_spans(pid, buf, spans):
    """Copy spans [(remote address, size)] of process `pid` one after the
    other into bytearray `buf` (at least their total size long).  Returns
    how many of the spans were copied whole, in order: the kernel stops at
    the first span it cannot read (the caller reads the rest another way).
    """
    spans = spans[:MAX_IOV]
    n = len(spans)
    if not n:
        return 0
    base = ctypes.addressof((ctypes.c_char * len(buf)).from_buffer(buf))
    local = (_Iovec * n)()
    remote = (_Iovec * n)()
    pos = 0
    for i, (addr, size) in enumerate(spans):
        local[i].base = base + pos
        local[i].len = size
        remote[i].base = addr
        remote[i].len = size
        pos += size
    got = _fn()(pid, local, n, remote, n, 0)
    done = 0
    for _, size in spans:
        if got < size:
            break
        got -= size
        done += 1
    return done
