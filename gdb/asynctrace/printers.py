"""Pretty printers for the public types, used when the program has DWARF
types for them: at_task, at_frame, at_runtime, at_join_handle, at_mutex,
at_semaphore, at_notify, at_chan and at_oneshot.  They read the value's
memory through the same layout-table walker as the commands, never through
DWARF fields (except the join handle's task pointer), and print one line;
`print/r` shows the raw fields."""

import gdb

from . import text
from .records import RESOURCE_FIELDS
from .abi import AbiError
from .memory import ReadError
from .session import UserError, open_reader


class _Printer(object):
    def __init__(self, value):
        self.value = value

    def to_string(self):
        try:
            w, now, _ = open_reader()
            return self.describe(w, int(self.value.address), now)
        except (UserError, AbiError, ReadError, gdb.error) as e:
            return "<asynctrace: %s>" % e


def _task_words(w, addr, now):
    errors = []
    tasks = w.task_list(0, addr, errors, single=True)[0]
    if not tasks:
        return None, "<asynctrace task 0x%x: %s>" % (addr, "; ".join(errors))
    t = w.task(addr, tasks[0][2], {})
    where = text.task_where(t, now, w.names)
    return t, 'task %d "%s" %s for %s, %s%s' % (
        t.id, text.esc(t.name), t.state, text.since(now, t.state_ns),
        text.count(t.polls, "poll"), ", " + where if where else "")


class TaskPrinter(_Printer):
    def describe(self, w, addr, now):
        return _task_words(w, addr, now)[1]


class JoinHandlePrinter(_Printer):
    def describe(self, w, addr, now):
        task = int(self.value["task"])
        if not task:
            return "join handle (empty: joined, released or detached)"
        return "join handle of " + _task_words(w, task, now)[1]


class FramePrinter(_Printer):
    def describe(self, w, addr, now):
        f = w.frame_tree(addr, 0, set())[0]
        if f.function is None:
            return "<asynctrace frame 0x%x: %s>" % (addr, f.error)
        s = "%s frame %s at %s:%s" % (f.kind, f.function, f.file, f.line)
        if f.resource is not None:
            s += ", waiting for " + text.resource_words(f.resource, now, w.names)
        if f.children:
            s += ", awaiting " + ", ".join(k.function or "?" for k in f.children)
        return s


class RuntimePrinter(_Printer):
    def describe(self, w, addr, now):
        (magic, flavor, rid, _, _, count, workers, _, _, spawned) = w.RUNTIME.unpack(w.mem, addr)
        from . import constants as C
        if magic != C.RUNTIME_MAGIC:
            return "<asynctrace: 0x%x is not a runtime (magic 0x%08x)>" % (addr, magic)
        return "runtime %d: %s, %s, %s, %d spawned in total" % (
            rid, w.enum(w.flavor_names, flavor), text.count(workers, "worker"),
            text.count(count, "task"), spawned)


class _ObjectPrinter(_Printer):
    """A primitive's record, read like the resource of a wait on it: the
    fields are those of records.RESOURCE_FIELDS[KIND] that the object
    itself gives (the last ones; a semaphore's "wanted" belongs to a wait)."""
    KIND = None

    def describe(self, w, addr, now):
        values = w._object_values(self.KIND, addr)
        if values.__class__ is str:
            return "<asynctrace %s>" % values
        names = RESOURCE_FIELDS[self.KIND]
        return self.words(dict(zip(names[len(names) - len(values):], values)))


class MutexPrinter(_ObjectPrinter):
    KIND = "mutex"

    def words(self, v):
        waiters = text.count(v.get("waiters", 0), "waiter")
        if not v.get("owner"):
            return "mutex (not held), %s" % waiters
        where = ""
        if v.get("lock_function"):
            where = ", locked in %s" % text.esc(v["lock_function"])
            if v.get("lock_line"):
                where += " at %s:%d" % (text.esc(v.get("lock_file") or "?"), v["lock_line"])
        return "mutex held by task %d%s, %s" % (v["owner"], where, waiters)


class SemaphorePrinter(_ObjectPrinter):
    KIND = "semaphore"

    def words(self, v):
        permits, cap = v.get("permits", 0), v.get("capacity")
        taken = " (%d of %d taken)" % (cap - permits, cap) if cap else ""
        return "semaphore, %s available%s, %s" % (
            text.count(permits, "permit"), taken, text.count(v.get("waiters", 0), "waiter"))


class NotifyPrinter(_ObjectPrinter):
    KIND = "notify"

    def words(self, v):
        last = v.get("last_notifier")
        return "notify, %s%s" % (text.count(v.get("waiters", 0), "waiter"),
                                 ", last notified by task %d" % last if last else "")


class ChanPrinter(_ObjectPrinter):
    KIND = "channel-recv"

    def words(self, v):
        cap = v.get("capacity")
        return "channel %d/%s, senders: %d, receiver task %d%s" % (
            v.get("len", 0), "unbounded" if cap is None else cap, v.get("senders", 0),
            v.get("receiver_task", 0), ", closed" if v.get("closed") else "")


class OneshotPrinter(_ObjectPrinter):
    KIND = "oneshot"

    def words(self, v):
        return "oneshot, receiver task %d%s" % (
            v.get("receiver_task", 0),
            ", sender dropped without sending" if v.get("closed") else "")


_BY_TAG = {"at_task": TaskPrinter, "at_frame": FramePrinter, "at_runtime": RuntimePrinter,
           "at_join_handle": JoinHandlePrinter, "at_mutex": MutexPrinter,
           "at_semaphore": SemaphorePrinter, "at_notify": NotifyPrinter,
           "at_chan": ChanPrinter, "at_oneshot": OneshotPrinter}


def lookup(value):
    try:
        t = value.type
        name = t.name
        s = t.strip_typedefs()
        if s.code != gdb.TYPE_CODE_STRUCT:
            return None
        cls = _BY_TAG.get(s.tag) or _BY_TAG.get(name)
        if cls is None or value.address is None:
            return None
        return cls(value)
    except gdb.error:
        return None


lookup.name = "asynctrace"
lookup.enabled = True


def register():
    gdb.pretty_printers.append(lookup)
