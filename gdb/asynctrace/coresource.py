"""The core backend (backend.py): an ELF core file with the executable it
was made from and the files named in its NT_FILE note.

Memory comes from the core's PT_LOAD segments (small reads from the mapped
core, large ones copied with pread: PREAD_MIN); bytes a
segment does not hold (read-only file mappings the kernel does not dump)
come from the file mapped there.  The executable given replaces the core's
own path for it; its GNU build-id must match the one in the core's memory.
"""

import bisect
import mmap
import os
import struct

from . import clock
from . import elf
from . import unwind
from .backend import (EXIT_BAD_CORE, EXIT_NO_PROCESS, EXIT_WRONG_EXE, Backend, UserError)
from .procsource import find_in_files, load_bias

NT_PRSTATUS = 1
NT_AUXV = 6
NT_FILE = 0x46494C45
AT_ENTRY = 9
PRSTATUS_PID = 32
_U64 = struct.Struct("<Q")
# Reads this large (the walk's 64 KiB blocks) are copied with pread: pages
# of the mapped core that a walk touched would otherwise stay in the
# reading's memory (a 1,000,000-task core is 560 MB).
PREAD_MIN = 4096


def _nt_file(desc):
    """[(start, end, file offset, path)] of an NT_FILE note."""
    if len(desc) < 16:
        return []
    count, page = struct.unpack_from("<QQ", desc)
    if count > 1 << 20:
        return []
    table = 16 + 24 * count
    names = desc[table:].split(b"\0")
    out = []
    for i in range(min(count, len(names))):
        start, end, pgoff = struct.unpack_from("<QQQ", desc, 16 + 24 * i)
        out.append((start, end, pgoff * page, names[i].decode("utf-8", "replace")))
    return out


def _open(path, what):
    try:
        return open(path, "rb")
    except FileNotFoundError:
        raise UserError("no such file: %s" % path, EXIT_NO_PROCESS)
    except OSError as e:
        raise UserError("cannot open %s %s: %s" % (what, path, e.strerror))


class CoreBackend(Backend):
    kind = "core"
    source = "core"

    def __init__(self, core_path, exe_path, unwinder=None):
        self.core_path = core_path
        self.exe_path = exe_path
        self.unwinder = unwinder
        self._frames = None
        self._files = {}  # path -> mmap or None
        with _open(core_path, "core file") as f:
            size = os.fstat(f.fileno()).st_size
            try:
                self.core = elf.ElfFile(core_path)
            except ValueError as e:
                raise UserError("%s" % e, EXIT_BAD_CORE)
            if self.core.etype != elf.ET_CORE:
                raise UserError("%s is not a core file" % core_path, EXIT_BAD_CORE)
            self.data = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) if size else b""
        self.view = memoryview(self.data)
        self.fd = os.open(core_path, os.O_RDONLY)
        self._read_segments(size)
        self._read_notes()
        with _open(exe_path, "executable"):
            pass
        try:
            self.exe = elf.ElfFile(exe_path)
        except ValueError as e:
            raise UserError("%s" % e, EXIT_WRONG_EXE)
        self._place_exe()

    def _read_segments(self, size):
        segs = []
        need = 0
        for s in self.core.segments:
            if s.type == elf.PT_LOAD and s.memsz:
                segs.append((s.vaddr, s.vaddr + s.memsz, s.offset, s.filesz))
                need = max(need, s.offset + s.filesz)
        if need > size:
            raise UserError("the core %s is truncated: it has %d bytes, its segments "
                            "need %d" % (self.core_path, size, need), EXIT_BAD_CORE)
        segs.sort()
        self.segs = segs
        self.starts = [s[0] for s in segs]

    def _read_notes(self):
        self.tids = []
        self.files = []
        self.entry = None
        for s in self.core.segments:
            if s.type != elf.PT_NOTE:
                continue
            for ntype, name, desc in elf.notes(bytes(self.view[s.offset:s.offset + s.filesz])):
                if ntype == NT_PRSTATUS and len(desc) >= PRSTATUS_PID + 4:
                    self.tids.append(struct.unpack_from("<i", desc, PRSTATUS_PID)[0])
                elif ntype == NT_FILE and name == b"CORE":
                    self.files = _nt_file(desc)
                elif ntype == NT_AUXV:
                    for i in range(0, len(desc) - 15, 16):
                        key, value = struct.unpack_from("<QQ", desc, i)
                        if key == AT_ENTRY:
                            self.entry = value

    def _place_exe(self):
        """Find the executable's mappings, point them at exe_path, check
        its build-id against the core's copy of its notes."""
        core_exe = None
        if self.entry is not None:
            for start, end, _, path in self.files:
                if start <= self.entry < end:
                    core_exe = path
                    break
        if core_exe is None:  # no auxv: the file of the same name
            base = os.path.basename(self.exe_path)
            for _, _, _, path in self.files:
                if os.path.basename(path) == base:
                    core_exe = path
                    break
        self.core_exe = core_exe
        if self.entry is not None and self.exe.entry:
            self.exe_bias = self.entry - self.exe.entry
        else:
            self.exe_bias = None
            for start, _, off, path in self.files:
                if path == core_exe and off == 0:
                    self.exe_bias = load_bias(self.exe, start)
                    break
        if self.exe_bias is None:
            raise UserError("%s does not appear in the core %s: it is not the "
                            "executable the core was made from"
                            % (self.exe_path, self.core_path), EXIT_WRONG_EXE)
        self._check_build_id()

    def _check_build_id(self):
        want = self.exe.build_id()
        have = self._core_build_id()
        if want is not None and have is not None and want != have:
            raise UserError("%s is not the executable the core %s was made from "
                            "(its build-id is %s, the core's is %s)"
                            % (self.exe_path, self.core_path, want, have), EXIT_WRONG_EXE)

    def _core_build_id(self):
        """The build-id of the executable as the core has it in memory (its
        ELF headers at the start of its first mapping), or None."""
        base = None
        for start, _, off, path in self.files:
            if path == self.core_exe and off == 0:
                base = start
                break
        if base is None:
            return None
        try:
            ehdr = bytes(self._dumped(base, 64))
            if ehdr[:4] != b"\x7fELF":
                return None
            phoff, = struct.unpack_from("<Q", ehdr, 32)
            phentsize, phnum = struct.unpack_from("<HH", ehdr, 54)
            table = bytes(self._dumped(base + phoff, phentsize * phnum))
            phdrs = [struct.unpack_from("<IIQQQQQQ", table, i * phentsize)
                     for i in range(phnum)]
            loads = [p for p in phdrs if p[0] == elf.PT_LOAD and p[2] == 0]
            bias = base - (loads[0][3] & ~0xFFF) if loads else base
            for p in phdrs:
                if p[0] == elf.PT_NOTE and p[5] < 1 << 16:
                    for ntype, name, desc in elf.notes(self._dumped(p[3] + bias, p[5])):
                        if ntype == elf.NT_GNU_BUILD_ID and name == b"GNU":
                            return desc.hex()
        except (OSError, struct.error, IndexError):
            return None
        return None

    # -- memory ----------------------------------------------------------------

    def _dumped(self, address, size):
        """Bytes at address held by the core itself (OSError if not)."""
        i = bisect.bisect_right(self.starts, address) - 1
        if i >= 0:
            start, end, off, filesz = self.segs[i]
            if address + size <= start + filesz:
                pos = off + address - start
                return self.view[pos:pos + size]
        raise OSError("not in the core")

    def _file_bytes(self, address, size):
        for start, end, off, path in self.files:
            if start <= address and address + size <= end:
                data = self._file(path)
                if data is None:
                    break
                pos = off + address - start
                if pos + size <= len(data):
                    return data[pos:pos + size]
                break
        raise OSError("0x%x is not in the core" % address)

    def _file(self, path):
        if path not in self._files:
            real = self.exe_path if path == self.core_exe else path
            try:
                with open(real, "rb") as f:
                    self._files[path] = memoryview(
                        mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ))
            except (OSError, ValueError):
                self._files[path] = None
        return self._files[path]

    def read_memory(self, address, size):
        i = bisect.bisect_right(self.starts, address) - 1
        if i >= 0:
            start, end, off, filesz = self.segs[i]
            if address + size <= start + filesz:
                pos = off + address - start
                if size >= PREAD_MIN:
                    return os.pread(self.fd, size, pos)
                return self.view[pos:pos + size]
            if address >= start + filesz and address + size <= end:
                return self._file_bytes(address, size)
        if i < 0 or self.segs[i][1] <= address:
            nxt = self.starts[i + 1] if i + 1 < len(self.starts) else None
            if nxt is None or address + size <= nxt:
                return self._file_bytes(address, size)
        # Across segments, or partly dumped: piece by piece.
        out = []
        addr = address
        stop = address + size
        while addr < stop:
            i = bisect.bisect_right(self.starts, addr) - 1
            if i < 0 or self.segs[i][1] <= addr:  # no segment: the mapped file
                nxt = self.starts[i + 1] if i + 1 < len(self.starts) else stop
                take = min(stop, nxt) - addr
                out.append(bytes(self._file_bytes(addr, take)))
                addr += take
                continue
            start, end, off, filesz = self.segs[i]
            take = min(stop, end) - addr
            if addr < start + filesz:
                take = min(take, start + filesz - addr)
                pos = off + addr - start
                out.append(bytes(self.view[pos:pos + take]))
            else:
                out.append(bytes(self._file_bytes(addr, take)))
            addr += take
        return b"".join(out)

    def __del__(self):
        fd = getattr(self, "fd", None)
        if fd is not None:
            os.close(fd)
            self.fd = None

    # -- the rest of the interface ---------------------------------------------

    def now(self, floor, pair):
        """The moment the core was written (clock.py)."""
        return clock.core_now(self.core_path, pair, floor)

    def find_descriptor(self):
        files = [(self.exe_path, None)]
        seen = {self.core_exe}
        for start, _, off, path in self.files:
            if off == 0 and path not in seen:
                seen.add(path)
                files.append((path, start))
        exe_bias = self.exe_bias
        return find_in_files(files, {self.exe_path: exe_bias})

    def threads(self):
        return list(self.tids)

    def _native(self):
        if self._frames is None:
            self._frames = unwind.Unwinder(self.unwinder, ["--core", self.core_path,
                                                           "--exe", self.exe_path])
        return self._frames

    def native_frames(self, lwp, root_record=0):
        return self._native().frames(lwp, root_record)

    def innermost_function(self, lwp):
        return self._native().innermost(lwp)
