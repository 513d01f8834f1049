"""The walk over each task's record, await tree and leaf resources (the list
walks, runtimes, threads and owned task lists, are in lists.py).

The walk builds the records of records.py: the JSON writer (jsonout.py),
the text output and the deadlock analysis all read those, so a command walks
the program's memory once.  With 100,000 tasks the walk is the hot loop:
what repeats (sites, frame heads, whole await chain shapes, task names,
flag sets, the state of a resource's object) is read or built once per
reading and shared, and a task whose await tree is a chain of a known shape
costs one unpack per record and one Task object.

Nothing the analysis relies on is taken on trust.  Every record has its
magic checked; a frame must point back at the frame that awaits it (its
parent link), a task's root frame must have no parent and belong to no
other task, a join must name the task its record points to, ids must be
unique and handed out, states and flags known.  Every walk is bounded
(visited sets, depth and count caps).  A record that does not check out
carries "corrupt: ..." (or "in-flux: ..." for a task flagged as being
relinked) and the walk goes on with what is readable.
"""

from . import chaintpl
from . import accel
from . import constants as C
from .lists import OWNED_FIELDS, ListWalker
from .memory import BLOCK, BLOCK_MASK, BLOCK_SHIFT, ReadError, fast_limit, fixed_string
from .records import Chain, Frame, Head, Resource, Site, Task, new

MAX_DEPTH = 256
MAX_CHILDREN = 4096
MAX_CHAIN = 64  # longer chains (or loops) go through frame_tree

_FINISHED = ("complete", "cancelled")  # a finished task's future is dropped
# Resource kinds whose one field is the wait record's first detail word and
# that have no object to check.
_DETAIL_ONLY = frozenset(("sleep", "read", "write"))
_NO_OBJECT = frozenset(("none", "yield", "dump"))
# Kinds whose wait never has an object (the runtime passes NULL): one that
# does has a damaged kind or object.
_NULL_OBJECT = frozenset(("none", "yield", "sleep"))
# Kinds whose fields take a word of the wait record besides the object's.
_WAIT_ADDS = frozenset(("join", "semaphore", "blocking"))
# Resource record fields added by debugger ABI 2 (read when present).
_ADDED_FIELDS = frozenset(("lock_site", "lock_line", "untracked", "holders",
                           "last_notifier", "notified", "tx_untracked", "tx_holders",
                           "tx_task_id", "tid"))


# A task's fields after those the list walk reads, and a leaf's wait record:
# the readers of the hot loop, in the order _speedups.c takes them.
_REST_FIELDS = (("parent_id", "u"), ("spawn_site", "u"), ("root", "u"),
                ("poll_count", "u"), ("created_ns", "u"), ("state_ns", "u"),
                ("poll_start_ns", "u"), ("poll_end_ns", "u"), ("worker", "i"))
_WAIT_FIELDS = (("wait.kind", "u"), ("wait.flags", "u"), ("wait.object", "u"),
                ("wait.since_ns", "u"), ("wait.detail[0]", "u"))


def _bad_frame(addr, error):
    return Frame(None, addr, None, [], error)


class _BadMagic(Exception):
    pass


class Walker(ListWalker):
    """Reads one consistent picture of every runtime through `mem`.
    `next_task_id` (the descriptor's) bounds the ids a task may have."""

    def __init__(self, abi, mem, next_task_id=0):
        self.abi = abi
        self.mem = mem
        self.next_task_id = next_task_id
        self.sites = {}  # address -> Site or error str
        self.heads = {}  # (site, resume line or await record) -> Head
        self.chains = {}  # chain shape (site, resume word, ...) -> Chain
        self.templates = {}  # (frame offsets, shape) -> chaintpl.Template or None
        self.spawns = {}  # site address -> (Site or None, error or None)
        self.raw_names = {}  # raw task name bytes -> str
        self.flag_names = {}  # flags word -> tuple of flag names
        self.objects = {}  # (resource kind, object) -> values tuple or error str
        self.task_ids = {}  # task address -> id (cache of task_id())
        self.task_addrs = {}  # task id -> address, of every task on a list
        self.dup_ids = {}  # id -> address of the second task with that id
        self.roots = {}  # root frame address -> id of the task it belongs to
        # Addresses of the tasks some thread is polling (set by the reader
        # once the thread list is read): a running task must be one.
        self.polled = None
        self.runtime_ids = {}  # runtime address -> id
        self.names = {}  # task id -> name, of every task met on a list
        self._make_readers(abi.reader)
        e = abi.enums
        self.state_names = e["task_state"]
        self.kind_names = e["frame_kind"]
        self.res_names = e["resource_kind"]
        self.flavor_names = e["flavor"]
        self.role_names = e["thread_role"]
        # Resource kind values whose one field is the first detail word.
        self._detail_only = {i: n for i, n in enumerate(self.res_names)
                             if n in _DETAIL_ONLY}
        # Resource kind values whose fields are their object's as read once
        # per reading (self.objects), with nothing of the wait record added:
        # what resource() does for them, the C walk does from self.objects.
        self._object_only = {i: n for i, n in enumerate(self.res_names)
                             if n not in _DETAIL_ONLY and n not in _NO_OBJECT and
                             n not in _NULL_OBJECT and n not in _WAIT_ADDS}
        # States whose future is alive (its await tree is walked).
        self._live_states = frozenset(n for n in self.state_names
                                      if n not in _FINISHED)

    def _make_readers(self, r):
        # What a task record needs (the list walk has checked the rest).
        self.task_reader = r("task", [
            ("state", "u"), ("id", "u"), ("parent_id", "u"), ("spawn_site", "u"),
            ("root", "u"), ("poll_count", "u"), ("created_ns", "u"),
            ("state_ns", "u"), ("poll_start_ns", "u"), ("poll_end_ns", "u"),
            ("worker", "i"), ("flags", "u"), ("name", "s")])
        # The same without what the list walk already read (id, state,
        # flags, name): the hot loop of tasks().
        self.task_rest = r("task", _REST_FIELDS)
        # What the list walk needs of each task.
        self.task_head = r("task", OWNED_FIELDS)
        self.TASK_ID = r("task", [("magic", "u"), ("id", "u"), ("state", "u"),
                                  ("name", "s")])
        self.RUNTIME = r("runtime", [
            ("magic", "u"), ("flavor", "u"), ("id", "u"), ("next", "u"),
            ("owned_head", "u"), ("task_count", "u"), ("workers", "u"),
            ("flags", "u"), ("now_ns", "u"), ("spawned_total", "u")])
        # A frame's await line: ABI 1 and 2 keep it in the frame
        # (resume_line), ABI 3 points to the await's static record (resume),
        # whose line head() reads once per record.
        self._resume_ptr = self.abi.has("frame", "resume")
        self.FRAME = r("frame", [("site", "u"), ("parent", "u"), ("child", "u"),
                                 ("sibling", "u"),
                                 ("resume" if self._resume_ptr else "resume_line", "u")])
        self.AWAIT_LINE = r("await", [("line", "u")]) if self._resume_ptr else None
        self.WAIT = r("leaf", _WAIT_FIELDS)
        self.SITE = r("site", [
            ("magic", "u"), ("kind", "u"), ("function", "u"), ("file", "u"),
            ("line", "u")])
        self.ROOT = r("root_frame", [("inner_addr", "u"), ("parent", "u"),
                                     ("task", "u")])
        self.CONTEXT = r("context", [
            ("magic", "u"), ("role", "u"), ("tid", "i"), ("worker", "i"),
            ("active", "u"), ("current", "u"), ("runtime", "u"), ("next", "u"),
            ("prev", "u"), ("poll_start_ns", "u")])
        self._resource_readers = {}
        self._holder_row = None  # (reader, row size) of a holder table row
        # Unpacking straight from cached blocks, when the layout table keeps
        # the fields in the order asked for (-1: never).
        self._rest_limit = _fast(self.task_rest)
        self._frame_limit = _fast(self.FRAME)
        self._leaf_limit = _fast(self.WAIT)
        self._frame_struct = self.FRAME.struct
        self._wait_struct = self.WAIT.struct

    def enum(self, names, value):
        if 0 <= value < len(names):
            return names[value]
        return "?%d" % value

    # -- sites -------------------------------------------------------------

    def site(self, addr):
        """The Site record at addr, or an error string."""
        hit = self.sites.get(addr)
        if hit is not None:
            return hit
        try:
            magic, kind, fn_p, file_p, line = self.SITE.unpack(self.mem, addr)
            if magic != C.SITE_MAGIC:
                hit = "corrupt: site 0x%x has bad magic 0x%08x" % (addr, magic)
            elif kind >= len(self.kind_names):
                hit = "corrupt: site 0x%x has kind %d, which is no frame kind" % (addr, kind)
            else:
                hit = Site(self.kind_names[kind], self.mem.cstring(fn_p),
                           self.mem.cstring(file_p, 1024), line)
        except ReadError:
            hit = "corrupt: site 0x%x unreadable" % addr
        self.sites[addr] = hit
        return hit

    def head(self, site_p, resume):
        """The Head of frames with this site and resume word (the await line,
        or from ABI 3 the address of the await's record), or an error
        string (the site's or the await record's problem)."""
        key = (site_p, resume)
        head = self.heads.get(key)
        if head is None:
            site = self.site(site_p)
            if site.__class__ is str:
                return site
            line = self._await_line(resume) if self._resume_ptr else resume
            if line.__class__ is str:
                return line
            head = self.heads[key] = Head(site.function, site.file,
                                          line or site.line, site.kind)
        return head

    def _await_line(self, resume):
        """The line of the at_await record at `resume` (0 for none or a
        finished frame), or an error string."""
        if resume <= C.RESUME_DONE:
            return 0
        try:
            return self.AWAIT_LINE.unpack(self.mem, resume)[0]
        except ReadError:
            return "corrupt: await record 0x%x unreadable" % resume

    def spawn(self, site_p):
        """(Site or None, error or None) of a task's spawn site."""
        hit = self.spawns.get(site_p)
        if hit is None:
            s = self.site(site_p) if site_p else None
            if s is None:
                hit = (None, None)
            elif s.__class__ is str:
                hit = (None, s)
            else:
                hit = (s, None)
            self.spawns[site_p] = hit
        return hit

    def flags(self, word):
        """The tuple of flag names of a task's flags word."""
        names = self.flag_names.get(word)
        if names is None:
            names = self.flag_names[word] = tuple(n for b, n in C.TASK_FLAGS
                                                  if word & b)
        return names

    # -- resources ---------------------------------------------------------

    def resource(self, wait):
        """The Resource of a leaf's wait record (kind, flags, object, since,
        details).  The state of the object (a mutex's owner, a channel's
        fill) is read once per reading: the program is stopped."""
        kind_v, wflags, obj, since, d0 = wait
        if kind_v >= len(self.res_names):
            return new(Resource, ("?%d" % kind_v, obj, since, (), "corrupt: resource "
                                  "kind %d is not a resource kind" % kind_v))
        kind = self.res_names[kind_v]
        if obj and kind in _NULL_OBJECT:
            return new(Resource, (kind, obj, since, (), "corrupt: a %s wait with an object "
                                  "(0x%x): its kind or its object is damaged" % (kind, obj)))
        if kind in _DETAIL_ONLY:
            return new(Resource, (kind, obj, since, (d0,), None))
        if kind in _NO_OBJECT:
            return new(Resource, (kind, obj, since, (), None))
        if kind == "join" and obj and self.task_addrs.get(d0) == obj:
            # The list walk has checked that a task with this id is there.
            return new(Resource, (kind, obj, since, (d0,), None))
        key = (kind_v, obj)
        values = self.objects.get(key)
        if values is None:
            values = self.objects[key] = self._object_values(kind, obj)
        if values.__class__ is str:
            return new(Resource, (kind, obj, since, (), values))
        if kind == "semaphore" or kind == "blocking":  # (_WAIT_ADDS)
            values = (d0,) + values
        elif kind == "join":
            if values[0] != d0:
                return new(Resource, (kind, obj, since, (), "corrupt: the join waits "
                                      "for task %d, but its task record 0x%x is task %d"
                                      % (d0, obj, values[0])))
        return new(Resource, (kind, obj, since, values, None))

    def _object_values(self, kind, obj):
        """The fields a resource of `kind` takes from its object (see
        records.RESOURCE_FIELDS), or an error string."""
        if not obj:
            if kind == "blocking":  # not handed to the pool yet
                return (0,)
            return "corrupt: a %s wait without its object" % kind
        try:
            return self._object_fields(kind, obj)
        except ReadError:
            return "corrupt: %s record 0x%x unreadable" % (kind, obj)
        except _BadMagic as e:
            return str(e)

    def _object_fields(self, kind, obj):
        """The fields of RESOURCE_FIELDS[kind] the object gives.  Fields an
        older ABI lacks get their "unknown" value."""
        if kind == "mutex":
            return self._mutex(obj)
        if kind == "semaphore":
            return self._semaphore(obj)
        if kind == "notify":
            return self._notify(obj)
        if kind in ("channel-send", "channel-recv"):
            return self._chan(obj)
        if kind == "oneshot":
            return self._oneshot(obj)
        if kind == "blocking":
            return self._blocking(obj)
        if kind == "join":
            magic, tid = self.TASK_ID.unpack(self.mem, obj)[:2]
            self._check(magic, C.TASK_MAGIC, "joined task", obj)
            return (tid,)
        return ()

    def _fields(self, record, names):
        """A reader of the fields `names` of `record` (spec ("name",
        "u"|"s")) and the names it reads: every field but those ABI 2 added,
        which are left out when the layout table lacks them (a missing
        older field is an AbiError, as for every record)."""
        key = (record, names)
        hit = self._resource_readers.get(key)
        if hit is None:
            have = tuple((n, k) for n, k in names
                         if n not in _ADDED_FIELDS or self.abi.has(record, n))
            hit = self._resource_readers[key] = (self.abi.reader(record, list(have)),
                                                 tuple(n for n, _ in have))
        return hit

    def _read(self, record, names, obj):
        """{field: value} of the fields of `names` the layout table has."""
        rd, have = self._fields(record, names)
        return dict(zip(have, rd.unpack(self.mem, obj)))

    def _mutex(self, obj):
        v = self._read("mutex", (("magic", "u"), ("locked", "u"), ("owner_id", "u"),
                                 ("owner", "u"), ("waiters", "u"), ("lock_site", "u"),
                                 ("lock_line", "u")), obj)
        self._check(v["magic"], C.MUTEX_MAGIC, "mutex", obj)
        if v["owner_id"] and not v["locked"]:
            raise _BadMagic("corrupt: mutex 0x%x names holder task %d but is not "
                            "locked" % (obj, v["owner_id"]))
        self._check_holder(obj, v["owner_id"], v["owner"])
        fn = file = None
        line = 0
        site_p = v.get("lock_site", 0)
        if site_p and v["owner_id"]:
            site = self.site(site_p)
            if site.__class__ is not str:
                fn, file, line = site.function, site.file, v.get("lock_line", 0) or site.line
        return (v["owner_id"], v["waiters"], fn, file, line)

    def _check_holder(self, obj, owner_id, owner):
        """A mutex keeps its holder twice, as an id and as a task pointer,
        set together: when the id names a task on a list, the pointer must
        be that task's record.  (A holder that finished may be freed and its
        memory reused by another task, so a pointer to a task with another
        id proves nothing.)  The id must have been handed out, and the two
        are zero together (a lock taken outside any task has neither)."""
        if not owner_id:
            if owner:
                raise _BadMagic("corrupt: mutex 0x%x has an owner pointer (0x%x) but "
                                "names no holder task" % (obj, owner))
            return
        if self.next_task_id and owner_id >= self.next_task_id:
            raise _BadMagic("corrupt: mutex 0x%x names holder task %d, an id never "
                            "handed out (ids so far are below %d)"
                            % (obj, owner_id, self.next_task_id))
        at = self.task_addrs.get(owner_id)
        if at is not None and owner != at:
            raise _BadMagic("corrupt: mutex 0x%x names holder task %d, but its owner "
                            "pointer is 0x%x, not that task's record 0x%x"
                            % (obj, owner_id, owner, at))

    def _holders(self, raw, untracked):
        """((task id, count), ...) by task id from a holder table's bytes,
        and whether some holders are not listed."""
        if self._holder_row is None:
            rec = self.abi.records.get("holder")
            if rec is None or rec.size == 0:
                self._holder_row = False
            else:
                self._holder_row = (self.abi.reader("holder", [("task_id", "u"), ("count", "u")]),
                                    rec.size)
        if not self._holder_row or not raw:
            return (), bool(untracked)
        rd, size = self._holder_row
        rows = []
        for off in range(0, len(raw) - size + 1, size):
            vals = rd.struct.unpack_from(raw, off)
            tid, n = vals if rd.reorder is None else (vals[rd.reorder[0]],
                                                      vals[rd.reorder[1]])
            if n:
                rows.append((tid, n))
        rows.sort()
        return tuple(rows), bool(untracked)

    def _semaphore(self, obj):
        v = self._read("semaphore", (("magic", "u"), ("waiters", "u"), ("permits", "u"),
                                     ("max_permits", "u"), ("untracked", "u"),
                                     ("holders", "s")), obj)
        self._check(v["magic"], C.SEM_MAGIC, "semaphore", obj)
        holders, truncated = self._holders(v.get("holders"), v.get("untracked", 0))
        return (v["permits"], v["waiters"], v.get("max_permits", 0), holders, truncated)

    def _notify(self, obj):
        v = self._read("notify", (("magic", "u"), ("waiters", "u"), ("last_notifier", "u"),
                                  ("notified", "u")), obj)
        self._check(v["magic"], C.NOTIFY_MAGIC, "notify", obj)
        return (v["waiters"], v.get("last_notifier", 0), v.get("notified", 0))

    def _chan(self, obj):
        v = self._read("chan", (("magic", "u"), ("flags", "u"), ("capacity", "u"),
                                ("len", "u"), ("senders", "u"), ("rx_task_id", "u"),
                                ("tx_untracked", "u"), ("tx_holders", "s")), obj)
        self._check(v["magic"], C.CHAN_MAGIC, "channel", obj)
        cflags, cap = v["flags"], v["capacity"]
        unbounded = cflags & C.CHAN_UNBOUNDED or cap == 0
        closed = C.chan_is_closed(cflags)
        holders, truncated = self._holders(v.get("tx_holders"), v.get("tx_untracked", 0))
        return (None if unbounded else cap, v["len"], v["senders"], v["rx_task_id"],
                closed, tuple(t for t, _ in holders), truncated)

    def _oneshot(self, obj):
        v = self._read("oneshot", (("magic", "u"), ("flags", "u"), ("rx_task_id", "u"),
                                   ("tx_task_id", "u")), obj)
        self._check(v["magic"], C.ONESHOT_MAGIC, "oneshot", obj)
        oflags = v["flags"]
        return (v["rx_task_id"], C.oneshot_is_closed(oflags), v.get("tx_task_id", 0),
                C.oneshot_sender_gone(oflags))

    def _blocking(self, obj):
        """(thread,): the LWP running the job (the job id is the wait's)."""
        if not obj or not self.abi.has("blocking_job", "tid"):
            return (0,)
        v = self._read("blocking_job", (("magic", "u"), ("tid", "i")), obj)
        self._check(v["magic"], C.JOB_MAGIC, "blocking job", obj)
        return (v["tid"],)

    @staticmethod
    def _check(magic, want, what, obj):
        if magic != want:
            if magic == C.DEAD_MAGIC:
                raise _BadMagic("corrupt: %s 0x%x was freed" % (what, obj))
            raise _BadMagic("corrupt: %s 0x%x has bad magic 0x%08x" % (what, obj, magic))

    # -- await trees -------------------------------------------------------

    def frame_tree(self, addr, depth, seen, parent=None):
        """The await (sub)tree at frame `addr`: (Frame, the frame's sibling
        link), the link None when the frame could not be read or checked
        (its links are then not to be trusted).  `parent` is the frame that
        awaits this one (0 for a task's root frame): the frame must link
        back to it, or it belongs to another tree (None: not checked)."""
        if addr in seen:
            return _bad_frame(addr, "corrupt: await tree loops back to frame 0x%x"
                              % addr), None
        if depth >= MAX_DEPTH:
            return _bad_frame(addr, "corrupt: await chain deeper than %d frames, "
                                    "cut here" % MAX_DEPTH), None
        seen.add(addr)
        try:
            site_p, fparent, child, sibling, resume = self.FRAME.unpack(self.mem, addr)
        except ReadError:
            return _bad_frame(addr, "corrupt: frame 0x%x unreadable" % addr), None
        if parent is not None and fparent != parent:
            return _bad_frame(addr, "corrupt: frame 0x%x is not part of this await tree "
                              "(its parent link is 0x%x, not 0x%x)"
                              % (addr, fparent, parent)), None
        head = self.head(site_p, resume)
        if head.__class__ is str:
            return _bad_frame(addr, "%s (site of frame 0x%x)" % (head, addr)), None
        if head.leaf:  # a leaf's own child link is not part of the tree
            try:
                wait = self.WAIT.unpack(self.mem, addr)
            except ReadError:
                return Frame(head, addr, None, [], "corrupt: wait record of leaf 0x%x "
                             "unreadable" % addr), sibling
            return Frame(head, addr, self.resource(wait), []), sibling
        children, error = self._children(addr, child, depth, seen)
        return Frame(head, addr, None, children, error), sibling

    def _children(self, addr, child, depth, seen):
        """The children of frame `addr` (first child `child`, then sibling
        links) and an error for the list of them, or None."""
        children = []
        while child:
            if len(children) >= MAX_CHILDREN:
                return children, "corrupt: more than %d children, cut here" % MAX_CHILDREN
            node, child = self.frame_tree(child, depth + 1, seen, addr)
            children.append(node)
            if child is None:
                break  # an unreadable child: its sibling link is unknown
            if child in seen:
                return children, "corrupt: sibling list loops back to frame 0x%x" % child
        return children, None

    def _chain_links(self, a):
        """(frame addresses, shape, block of the last frame) of the plain
        chain (each frame with one child) from root frame `a` down, read
        straight from cached blocks, each frame checked to link back to the
        one above; None when that is not enough (a frame outside the cache,
        a combinator's child, a bad link, a chain longer than MAX_CHAIN):
        frame_tree then reads and checks it all, and says what is wrong."""
        blocks_get = self.mem.blocks.get
        unpack = self._frame_struct.unpack_from
        limit = self._frame_limit
        addrs = []
        shape = []
        parent = 0
        while True:
            blk = blocks_get(a >> BLOCK_SHIFT)
            off = a & BLOCK_MASK
            if blk is None or off > limit:
                return None
            site_p, fparent, child, sibling, resume = unpack(blk, off)
            if fparent != parent or sibling:
                return None
            addrs.append(a)
            shape.append(site_p)
            shape.append(resume)
            if not child:
                return addrs, shape, blk
            if len(addrs) >= MAX_CHAIN:
                return None
            parent = a
            a = child

    def _leaf_resource(self, a, blk):
        """The Resource of the leaf at `a`, whose block `blk` is held (a
        read since may have emptied the cache: `blk` stays valid)."""
        off = a & BLOCK_MASK
        if off <= self._leaf_limit:
            wait = self._wait_struct.unpack_from(blk, off)
        else:
            try:
                wait = self.WAIT.unpack(self.mem, a)
            except ReadError:
                return None
        kind = self._detail_only.get(wait[0])
        if kind is not None and not (wait[2] and kind in _NULL_OBJECT):
            return new(Resource, (kind, wait[2], wait[3], (wait[4],), None))
        return self.resource(wait)

    def chain(self, root, shape_key=None):
        """The usual await tree, a chain of frames each with one child, as
        (Chain, frame addresses, leaf Resource or None); the Chain (the
        chain's shape: site and resume line of each frame) is shared by
        every task whose chain has that shape.  None lets frame_tree do it
        (combinators, anything out of the block cache, too long, damaged)."""
        links = self._chain_links(root)
        if links is None:
            return None
        addrs, shape, blk = links
        shape = tuple(shape)
        chain = self.chains.get(shape)
        if chain is None:
            chain = self._chain_of(shape)
            if chain is None:
                return None
            self.chains[shape] = chain
        res = None
        if chain.leaf:
            res = self._leaf_resource(addrs[-1], blk)
            if res is None:
                return None
        return chain, tuple(addrs), res

    def _chain_of(self, shape):
        """The Chain of this shape, or None when a frame of it is not a plain
        chain member (bad site, or a leaf before the end: its child link is
        not part of the tree)."""
        heads = []
        n = len(shape) // 2
        for i in range(n):
            head = self.head(shape[2 * i], shape[2 * i + 1])
            if head.__class__ is str or (head.leaf and i != n - 1):
                return None
            heads.append(head)
        return Chain(tuple(heads))

    # -- tasks -------------------------------------------------------------

    def task(self, addr, error, threads_by_task):
        """The Task at `addr` (already checked by task_list, whose error for
        it is `error`), everything read and checked."""
        try:
            t = self.task_reader.unpack(self.mem, addr)
        except ReadError:
            t = None
        if t is None:
            return self._unreadable_task(addr, error)
        (state, tid, parent_id, spawn_p, root, polls, created, state_ns, pstart, pend,
         worker, flags, raw_name) = t
        site, spawn_error = self.spawn(spawn_p)
        if spawn_error is not None and error is None:
            error = spawn_error
        name = self.raw_names.get(raw_name)
        if name is None:
            name = self.raw_names[raw_name] = fixed_string(raw_name)
        state_name = self.enum(self.state_names, state)
        chain = addrs = res = tree = None
        if root and state_name not in _FINISHED:
            other = self.roots.setdefault(root, tid)
            if other != tid:
                error = error or ("corrupt: its root frame 0x%x is the root frame of "
                                  "task %d" % (root, other))
            else:
                found = self.chain(root)
                if found is not None:
                    chain, addrs, res = found
                else:
                    tree = self.frame_tree(root, 0, set(), 0)[0]
        if state_name == "idle" and error is None:
            error = _idle_problem(root, chain, addrs, tree)
        elif (state_name == "running" and error is None and self.polled is not None
              and addr not in self.polled):
            error = "in-flux: running, but no thread is polling it"
        return new(Task, (tid, addr, name, state_name, self.flags(flags), parent_id, site,
                          polls, created, state_ns, pstart, pend, worker,
                          threads_by_task.get(addr), error, chain, addrs, res, tree))

    def _unreadable_task(self, addr, error):
        return new(Task, (0, addr, "", "?", (), 0, None, 0, 0, 0, 0, 0, -1, None,
                          error or "corrupt: task 0x%x unreadable" % addr, None, None,
                          None, None))

    def tasks(self, items, threads_by_task):
        """Task records of `items` from task_list: the hot loop of a large
        walk.  A healthy task whose await chain matches the chain template
        of the task before it (chaintpl.py; in the C form, one of the eight
        templates met last) costs one unpack per record (its id, state,
        flags and name come from the list walk), in C when the accelerator
        is built (accel.py: the same records); anything else goes through
        _task_item()."""
        if accel.speedups is not None and self._frame_limit >= 0 and self._rest_limit >= 0:
            return self._tasks_c(items, threads_by_task)
        blocks_get = self.mem.blocks.get
        rest_unpack = self.task_rest.struct.unpack_from
        rest_limit = self._rest_limit
        spawns_get = self.spawns.get
        flags_get = self.flag_names.get
        roots_setdefault = self.roots.setdefault
        leaf_resource = self._leaf_resource
        live_states = self._live_states
        lwp_get = threads_by_task.get
        item_slowly = self._task_item
        tpl = None  # the chaintpl.Template of the last chain met
        from_bytes = int.from_bytes
        out = []
        append = out.append
        for item in items:
            tid, addr, error, state, name, flags = item
            task = None
            blk = blocks_get(addr >> BLOCK_SHIFT)
            off = addr & BLOCK_MASK
            if tpl is not None and error is None and blk is not None and off <= rest_limit:
                (parent_id, spawn_p, root, polls, created, state_ns, pstart, pend,
                 worker) = rest_unpack(blk, off)
                sp = spawns_get(spawn_p)
                fl = flags_get(flags)
                blk = blocks_get(root >> BLOCK_SHIFT)
                off = root & BLOCK_MASK
                # Most tasks look like the one before: one unpack checks it all.
                if (sp is not None and sp[1] is None and fl is not None and root and
                        state in live_states and state != "running" and
                        roots_setdefault(root, tid) == tid and blk is not None and
                        off + tpl.hi <= BLOCK and root < tpl.root_max and
                        from_bytes(blk[off:off + tpl.hi], "little") & tpl.mask ==
                        tpl.base + root * tpl.mult):
                    chain = tpl.chain
                    addrs = tuple(map(root.__add__, tpl.rel))
                    res = None
                    if chain.leaf:
                        res = leaf_resource(addrs[-1], blk)
                    if (res is not None) if chain.leaf else state != "idle":
                        task = new(Task, (tid, addr, name, state, fl, parent_id, sp[0],
                                          polls, created, state_ns, pstart, pend, worker,
                                          lwp_get(addr), None, chain, addrs, res, None))
            if task is None:
                task, made = item_slowly(item, threads_by_task)
                if made is not None:
                    tpl = made
            append(task)
        return out

    def _tasks_c(self, items, threads_by_task):
        """tasks() with the template case in C (_speedups.tasks)."""
        args = self.__dict__.get("_c_args")
        if args is None:
            abi = self.abi
            args = self._c_args = (
                abi.layout("task", _REST_FIELDS), abi.layout("leaf", _WAIT_FIELDS),
                frozenset(self._live_states), frozenset(_NULL_OBJECT))
        rest, wait, live, null_object = args
        mem = self.mem
        return accel.speedups.tasks(
            items, mem.blocks, mem._block, mem.read, rest, wait, self.spawns,
            self.flag_names, self.roots, live, threads_by_task, self._detail_only,
            null_object, self._object_only, self.objects, self.resource, Task, Resource,
            lambda item: self._task_item(item, threads_by_task))

    def _task_item(self, item, threads_by_task):
        """(Task, chain template or None) of one item of tasks() that is not
        its template's: the chain is walked frame by frame (a template is
        made of it when it checks out: the next tasks may match it), or the
        task goes through task(), which says what is wrong."""
        tid, addr, error, state, name, flags = item
        blk = self.mem.blocks.get(addr >> BLOCK_SHIFT)
        off = addr & BLOCK_MASK
        if error is not None or blk is None or off > self._rest_limit:
            return self.task(addr, error, threads_by_task), None
        (parent_id, spawn_p, root, polls, created, state_ns, pstart, pend,
         worker) = self.task_rest.struct.unpack_from(blk, off)
        sp = self.spawns.get(spawn_p)
        fl = self.flag_names.get(flags)
        if (sp is None or sp[1] is not None or fl is None or not root or
                state not in self._live_states or state == "running" or
                self.roots.setdefault(root, tid) != tid):
            return self.task(addr, error, threads_by_task), None
        links = self._chain_links(root)
        if links is None:
            return self.task(addr, error, threads_by_task), None
        addrs, shape, blk = links
        shape = tuple(shape)
        chain = self.chains.get(shape)
        if chain is None:
            return self.task(addr, error, threads_by_task), None
        addrs = tuple(addrs)
        tpl = self._template(addrs, shape, chain) if self._frame_limit >= 0 else None
        res = None
        if chain.leaf:
            res = self._leaf_resource(addrs[-1], blk)
            if res is None:
                return self.task(addr, error, threads_by_task), tpl
        elif state == "idle":  # suspended, yet awaiting nothing
            return self.task(addr, error, threads_by_task), tpl
        return new(Task, (tid, addr, name, state, fl, parent_id, sp[0], polls, created,
                          state_ns, pstart, pend, worker, threads_by_task.get(addr), None,
                          chain, addrs, res, None)), tpl

    def _template(self, addrs, shape, chain):
        """The chaintpl.Template of a chain just checked frame by frame
        (made once per layout and shape; None past MAX_TEMPLATES, or when
        its frames cannot be read in one unpack)."""
        root = addrs[0]
        key = (tuple(a - root for a in addrs), shape)
        hit = self.templates.get(key, False)
        if hit is False:
            hit = None
            if len(self.templates) < chaintpl.MAX_TEMPLATES:
                hit = chaintpl.make(self.abi.records["frame"], addrs, shape, chain)
                self.templates[key] = hit
        return hit

    def task_brief(self, addr):
        """(id, state, name) of the task at addr (None if unreadable or not
        a task)."""
        try:
            magic, tid, state, name = self.TASK_ID.unpack(self.mem, addr)
        except ReadError:
            return None
        if magic != C.TASK_MAGIC:
            return None
        return tid, self.enum(self.state_names, state), fixed_string(name)

    def task_id(self, addr):
        if not addr:
            return None
        tid = self.task_ids.get(addr)
        if tid is None:
            brief = self.task_brief(addr)
            tid = brief[0] if brief else None
            if tid is not None:
                self.task_ids[addr] = tid
        return tid


def _idle_problem(root, chain, addrs, tree):
    """Why an idle task's await tree cannot be what a suspended task has
    (every frame of it awaits something, down to a leaf), or None."""
    if not root:
        return "corrupt: an idle task without a future (its root frame is NULL)"
    if chain is not None:
        if chain.leaf:
            return None
        return ("corrupt: idle, but frame 0x%x of its await chain awaits nothing"
                % addrs[-1])
    stack = [tree] if tree is not None else []
    while stack:
        f = stack.pop()
        if f.head is not None and not f.head.leaf and not f.children and not f.error:
            return "corrupt: idle, but frame 0x%x of its await tree awaits nothing" % (
                f.address)
        stack.extend(f.children)
    return None


def _fast(reader):
    """The largest in-block offset at which `reader` can unpack straight
    from a cached block, or -1 when its fields are reordered."""
    return fast_limit(reader.struct) if reader.reorder is None else -1
