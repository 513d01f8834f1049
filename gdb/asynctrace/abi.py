"""The debugger ABI reader: find `asynctrace_debug`, check it, and know the
layout of every record the walker reads.

Offsets of every field come from the expected layout of the descriptor's ABI
version (layouts.py, generated from abi.h), never from DWARF, so this works
on stripped binaries.  The layout table and enum name tables the descriptor
points to are compared with it (tablecheck.py): a damaged table is reported
in every command's output and never changes what is read.  Only the
descriptor's head (magic, version, pointer size) can refuse a program.
"""

import struct

from . import constants as C
from . import layouts as expected
from .tablecheck import (_checked_enums, _found_enums, _found_layouts, fields_end,
                         layout_differences, note as _note)
from .memory import ReadError

# Fixed by the ABI version: the descriptor head and the table entry shapes.
_DESC_HEAD = struct.Struct("<8sIIIIQ")  # magic, abi, ptr size, size, nlayout, layouts
_CODES = {("u", 1): "B", ("u", 2): "H", ("u", 4): "I", ("u", 8): "Q",
          ("i", 1): "b", ("i", 2): "h", ("i", 4): "i", ("i", 8): "q"}


def _version_list(versions):
    """"1, 2 and 3"."""
    words = ["%d" % v for v in versions]
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


class AbiError(Exception):
    """The descriptor is missing, foreign or unreadable (one-sentence text).
    `code` is the command-line tool's exit status for it (backend.py)."""
    code = 1


class AbiVersionError(AbiError):
    """The program speaks another version of the debugger ABI."""
    code = 6


class Record(object):
    """One record of the layout table: .size and .fields {name: (off, size)}."""

    def __init__(self, name, size, fields):
        self.name = name
        self.size = size
        self.fields = fields

    def offset(self, field):
        try:
            return self.fields[field][0]
        except KeyError:
            raise AbiError("the layout table has no field %s.%s, which this "
                           "extension needs" % (self.name, field))


class Reader(object):
    """A precompiled reader of chosen fields of a record.

    unpack(mem, addr) returns a tuple in the order the fields were asked for.
    """

    def __init__(self, record, spec, base=0):
        items = []
        for name, kind in spec:
            if name not in record.fields:
                raise AbiError("the layout table has no field %s.%s, which this "
                               "extension needs" % (record.name, name))
            off, size = record.fields[name]
            off -= base
            if kind == "s":
                code = "%ds" % size
            else:
                code = _CODES.get((kind, size))
                if code is None:
                    raise AbiError("field %s.%s has size %d, which this extension "
                                   "cannot read" % (record.name, name, size))
            items.append((off, size, code, len(items)))
        by_offset = sorted(items)
        fmt = ["<"]
        pos = 0
        for off, size, code, _ in by_offset:
            if off < pos:
                raise AbiError("fields of %s overlap in the layout table" % record.name)
            if off > pos:
                fmt.append("%dx" % (off - pos))
            fmt.append(code)
            pos = off + size
        self.struct = struct.Struct("".join(fmt))
        self.size = self.struct.size
        order = [i for _, _, _, i in by_offset]
        # position of requested field k inside the offset-ordered tuple
        perm = [order.index(k) for k in range(len(items))]
        self.reorder = None if perm == list(range(len(items))) else perm

    def unpack(self, mem, address):
        values = mem.unpack(self.struct, address)
        if self.reorder is None:
            return values
        return tuple(values[i] for i in self.reorder)


class Abi(object):
    """A validated descriptor: its address, how it was found, the layout
    records, the enum tables, and the head fields.

    The records and enum names are those this package knows for the
    descriptor's ABI version (layouts.py); the descriptor's own tables are
    compared with them and every difference is in `notes` ("corrupt: ..."),
    which every command prints."""

    def __init__(self, mem, address, found_by):
        self.address = address
        self.found_by = found_by
        try:
            head = mem.unpack(_DESC_HEAD, address)
        except ReadError:
            raise AbiError("the descriptor asynctrace_debug at 0x%x cannot be read "
                           "(the core may not include that memory)" % address)
        magic, version, ptr_size, desc_size, nlayout, layouts = head
        if magic != C.DEBUG_MAGIC:
            raise AbiError("asynctrace_debug at 0x%x does not start with the magic "
                           "\"ATDEBUG\" (found %r), so it is not an asynctrace "
                           "descriptor or its memory is corrupt" % (address, magic))
        if version not in C.ABI_VERSIONS or version not in expected.LAYOUTS:
            raise AbiVersionError("the program uses asynctrace debugger ABI version %d but "
                           "this asynctrace reads versions %s: use the asynctrace "
                           "(GDB extension or command-line tool) installed with the "
                           "runtime the program was built with"
                           % (version, _version_list(C.ABI_VERSIONS)))
        if ptr_size != 8:
            raise AbiError("the program has %d-byte pointers; this extension reads "
                           "64-bit programs only" % ptr_size)
        self.version = version
        self.descriptor_size = desc_size
        self.records = {name: Record(name, fields_end(fields) if size is None else size,
                                     dict(fields))
                        for name, (size, fields) in expected.LAYOUTS[version].items()}
        self.notes = []
        diffs = layout_differences(version, desc_size,
                                   _found_layouts(mem, layouts, nlayout))
        if diffs:
            self.notes.append(_note("layout table", version, diffs))
        desc = self.record("descriptor")
        self.desc_reader = Reader(desc, [
            ("runtimes", "u"), ("threads", "u"), ("generation", "u"),
            ("enums", "u"), ("enum_count", "u"), ("clock_ns", "u"),
            ("next_task_id", "u")])
        # The clock pair (ABI 2; absent before).
        self.pair_reader = (Reader(desc, [("clock_mono_ns", "u"), ("clock_real_ns", "u")])
                            if "clock_real_ns" in desc.fields else None)
        d = self.desc_reader.unpack(mem, address)
        self.enums, diffs = _checked_enums(version, _found_enums(mem, d[3], d[4]))
        if diffs:
            self.notes.append(_note("enum name tables", version, diffs))

    def record(self, name):
        rec = self.records.get(name)
        if rec is None:
            raise AbiError("the layout table has no record %r, which this extension "
                           "needs" % name)
        return rec

    def reader(self, record, spec, base=0):
        return Reader(self.record(record), spec, base)

    def layout(self, record, spec):
        """The fields of `spec` ((name, kind) pairs, as for reader()) as
        ((offset, size, kind), ...): the form _speedups.c reads."""
        fields = self.record(record).fields
        Reader(self.record(record), spec)  # the same checks as a reader's
        return tuple(tuple(fields[name]) + (kind,) for name, kind in spec)

    def enum_value(self, table, name):
        try:
            return self.enums[table].index(name)
        except ValueError:
            return None

    def has(self, record, field):
        """Whether the layout table lists record.field (fields added by
        later ABI versions are read only when it does)."""
        rec = self.records.get(record)
        return rec is not None and field in rec.fields

    def clock_pair(self, mem):
        """(monotonic ns, wall-clock ns) the runtime read together, or None
        (older ABI, never recorded, or being rewritten)."""
        if self.pair_reader is None:
            return None
        mono, real = self.pair_reader.unpack(mem, self.address)
        return (mono, real) if mono and real else None

    def read_head(self, mem):
        """(runtimes, threads, generation, clock_ns, next_task_id) now."""
        d = self.desc_reader.unpack(mem, self.address)
        return d[0], d[1], d[2], d[5], d[6]


# -- finding the descriptor in ELF files --------------------------------------

def descriptor_in(ef, bias):
    """(address, how) of the descriptor in ElfFile `ef` loaded at `bias`
    (its named section, else its symbol), or None."""
    for name in C.DEBUG_SECTIONS:
        sec = ef.sections.get(name)
        if sec is not None and sec.addr:
            return sec.addr + bias, "section %s of %s" % (name, ef.path)
    value = ef.symbol(C.DEBUG_SYMBOL)
    if value:
        return value + bias, "symbol %s of %s" % (C.DEBUG_SYMBOL, ef.path)
    return None


def not_found(paths):
    """The AbiError of a program without the runtime (files searched)."""
    return AbiError("this program does not contain the asynctrace runtime "
                    "(no symbol asynctrace_debug and no %s section in %s)"
                    % (C.DEBUG_SECTIONS[0],
                       ", ".join(paths[:3]) +
                       (" and %d more files" % (len(paths) - 3) if len(paths) > 3 else "")))
