"""Pretty printers for at_task, at_frame, at_mutex and at_chan values, used
when the program has DWARF types for them.  They read the value's memory
through the same layout-table walker as the commands (`print/r` shows the
raw fields)."""

import gdb

from . import text
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


class TaskPrinter(_Printer):
    def describe(self, w, addr, now):
        errors = []
        tasks = w.task_list(0, addr, errors, single=True)[0]
        if not tasks:
            return "<asynctrace task 0x%x: %s>" % (addr, "; ".join(errors))
        t = w.task(addr, tasks[0][2], {})
        where = text.task_where(t, now, w.names)
        return 'task %d "%s" %s for %s, %s%s' % (
            t.id, t.name, t.state, text.since(now, t.state_ns),
            text.count(t.polls, "poll"), ", " + where if where else "")


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


class MutexPrinter(_Printer):
    def describe(self, w, addr, now):
        res = w.resource((w.abi.enum_value("resource_kind", "mutex"), 0, addr, 0, 0, 0, 0))
        if res.error:
            return "<asynctrace %s>" % res.error
        waiters = text.count(res.get("waiters"), "waiter")
        if res.get("owner"):
            return "mutex held by task %d, %s" % (res.get("owner"), waiters)
        return "mutex (not held), %s" % waiters


class ChanPrinter(_Printer):
    def describe(self, w, addr, now):
        res = w.resource((w.abi.enum_value("resource_kind", "channel-recv"), 0, addr,
                          0, 0, 0, 0))
        if res.error:
            return "<asynctrace %s>" % res.error
        cap = res.get("capacity")
        return "channel %d/%s, senders: %d, receiver task %d%s" % (
            res.get("len"), "unbounded" if cap is None else cap, res.get("senders"),
            res.get("receiver_task"), ", closed" if res.get("closed") else "")


_BY_TAG = {"at_task": TaskPrinter, "at_frame": FramePrinter,
           "at_mutex": MutexPrinter, "at_chan": ChanPrinter}


def lookup(value):
    try:
        t = value.type.strip_typedefs()
        if t.code != gdb.TYPE_CODE_STRUCT:
            return None
        cls = _BY_TAG.get(t.tag)
        if cls is None or value.address is None:
            return None
        return cls(value)
    except gdb.error:
        return None


lookup.name = "asynctrace"
lookup.enabled = True


def register():
    gdb.pretty_printers.append(lookup)
