"""The JSON writer: the trace document of docs/trace-format.md from the
records of records.py, as compact JSON text.

Everything that repeats is encoded once per reading and cached: task names,
states, flag sets, spawn sites, frame heads, and for each await chain shape
(and kind of leaf resource) one format string that writes a whole task (its
fields, its frames and the leaf's resource) in one `%`.
"""

import json
import re

from . import accel

FORMAT = "asynctrace-trace"
FORMAT_VERSION = 1

_q = json.dumps  # JSON string literal of a Python str
_CONVERSION = re.compile(r"%([%dsx])")  # what a % format of this module holds

# A task's fields up to "thread" (docs/trace-format.md order).
_TASK = ('{"id":%d,"address":"0x%x","name":%s,"state":%s,"flags":%s,'
         '"parent":%d,"spawn":%s,"polls":%d,"created_ns":%d,"state_ns":%d,'
         '"last_poll_start_ns":%d,"last_poll_end_ns":%d,"worker":%d,"thread":%s')

# The fields from "name" to "spawn" in _TASK (repeated from task to task).
_MIDDLE = '"name":%s,"state":%s,"flags":%s,"parent":%d,"spawn":%s,'


def _pieces(fmt, nframes, with_obj, nvalues):
    """A shape's task format (JsonWriter._chain) cut at its conversions into
    literal pieces, for the C form of tasks() (_speedups_json.h), which
    puts the fields between them in this order; None when the format does
    not have that order."""
    want = "dxsssdsdddddds" + "x" * nframes + ("x" if with_obj else "") + "d" * (1 + nvalues)
    parts = _CONVERSION.split(fmt)
    if "".join(parts[1::2]).replace("%", "") != want:
        return None
    pieces, cur = [], []
    for i, part in enumerate(parts):
        if i % 2 == 0:
            cur.append(part)
        elif part == "%":
            cur.append("%")
        else:
            pieces.append("".join(cur))
            cur = []
    pieces.append("".join(cur))
    return tuple(pieces)


# The fields after "since_ns" by resource kind, for kinds whose fields are
# all integers (the others: _resource_tail).
_INT_TAILS = {
    "sleep": ',"deadline_ns":%d}',
    "notify": ',"waiters":%d,"last_notifier":%d,"notified":%d}',
    "join": ',"task":%d}',
    "read": ',"fd":%d}',
    "write": ',"fd":%d}',
    "blocking": ',"job":%d,"thread":%d}',
}


def _pct(text):
    """`text` made literal inside a %-format."""
    return text.replace("%", "%%")


def _bool(v):
    return "true" if v else "false"


def _resource_tail(r):
    if r.error is not None:
        return ',"error":%s}' % _q(r.error)
    fmt = _INT_TAILS.get(r.kind)
    if fmt is not None:
        return fmt % r.values
    if r.kind in ("channel-send", "channel-recv"):
        cap, length, senders, rx, closed, tx, tx_cut = r.values
        return (',"capacity":%s,"len":%d,"senders":%d,"receiver_task":%d,"closed":%s,'
                '"sender_tasks":[%s],"sender_tasks_truncated":%s}'
                % ("null" if cap is None else "%d" % cap, length, senders, rx,
                   _bool(closed), ",".join("%d" % t for t in tx), _bool(tx_cut)))
    if r.kind == "oneshot":
        rx, closed, tx, dropped = r.values
        return (',"receiver_task":%d,"closed":%s,"sender_task":%d,"sender_dropped":%s}'
                % (rx, _bool(closed), tx, _bool(dropped)))
    if r.kind == "mutex":
        owner, waiters, fn, file, line = r.values
        return (',"owner":%d,"waiters":%d,"lock_function":%s,"lock_file":%s,"lock_line":%d}'
                % (owner, waiters, _q(fn), _q(file), line))
    if r.kind == "semaphore":
        wanted, permits, waiters, capacity, holders, cut = r.values
        return (',"wanted":%d,"permits":%d,"waiters":%d,"capacity":%d,"holders":[%s],'
                '"holders_truncated":%s}'
                % (wanted, permits, waiters, capacity,
                   ",".join("[%d,%d]" % h for h in holders), _bool(cut)))
    return "}"


class JsonWriter(object):
    """Encodes records as trace-format JSON; keeps its caches for one
    reading (records it has seen are shared objects of one Walker)."""

    def __init__(self):
        self._names = {}  # name -> JSON
        self._states = {}  # state name -> JSON
        self._flags = {}  # flag names tuple -> JSON
        self._spawns = {}  # Site -> JSON
        self._kinds = {}  # resource kind -> JSON
        self._heads = {}  # Head -> format with one %x (the address), up to "resource":
        self._chains = {}  # Chain -> (format of a whole task, of the await chain alone)
        self._writers = {}  # Chain -> {resource kind: _shape_writer}
        # Chain -> {resource kind: (frames, values, pieces with an object,
        # without)}: the same formats for the C form (_pieces).
        self._programs = {}

    # -- pieces --------------------------------------------------------------

    def _name(self, name):
        j = self._names.get(name)
        if j is None:
            j = self._names[name] = _q(name)
        return j

    def _state(self, state):
        j = self._states.get(state)
        if j is None:
            j = self._states[state] = _q(state)
        return j

    def _flag_list(self, flags):
        j = self._flags.get(flags)
        if j is None:
            j = self._flags[flags] = json.dumps(list(flags), separators=(",", ":"))
        return j

    def _spawn(self, site):
        if site is None:
            return "null"
        j = self._spawns.get(site)
        if j is None:
            j = self._spawns[site] = ('{"kind":%s,"function":%s,"file":%s,"line":%d}'
                                      % (_q(site.kind), _q(site.function),
                                         _q(site.file), site.line))
        return j

    def _head(self, head):
        fmt = self._heads.get(head)
        if fmt is None:
            fmt = self._heads[head] = (
                '{"function":%s,"file":%s,"line":%d,"kind":%s,"address":"0x%%x",'
                '"resource":' % (_pct(_q(head.function)), _pct(_q(head.file)),
                                 head.line, _pct(_q(head.kind))))
        return fmt

    def _chain(self, chain, key=None):
        """(format of a whole task with this chain, format of the chain);
        with `key` (resource kind, has an object), the leaf's resource is
        in the formats too, for a resource of that kind with no error and
        integer fields (its object address if any, since_ns, the fields),
        else the leaf's resource is one %s."""
        fmts = self._chains.get(key or chain)
        if fmts is None:
            parts = []
            n = len(chain.heads)
            for i, head in enumerate(chain.heads):
                parts.append(self._head(head))
                if i < n - 1:
                    parts.append('null,"children":[')
            if not chain.leaf:
                parts.append('null,"children":[]}')
            elif key is None:
                parts.append('%s,"children":[]}')
            else:
                parts.append('{"kind":%s,"object":%s,"since_ns":%%d%s,"children":[]}' % (
                    _pct(_q(key[1])), '"0x%x"' if key[2] else "null", _INT_TAILS[key[1]]))
            parts.append("]}" * (n - 1))
            alone = "".join(parts)
            fmts = self._chains[key or chain] = (_TASK + ',"await":' + alone + "}", alone)
        return fmts

    def resource(self, r):
        """JSON of a Resource."""
        j = self._kinds.get(r.kind)
        if j is None:
            j = self._kinds[r.kind] = _q(r.kind)
        return ('{"kind":%s,"object":%s,"since_ns":%d' % (
            j, '"0x%x"' % r.object if r.object else "null", r.since_ns)
            + _resource_tail(r))

    def frame(self, f, out):
        """Append the JSON of the await (sub)tree at Frame `f` to `out`."""
        if f.head is None:
            out.append('{"function":null,"file":null,"line":null,"kind":null,'
                       '"address":"0x%x","resource":null,"children":[],"error":%s}'
                       % (f.address, _q(f.error)))
            return
        out.append(self._head(f.head) % f.address)
        out.append("null" if f.resource is None else self.resource(f.resource))
        out.append(',"children":[')
        for i, c in enumerate(f.children):
            if i:
                out.append(",")
            self.frame(c, out)
        if f.error is not None:
            out.append('],"error":%s}' % _q(f.error))
        else:
            out.append("]}")

    # -- tasks ---------------------------------------------------------------

    def task(self, t):
        """JSON of a Task."""
        chain = t.chain
        if chain is not None and t.error is None:
            return self.tasks((t,))[0]
        text = _TASK % (
            t.id, t.address, self._name(t.name), self._state(t.state),
            self._flag_list(t.flags), t.parent, self._spawn(t.spawn), t.polls,
            t.created_ns, t.state_ns, t.poll_start_ns, t.poll_end_ns, t.worker,
            "null" if t.thread is None else "%d" % t.thread)
        if t.error:
            text += ',"error":%s' % _q(t.error)
        if chain is not None:
            fmt = self._chain(chain)[1]
            args = t.frames + (self.resource(t.resource),) if chain.leaf else t.frames
            return text + ',"await":' + fmt % args + "}"
        if t.tree is None:
            return text + ',"await":null}'
        parts = [text, ',"await":']
        self.frame(t.tree, parts)
        parts.append("}")
        return "".join(parts)

    def tasks(self, tasks):
        """JSON texts of Tasks (the hot loop of a large document): a task
        whose chain ends in a resource of a kind with integer fields goes
        through its shape's writer (_shape_writer, or its C form), the
        others through _tasks."""
        c_form = accel.speedups  # its json_tasks: _speedups_json.h
        if c_form is not None and tasks.__class__ is list:
            texts, missing = c_form.json_tasks(tasks, self._programs, self._names,
                                               self._states, self._flags, self._spawns)
            if missing:
                for i, text in enumerate(texts):
                    if text is None:
                        texts[i] = self._shaped((tasks[i],))[0]
            return texts
        return self._shaped(tasks)

    def _shaped(self, tasks):
        """tasks() in Python (the reference of its C form)."""
        writers = self._writers
        int_tails = _INT_TAILS
        out = []
        append = out.append
        for t in tasks:
            res = t[17]
            if res is None or t[14] is not None or res[4] is not None \
                    or t[15] is None:
                append(self._tasks((t,))[0])
                continue
            by_kind = writers.get(t[15])
            if by_kind is None:
                by_kind = writers[t[15]] = {}
            write = by_kind.get(res[0])
            if write is None:
                if res[0] not in int_tails:
                    append(self._tasks((t,))[0])
                    continue
                write = by_kind[res[0]] = self._shape_writer(t[15], res[0])
            try:
                append(write(t))
            except ValueError:  # frames or fields of another count than the shape's
                append(self._tasks((t,))[0])
        return out

    def _shape_writer(self, chain, kind):
        """write(task) -> JSON text of a task with this chain whose leaf's
        resource is of `kind` (integer fields, no error): a function made
        for the chain's formats (_chain, with the resource inside) that
        takes the task apart in one step and formats it in one `%`.  The
        fields from name to spawn come as one text, kept while they repeat
        (_middle).  Its source holds names only: every text from memory is
        an argument."""
        nframes = len(chain.heads)
        nvalues = _INT_TAILS[kind].count("%d")
        frames = "".join("f%d, " % i for i in range(nframes))
        values = "".join("v%d, " % i for i in range(nvalues))
        head = ("tid, addr, mid, polls, created, state_ns, pstart, pend, worker, "
                "'null' if thread is None else '%d' % thread, " + frames)
        fmt_obj = self._chain(chain, (chain, kind, True))[0]
        fmt_null = self._chain(chain, (chain, kind, False))[0]
        with_obj = fmt_obj.replace(_MIDDLE, "%s", 1)
        without = fmt_null.replace(_MIDDLE, "%s", 1)
        src = (
            "def make(w, with_obj, without):\n"
            "    last = [None, None]\n"
            "    def write(t):\n"
            "        (tid, addr, name, state, flags, parent, spawn, polls, created, state_ns,\n"
            "         pstart, pend, worker, thread, _, _, (%s), (_, obj, since, (%s), _),\n"
            "         _) = t\n"
            "        key = (name, state, flags, parent, spawn)\n"
            "        if key == last[0]:\n"
            "            mid = last[1]\n"
            "        else:\n"
            "            mid = last[1] = w._middle(key)\n"
            "            last[0] = key\n"
            "        if obj:\n"
            "            return with_obj %% (%sobj, since, %s)\n"
            "        return without %% (%ssince, %s)\n"
            "    return write\n" % (frames, values, head, values, head, values))
        scope = {}
        exec(compile(src, "<asynctrace.jsonout shape writer>", "exec"), scope)
        self._programs.setdefault(chain, {})[kind] = (
            nframes, nvalues, _pieces(fmt_obj, nframes, True, nvalues),
            _pieces(fmt_null, nframes, False, nvalues))
        return scope["make"](self, with_obj, without)

    def _middle(self, key):
        """The fields from "name" to "spawn" of a task (_MIDDLE)."""
        name, state, flags, parent, spawn = key
        return _MIDDLE % (self._name(name), self._state(state), self._flag_list(flags),
                          parent, self._spawn(spawn))

    def _tasks(self, tasks):
        """JSON texts of Tasks, each from its fields (no shape writer)."""
        names_get = self._names.get
        states_get = self._states.get
        flags_get = self._flags.get
        spawns_get = self._spawns.get
        chains_get = self._chains.get
        int_tails = _INT_TAILS
        out = []
        append = out.append
        for t in tasks:
            (tid, addr, name, state, flags, parent, spawn, polls, created, state_ns,
             pstart, pend, worker, thread, error, chain, frames, res, _) = t
            if chain is None or error is not None:
                append(self.task(t))
                continue
            args = (tid, addr, names_get(name) or self._name(name),
                    states_get(state) or self._state(state),
                    flags_get(flags) or self._flag_list(flags), parent,
                    "null" if spawn is None else (spawns_get(spawn) or self._spawn(spawn)),
                    polls, created, state_ns, pstart, pend, worker,
                    "null" if thread is None else "%d" % thread) + frames
            if res is None:
                fmts = chains_get(chain) or self._chain(chain)
            elif res[4] is None and res[0] in int_tails:
                # The resource goes into the chain's own format.
                kind, obj, since, values, _ = res
                key = (chain, kind, obj != 0)
                fmts = chains_get(key) or self._chain(chain, key)
                args += ((obj, since) if obj else (since,)) + values
            else:
                fmts = chains_get(chain) or self._chain(chain)
                args += (self.resource(res),)
            append(fmts[0] % args)
        return out


def write_document(snap, out, batch=256):
    """Write the trace document of Snapshot `snap` through `out(str)`, in
    pieces of about `batch` tasks (each piece walked, written, dropped: the
    memory used does not grow with the number of tasks)."""
    w = JsonWriter()
    pair = getattr(snap, "clock_pair", None)
    out('{"format":"%s","version":%d,"source":"%s","clock":{"now_ns":%d,'
        '"kind":"%s","source":%s,"exact":%s,"pair":%s},"generation":%d,"runtimes":[' % (
            FORMAT, FORMAT_VERSION, snap.source, snap.now_ns, snap.clock_kind,
            _q(snap.now_source), _bool(snap.now_exact),
            '{"mono_ns":%d,"real_ns":%d}' % pair if pair else "null", snap.generation))
    for i, (rt, items, rt_errors) in enumerate(snap.runtimes):
        head = json.dumps(rt, separators=(",", ":"))[:-1]
        if rt_errors:
            head += ',"error":%s' % _q("; ".join(rt_errors))
        out('%s%s,"tasks":[' % ("," if i else "", head))
        first = True
        for tasks in snap.batches(items, batch):
            if not first:
                out(",")
            out(",".join(w.tasks(tasks)))
            first = False
        out("]}")
    out('],"threads":%s,"errors":%s}' % (
        json.dumps(snap.threads, separators=(",", ":")), json.dumps(snap.errors)))
