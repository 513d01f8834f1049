"""Finding the descriptor `asynctrace_debug` in GDB's program space: by
symbol when GDB has one, else from the named ELF section of the executable
or a shared library, placed where GDB's `info files` says that file is
loaded (stripped binaries).  The search is cached until object files
change.
"""

import os
import re

import gdb

from . import abi as abimod
from . import constants as C
from . import elf


class Locator(object):
    """Finds the descriptor of the current program space.  The search (ELF
    section tables, `info files`) is done once and cached until object files
    change."""

    def __init__(self):
        self._cache = {}

    def clear(self, *args):
        self._cache.clear()

    def find(self):
        """(address, how) of the descriptor; AbiError with a plain sentence
        when the program does not contain the runtime."""
        progspace = gdb.current_progspace()
        key = (progspace.filename, tuple(o.filename for o in progspace.objfiles()),
               _core_executable())
        hit = self._cache.get(key)
        if hit is None:
            hit = self._search(progspace)
            self._cache.clear()
            self._cache[key] = hit
        if isinstance(hit, abimod.AbiError):
            raise hit
        return hit

    def _search(self, progspace):
        mismatch = core_mismatch(progspace)
        if mismatch is not None:
            return abimod.AbiError(mismatch)
        by_symbol = _by_symbol()
        if by_symbol:
            return by_symbol, "symbol asynctrace_debug"
        files = []
        if progspace.filename:
            files.append((progspace.filename, True))
        for o in progspace.objfiles():
            if o.is_valid() and o.owner is None and o.filename and \
                    o.filename != progspace.filename:
                files.append((o.filename, False))
        if not files:
            return abimod.AbiError("no program is loaded, so there is no asynctrace "
                            "runtime to read")
        load_map = None
        for path, is_exec in files:
            try:
                ef = elf.ElfFile(path)
            except (OSError, ValueError):
                continue
            for name in C.DEBUG_SECTIONS:
                sec = ef.sections.get(name)
                if sec is None:
                    continue
                if load_map is None:
                    load_map = LoadMap()
                bias = load_map.bias(ef, is_exec)
                if bias is None:
                    continue
                return sec.addr + bias, "section %s of %s" % (name, path)
        return abimod.not_found([p for p, _ in files])


def _core_executable():
    """The path of the executable a core was made from, or None when there
    is no core or GDB cannot tell.  The core's process information names it
    as it was started (a relative path is relative to where it ran, not to
    here): the absolute path is then the file mapping that ends with it."""
    try:
        if gdb.selected_inferior().connection.type != "core":
            return None
        text = gdb.execute("info proc", to_string=True)
    except (gdb.error, AttributeError):
        return None
    exe = None
    for line in text.splitlines():
        if line.startswith("exe = '") and line.endswith("'"):
            exe = line[7:-1]
    if exe is None or os.path.isabs(exe):
        return exe
    tail = "/" + os.path.normpath(exe)
    try:
        text = gdb.execute("info proc mappings", to_string=True)
    except gdb.error:
        return None
    for line in text.splitlines():
        path = line.split()[-1] if line.strip() else ""
        if path.startswith("/") and path.endswith(tail):
            return path
    return None


def _build_id(path):
    try:
        return elf.ElfFile(path).build_id()
    except (OSError, ValueError):
        return None


def core_mismatch(progspace):
    """A sentence when the loaded executable is not the one the core was
    made from (their GNU build ids differ), or when a core has no
    executable at all; else None."""
    made_from = _core_executable()
    if made_from is None:
        return None
    exe = progspace.filename
    if not exe:
        return ("no executable: give the program file (gdb PROG CORE, or `file PROG`): "
                "the core was made from %s, and a core alone does not say where the "
                "asynctrace runtime is" % made_from)
    if os.path.realpath(exe) == os.path.realpath(made_from):
        return None
    ours, theirs = _build_id(exe), _build_id(made_from)
    if ours and theirs and ours != theirs:
        return ("wrong executable: the core was made from %s, whose build id %s differs "
                "from that of %s (%s): load the program the core came from"
                % (made_from, theirs, exe, ours))
    return None


def _by_symbol():
    try:
        sym = gdb.lookup_global_symbol(C.DEBUG_SYMBOL)
        if sym is not None and sym.is_variable:
            addr = sym.value().address
            if addr is not None:
                return int(addr)
    except (gdb.error, RuntimeError):
        pass
    try:
        # A minimal (ELF) symbol: taking its address reads nothing and runs
        # nothing in the inferior.
        value = gdb.parse_and_eval("&'%s'" % C.DEBUG_SYMBOL)
        return int(value.cast(gdb.lookup_type("unsigned long")))
    except (gdb.error, RuntimeError):
        return None


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

    def bias(self, ef, is_executable):
        """Load bias of ElfFile `ef`, or None when GDB does not show where it is."""
        keys = [ef.path] if not is_executable else [None, ef.path]
        for key in keys:
            placed = self.by_file.get(key)
            if not placed:
                continue
            for name, start in placed.items():
                sec = ef.sections.get(name)
                if sec is not None and sec.flags & elf.SHF_ALLOC and sec.addr:
                    return start - sec.addr
        if ef.etype == elf.ET_EXEC:
            return 0
        return None
