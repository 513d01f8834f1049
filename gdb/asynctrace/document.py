"""A trace document (docs/trace-format.md) from any producer (live dump,
signal dump, snapshot, GDB or CLI --json) loaded into the records of
records.py, as a Snapshot with no memory behind it: every formatter and
analysis reads it as it reads a walk.
"""

import json

from . import constants
from . import jsonout
from .backend import EXIT_ERROR, EXIT_NO_PROCESS, Backend, UserError
from .records import ADDED_FIELD_DEFAULTS, RESOURCE_FIELDS, Frame, Head, Resource, Site, Task
from .session import Snapshot

STATES = list(constants.TASK_STATES)
MAX_DEPTH = 256


class DocumentBackend(Backend):
    """No memory: native frames are those the document carries (none)."""
    kind = "document"

    def __init__(self, path, source):
        self.path = path
        self.source = source

    def native_frames(self, lwp, root_record=0):
        return None, "a trace document has no native frames of LWP %d" % lwp


class DocAbi(object):
    """What the runtime table says about the descriptor of a document."""

    def __init__(self, path, states):
        self.version = 0
        self.address = 0
        self.found_by = "trace document %s" % path
        self.enums = {"task_state": states, "resource_kind": list(RESOURCE_FIELDS)}


class _Names(object):
    def __init__(self, names):
        self.names = names


def _int(v, default=0):
    if isinstance(v, bool):
        return int(v)
    if isinstance(v, int):
        return v
    if isinstance(v, str):
        try:
            return int(v, 0)
        except ValueError:
            return default
    return default


def _field(d, name):
    """A resource field of a document: lists as tuples (records are
    hashable), a field an older document lacks as "unknown"."""
    if name not in d:
        return ADDED_FIELD_DEFAULTS.get(name)
    v = d[name]
    if isinstance(v, list):
        return tuple(tuple(x) if isinstance(x, list) else x for x in v)
    return v


class _Builder(object):
    """Records from JSON objects; heads and sites are shared."""

    def __init__(self):
        self.heads = {}
        self.sites = {}

    def site(self, d):
        if not isinstance(d, dict):
            return None
        key = (d.get("kind"), d.get("function"), d.get("file"), _int(d.get("line")))
        s = self.sites.get(key)
        if s is None:
            s = self.sites[key] = Site(*key)
        return s

    def resource(self, d):
        if not isinstance(d, dict):
            return None
        kind = d.get("kind")
        if d.get("error"):
            values = ()
        else:
            values = tuple(_field(d, n) for n in RESOURCE_FIELDS.get(kind, ()))
        return Resource(kind, _int(d.get("object")), _int(d.get("since_ns")), values,
                        d.get("error"))

    def frame(self, d, depth=0):
        if not isinstance(d, dict):
            return None
        addr = _int(d.get("address"))
        if d.get("function") is None or depth >= MAX_DEPTH:
            return Frame(None, addr, None, [], d.get("error") or "corrupt: unnamed frame")
        key = (d["function"], d.get("file"), _int(d.get("line")), d.get("kind"))
        head = self.heads.get(key)
        if head is None:
            head = self.heads[key] = Head(*key)
        kids = [self.frame(c, depth + 1) for c in d.get("children") or []]
        return Frame(head, addr, self.resource(d.get("resource")),
                     [k for k in kids if k is not None], d.get("error"))

    def task(self, d):
        thread = d.get("thread")
        return Task(_int(d.get("id")), _int(d.get("address")), d.get("name") or "",
                    d.get("state") or "?", tuple(d.get("flags") or ()),
                    _int(d.get("parent")), self.site(d.get("spawn")),
                    _int(d.get("polls")), _int(d.get("created_ns")),
                    _int(d.get("state_ns")), _int(d.get("last_poll_start_ns")),
                    _int(d.get("last_poll_end_ns")), _int(d.get("worker"), -1),
                    thread if isinstance(thread, int) else None, d.get("error"),
                    None, None, None, self.frame(d.get("await")))


def load(path):
    """The parsed document at `path` (UserError when it is not one)."""
    try:
        with open(path, "rb") as f:
            doc = json.loads(f.read().decode("utf-8", "replace"))
    except FileNotFoundError:
        raise UserError("no such file: %s" % path, EXIT_NO_PROCESS)
    except OSError as e:
        raise UserError("cannot read %s: %s" % (path, e.strerror))
    except ValueError as e:
        raise UserError("%s is not a JSON document (%s)" % (path, e), EXIT_ERROR)
    if not isinstance(doc, dict) or doc.get("format") != jsonout.FORMAT:
        raise UserError("%s is not an asynctrace trace document (no \"format\": "
                        "\"%s\")" % (path, jsonout.FORMAT))
    if doc.get("version") != jsonout.FORMAT_VERSION:
        raise UserError("%s is a trace document of version %r; this tool reads "
                        "version %d" % (path, doc.get("version"), jsonout.FORMAT_VERSION))
    return doc


class DocumentSnapshot(Snapshot):
    """A Snapshot read from a trace document (see session.Snapshot)."""

    def __init__(self, path, runtime_filter=None, keep=None, doc=None):
        doc = doc if doc is not None else load(path)
        self.backend = DocumentBackend(path, doc.get("source") or "document")
        self.kind = "document"
        self.source = self.backend.source
        clock = doc.get("clock") or {}
        self.now = self.now_ns = _int(clock.get("now_ns"))
        self.clock_kind = clock.get("kind") or "recorded"
        # The document's own now; exact as its producer said (older
        # documents: exact when read live).
        self.now_source = "document"
        exact = clock.get("exact")
        self.now_exact = bool(exact) if exact is not None else self.clock_kind == "live"
        was = clock.get("source")
        self.now_note = "%s the document's clock%s" % (
            "durations against" if self.now_exact else
            "durations are lower bounds: measured to",
            " (%s)" % was if isinstance(was, str) else "")
        pair = clock.get("pair") if isinstance(clock.get("pair"), dict) else {}
        self.clock_pair = ((_int(pair.get("mono_ns")), _int(pair.get("real_ns")))
                           if pair.get("mono_ns") else None)
        self._task_index = None
        self.generation = _int(doc.get("generation"))
        self.errors = [str(e) for e in doc.get("errors") or []]
        self.threads = [t for t in doc.get("threads") or [] if isinstance(t, dict)]
        self.walker = _Names({})  # .names: task id -> name
        self.frozen = {}
        self.runtimes = []
        self.task_counts = {}
        self.runtime_flags = {}
        self.ntasks = 0
        b = _Builder()
        states = list(STATES)
        by_id = {}
        for rd in doc.get("runtimes") or []:
            if not isinstance(rd, dict):
                continue
            rt = {k: v for k, v in rd.items() if k not in ("tasks", "error")}
            if runtime_filter is not None and not runtime_filter(rt, _int(rt.get("address"))):
                continue
            items = []
            for td in rd.get("tasks") or []:
                if not isinstance(td, dict):
                    continue
                t = b.task(td)
                self.names[t.id] = t.name
                by_id[t.id] = t
                if t.state not in states:
                    states.append(t.state)
                if keep is not None and not keep(t.id, t.state, t.name):
                    continue
                key = t.address if t.address and t.address not in self.frozen else -t.id
                self.frozen[key] = t
                items.append((t.id, key, t.error, t.state, t.name, t.flags))
            items.sort()
            self.task_counts[rt.get("id")] = len(items)
            self.runtimes.append((rt, items, [rd["error"]] if rd.get("error") else []))
            self.ntasks += len(items)
        self.abi = DocAbi(path, states)
        self._roots(by_id)
        self._document = None
        self._json = None

    def _roots(self, by_id):
        self.threads_by_task = {}
        self.roots_by_task = {}
        self.raw_threads = []
        for th in self.threads:
            tid = th.get("tid")
            cur = by_id.get(th.get("task"))
            if cur is not None:
                self.threads_by_task[cur.address] = tid
            for rid in th.get("roots") or []:
                t = by_id.get(rid)
                if t is not None:
                    self.roots_by_task.setdefault(t.address, (tid, 0))
