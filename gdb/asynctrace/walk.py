"""Walkers over the runtime's records: runtimes, their owned task lists, each
task's await tree and leaf resources, and the thread contexts.

The walk writes the trace document of docs/trace-format.md directly as JSON
text (the text commands and the deadlock analysis parse it back): with
100,000 tasks, building Python objects and encoding them would cost several
times the walk itself.  Every string that repeats (site names and files,
task names, spawn sites, whole frame heads) is encoded once and cached.

Every walk is bounded: Brent's loop detection on the owned task lists,
visited sets on the other lists and on await trees, depth and count caps,
prev/next consistency checks on the owned and thread lists.  A node
that cannot be read, or does not check out, carries "corrupt: ..." (or
"in-flux: ..." for a task flagged as being relinked) and the walk goes on
with what is readable.
"""

import json
from operator import itemgetter

from . import constants as C
from .memory import BLOCK_MASK, BLOCK_SHIFT, ReadError, fast_limit, fixed_string

MAX_RUNTIMES = 1024
MAX_TASKS = 1 << 24
MAX_DEPTH = 256
MAX_CHILDREN = 4096
MAX_THREADS = 4096
MAX_ROOTS = 64

_FINISHED = ("complete", "cancelled")  # a finished task's future is dropped
_q = json.dumps  # JSON string literal of a Python str


def _pct(text):
    """`text` made literal inside a %-format."""
    return text.replace("%", "%%")


def _bad_frame(addr, error):
    return ('{"function":null,"file":null,"line":null,"kind":null,"address":"0x%x",'
            '"resource":null,"children":[],"error":%s}' % (addr, _q(error)))


class _BadMagic(Exception):
    pass


# A task's fields up to "thread" (docs/trace-format.md order).
_TASK_JSON = ('{"id":%d,"address":"0x%x","name":%s,"state":%s,"flags":%s,'
              '"parent":%d,"spawn":%s,"polls":%d,"created_ns":%d,"state_ns":%d,'
              '"last_poll_start_ns":%d,"last_poll_end_ns":%d,"worker":%d')

# Resource JSON by kind: the fields of docs/trace-format.md, in its order.
_RES_HEAD = '{"kind":%s,"object":%s,"since_ns":%d'


class Walker(object):
    """Reads one consistent picture of every runtime through `mem`."""

    def __init__(self, abi, mem):
        self.abi = abi
        self.mem = mem
        self.sites = {}  # address -> (kind, function, file, line) or error str
        self.heads = {}  # (site, resume line) -> (frame JSON format, is leaf)
        self.chains = {}  # chain shape -> (format, ends in a leaf, task format)
        self.spawns = {}  # site address -> spawn JSON
        self.jnames = {}  # raw task name bytes -> (str, JSON)
        self.task_ids = {}  # task address -> id (cache of task_id())
        self.runtime_ids = {}  # runtime address -> id
        self.names = {}  # task id -> name, of every task met on a list
        r = abi.reader
        # What a task's JSON needs (the list walk has checked the rest).
        self.task_reader = r("task", [
            ("state", "u"), ("id", "u"), ("parent_id", "u"), ("spawn_site", "u"),
            ("root", "u"), ("poll_count", "u"), ("created_ns", "u"),
            ("state_ns", "u"), ("poll_start_ns", "u"), ("poll_end_ns", "u"),
            ("worker", "i"), ("flags", "u"), ("name", "s")])
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
        e = abi.enums
        self.state_names = e["task_state"]
        self.kind_names = e["frame_kind"]
        self.res_names = e["resource_kind"]
        self.flavor_names = e["flavor"]
        self.role_names = e["thread_role"]
        self.jstates = [_q(n) for n in self.state_names]
        self.jres = [_q(n) for n in self.res_names]
        # States whose future is alive (its await tree is walked).
        self._live_states = frozenset(i for i, n in enumerate(self.state_names)
                                      if n not in _FINISHED)
        self.jflags = {}

    def enum(self, names, value):
        if 0 <= value < len(names):
            return names[value]
        return "?%d" % value

    # -- sites -------------------------------------------------------------

    def site(self, addr):
        """(kind name, function, file, line) of the site record at addr, or
        an error string."""
        hit = self.sites.get(addr)
        if hit is not None:
            return hit
        try:
            magic, kind, fn_p, file_p, line = self.SITE.unpack(self.mem, addr)
            if magic != C.SITE_MAGIC:
                hit = "corrupt: site 0x%x has bad magic 0x%08x" % (addr, magic)
            else:
                hit = (self.enum(self.kind_names, kind), self.mem.cstring(fn_p),
                       self.mem.cstring(file_p, 1024), line)
        except ReadError:
            hit = "corrupt: site 0x%x unreadable" % addr
        self.sites[addr] = hit
        return hit

    def _head(self, site_p, resume_line, addr):
        """Frame JSON format for (site, resume line): a string with one %x
        (the frame's address) that ends just before the resource; or an
        error string in a 1-tuple."""
        site = self.site(site_p)
        if site.__class__ is str:
            return ("%s (site of frame 0x%x)" % (site, addr),)
        kind, function, file, line = site
        fmt = ('{"function":%s,"file":%s,"line":%d,"kind":%s,"address":"0x%%x",'
               '"resource":' % (_pct(_q(function)), _pct(_q(file)), resume_line or line,
                                _pct(_q(kind))))
        return (fmt, kind == "leaf")

    def spawn_json(self, site_p):
        hit = self.spawns.get(site_p)
        if hit is None:
            s = self.site(site_p) if site_p else None
            if s is None:
                hit = ("null", None)
            elif s.__class__ is str:
                hit = ("null", s)
            else:
                hit = ('{"kind":%s,"function":%s,"file":%s,"line":%d}'
                       % (_q(s[0]), _q(s[1]), _q(s[2]), s[3]), None)
            self.spawns[site_p] = hit
        return hit

    # -- resources ---------------------------------------------------------

    def _reader(self, record, spec):
        rd = self._resource_readers.get(record)
        if rd is None:
            rd = self.abi.reader(record, spec)
            self._resource_readers[record] = rd
        return rd

    def resource_json(self, wait):
        """JSON of a leaf's wait record (kind, object, since, details)."""
        kind_v, wflags, obj, since, d0, d1, d2 = wait
        if kind_v < len(self.res_names):
            kind, jkind = self.res_names[kind_v], self.jres[kind_v]
        else:
            kind = "?%d" % kind_v
            jkind = _q(kind)
        head = _RES_HEAD % (jkind, '"0x%x"' % obj if obj else "null", since)
        mem = self.mem
        try:
            if kind == "sleep":
                return head + ',"deadline_ns":%d}' % d0
            if kind == "mutex":
                magic, owner_id, waiters = self._reader("mutex", [
                    ("magic", "u"), ("owner_id", "u"), ("waiters", "u")]).unpack(mem, obj)
                self._check(magic, C.MUTEX_MAGIC, "mutex", obj)
                return head + ',"owner":%d,"waiters":%d}' % (owner_id, waiters)
            if kind == "semaphore":
                magic, waiters, permits = self._reader("semaphore", [
                    ("magic", "u"), ("waiters", "u"), ("permits", "u")]).unpack(mem, obj)
                self._check(magic, C.SEM_MAGIC, "semaphore", obj)
                return head + ',"wanted":%d,"permits":%d,"waiters":%d}' % (
                    d0, permits, waiters)
            if kind == "notify":
                magic, waiters = self._reader("notify", [
                    ("magic", "u"), ("waiters", "u")]).unpack(mem, obj)
                self._check(magic, C.NOTIFY_MAGIC, "notify", obj)
                return head + ',"waiters":%d}' % waiters
            if kind in ("channel-send", "channel-recv"):
                magic, cflags, cap, length, senders, rx = self._reader("chan", [
                    ("magic", "u"), ("flags", "u"), ("capacity", "u"), ("len", "u"),
                    ("senders", "u"), ("rx_task_id", "u")]).unpack(mem, obj)
                self._check(magic, C.CHAN_MAGIC, "channel", obj)
                unbounded = cflags & C.CHAN_UNBOUNDED or cap == 0
                closed = cflags & (C.CHAN_CLOSED | C.CHAN_RX_DROPPED)
                return head + (',"capacity":%s,"len":%d,"senders":%d,"receiver_task":%d,'
                               '"closed":%s}' % ("null" if unbounded else cap, length,
                                                 senders, rx,
                                                 "true" if closed else "false"))
            if kind == "oneshot":
                magic, oflags, rx = self._reader("oneshot", [
                    ("magic", "u"), ("flags", "u"), ("rx_task_id", "u")]).unpack(mem, obj)
                self._check(magic, C.ONESHOT_MAGIC, "oneshot", obj)
                closed = oflags & C.ONESHOT_TX_DROPPED and not oflags & C.ONESHOT_SENT
                return head + ',"receiver_task":%d,"closed":%s}' % (
                    rx, "true" if closed else "false")
            if kind == "join":
                return head + ',"task":%d}' % d0
            if kind in ("read", "write"):
                return head + ',"fd":%d}' % d0
            if kind == "blocking":
                return head + ',"job":%d}' % d0
            return head + "}"
        except ReadError:
            return head + ',"error":%s}' % _q("corrupt: %s record 0x%x unreadable"
                                              % (kind, obj))
        except _BadMagic as e:
            return head + ',"error":%s}' % _q(str(e))

    @staticmethod
    def _check(magic, want, what, obj):
        if magic != want:
            if magic == C.DEAD_MAGIC:
                raise _BadMagic("corrupt: %s 0x%x was freed" % (what, obj))
            raise _BadMagic("corrupt: %s 0x%x has bad magic 0x%08x" % (what, obj, magic))

    # -- await trees -------------------------------------------------------

    def frame_json(self, addr, depth, seen, out):
        """Append the JSON of the await (sub)tree at frame `addr` to `out`.
        Returns the frame's sibling link, or None when the frame could not
        be read (its links are then not to be trusted)."""
        if addr in seen:
            out.append(_bad_frame(addr, "corrupt: await tree loops back to frame 0x%x"
                                  % addr))
            return None
        if depth >= MAX_DEPTH:
            out.append(_bad_frame(addr, "corrupt: await chain deeper than %d frames, "
                                        "cut here" % MAX_DEPTH))
            return None
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
            out.append(_bad_frame(addr, "corrupt: frame 0x%x unreadable" % addr))
            return None
        key = (site_p, resume_line)
        head = self.heads.get(key)
        if head is None:
            head = self._head(site_p, resume_line, addr)
            if len(head) == 2:
                self.heads[key] = head
        if len(head) == 1:
            out.append(_bad_frame(addr, head[0]))
            return None
        fmt, is_leaf = head
        out.append(fmt % addr)
        if is_leaf:  # a leaf's own child link is not part of the tree
            try:
                wait = self.WAIT.unpack(mem, addr)
            except ReadError:
                out.append('null,"children":[],"error":%s}' % _q(
                    "corrupt: wait record of leaf 0x%x unreadable" % addr))
                return sibling
            out.append(self.resource_json(wait))
            out.append(',"children":[]}')
            return sibling
        out.append('null,"children":[')
        error = None
        n = 0
        while child:
            if n >= MAX_CHILDREN:
                error = "corrupt: more than %d children, cut here" % MAX_CHILDREN
                break
            if n:
                out.append(",")
            child = self.frame_json(child, depth + 1, seen, out)
            n += 1
            if child is None:
                break  # an unreadable child: its sibling link is unknown
            if child in seen:
                error = "corrupt: sibling list loops back to frame 0x%x" % child
                break
        if error:
            out.append('],"error":%s}' % _q(error))
        else:
            out.append("]}")
        return sibling

    # -- tasks -------------------------------------------------------------

    def task_list(self, rt_addr, head, errors, keep=None, single=False, exact=False):
        """Walk the owned list starting at `head`: check each task's magic
        and links, learn ids and names.  Returns [(id, address, error, state
        name)] of the tasks `keep(id, state, name)` accepts, sorted by id.  List
        problems go to `errors`.  With `single`, only the task at `head`.

        Loops are found with Brent's algorithm (no visited set to fill on
        the common, healthy path); when it finds one, the walk starts over
        with a visited set (`exact`) to say precisely where the list loops
        back."""
        mem = self.mem
        blocks = mem.blocks
        HEAD = self.task_head.struct
        limit = fast_limit(HEAD) if self.task_head.reorder is None else -1
        state_names = self.state_names
        nstates = len(state_names)
        jnames = self.jnames
        names = self.names
        out = []
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
            blk = blocks.get(addr >> BLOCK_SHIFT)
            off = addr & BLOCK_MASK
            try:
                if blk is not None and off <= limit:
                    magic, state, tid, runtime, onext, oprev, flags, raw_name = \
                        HEAD.unpack_from(blk, off)
                else:
                    magic, state, tid, runtime, onext, oprev, flags, raw_name = \
                        self.task_head.unpack(mem, addr)
            except ReadError:
                errors.append("%s: owned list: task 0x%x unreadable (after %d tasks)"
                              % ("in-flux" if prev_in_flux else "corrupt", addr, count))
                break
            if magic != C.TASK_MAGIC:
                what = ("was freed" if magic == C.DEAD_MAGIC
                        else "is not a task (magic 0x%08x)" % magic)
                errors.append("%s: owned list: 0x%x %s (after %d tasks)"
                              % ("in-flux" if prev_in_flux else "corrupt", addr, what,
                                 count))
                break
            count += 1
            error = None
            in_flux = flags & C.TF_IN_FLUX
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
            jn = jnames.get(raw_name)
            if jn is None:
                name = fixed_string(raw_name)
                jn = jnames[raw_name] = (name, _q(name))
            names[tid] = jn[0]
            state_name = state_names[state] if state < nstates else "?%d" % state
            if keep is None or keep(tid, state_name, jn[0]):
                out.append((tid, addr, error, state_name))
            prev = addr
            prev_in_flux = in_flux
            addr = onext
        out.sort(key=itemgetter(0))
        return out

    def task_json(self, addr, error, threads_by_task):
        """The JSON text of the task at `addr` (already checked by
        task_list, whose list error for it is `error`)."""
        mem = self.mem
        TASK = self.task_reader.struct
        blk = mem.blocks.get(addr >> BLOCK_SHIFT)
        off = addr & BLOCK_MASK
        if blk is not None and off <= self._task_limit:
            t = TASK.unpack_from(blk, off)
        else:
            t = self.task_reader.unpack(mem, addr)
        (state, tid, parent_id, spawn_p, root, polls, created, state_ns, pstart, pend,
         worker, flags, raw_name) = t
        sp = self.spawns.get(spawn_p)
        if sp is None:
            sp = self.spawn_json(spawn_p)
        if sp[1] is not None and error is None:
            error = sp[1]
        jf = self.jflags.get(flags)
        if jf is None:
            jf = self.jflags[flags] = json.dumps(
                [n for b, n in C.TASK_FLAGS if flags & b], separators=(",", ":"))
        jstates = self.jstates
        lwp = threads_by_task.get(addr)
        text = (_TASK_JSON + ',"thread":%s') % (
            tid, addr, self.jnames[raw_name][1],
            jstates[state] if state < len(jstates) else _q("?%d" % state),
            jf, parent_id, sp[0], polls, created, state_ns, pstart, pend, worker,
            "null" if lwp is None else "%d" % lwp)
        if error:
            text += ',"error":%s' % _q(error)
        if not root or state < len(jstates) and self.state_names[state] in _FINISHED:
            return text + ',"await":null}'
        chain = self.chain_json(root)
        if chain is not None:
            return text + ',"await":' + chain + "}"
        parts = [text, ',"await":']
        self.frame_json(root, 0, set(), parts)
        parts.append("}")
        return "".join(parts)

    def task_texts(self, items, threads_by_task):
        """JSON texts of the tasks `items` [(id, address, list error, state)]
        from task_list: the hot loop of a large walk.  A healthy task whose await
        tree is a chain of known shape costs one unpack per record and one
        cached format for the whole task; anything else goes through
        task_json."""
        blocks_get = self.mem.blocks.get
        task_unpack = self.task_reader.struct.unpack_from
        task_limit = self._task_limit
        frame_unpack = self._frame_struct.unpack_from
        frame_limit = self._frame_limit
        wait_unpack = self._wait_struct.unpack_from
        leaf_limit = self._leaf_limit
        spawns_get = self.spawns.get
        jflags_get = self.jflags.get
        jnames_get = self.jnames.get
        chains_get = self.chains.get
        jstates = self.jstates
        live_states = self._live_states
        resource_json = self.resource_json
        lwp_get = threads_by_task.get
        slow = self.task_json
        out = []
        append = out.append
        for _, addr, error, _ in items:
            blk = blocks_get(addr >> BLOCK_SHIFT)
            off = addr & BLOCK_MASK
            if error is not None or blk is None or off > task_limit:
                append(slow(addr, error, threads_by_task))
                continue
            (state, tid, parent_id, spawn_p, root, polls, created, state_ns, pstart,
             pend, worker, flags, raw_name) = task_unpack(blk, off)
            sp = spawns_get(spawn_p)
            jf = jflags_get(flags)
            jn = jnames_get(raw_name)
            if (sp is None or sp[1] is not None or jf is None or jn is None or
                    not root or state not in live_states):
                append(slow(addr, error, threads_by_task))
                continue
            # The await chain, as in chain_json.
            addrs = [tid, addr, jn[1], jstates[state], jf, parent_id, sp[0], polls,
                     created, state_ns, pstart, pend, worker]
            lwp = lwp_get(addr)
            addrs.append("null" if lwp is None else str(lwp))
            shape = []
            a = root
            depth = 0
            whole = False  # the chain was read to its end
            while True:
                blk = blocks_get(a >> BLOCK_SHIFT)
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
                if depth >= 64:
                    break
                a = child
            fmt = chains_get(tuple(shape)) if whole else None
            if fmt is None:
                append(slow(addr, error, threads_by_task))
                continue
            if fmt[1]:
                blk = blocks_get(a >> BLOCK_SHIFT)
                off = a & BLOCK_MASK
                if blk is None or off > leaf_limit:
                    append(slow(addr, error, threads_by_task))
                    continue
                addrs.append(resource_json(wait_unpack(blk, off)))
            append(fmt[2] % tuple(addrs))
        return out

    def chain_json(self, addr):
        """Fast path for the usual await tree, a chain of frames each with one
        child: the chain's shape (site and resume line of each frame) picks
        one cached format for the whole chain.  Returns None to let
        frame_json do it (combinators, a frame out of the block cache, a
        chain longer than 64 frames, which is also how a loop shows here,
        and anything unreadable or damaged)."""
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
            if len(addrs) >= 64:
                return None
            addr = child
        shape = tuple(shape)
        fmt = self.chains.get(shape)
        if fmt is None:
            fmt = self._chain_format(shape, addrs)
            if fmt is None:
                return None
            self.chains[shape] = fmt
        if fmt[1]:  # ends in a leaf: its wait record
            off = addr & BLOCK_MASK
            blk = blocks_get(addr >> BLOCK_SHIFT)
            if off > self._leaf_limit:
                return None
            addrs.append(self.resource_json(self._wait_struct.unpack_from(blk, off)))
        return fmt[0] % tuple(addrs)

    def _chain_format(self, shape, addrs):
        """(format, ends in a leaf) for a chain of this shape, or None when a
        frame of it is not a plain chain member (bad site, or a leaf before
        the end: its child link is not part of the tree)."""
        parts = []
        n = len(addrs)
        leaf = False
        for i in range(n):
            key = (shape[2 * i], shape[2 * i + 1])
            head = self.heads.get(key)
            if head is None:
                head = self._head(key[0], key[1], addrs[i])
                if len(head) != 2:
                    return None
                self.heads[key] = head
            if head[1] and i != n - 1:
                return None
            leaf = head[1]
            parts.append(head[0])
            if i < n - 1:
                parts.append('null,"children":[')
        parts.append('%s,"children":[]}' if leaf else 'null,"children":[]}')
        parts.append("]}" * (n - 1))
        chain = "".join(parts)
        # The same with the task's own fields first (for task_texts).
        return chain, leaf, _TASK_JSON + ',"thread":%s,"await":' + chain + "}"

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
