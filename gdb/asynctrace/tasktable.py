"""The task table (`info async-tasks`, `asynctrace ps`) of a Snapshot, written
in pieces of whole lines.

A runtime's rows are read in two passes.  The first reads each task once
and keeps only its id and an entry: the row's other cells, shared by every
row with the same cells (tasks of a big program share a name, a state, a
worker, a chain shape and, at the precision a table shows, how long they
have been idle and what they wait for).  The column widths then come from
the largest id and the entries; the second pass writes each row as its
padded id followed by its entry's tail, formatted once per entry.  A row
costs two list slots and no string of its own until it is written, and the
text is written in pieces of about CHUNK_ROWS lines, so a million tasks
never hold the whole table twice (docs/performance.md).
"""

from . import accel, text
from .text import DUE_SLACK_NS, duration_span, esc, lwp_text

HEADER = ("ID", "STATE", "FOR", "ON", "POLLS", "NAME", "WHERE")
CHUNK_ROWS = 2048  # lines per piece handed to `out`


def tasks_table(snap, native_of=None):
    """The whole table as one string (lines joined by newlines, no final
    newline)."""
    pieces = []
    write_table(snap, pieces.append, native_of)
    pieces[-1] = pieces[-1][:-1]
    return "".join(pieces)


def write_table(snap, out, native_of=None):
    """Write the table through `out(str)`: pieces of whole lines, each line
    ending in a newline.  `native_of(task)` gives (LWP, function, nested[,
    lines]) for a task being polled on a thread (it is asked only about the
    tasks on snap.roots_by_task when the snapshot has that map).  The
    runtime lines say how many tasks a filter left out."""
    if not snap.runtimes:
        out("no runtime exists\n")
    polled = getattr(snap, "roots_by_task", None)
    if polled is not None and not polled:
        native_of = None  # no thread is polling a task: no call per row
    cells = _Cells(snap.now, snap.walker.names, native_of, polled)
    for rt, items, rt_errors in snap.runtimes:
        total = snap.task_counts.get(rt["id"])
        head = "runtime %d (%s, %s) at %s: %s%s\n" % (
            rt["id"], esc(rt["flavor"]), text.count(rt["workers"], "worker"),
            rt["address"], text.count(len(items), "task"),
            "" if total in (None, len(items)) else " shown of %d" % total)
        if rt_errors:
            head += "  %s\n" % esc("; ".join(rt_errors))
        out(head)
        if items:
            ids, rows = cells.read(snap.batches(items))
            _write_rows(ids, rows, cells.entries.values(), out)
    lines = [text.now_note(snap)]
    lines.extend("note: %s" % esc(e) for e in snap.errors)
    out("\n".join(lines) + "\n")


def _write_rows(ids, rows, entries, out):
    """The header and rows of one runtime: every column but the last padded
    to its widest cell, ID and POLLS right-aligned, trailing blanks cut.
    Each entry becomes the format of its rows' lines (one %s: the id), so a
    piece of rows is one `%` of the joined formats."""
    widths = [len(h) for h in HEADER[1:-1]]
    for entry in entries:
        for i in range(5):
            n = len(entry[i + 1])
            if n > widths[i]:
                widths[i] = n
    tail = "  %%-%ds  %%-%ds  %%-%ds  %%%ds  %%-%ds  %%s" % tuple(widths)
    id_cell = "  %%%ds" % max([len(HEADER[0])] + _id_widths(ids))
    for entry in entries:
        entry[0] = id_cell + (tail % tuple(entry[1:])).rstrip().replace("%", "%%") + "\n"
    out(id_cell % HEADER[0] + (tail % HEADER[1:]).rstrip() + "\n")
    for start in range(0, len(ids), CHUNK_ROWS):
        end = start + CHUNK_ROWS
        out("".join([entry[0] for entry in rows[start:end]]) % tuple(ids[start:end]))


def _id_widths(ids):
    """The lengths of the longest decimal ids (the largest and the most
    negative integer are the longest)."""
    try:
        return [len(str(max(ids))), len(str(min(ids)))]
    except TypeError:  # not all integers (never from a walk)
        return [len(str(i)) for i in ids]


def _sleep_span(left):
    """(text.resource_words of a sleep whose deadline is `left` ns away, lo,
    hi): the same words for every lo <= left < hi."""
    if left >= 0:
        words, lo, hi = duration_span(left)
        return "sleep until +" + words, lo, hi
    if -left < DUE_SLACK_NS:
        return "sleep due now", 1 - DUE_SLACK_NS, 0
    words, lo, hi = duration_span(left)
    return "sleep until %s (overdue)" % words, lo, min(hi, 1 - DUE_SLACK_NS)


class _Cells(object):
    """The cells of rows, with what rows share cached across runtimes (the
    WHERE of each chain shape, resource words, quoted names, states,
    worker columns) and per runtime (the entries)."""

    def __init__(self, now, names, native_of, polled):
        self.now = now
        self.names = names
        self.native_of = native_of
        self.polled = polled
        self.chain_where = {}  # Chain -> WHERE up to the resource words
        self.words = {}  # (kind, object, values) -> resource words (not sleeps)
        self.wheres = {}  # (WHERE up to the words, words) -> WHERE
        self.states = {}
        self.quoted = {}
        self.workers = {}
        self.entries = {}  # (cells of a row but ID) -> entry, of one runtime
        self.by_fields = {}  # (task fields, words, FOR) -> entry, of one runtime

    def read(self, batches):
        """(ids, entries of the rows) of the tasks of `batches` (lists of
        Tasks); self.entries holds every distinct entry of these rows, a
        list [tail (filled later), STATE, FOR, ON, POLLS, NAME, WHERE].  The
        common row (a healthy task not on a thread whose await tree is a
        chain) finds its entry by the task's own fields, its FOR and its
        resource words (self.by_fields); the others go through task_where.
        The C form of _read (_speedups_table.h) takes the common rows whose
        entry exists and hands every other task to _one."""
        self.entries = {}
        self.by_fields = {}  # (state, name, worker, polls, Chain, words, FOR) -> entry
        ids, rows = [], []
        c_form = accel.speedups  # its table_rows: _speedups_table.h
        fast = c_form.table_rows if c_form is not None else None
        if self.native_of is not None:
            polled = self.polled
            if polled is None:
                fast = None  # every task is asked about: Python's
        else:
            polled = None
        for tasks in batches:
            if fast is not None and tasks.__class__ is list:
                fast(tasks, self.now, self.by_fields, self.words, polled, ids, rows,
                     self._one, duration_span, _sleep_span)
            else:
                self._read(tasks, ids, rows)
        return ids, rows

    def _one(self, t):
        """The entry of one task's row (made and kept if new)."""
        ids, rows = [], []
        self._read((t,), ids, rows)
        return rows[0]

    def _read(self, tasks, ids, rows):
        """Append the id and the entry of each task's row to ids and rows
        (the reference of the C form)."""
        now, names = self.now, self.names
        native_of, polled = self.native_of, self.polled
        words_of = self.words
        by_fields = self.by_fields
        by_fields_get = by_fields.get
        ids_append, rows_append = ids.append, rows.append
        # One-entry caches of the FOR and sleep cells: the spans of ages
        # (and of time left to a deadline) that show the same text.
        for_lo = for_hi = sl_lo = sl_hi = 0
        for_text = sl_text = None
        timed = now is not None
        for t in tasks:
            (tid, addr, name, state, _, _, _, polls, _, state_ns, _, _, worker, _,
             error, chain, _, res, _) = t
            if state_ns and timed:
                age = now - state_ns if now > state_ns else 0
                if not for_lo <= age < for_hi:
                    for_text, for_lo, for_hi = duration_span(age)
                age = for_text
            else:
                age = "?"
            nat = None
            if native_of is not None and (polled is None or addr in polled):
                nat = native_of(t)
            if chain is None or nat is not None or error is not None:
                ids_append(tid)
                rows_append(self._entry(self._where(t, nat), state, age, polls, name,
                                        worker, nat))
                continue
            words = None
            if res is not None:
                kind, obj, _, values, rerr = res
                if rerr is not None:
                    words = text.resource_words(res, now, names)
                elif kind == "sleep":
                    deadline = values[0]
                    if not timed or not deadline:
                        words = "sleep"
                    else:
                        left = deadline - now
                        if not sl_lo <= left < sl_hi:
                            sl_text, sl_lo, sl_hi = _sleep_span(left)
                        words = sl_text
                else:
                    key = (kind, obj, values)
                    words = words_of.get(key)
                    if words is None:
                        words = words_of[key] = text.resource_words(res, now, names)
            key = (state, name, worker, polls, chain, words, age)
            entry = by_fields_get(key)
            if entry is None:
                entry = by_fields[key] = self._entry(self._chain_where(chain, words),
                                                     state, age, polls, name, worker)
            ids_append(tid)
            rows_append(entry)

    def _chain_where(self, chain, words):
        """The WHERE of a chain of this shape ending in a resource described
        by `words` (None: no resource)."""
        where = self.chain_where.get(chain)
        if where is None:
            where = self.chain_where[chain] = text.chain_where(chain)
        if words is None:
            return where
        key = (where, words)
        full = self.wheres.get(key)
        if full is None:
            full = self.wheres[key] = where + words
        return full

    def _where(self, t, nat):
        """The WHERE of a task that is not a healthy chain off any thread."""
        where = text.task_where(t, self.now, self.names, nat)
        if t.error and not where.endswith(esc(t.error)):
            where = ("%s  [%s]" % (where, esc(t.error))).strip()
        return where

    def _entry(self, where, state, age, polls, name, worker, nat=None):
        """The entry of a row with these cells (shared with every row of the
        runtime with the same cells)."""
        st = self.states.get(state)
        if st is None:
            st = self.states[state] = esc(state)
        nm = self.quoted.get(name)
        if nm is None:
            nm = self.quoted[name] = '"%s"' % esc(name)
        if nat is not None:
            on = lwp_text(nat[0])
        else:
            on = self.workers.get(worker)
            if on is None:
                on = self.workers[worker] = "w%d" % worker if worker >= 0 else "-"
        cells = (st, age, on, str(polls), nm, where)
        entry = self.entries.get(cells)
        if entry is None:
            entry = self.entries[cells] = [None] + list(cells)
        return entry
