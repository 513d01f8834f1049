"""Walkers over the runtime's records: runtimes, their owned task lists, each
task's await tree and leaf resources, and the thread contexts.

The walk builds the records of records.py: the JSON writer (jsonout.py),
the text output and the deadlock analysis all read those, so a command walks
the program's memory once.  With 100,000 tasks the walk is the hot loop:
what repeats (sites, frame heads, whole await chain shapes, task names,
flag sets, the state of a resource's object) is read or built once per
reading and shared, and a task whose await tree is a chain of a known shape
costs one unpack per record and one Task object.

Every walk is bounded: Brent's loop detection on the owned task lists,
visited sets on the other lists and on await trees, depth and count caps,
prev/next consistency checks on the owned and thread lists.  A node
that cannot be read, or does not check out, carries "corrupt: ..." (or
"in-flux: ..." for a task flagged as being relinked) and the walk goes on
with what is readable.
"""

from operator import itemgetter

from . import constants as C
from .memory import BLOCK_MASK, BLOCK_SHIFT, ReadError, fast_limit, fixed_string
from .records import Chain, Frame, Head, Resource, Site, Task, new

MAX_RUNTIMES = 1024
MAX_TASKS = 1 << 24
MAX_DEPTH = 256
MAX_CHILDREN = 4096
MAX_THREADS = 4096
MAX_ROOTS = 64
MAX_CHAIN = 64  # longer chains (or loops) go through frame_tree

_FINISHED = ("complete", "cancelled")  # a finished task's future is dropped
# Resource kinds whose one field is the wait record's first detail word.
_DETAIL_ONLY = frozenset(("sleep", "join", "read", "write"))


def _bad_frame(addr, error):
    return Frame(None, addr, None, [], error)


class _BadMagic(Exception):
    pass


class Walker(object):
    """Reads one consistent picture of every runtime through `mem`."""

    def __init__(self, abi, mem):
        self.abi = abi
        self.mem = mem
        self.sites = {}  # address -> Site or error str
        self.heads = {}  # (site, resume line) -> Head
        self.chains = {}  # chain shape (site, resume line, ...) -> Chain
        self.spawns = {}  # site address -> (Site or None, error or None)
        self.raw_names = {}  # raw task name bytes -> str
        self.flag_names = {}  # flags word -> tuple of flag names
        self.objects = {}  # (resource kind, object) -> values tuple or error str
        self.task_ids = {}  # task address -> id (cache of task_id())
        self.runtime_ids = {}  # runtime address -> id
        self.names = {}  # task id -> name, of every task met on a list
        r = abi.reader
        # What a task record needs (the list walk has checked the rest).
        self.task_reader = r("task", [
            ("state", "u"), ("id", "u"), ("parent_id", "u"), ("spawn_site", "u"),
            ("root", "u"), ("poll_count", "u"), ("created_ns", "u"),
            ("state_ns", "u"), ("poll_start_ns", "u"), ("poll_end_ns", "u"),
            ("worker", "i"), ("flags", "u"), ("name", "s")])
        # The same without what the list walk already read (id, state,
        # flags, name): the hot loop of tasks().
        self.task_rest = r("task", [
            ("parent_id", "u"), ("spawn_site", "u"), ("root", "u"), ("poll_count", "u"),
            ("created_ns", "u"), ("state_ns", "u"), ("poll_start_ns", "u"),
            ("poll_end_ns", "u"), ("worker", "i")])
        self._rest_limit = (fast_limit(self.task_rest.struct)
                            if self.task_rest.reorder is None else -1)
        self._task_limit = (fast_limit(self.task_reader.struct)
                            if self.task_reader.reorder is None else -1)
        # What the list walk needs of each task.
        self.task_head = r("task", [
            ("magic", "u"), ("state", "u"), ("id", "u"), ("runtime", "u"),
            ("owned_next", "u"), ("owned_prev", "u"), ("flags", "u"), ("name", "s")])
        self.TASK_ID = r("task", [("magic", "u"), ("id", "u"), ("state", "u"),
                                  ("name", "s")])
        self.RUNTIME = r("runtime", [
            ("magic", "u"), ("flavor", "u"), ("id", "u"), ("next", "u"),
            ("owned_head", "u"), ("task_count", "u"), ("workers", "u"),
            ("flags", "u"), ("now_ns", "u"), ("spawned_total", "u")])
        self.FRAME = r("frame", [("site", "u"), ("child", "u"), ("sibling", "u"),
                                 ("resume_line", "u")])
        self.WAIT = r("leaf", [
            ("wait.kind", "u"), ("wait.flags", "u"), ("wait.object", "u"),
            ("wait.since_ns", "u"), ("wait.detail[0]", "u"),
            ("wait.detail[1]", "u"), ("wait.detail[2]", "u")])
        self.SITE = r("site", [
            ("magic", "u"), ("kind", "u"), ("function", "u"), ("file", "u"),
            ("line", "u")])
        self.ROOT = r("root_frame", [("inner_addr", "u"), ("parent", "u"),
                                     ("task", "u")])
        self.CONTEXT = r("context", [
            ("magic", "u"), ("role", "u"), ("tid", "i"), ("worker", "i"),
            ("active", "u"), ("current", "u"), ("runtime", "u"), ("next", "u"),
            ("prev", "u"), ("poll_start_ns", "u")])
        # Hot-loop unpacking straight from cached blocks (when the layout
        # table keeps the fields in the order asked for).
        self._frame_struct = self.FRAME.struct
        self._frame_limit = (fast_limit(self._frame_struct)
                             if self.FRAME.reorder is None else -1)
        self._wait_struct = self.WAIT.struct
        self._leaf_limit = (fast_limit(self._wait_struct)
                            if self.WAIT.reorder is None else -1)
        self._resource_readers = {}
        self._holder_row = None  # (reader, row size) of a holder table row
        e = abi.enums
        self.state_names = e["task_state"]
        self.kind_names = e["frame_kind"]
        self.res_names = e["resource_kind"]
        self.flavor_names = e["flavor"]
        self.role_names = e["thread_role"]
        # Resource kind values whose one field is the first detail word.
        self._detail_only = {i: n for i, n in enumerate(self.res_names)
                             if n in _DETAIL_ONLY}
        # States whose future is alive (its await tree is walked).
        self._live_states = frozenset(n for n in self.state_names
                                      if n not in _FINISHED)

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
            else:
                hit = Site(self.enum(self.kind_names, kind), self.mem.cstring(fn_p),
                           self.mem.cstring(file_p, 1024), line)
        except ReadError:
            hit = "corrupt: site 0x%x unreadable" % addr
        self.sites[addr] = hit
        return hit

    def head(self, site_p, resume_line):
        """The Head of frames with this site and resume line, or an error
        string (the site's problem)."""
        key = (site_p, resume_line)
        head = self.heads.get(key)
        if head is None:
            site = self.site(site_p)
            if site.__class__ is str:
                return site
            head = self.heads[key] = Head(site.function, site.file,
                                          resume_line or site.line, site.kind)
        return head

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
        kind_v, wflags, obj, since, d0, d1, d2 = wait
        if kind_v < len(self.res_names):
            kind = self.res_names[kind_v]
        else:
            kind = "?%d" % kind_v
        if kind in _DETAIL_ONLY:
            return new(Resource, (kind, obj, since, (d0,), None))
        key = (kind_v, obj)
        values = self.objects.get(key)
        if values is None:
            values = self.objects[key] = self._object_values(kind, obj)
        if values.__class__ is str:
            return new(Resource, (kind, obj, since, (), values))
        if kind == "semaphore" or kind == "blocking":
            values = (d0,) + values
        return new(Resource, (kind, obj, since, values, None))

    def _object_values(self, kind, obj):
        """The fields a resource of `kind` takes from its object (see
        records.RESOURCE_FIELDS), or an error string.  Fields an older ABI
        lacks get their "unknown" value."""
        try:
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
            return ()
        except ReadError:
            return "corrupt: %s record 0x%x unreadable" % (kind, obj)
        except _BadMagic as e:
            return str(e)

    def _fields(self, record, names):
        """A reader of the fields `names` of `record` that the layout table
        lists (spec ("name", "u"|"s")), and the names it has."""
        key = (record, names)
        hit = self._resource_readers.get(key)
        if hit is None:
            have = tuple((n, k) for n, k in names if self.abi.has(record, n))
            hit = self._resource_readers[key] = (self.abi.reader(record, list(have)),
                                                 tuple(n for n, _ in have))
        return hit

    def _read(self, record, names, obj):
        """{field: value} of the fields of `names` the layout table has."""
        rd, have = self._fields(record, names)
        return dict(zip(have, rd.unpack(self.mem, obj)))

    def _mutex(self, obj):
        v = self._read("mutex", (("magic", "u"), ("owner_id", "u"), ("waiters", "u"),
                                 ("lock_site", "u"), ("lock_line", "u")), obj)
        self._check(v["magic"], C.MUTEX_MAGIC, "mutex", obj)
        fn = file = None
        line = 0
        site_p = v.get("lock_site", 0)
        if site_p and v["owner_id"]:
            site = self.site(site_p)
            if site.__class__ is not str:
                fn, file, line = site.function, site.file, v.get("lock_line", 0) or site.line
        return (v["owner_id"], v["waiters"], fn, file, line)

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
        closed = cflags & (C.CHAN_CLOSED | C.CHAN_RX_DROPPED)
        holders, truncated = self._holders(v.get("tx_holders"), v.get("tx_untracked", 0))
        return (None if unbounded else cap, v["len"], v["senders"], v["rx_task_id"],
                bool(closed), tuple(t for t, _ in holders), truncated)

    def _oneshot(self, obj):
        v = self._read("oneshot", (("magic", "u"), ("flags", "u"), ("rx_task_id", "u"),
                                   ("tx_task_id", "u")), obj)
        self._check(v["magic"], C.ONESHOT_MAGIC, "oneshot", obj)
        oflags = v["flags"]
        closed = oflags & C.ONESHOT_TX_DROPPED and not oflags & C.ONESHOT_SENT
        dropped = oflags & (C.ONESHOT_TX_DROPPED | C.ONESHOT_SENT)
        return (v["rx_task_id"], bool(closed), v.get("tx_task_id", 0), bool(dropped))

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

    def frame_tree(self, addr, depth, seen):
        """The await (sub)tree at frame `addr`: (Frame, the frame's sibling
        link), the link None when the frame could not be read (its links
        are then not to be trusted)."""
        if addr in seen:
            return _bad_frame(addr, "corrupt: await tree loops back to frame 0x%x"
                              % addr), None
        if depth >= MAX_DEPTH:
            return _bad_frame(addr, "corrupt: await chain deeper than %d frames, "
                                    "cut here" % MAX_DEPTH), None
        seen.add(addr)
        mem = self.mem
        blk = mem.blocks.get(addr >> BLOCK_SHIFT)
        off = addr & BLOCK_MASK
        try:
            if blk is not None and off <= self._frame_limit:
                site_p, child, sibling, resume_line = self._frame_struct.unpack_from(blk, off)
            else:
                site_p, child, sibling, resume_line = self.FRAME.unpack(mem, addr)
        except ReadError:
            return _bad_frame(addr, "corrupt: frame 0x%x unreadable" % addr), None
        head = self.head(site_p, resume_line)
        if head.__class__ is str:
            return _bad_frame(addr, "%s (site of frame 0x%x)" % (head, addr)), None
        if head.leaf:  # a leaf's own child link is not part of the tree
            try:
                wait = self.WAIT.unpack(mem, addr)
            except ReadError:
                return Frame(head, addr, None, [], "corrupt: wait record of leaf 0x%x "
                             "unreadable" % addr), sibling
            return Frame(head, addr, self.resource(wait), []), sibling
        children = []
        error = None
        while child:
            if len(children) >= MAX_CHILDREN:
                error = "corrupt: more than %d children, cut here" % MAX_CHILDREN
                break
            node, child = self.frame_tree(child, depth + 1, seen)
            children.append(node)
            if child is None:
                break  # an unreadable child: its sibling link is unknown
            if child in seen:
                error = "corrupt: sibling list loops back to frame 0x%x" % child
                break
        return Frame(head, addr, None, children, error), sibling

    # -- tasks -------------------------------------------------------------

    def task_list(self, rt_addr, head, errors, keep=None, single=False, exact=False):
        """Walk the owned list starting at `head`: check each task's magic
        and links, learn ids and names.  Returns [(id, address, error, state
        name, name, flags word)] of the tasks `keep(id, state, name)`
        accepts, sorted by id.  List problems go to `errors`.  With
        `single`, only the task at `head`.

        Loops are found with Brent's algorithm (no visited set to fill on
        the common, healthy path); when it finds one, the walk starts over
        with a visited set (`exact`) to say precisely where the list loops
        back."""
        mem = self.mem
        blocks_get = mem.blocks.get
        head_unpack = self.task_head.struct.unpack_from
        limit = fast_limit(self.task_head.struct) if self.task_head.reorder is None else -1
        state_names = self.state_names
        nstates = len(state_names)
        raw_names_get = self.raw_names.get
        names = self.names
        task_magic = C.TASK_MAGIC
        in_flux_bit = C.TF_IN_FLUX
        out = []
        append = out.append
        seen = set()
        tortoise, power, lam = 0, 1, 1
        prev = 0
        prev_in_flux = False
        addr = head
        count = 0
        while addr:
            if exact:
                if addr in seen:
                    errors.append("corrupt: owned list loops back to task 0x%x after "
                                  "%d tasks" % (addr, count))
                    break
                seen.add(addr)
            else:
                if addr == tortoise:
                    return self.task_list(rt_addr, head, errors, keep, single, True)
                if power == lam:
                    tortoise = addr
                    power <<= 1
                    lam = 0
                lam += 1
            if count >= MAX_TASKS:
                errors.append("corrupt: owned list longer than %d tasks, cut" % MAX_TASKS)
                break
            blk = blocks_get(addr >> BLOCK_SHIFT)
            off = addr & BLOCK_MASK
            try:
                if blk is not None and off <= limit:
                    magic, state, tid, runtime, onext, oprev, flags, raw_name = \
                        head_unpack(blk, off)
                else:
                    magic, state, tid, runtime, onext, oprev, flags, raw_name = \
                        self.task_head.unpack(mem, addr)
            except ReadError:
                errors.append("%s: owned list: task 0x%x unreadable (after %d tasks)"
                              % ("in-flux" if prev_in_flux else "corrupt", addr, count))
                break
            if magic != task_magic:
                what = ("was freed" if magic == C.DEAD_MAGIC
                        else "is not a task (magic 0x%08x)" % magic)
                errors.append("%s: owned list: 0x%x %s (after %d tasks)"
                              % ("in-flux" if prev_in_flux else "corrupt", addr, what,
                                 count))
                break
            count += 1
            error = None
            in_flux = flags & in_flux_bit
            if single:
                prev = oprev
                onext = 0
                rt_addr = runtime
            if oprev != prev:
                error = ("%s: owned_prev is 0x%x, expected 0x%x"
                         % ("in-flux" if in_flux else "corrupt", oprev, prev))
            elif runtime != rt_addr:
                error = ("corrupt: task says its runtime is 0x%x, but it is on the "
                         "list of runtime 0x%x" % (runtime, rt_addr))
            name = raw_names_get(raw_name)
            if name is None:
                name = self.raw_names[raw_name] = fixed_string(raw_name)
            names[tid] = name
            state_name = state_names[state] if state < nstates else "?%d" % state
            if keep is None or keep(tid, state_name, name):
                append((tid, addr, error, state_name, name, flags))
            prev = addr
            prev_in_flux = in_flux
            addr = onext
        out.sort(key=itemgetter(0))
        return out

    def task(self, addr, error, threads_by_task):
        """The Task at `addr` (already checked by task_list, whose list
        error for it is `error`)."""
        mem = self.mem
        blk = mem.blocks.get(addr >> BLOCK_SHIFT)
        off = addr & BLOCK_MASK
        if blk is not None and off <= self._task_limit:
            t = self.task_reader.struct.unpack_from(blk, off)
        else:
            t = self.task_reader.unpack(mem, addr)
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
            found = self.chain(root)
            if found is not None:
                chain, addrs, res = found
            else:
                tree = self.frame_tree(root, 0, set())[0]
        return new(Task, (tid, addr, name, state_name, self.flags(flags), parent_id, site,
                          polls, created, state_ns, pstart, pend, worker,
                          threads_by_task.get(addr), error, chain, addrs, res, tree))

    def tasks(self, items, threads_by_task):
        """Task records of `items` from task_list: the hot loop of a large
        walk.  A healthy task whose await tree is a chain of known shape
        costs one unpack per record (its id, state, flags and name come from
        the list walk); anything else goes through task()."""
        blocks_get = self.mem.blocks.get
        rest_unpack = self.task_rest.struct.unpack_from
        rest_limit = self._rest_limit
        frame_unpack = self._frame_struct.unpack_from
        frame_limit = self._frame_limit
        wait_unpack = self._wait_struct.unpack_from
        leaf_limit = self._leaf_limit
        spawns_get = self.spawns.get
        flags_get = self.flag_names.get
        chains_get = self.chains.get
        live_states = self._live_states
        resource = self.resource
        detail_only_get = self._detail_only.get
        lwp_get = threads_by_task.get
        slow = self.task
        last_shape = last_chain = None
        out = []
        append = out.append
        for tid, addr, error, state, name, flags in items:
            blk = blocks_get(addr >> BLOCK_SHIFT)
            off = addr & BLOCK_MASK
            if error is not None or blk is None or off > rest_limit:
                append(slow(addr, error, threads_by_task))
                continue
            (parent_id, spawn_p, root, polls, created, state_ns, pstart, pend,
             worker) = rest_unpack(blk, off)
            sp = spawns_get(spawn_p)
            fl = flags_get(flags)
            if (sp is None or sp[1] is not None or fl is None or not root or
                    state not in live_states):
                append(slow(addr, error, threads_by_task))
                continue
            # The await chain, as in chain().  Frames are mostly in the
            # task's own block: no lookup then.
            addrs = []
            shape = []
            a = root
            bno = addr >> BLOCK_SHIFT
            depth = 0
            whole = False  # the chain was read to its end
            while True:
                if a >> BLOCK_SHIFT != bno:
                    bno = a >> BLOCK_SHIFT
                    blk = blocks_get(bno)
                off = a & BLOCK_MASK
                if blk is None or off > frame_limit:
                    break
                site_p, child, sibling, resume_line = frame_unpack(blk, off)
                if sibling and depth:
                    break
                addrs.append(a)
                shape.append(site_p)
                shape.append(resume_line)
                depth += 1
                if not child:
                    whole = True
                    break
                if depth >= MAX_CHAIN:
                    break
                a = child
            if not whole:
                append(slow(addr, error, threads_by_task))
                continue
            if shape == last_shape:  # most tasks look like the one before
                chain = last_chain
            else:
                chain = chains_get(tuple(shape))
                if chain is None:
                    append(slow(addr, error, threads_by_task))
                    continue
                last_shape = shape
                last_chain = chain
            res = None
            if chain.leaf:
                off = a & BLOCK_MASK
                if blk is None or off > leaf_limit:
                    append(slow(addr, error, threads_by_task))
                    continue
                wait = wait_unpack(blk, off)
                kind = detail_only_get(wait[0])
                if kind is not None:
                    res = new(Resource, (kind, wait[2], wait[3], (wait[4],), None))
                else:
                    res = resource(wait)
            append(new(Task, (tid, addr, name, state, fl, parent_id, sp[0], polls, created,
                              state_ns, pstart, pend, worker, lwp_get(addr), None,
                              chain, tuple(addrs), res, None)))
        return out

    def chain(self, addr):
        """The usual await tree, a chain of frames each with one child, as
        (Chain, frame addresses, leaf Resource or None); the Chain (the
        chain's shape: site and resume line of each frame) is shared by
        every task whose chain has that shape.  None lets frame_tree do it
        (combinators, a frame out of the block cache, a chain longer than
        MAX_CHAIN frames, which is also how a loop shows here, and anything
        unreadable or damaged)."""
        blocks_get = self.mem.blocks.get
        unpack_from = self._frame_struct.unpack_from
        limit = self._frame_limit
        addrs = []
        shape = []
        while True:
            blk = blocks_get(addr >> BLOCK_SHIFT)
            off = addr & BLOCK_MASK
            if blk is None or off > limit:
                return None
            site_p, child, sibling, resume_line = unpack_from(blk, off)
            if sibling and addrs:
                return None  # a combinator's child: not a chain
            addrs.append(addr)
            shape.append(site_p)
            shape.append(resume_line)
            if not child:
                break
            if len(addrs) >= MAX_CHAIN:
                return None
            addr = child
        shape = tuple(shape)
        chain = self.chains.get(shape)
        if chain is None:
            chain = self._chain_of(shape)
            if chain is None:
                return None
            self.chains[shape] = chain
        res = None
        if chain.leaf:  # ends in a leaf: its wait record
            off = addr & BLOCK_MASK
            if off > self._leaf_limit:
                return None
            blk = blocks_get(addr >> BLOCK_SHIFT)
            res = self.resource(self._wait_struct.unpack_from(blk, off))
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

    def task_brief(self, addr):
        """(id, state, name) of the task at addr (None if unreadable)."""
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

    # -- runtimes ----------------------------------------------------------

    def runtimes(self, head, errors):
        """Runtime heads (no tasks yet), sorted by id: list of (dict, addr,
        owned_head, task_count, flags); the dict holds the trace-format
        fields except "tasks"."""
        out = []
        seen = set()
        addr = head
        while addr:
            if addr in seen:
                errors.append("corrupt: runtime list loops back to 0x%x" % addr)
                break
            if len(seen) >= MAX_RUNTIMES:
                errors.append("corrupt: more than %d runtimes, cut" % MAX_RUNTIMES)
                break
            seen.add(addr)
            try:
                (magic, flavor, rid, nxt, owned, count, workers, flags, now,
                 spawned) = self.RUNTIME.unpack(self.mem, addr)
            except ReadError:
                errors.append("corrupt: runtime 0x%x unreadable" % addr)
                break
            if magic != C.RUNTIME_MAGIC:
                errors.append("corrupt: 0x%x on the runtime list is not a runtime "
                              "(magic 0x%08x)" % (addr, magic))
                break
            self.runtime_ids[addr] = rid
            rt = {"id": rid, "address": "0x%x" % addr,
                  "flavor": self.enum(self.flavor_names, flavor),
                  "workers": workers, "now_ns": now, "spawned_total": spawned}
            out.append((rt, addr, owned, count, flags))
            addr = nxt
        out.sort(key=lambda r: r[0]["id"])
        return out

    # -- threads -----------------------------------------------------------

    def threads(self, head, errors):
        """Thread contexts as trace-format thread dicts sorted by tid, plus
        {task address: tid} of the tasks being polled now, plus the raw
        (tid, [(root frame address, task address)...], current task) of
        each, root frames innermost first."""
        out = []
        by_task = {}
        raw = []
        seen = set()
        prev = 0
        addr = head
        while addr:
            if addr in seen:
                errors.append("corrupt: thread list loops back to 0x%x" % addr)
                break
            if len(seen) >= MAX_THREADS:
                errors.append("corrupt: more than %d threads, cut" % MAX_THREADS)
                break
            seen.add(addr)
            try:
                (magic, role, tid, worker, active, current, runtime, nxt, cprev,
                 pstart) = self.CONTEXT.unpack(self.mem, addr)
            except ReadError:
                errors.append("corrupt: thread context 0x%x unreadable" % addr)
                break
            if magic != C.CONTEXT_MAGIC:
                errors.append("corrupt: 0x%x on the thread list is not a thread "
                              "context (magic 0x%08x)" % (addr, magic))
                break
            if cprev != prev:
                errors.append("corrupt: thread context 0x%x: prev is 0x%x, expected "
                              "0x%x" % (addr, cprev, prev))
            roots = []
            records = []  # (root frame address, task address), innermost first
            r = active
            rseen = set()
            while r and len(roots) < MAX_ROOTS:
                if r in rseen:
                    errors.append("corrupt: root frame chain of thread %d loops" % tid)
                    break
                rseen.add(r)
                try:
                    _, rparent, rtask = self.ROOT.unpack(self.mem, r)
                except ReadError:
                    errors.append("corrupt: root frame 0x%x of thread %d unreadable"
                                  % (r, tid))
                    break
                rid = self.task_id(rtask)
                if rid is not None:
                    roots.append(rid)
                records.append((r, rtask))
                r = rparent
            rt_id = self.runtime_ids.get(runtime) if runtime else None
            if runtime and rt_id is None:
                try:
                    rt_id = self.RUNTIME.unpack(self.mem, runtime)[2]
                except ReadError:
                    rt_id = None
            task_id = self.task_id(current) if current else None
            if current:
                by_task[current] = tid
            out.append({"tid": tid, "role": self.enum(self.role_names, role),
                        "worker": worker, "runtime": rt_id, "task": task_id,
                        "poll_start_ns": pstart if current else 0, "roots": roots})
            raw.append((tid, records, current))
            prev = addr
            addr = nxt
        out.sort(key=lambda t: t["tid"])
        return out, by_task, raw
