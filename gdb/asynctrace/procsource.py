"""The PID backend (backend.py): a live process read from outside through
/proc/PID/mem, never written to, no code run in it.

By default every thread is stopped for the reading (ptrace.py) and resumed
right after; with stop=False the process keeps running and the reading may
be torn (the output says so).  While the threads are stopped, every
writable mapping is copied (up to COPY_LIMIT bytes in all, into a buffer
whose pages were touched before the stop, in one process_vm_readv) and
the process is resumed at once: the walk then reads the copy, so the stop lasts as long
as the copy, not the walk.  Read-only mappings (code, constant data) are
read from the process itself.  The descriptor is found in the ELF files
named by /proc/PID/maps, placed where they are mapped.  Native frames come
from the unwind helper (unwind.py).
"""

import bisect
import errno
import os

from . import abi as abimod
from . import clock
from . import elf
from . import unwind
from . import vmread
from .backend import (EXIT_NOT_PERMITTED, EXIT_NO_PROCESS, EXIT_NOT_ASYNCTRACE, Backend,
                      UserError, live_clock_ns)
from .ptrace import Stopper


COPY_LIMIT = 1 << 30  # bytes of writable memory copied during a stop


class Mapping(object):
    __slots__ = ("start", "end", "perms", "offset", "inode", "path")

    def __init__(self, start, end, perms, offset, inode, path):
        self.start = start
        self.end = end
        self.perms = perms
        self.offset = offset
        self.inode = inode
        self.path = path


def read_maps(pid):
    """The Mappings of /proc/PID/maps."""
    out = []
    with open("/proc/%d/maps" % pid) as f:
        for line in f:
            parts = line.split(None, 5)
            if len(parts) < 5:
                continue
            start, _, end = parts[0].partition("-")
            path = parts[5].strip() if len(parts) > 5 else ""
            out.append(Mapping(int(start, 16), int(end, 16), parts[1], int(parts[2], 16),
                               int(parts[4]), path))
    return out


def load_bias(ef, base):
    """Bias of ElfFile `ef` whose offset-0 mapping starts at `base`."""
    if ef.etype == elf.ET_EXEC:
        return 0
    seg = ef.first_load()
    return base - (seg.vaddr & ~0xFFF) if seg is not None else base


def find_in_files(files, biases=None):
    """(address, how) of the descriptor in [(path, base address)], the
    executable first (a bias in `biases` {path: bias} overrides the one the
    base gives); AbiError when none has it."""
    tried = []
    for path, base in files:
        try:
            ef = elf.ElfFile(path)
        except (OSError, ValueError):
            continue
        tried.append(path)
        if biases and path in biases:
            bias = biases[path]
        else:
            bias = load_bias(ef, base)
        hit = abimod.descriptor_in(ef, bias)
        if hit is not None:
            return hit
    err = abimod.not_found(tried or [p for p, _ in files])
    err.code = EXIT_NOT_ASYNCTRACE
    raise err


def _denied(pid, what):
    scope = ""
    try:
        with open("/proc/sys/kernel/yama/ptrace_scope") as f:
            value = f.read().strip()
        if value != "0":
            scope = ("; kernel.yama.ptrace_scope is %s: run as root or with "
                     "CAP_SYS_PTRACE" % value)
    except OSError:
        pass
    return UserError("not permitted to %s process %d (it belongs to another user, "
                     "or ptrace is restricted)%s" % (what, pid, scope), EXIT_NOT_PERMITTED)


class PidBackend(Backend):
    """Process `pid`, stopped for the reading unless `stop` is False."""

    kind = "live"
    source = "pid"
    read_errors = (OSError, ValueError, OverflowError)

    def __init__(self, pid, stop=True, unwinder=None):
        self.pid = pid
        self.stop = stop
        self.unwinder = unwinder
        self.stopper = None
        self.now_ns = None
        self._frames = None
        if not os.path.exists("/proc/%d" % pid):
            raise UserError("no such process: %d" % pid, EXIT_NO_PROCESS)
        try:
            self.maps = read_maps(pid)
            self.exe = os.readlink("/proc/%d/exe" % pid)
        except FileNotFoundError:
            raise UserError("no such process: %d" % pid, EXIT_NO_PROCESS)
        except PermissionError:
            raise _denied(pid, "read")
        # The files are read before the process is stopped (they do not change).
        try:
            self._descriptor = self._find_descriptor()
        except abimod.AbiError as e:
            self._descriptor = e
        self.now_ns = live_clock_ns()
        try:
            self.fd = os.open("/proc/%d/mem" % pid, os.O_RDONLY)
        except OSError as e:
            if e.errno in (errno.EACCES, errno.EPERM):
                raise _denied(pid, "read the memory of")
            raise UserError("no such process: %d" % pid, EXIT_NO_PROCESS)

    def pause(self):
        """Stop every thread (the descriptor and layout are read by now)."""
        buf = self._buffer() if self.stop else None
        if self.stop and self.stopper is None:
            self.stopper = Stopper(self.pid)
            try:
                self.stopper.stop()
            except OSError as e:
                if e.errno == errno.ESRCH:
                    raise UserError("no such process: %d" % self.pid, EXIT_NO_PROCESS)
                if e.errno == errno.EPERM:
                    raise _denied(self.pid, "stop")
                raise UserError("cannot stop process %d: %s" % (self.pid, e.strerror))
        self.now_ns = live_clock_ns()
        if self.stopper is not None and self._copy(buf):
            self.stopper.resume()  # the walk reads the copy

    def _buffer(self):
        """A buffer for the copy of the writable mappings as they are now,
        every page of it touched before the process is stopped: filling
        fresh memory costs a page fault per 4 KiB, which would otherwise
        be paid while the process is stopped."""
        try:
            size = sum(m.end - m.start for m in read_maps(self.pid) if "w" in m.perms)
        except OSError:
            return None
        return bytearray(size) if size <= COPY_LIMIT else None

    def _copy(self, buf=None):
        """Copy the writable mappings of the stopped process, into `buf`
        (from _buffer()) while they fit, in one process_vm_readv; False
        (and nothing copied) when they are more than COPY_LIMIT bytes."""
        try:
            maps = [m for m in read_maps(self.pid) if "w" in m.perms]
        except OSError:
            return False
        if sum(m.end - m.start for m in maps) > COPY_LIMIT:
            return False
        fit = []
        room = len(buf) if buf is not None else 0
        for m in maps:
            if m.end - m.start > room:
                break
            fit.append(m)
            room -= m.end - m.start
        try:
            done = vmread.read_spans(self.pid, buf, [(m.start, m.end - m.start)
                                                     for m in fit]) if fit else 0
        except (OSError, AttributeError, ValueError):
            done = 0
        view = memoryview(buf) if buf is not None else None
        copies = []
        pos = 0
        for i, m in enumerate(maps):
            size = m.end - m.start
            if i < done:
                copies.append((m.start, m.end, view[pos:pos + size]))
                pos += size
                continue
            try:  # one the single read did not take: on its own
                data = os.pread(self.fd, size, m.start)
            except OSError:
                continue  # read it live, if ever
            if len(data) == size:
                copies.append((m.start, m.end, memoryview(data)))
        self.copies = copies
        self.copy_starts = [c[0] for c in copies]
        return True

    copies = ()
    copy_starts = ()

    def read_memory(self, address, size):
        i = bisect.bisect_right(self.copy_starts, address) - 1
        if i >= 0:
            start, end, data = self.copies[i]
            if address + size <= end:
                return data[address - start:address - start + size]
        data = os.pread(self.fd, size, address)
        if len(data) != size:
            raise OSError(errno.EIO, "short read")
        return data

    def find_descriptor(self):
        if isinstance(self._descriptor, Exception):
            raise self._descriptor
        return self._descriptor

    def _find_descriptor(self):
        files = []
        seen = set()
        for m in self.maps:
            if m.offset != 0 or not m.path.startswith("/") or m.path in seen:
                continue
            seen.add(m.path)
            path = m.path
            if not os.path.exists(path):
                path = "/proc/%d/root%s" % (self.pid, m.path)
            files.append((path, m.start))
        files.sort(key=lambda f: f[0] != self.exe)
        return find_in_files(files)

    def clock(self):
        return self.now_ns, "live"

    def now(self, floor, pair):
        """The moment this reading stopped the process (read right after the
        stop), or with --no-stop the moment it began reading."""
        return clock.make(max(self.now_ns, floor), "stopped" if self.stop else "live", True)

    def threads(self):
        try:
            return [int(t) for t in os.listdir("/proc/%d/task" % self.pid)]
        except OSError:
            return []

    def _native(self):
        if self._frames is None:
            self._frames = unwind.Unwinder(self.unwinder, ["--pid", str(self.pid)])
        return self._frames

    def native_frames(self, lwp, root_record=0):
        if not self.stop:
            return None, "not unwound: the process was not stopped (--no-stop)"
        return self._native().frames(lwp, root_record)

    def innermost_function(self, lwp):
        if not self.stop:
            return None
        return self._native().innermost(lwp)

    def notes(self):
        if not self.stop:
            return ["read without stopping the process (--no-stop): the picture may "
                    "be torn"]
        return []

    def close(self):
        """Resume the process.  Its memory stays open for reads of code
        (which does not change), e.g. whether a thread sits in a syscall."""
        if self.stopper is not None:
            self.stopper.resume()

    def __del__(self):
        fd = getattr(self, "fd", None)
        if fd is not None:
            os.close(fd)
            self.fd = None

    @property
    def stopped_ns(self):
        return self.stopper.stopped_ns if self.stopper is not None else None
