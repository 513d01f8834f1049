"""Reading ELF files on disk (64-bit little-endian only, the only target the
ABI is defined for): section headers, program headers, symbols, notes and
the GNU build-id.  Used to find the descriptor of stripped binaries and, by
the PID and core backends, to place files in memory and to check that an
executable is the one a core was made from.
"""

import struct

_EHDR = struct.Struct("<16sHHIQQQIHHHHHH")
_SHDR = struct.Struct("<IIQQQQIIQQ")
_PHDR = struct.Struct("<IIQQQQQQ")
_SYM = struct.Struct("<IBBHQQ")
_NHDR = struct.Struct("<III")
ET_EXEC = 2
ET_CORE = 4
SHF_ALLOC = 0x2
SHT_SYMTAB = 2
SHT_NOBITS = 8
SHT_DYNSYM = 11
PT_LOAD = 1
PT_NOTE = 4
NT_GNU_BUILD_ID = 3
MAX_SYMBOLS = 1 << 22


class Section(object):
    __slots__ = ("name", "addr", "size", "flags", "type", "offset", "link")

    def __init__(self, name, addr, size, flags, type=0, offset=0, link=0):
        self.name = name
        self.addr = addr
        self.size = size
        self.flags = flags
        self.type = type
        self.offset = offset
        self.link = link


class Segment(object):
    """A program header: type, flags, file offset, vaddr, file and memory
    sizes."""
    __slots__ = ("type", "flags", "offset", "vaddr", "filesz", "memsz")

    def __init__(self, type, flags, offset, vaddr, filesz, memsz):
        self.type = type
        self.flags = flags
        self.offset = offset
        self.vaddr = vaddr
        self.filesz = filesz
        self.memsz = memsz


def notes(data):
    """(type, name, desc bytes) of each note in a PT_NOTE's data."""
    data = bytes(data)
    out = []
    pos = 0
    while pos + _NHDR.size <= len(data):
        namesz, descsz, ntype = _NHDR.unpack_from(data, pos)
        pos += _NHDR.size
        name = data[pos:pos + namesz].rstrip(b"\0")
        pos += (namesz + 3) & ~3
        desc = data[pos:pos + descsz]
        pos += (descsz + 3) & ~3
        if len(desc) < descsz:
            break
        out.append((ntype, name, desc))
    return out


class ElfFile(object):
    """One ELF file: .sections {name: Section}, .segments [Segment],
    .etype, .entry, symbol(name), build_id()."""

    def __init__(self, path):
        self.path = path
        self.sections = {}
        self.segments = []
        self.etype = None
        self._symbols = None
        with open(path, "rb") as f:
            ehdr = f.read(_EHDR.size)
            if len(ehdr) < _EHDR.size or ehdr[:4] != b"\x7fELF":
                raise ValueError("%s is not an ELF file" % path)
            if ehdr[4] != 2 or ehdr[5] != 1:
                raise ValueError("%s is not a 64-bit little-endian ELF file" % path)
            (_, etype, _, _, self.entry, phoff, shoff, _, _, phentsize, phnum, shentsize,
             shnum, shstrndx) = _EHDR.unpack(ehdr)
            self.etype = etype
            self._read_segments(f, phoff, phentsize, phnum)
            self._read_sections(f, shoff, shentsize, shnum, shstrndx)

    def _read_segments(self, f, phoff, phentsize, phnum):
        if not phoff or phentsize < _PHDR.size or phnum > 65535:
            return
        f.seek(phoff)
        table = f.read(phentsize * phnum)
        for i in range(len(table) // phentsize):
            ptype, pflags, off, vaddr, _, filesz, memsz, _ = _PHDR.unpack_from(
                table, i * phentsize)
            self.segments.append(Segment(ptype, pflags, off, vaddr, filesz, memsz))

    def _read_sections(self, f, shoff, shentsize, shnum, shstrndx):
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
            raise ValueError("%s: implausible section count %d" % (self.path, shnum))
        f.seek(shoff)
        table = f.read(shentsize * shnum)
        headers = [_SHDR.unpack_from(table, i * shentsize)
                   for i in range(len(table) // shentsize)]
        self.headers = headers
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
                self.sections[name] = Section(name, h[3], h[5], h[2], h[1], h[4], h[6])

    def _read(self, offset, size):
        with open(self.path, "rb") as f:
            f.seek(offset)
            return f.read(size)

    def _load_symbols(self):
        """{name: value} of the defined symbols of .symtab and .dynsym."""
        syms = {}
        headers = getattr(self, "headers", [])
        for sec in self.sections.values():
            if sec.type not in (SHT_SYMTAB, SHT_DYNSYM) or sec.link >= len(headers):
                continue
            if sec.size // _SYM.size > MAX_SYMBOLS:
                continue
            data = self._read(sec.offset, sec.size)
            strh = headers[sec.link]
            strtab = self._read(strh[4], min(strh[5], 1 << 26))
            for i in range(len(data) // _SYM.size):
                st_name, _, _, shndx, value, _ = _SYM.unpack_from(data, i * _SYM.size)
                if not st_name or not shndx or not value:
                    continue
                end = strtab.find(b"\0", st_name)
                if end > st_name:
                    syms.setdefault(strtab[st_name:end].decode("latin-1"), value)
        return syms

    def symbol(self, name):
        """Link-time value of the defined symbol `name`, or None."""
        if self._symbols is None:
            try:
                self._symbols = self._load_symbols()
            except (OSError, struct.error):
                self._symbols = {}
        return self._symbols.get(name)

    def build_id(self):
        """The GNU build-id (hex text), or None."""
        for seg in self.segments:
            if seg.type != PT_NOTE or seg.filesz > 1 << 20:
                continue
            for ntype, name, desc in notes(self._read(seg.offset, seg.filesz)):
                if ntype == NT_GNU_BUILD_ID and name == b"GNU":
                    return desc.hex()
        return None

    def first_load(self):
        """The PT_LOAD segment with file offset 0 (where the ELF header is
        mapped), else the first PT_LOAD, else None."""
        loads = [s for s in self.segments if s.type == PT_LOAD]
        for s in loads:
            if s.offset == 0:
                return s
        return loads[0] if loads else None
