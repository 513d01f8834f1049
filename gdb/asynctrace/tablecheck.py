"""The descriptor's layout table and enum name tables, read from memory and
compared with those this package knows for the ABI version (layouts.py).

Nothing read here is used to read the program: abi.py reads with the
expected layout, and every difference found here becomes one "corrupt:"
note.  A table that cannot be read at all is one difference too.  Reads are
bounded (counts, sizes and string lengths are capped).
"""

import struct

from . import layouts as expected
from .memory import ReadError

_LAYOUT_RECORD = struct.Struct("<QIIQ")  # name *, size, field_count, fields *
_LAYOUT_FIELD = struct.Struct("<QII")  # name *, offset, size
_ENUM_TABLE = struct.Struct("<QIIQ")  # name *, count, pad, names *
MAX_RECORDS = 256
MAX_FIELDS = 256
MAX_ENUM_NAMES = 1024
MAX_LISTED = 6  # differences spelled out in a note


class Unreadable(object):
    """A table that could not be read: why."""

    def __init__(self, why):
        self.why = why


def _found_layouts(mem, base, count):
    """{record: (size, {field: (offset, size)})} of the descriptor's table,
    or Unreadable."""
    if count == 0 or count > MAX_RECORDS:
        return Unreadable("it claims %d records" % count)
    records = {}
    try:
        for i in range(count):
            name_p, size, nfields, fields_p = mem.unpack(
                _LAYOUT_RECORD, base + i * _LAYOUT_RECORD.size)
            name = mem.cstring(name_p, 64)
            if nfields > MAX_FIELDS:
                return Unreadable("record %r claims %d fields" % (name, nfields))
            fields = {}
            for j in range(nfields):
                fname_p, off, fsize = mem.unpack(
                    _LAYOUT_FIELD, fields_p + j * _LAYOUT_FIELD.size)
                fields[mem.cstring(fname_p, 64)] = (off, fsize)
            records[name] = (size, fields)
    except (ReadError, UnicodeError, ValueError) as e:
        return Unreadable("%s" % e)
    return records


def fields_end(fields):
    """Where the last of `fields` ({name: (offset, size)}) ends."""
    return max(off + size for off, size in fields.values()) if fields else 0


def _record_differences(name, want, got):
    """What differs between the expected (size, fields) of one record and
    the table's.  A size is compared where the ABI fixes it; otherwise the
    record must hold every field.  Fields appended after the expected ones
    (a later build of the same version) are not differences."""
    wsize, wfields = want
    gsize, gfields = got
    out = []
    end = wsize if wsize is not None else fields_end(wfields)
    appended = all(off >= end for f, (off, _) in gfields.items() if f not in wfields)
    if wsize is None:
        if gsize < end:
            out.append("record %s has size %d, less than its fields need (%d)"
                       % (name, gsize, end))
    elif gsize != wsize and not (gsize > wsize and appended):
        out.append("record %s has size %d (expected %d)" % (name, gsize, wsize))
    for f, (off, size) in sorted(wfields.items(), key=lambda kv: kv[1]):
        g = gfields.get(f)
        if g is None:
            out.append("record %s lacks field %s" % (name, f))
        elif g != (off, size):
            out.append("%s.%s has offset %d, size %d (expected %d, %d)"
                       % (name, f, g[0], g[1], off, size))
    for f, (off, size) in sorted(gfields.items(), key=lambda kv: kv[1]):
        if f not in wfields and off < end:
            out.append("%s lists an unknown field %r at offset %d" % (name, f, off))
    return out


def layout_differences(version, desc_size, found):
    """Every difference between the table found (or Unreadable) and the
    layout of ABI `version`, and the descriptor's own size."""
    want = expected.LAYOUTS[version]
    out = []
    need = fields_end(want["descriptor"][1])
    if desc_size < need:
        out.append("the descriptor says its size is %d, less than its fields need (%d)"
                   % (desc_size, need))
    if isinstance(found, Unreadable):
        return out + ["the table cannot be read (%s)" % found.why]
    for name in want:
        if name not in found:
            out.append("record %s is missing" % name)
        else:
            out.extend(_record_differences(name, want[name], found[name]))
    return out


def _found_enums(mem, base, count):
    """{table: [names]} of the descriptor's enum tables, or Unreadable."""
    if count > MAX_RECORDS:
        return Unreadable("it claims %d tables" % count)
    tables = {}
    try:
        for i in range(count):
            name_p, n, _, names_p = mem.unpack(_ENUM_TABLE, base + i * _ENUM_TABLE.size)
            if n > MAX_ENUM_NAMES:
                return Unreadable("table %d claims %d names" % (i, n))
            tables[mem.cstring(name_p, 64)] = [mem.cstring(mem.u64(names_p + 8 * j), 64)
                                               for j in range(n)]
    except (ReadError, UnicodeError, ValueError) as e:
        return Unreadable("%s" % e)
    return tables


def _checked_enums(version, found):
    """({table: [names]} to print with, differences): the expected names,
    followed by names a later build of the same version appended."""
    want = expected.ENUMS[version]
    if isinstance(found, Unreadable):
        return {k: list(v) for k, v in want.items()}, [
            "the tables cannot be read (%s)" % found.why]
    tables = {}
    out = []
    for name, names in want.items():
        got = found.get(name)
        if got is None:
            out.append("table %s is missing" % name)
            got = []
        elif list(got[:len(names)]) != list(names):
            bad = [i for i, n in enumerate(names) if i >= len(got) or got[i] != n]
            i = bad[0]
            out.append("table %s has %s for value %d (expected %r)"
                       % (name, "%r" % got[i] if i < len(got) else "no name", i, names[i]))
        tables[name] = list(names) + list(got[len(names):])
    return tables, out


def note(what, version, diffs):
    """One "corrupt:" note for the differences found in a table."""
    listed = "; ".join(diffs[:MAX_LISTED])
    if len(diffs) > MAX_LISTED:
        listed += "; and %d more" % (len(diffs) - MAX_LISTED)
    return ("corrupt: the descriptor's %s differs from that of debugger ABI %d: %s "
            "(read with ABI %d's layout, which this extension knows)"
            % (what, version, listed, version))
