"""The command-line tool's sources: `PID`, `CORE EXE` or `FILE.json` turned
into a Snapshot (session.py) through the right backend.

A PID is stopped only while its memory is walked (Snapshot.freeze), then
resumed before anything is formatted; the stop time is kept for the notes.
"""

import os

from ..backend import EXIT_BAD_CORE, EXIT_NO_PROCESS, EXIT_USAGE, UserError
from ..session import Snapshot, no_gc

ELF_MAGIC = b"\x7fELF"


class Source(object):
    """What the positional arguments name: .kind is "pid", "core" or
    "document"."""

    def __init__(self, args, no_stop=False, helper=None):
        self.args = list(args)
        self.no_stop = no_stop
        self.helper = helper
        if len(args) == 1 and args[0].isdigit():
            self.kind = "pid"
            self.pid = int(args[0])
            if self.pid <= 0:
                raise UserError("no such process: %s" % args[0], EXIT_NO_PROCESS)
        elif len(args) == 1:
            self.kind = "document"
            path = args[0]
            if not os.path.exists(path):
                raise UserError("no such file or process: %s" % path, EXIT_NO_PROCESS)
            if _is_elf(path):
                raise UserError("%s is an ELF file: give a core with its executable "
                                "(CORE EXE), a PID, or a trace document" % path,
                                EXIT_USAGE)
        elif len(args) == 2:
            self.kind = "core"
            for p in args:
                if not os.path.exists(p):
                    raise UserError("no such file: %s" % p, EXIT_NO_PROCESS)
            if not _is_elf(args[0]):
                raise UserError("%s is not a core file" % args[0], EXIT_BAD_CORE)
        else:
            raise UserError("give PID, CORE EXE or FILE.json", EXIT_USAGE)
        self.stopped_ns = None

    def describe(self):
        if self.kind == "pid":
            return "process %d" % self.pid
        return " ".join(self.args)

    def snapshot(self, runtime_filter=None, keep=None):
        """A Snapshot of the source (a PID is stopped and resumed inside)."""
        from .. import coresource, document, procsource  # only the one used
        if self.kind == "document":
            return document.DocumentSnapshot(self.args[0], runtime_filter, keep)
        if self.kind == "core":
            backend = coresource.CoreBackend(self.args[0], self.args[1], self.helper)
            return Snapshot(runtime_filter, keep, backend)
        backend = procsource.PidBackend(self.pid, not self.no_stop, self.helper)
        try:
            with no_gc():
                snap = Snapshot(runtime_filter, keep, backend)
                snap.freeze()
        finally:
            backend.close()
        self.stopped_ns = backend.stopped_ns
        return snap


def _is_elf(path):
    try:
        with open(path, "rb") as f:
            return f.read(4) == ELF_MAGIC
    except OSError:
        return False
