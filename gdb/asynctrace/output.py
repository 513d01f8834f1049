"""Where command output goes: GDB's own output stream, or a file.

Everything is written with gdb.write, so `pipe`, `gdb.execute(...,
to_string=True)`, `set logging`, pagination and MI (console stream records)
all see it.  Pieces are gathered, and written to GDB in chunks of CHUNK
characters (a big piece is cut): GDB's own cost per character is least
with chunks of 16 to 64 KiB and grows by a third with chunks of 256 KiB
or more (docs/performance.md), and one gdb.write per chunk keeps a 100 MB
document fast without ever bypassing GDB.  `-output FILE` writes the same text to FILE instead (created or
truncated, mode 0644 minus umask) and prints one line saying so.
"""

import os

import gdb

CHUNK = 1 << 16


class Sink(object):
    """Collects pieces; flushes them in chunks to GDB or to a file."""

    def __init__(self, path=None):
        self.path = path
        self.pending = []
        self.size = 0
        self.total = 0
        self.file = None
        if path is not None:
            try:
                self.file = open(os.path.expanduser(path), "w", encoding="utf-8")
            except OSError as e:
                raise gdb.GdbError("asynctrace: cannot write %s: %s"
                                   % (path, e.strerror or e))

    def write(self, piece):
        if not piece:
            return
        self.pending.append(piece)
        self.size += len(piece)
        if self.size >= CHUNK:
            self.flush()

    __call__ = write

    def flush(self):
        if not self.pending:
            return
        text = "".join(self.pending)
        self.pending = []
        self.size = 0
        self.total += len(text)
        if self.file is not None:
            self.file.write(text)
        elif len(text) <= 2 * CHUNK:
            gdb.write(text)
        else:
            for start in range(0, len(text), CHUNK):
                gdb.write(text[start:start + CHUNK])

    def close(self):
        """Flush; for a file, close it and say where the output went."""
        self.flush()
        if self.file is not None:
            self.file.close()
            self.file = None
            gdb.write("asynctrace: wrote %d bytes to %s\n" % (self.total, self.path))

    def __enter__(self):
        return self

    def __exit__(self, kind, value, tb):
        if kind is None:
            self.close()
        elif self.file is not None:
            self.file.close()
            self.file = None


def cut(text, width):
    """Lines of `text` cut at `width` columns (None: unchanged)."""
    if width is None or width <= 0:
        return text
    return "\n".join(line if len(line) <= width else line[:width - 1] + "~"
                     for line in text.split("\n"))
