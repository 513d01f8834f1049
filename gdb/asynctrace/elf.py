"""Finding a named ELF section at run time, for stripped binaries.

read_sections() parses the section header table of an ELF file on disk
(64-bit little-endian only, the only target the ABI is defined for).
LoadMap parses GDB's `info files` once and tells the address at which a
section of a given file is loaded; the load bias of a position-independent
file is that address minus the section's link-time address.
"""

import re
import struct

import gdb

_EHDR = struct.Struct("<16sHHIQQQIHHHHHH")
_SHDR = struct.Struct("<IIQQQQIIQQ")
ET_EXEC = 2
SHF_ALLOC = 0x2


class Section(object):
    __slots__ = ("name", "addr", "size", "flags", "offset")

    def __init__(self, name, addr, size, flags, offset=0):
        self.name = name
        self.addr = addr
        self.size = size
        self.flags = flags
        self.offset = offset


class ElfFile(object):
    """The section table of one ELF file: .sections {name: Section}, .etype."""

    def __init__(self, path):
        self.path = path
        self.sections = {}
        self.etype = None
        with open(path, "rb") as f:
            ehdr = f.read(_EHDR.size)
            if len(ehdr) < _EHDR.size or ehdr[:4] != b"\x7fELF":
                raise ValueError("%s is not an ELF file" % path)
            if ehdr[4] != 2 or ehdr[5] != 1:
                raise ValueError("%s is not a 64-bit little-endian ELF file" % path)
            (_, etype, _, _, _, _, shoff, _, _, _, _, shentsize, shnum,
             shstrndx) = _EHDR.unpack(ehdr)
            self.etype = etype
            if shoff == 0 or shentsize < _SHDR.size:
                return
            f.seek(shoff)
            first = f.read(shentsize)
            if len(first) < _SHDR.size:
                return
            sh0 = _SHDR.unpack_from(first)
            if shnum == 0:  # extended numbering: the count is in section 0
                shnum = sh0[5]
            if shstrndx == 0xFFFF:
                shstrndx = sh0[6]
            if shnum > 65536:
                raise ValueError("%s: implausible section count %d" % (path, shnum))
            f.seek(shoff)
            table = f.read(shentsize * shnum)
            headers = [_SHDR.unpack_from(table, i * shentsize)
                       for i in range(len(table) // shentsize)]
            if shstrndx >= len(headers):
                return
            strtab_hdr = headers[shstrndx]
            f.seek(strtab_hdr[4])
            strtab = f.read(min(strtab_hdr[5], 1 << 24))
            for h in headers:
                end = strtab.find(b"\0", h[0])
                if end < 0:
                    continue
                name = strtab[h[0]:end].decode("latin-1")
                if name and name not in self.sections:
                    self.sections[name] = Section(name, h[3], h[5], h[2], h[4])


def build_id(path):
    """The GNU build id of an ELF file as hex, or None (no note, not ELF,
    unreadable)."""
    try:
        ef = ElfFile(path)
        sec = ef.sections.get(".note.gnu.build-id")
        if sec is None or not 16 <= sec.size <= 1024:
            return None
        with open(path, "rb") as f:
            f.seek(sec.offset)
            note = f.read(sec.size)
    except (OSError, ValueError):
        return None
    namesz, descsz, ntype = struct.unpack_from("<III", note)
    start = 12 + ((namesz + 3) & ~3)
    if ntype != 3 or start + descsz > len(note):
        return None
    return note[start:start + descsz].hex()


_INFO_FILES_LINE = re.compile(
    r"^\s*0x([0-9a-fA-F]+) - 0x([0-9a-fA-F]+) is (\S+)(?: in (.+))?$")


class LoadMap(object):
    """Where GDB has each section of each object file, from `info files`.

    Lines without " in FILE" belong to the executable; lines of a core's own
    segments (load1, load2, ...) are ignored since no ELF section has those
    names."""

    def __init__(self):
        self.by_file = {}  # path (None for the executable) -> {section: start}
        try:
            text = gdb.execute("info files", to_string=True)
        except gdb.error:
            return
        for line in text.splitlines():
            m = _INFO_FILES_LINE.match(line)
            if not m:
                continue
            path = m.group(4)
            self.by_file.setdefault(path, {}).setdefault(m.group(3), int(m.group(1), 16))

    def bias(self, elf, is_executable):
        """Load bias of `elf`, or None when GDB does not show where it is."""
        keys = [elf.path] if not is_executable else [None, elf.path]
        for key in keys:
            placed = self.by_file.get(key)
            if not placed:
                continue
            for name, start in placed.items():
                sec = elf.sections.get(name)
                if sec is not None and sec.flags & SHF_ALLOC and sec.addr:
                    return start - sec.addr
        if elf.etype == ET_EXEC:
            return 0
        return None
