"""The list walks: the descriptor's runtime list and thread-context list, and
each runtime's owned task list.

Every list goes through one loop, `linked()`: a bounded walk that stops at
an unreadable node or a node without the list's magic, says where a list
loops back (Brent's algorithm on the hot owned lists, which keeps no
visited set on the healthy path; a visited set on the short ones) and
checks each node's prev link against the node before it.  What a node is
(its magic, its fields) is the caller's business, given as a Reader.  An
owned list (100,000 tasks and more) is first walked by a loop that takes
only plainly healthy nodes (_owned_healthy, or its C form in _speedups.c):
at the first node that is not, linked() walks the list again and says
what is wrong.

ListWalker is a base class of walk.Walker: it uses the walker's readers,
enum names and caches.
"""

from operator import itemgetter

from . import constants as C
from . import accel
from .memory import BLOCK_MASK, BLOCK_SHIFT, ReadError, fast_limit, fixed_string

MAX_RUNTIMES = 1024
MAX_TASKS = 1 << 24
MAX_THREADS = 4096
MAX_ROOTS = 64

# The task fields the owned-list walk reads, in _speedups.owned's order.
OWNED_FIELDS = (("magic", "u"), ("state", "u"), ("id", "u"), ("runtime", "u"),
                 ("owned_next", "u"), ("owned_prev", "u"), ("flags", "u"), ("name", "s"))
_TASK_FLAG_BITS = 0
for _bit, _ in C.TASK_FLAGS:
    _TASK_FLAG_BITS |= _bit


class ListSpec(object):
    """How a list's problems read: `loop`, `unreadable`, `not_a` and `long`
    are %-formats over addr, count, magic and limit."""

    def __init__(self, what, loop, unreadable, not_a, too_long):
        self.what = what
        self.loop = loop
        self.unreadable = unreadable
        self.not_a = not_a
        self.too_long = too_long


RUNTIMES = ListSpec(
    "runtime", "corrupt: runtime list loops back to 0x%(addr)x",
    "corrupt: runtime 0x%(addr)x unreadable",
    "corrupt: 0x%(addr)x on the runtime list %(not_a)s",
    "corrupt: more than %(limit)d runtimes, cut")
THREADS = ListSpec(
    "thread context", "corrupt: thread list loops back to 0x%(addr)x",
    "corrupt: thread context 0x%(addr)x unreadable",
    "corrupt: 0x%(addr)x on the thread list %(not_a)s",
    "corrupt: more than %(limit)d threads, cut")
OWNED = ListSpec(
    "task", "corrupt: owned list loops back to task 0x%(addr)x after %(count)d tasks",
    "corrupt: owned list: task 0x%(addr)x unreadable (after %(count)d tasks)",
    "corrupt: owned list: 0x%(addr)x %(not_a)s (after %(count)d tasks)",
    "corrupt: owned list longer than %(limit)d tasks, cut")


class Node(object):
    """What linked() yields for each node: its address and fields, and a
    prev-link problem (or None).  One Node is reused for the whole walk."""
    __slots__ = ("addr", "fields", "link_error")


class LoopFound(Exception):
    """Brent's algorithm saw a loop: walk again with a visited set."""


def linked(mem, head, reader, magic, spec, limit, errors, next_index, prev_index=None,
           brent=False):
    """Walk a NULL-terminated list of records read by `reader` (field 0 is
    the magic, `next_index` the next link, `prev_index` the prev link or
    None).  Yields a Node per record that checks out; list problems (a
    loop, an unreadable node, a node that is not a `spec.what`, too many
    nodes) go to `errors` and end the walk.  With `brent`, no visited set
    is kept: a loop raises LoopFound (nodes may have been yielded twice;
    the caller starts over without `brent`)."""
    node = Node()
    seen = set()
    tortoise, power, lam = 0, 1, 1
    prev = 0
    count = 0
    addr = head
    unpack = reader.unpack
    while addr:
        if brent:
            if addr == tortoise:
                raise LoopFound()
            if power == lam:
                tortoise = addr
                power <<= 1
                lam = 0
            lam += 1
        elif addr in seen:
            errors.append(spec.loop % {"addr": addr, "count": count})
            return
        else:
            seen.add(addr)
        if count >= limit:
            errors.append(spec.too_long % {"limit": limit})
            return
        try:
            fields = unpack(mem, addr)
        except ReadError:
            errors.append(spec.unreadable % {"addr": addr, "count": count})
            return
        if fields[0] != magic:
            errors.append(spec.not_a % {"addr": addr, "count": count,
                                        "not_a": not_a(fields[0], spec.what)})
            return
        count += 1
        node.addr = addr
        node.fields = fields
        node.link_error = None
        if prev_index is not None and fields[prev_index] != prev:
            node.link_error = (fields[prev_index], prev)
        yield node
        prev = addr
        addr = fields[next_index]


def not_a(magic, what):
    """Why a record whose magic is `magic` is not a `what`."""
    if magic == C.DEAD_MAGIC:
        return "was freed"
    return "is not a %s (magic 0x%08x)" % (what, magic)


class ListWalker(object):
    """The runtime, thread and owned-task list walks of a Walker."""

    # -- runtimes ----------------------------------------------------------

    def runtimes(self, head, errors):
        """Runtime heads (no tasks yet), sorted by id: list of (dict, addr,
        owned_head, task_count, flags); the dict holds the trace-format
        fields except "tasks"."""
        out = []
        seen_ids = {}
        for node in linked(self.mem, head, self.RUNTIME, C.RUNTIME_MAGIC, RUNTIMES,
                           MAX_RUNTIMES, errors, next_index=3):
            (_, flavor, rid, _, owned, count, workers, flags, now,
             spawned) = node.fields
            addr = node.addr
            if rid == 0 or rid in seen_ids:
                errors.append("corrupt: runtime 0x%x has id %d, which %s" % (
                    addr, rid, "no runtime can have" if rid == 0 else
                    "runtime 0x%x has too" % seen_ids[rid]))
            seen_ids[rid] = addr
            self.runtime_ids[addr] = rid
            rt = {"id": rid, "address": "0x%x" % addr,
                  "flavor": self.enum(self.flavor_names, flavor),
                  "workers": workers, "now_ns": now, "spawned_total": spawned}
            out.append((rt, addr, owned, count, flags))
        out.sort(key=lambda r: r[0]["id"])
        return out

    def runtime_id(self, addr):
        """The id of the runtime at addr, or an error string."""
        rid = self.runtime_ids.get(addr)
        if rid is not None:
            return rid
        try:
            fields = self.RUNTIME.unpack(self.mem, addr)
        except ReadError:
            return "runtime 0x%x unreadable" % addr
        if fields[0] != C.RUNTIME_MAGIC:
            return "0x%x %s" % (addr, not_a(fields[0], "runtime"))
        return fields[2]

    # -- threads -----------------------------------------------------------

    def threads(self, head, errors):
        """Thread contexts as trace-format thread dicts sorted by tid, plus
        {task address: tid} of the tasks being polled now, plus the raw
        (tid, [(root frame address, task address)...], current task) of
        each, root frames innermost first."""
        out = []
        by_task = {}
        raw = []
        for node in linked(self.mem, head, self.CONTEXT, C.CONTEXT_MAGIC, THREADS,
                           MAX_THREADS, errors, next_index=7, prev_index=8):
            _, role, tid, worker, active, current, runtime, _, _, pstart = node.fields
            if node.link_error:
                errors.append("corrupt: thread context 0x%x: prev is 0x%x, expected 0x%x"
                              % ((node.addr,) + node.link_error))
            roots, records = self._root_frames(active, tid, errors)
            rt_id = None
            if runtime:
                rt_id = self.runtime_id(runtime)
                if rt_id.__class__ is str:
                    errors.append("corrupt: thread %d: its runtime pointer: %s"
                                  % (tid, rt_id))
                    rt_id = None
            task_id = None
            if current:
                task_id = self.task_id(current)
                if task_id is None:
                    errors.append("corrupt: thread %d polls 0x%x, which is not a task"
                                  % (tid, current))
                else:
                    by_task[current] = tid
            out.append({"tid": tid, "role": self.enum(self.role_names, role),
                        "worker": worker, "runtime": rt_id, "task": task_id,
                        "poll_start_ns": pstart if current else 0, "roots": roots})
            raw.append((tid, records, current))
        out.sort(key=lambda t: t["tid"])
        return out, by_task, raw

    def _root_frames(self, r, tid, errors):
        """The root frame chain of thread `tid` from its innermost frame
        `r`: (ids of the tasks, [(root frame, task address)])."""
        roots = []
        records = []  # (root frame address, task address), innermost first
        seen = set()
        while r:
            if r in seen:
                errors.append("corrupt: root frame chain of thread %d loops" % tid)
                break
            if len(records) >= MAX_ROOTS:
                errors.append("corrupt: root frame chain of thread %d longer than %d, "
                              "cut" % (tid, MAX_ROOTS))
                break
            seen.add(r)
            try:
                _, rparent, rtask = self.ROOT.unpack(self.mem, r)
            except ReadError:
                errors.append("corrupt: root frame 0x%x of thread %d unreadable"
                              % (r, tid))
                break
            rid = self.task_id(rtask)
            if rid is None:
                errors.append("corrupt: root frame 0x%x of thread %d: 0x%x is not a "
                              "task" % (r, tid, rtask))
                break
            roots.append(rid)
            records.append((r, rtask))
            r = rparent
        return roots, records

    # -- owned task lists ----------------------------------------------------

    def task_list(self, rt_addr, head, errors, keep=None, single=False):
        """Walk the owned list starting at `head`: check each task's magic,
        links and fields, learn ids and names.  Returns ([(id, address,
        error, state name, name, flags word)] of the tasks `keep(id, state,
        name)` accepts, sorted by id; how many tasks the list has).  List
        problems go to `errors`.  With `single`, only the task at `head`."""
        if not single and self.task_head.reorder is None:
            if accel.speedups is not None:
                found = self._owned_c(rt_addr, head, keep)
            else:
                found = self._owned_healthy(rt_addr, head, keep)
            if found is not None:
                return found
        try:
            return self._owned(rt_addr, head, errors, keep, single, True)
        except LoopFound:
            return self._owned(rt_addr, head, errors, keep, single, False)

    def _owned_c(self, rt_addr, head, keep):
        """_owned_healthy() in C (accel.py): the same items, or None."""
        mem = self.mem
        layout = self.__dict__.get("_owned_layout")
        if layout is None:
            layout = self._owned_layout = self.abi.layout("task", OWNED_FIELDS)
        found = accel.speedups.owned(mem.blocks, mem._block, mem.read, layout, head, rt_addr,
                               C.TASK_MAGIC, _TASK_FLAG_BITS, self.next_task_id,
                               self.state_names, self.names, self.raw_names,
                               self.task_addrs, fixed_string, keep, MAX_TASKS)
        if found is None:
            return None
        return self._sorted(found[0]), found[1]

    def _owned_healthy(self, rt_addr, head, keep):
        """task_list() of a list in which nothing is wrong, in one loop over
        cached blocks (no generator, no per-node calls); None as soon as a
        node is not plainly healthy (outside the block cache, a loop, a bad
        magic, link, runtime or field): _owned() then walks it again and
        says what is wrong.  What this learns (ids, names) is what _owned()
        learns of the same nodes."""
        mem = self.mem
        blocks_get = mem.blocks.get
        load = mem._block
        st = self.task_head.struct
        unpack = st.unpack_from
        limit = fast_limit(st)
        names = self.names
        raw_names = self.raw_names
        task_addrs = self.task_addrs
        state_names = self.state_names
        nstates = len(state_names)
        next_id = self.next_task_id or (1 << 64)
        magic = C.TASK_MAGIC
        bad_flags = ~_TASK_FLAG_BITS
        out = []
        append = out.append
        tortoise, power, lam = 0, 1, 1
        prev = 0
        count = 0
        addr = head
        while addr:
            if addr == tortoise or count >= MAX_TASKS or addr < 0:
                return None
            if power == lam:
                tortoise = addr
                power <<= 1
                lam = 0
            lam += 1
            off = addr & BLOCK_MASK
            blk = blocks_get(addr >> BLOCK_SHIFT)
            if blk is None:
                blk = load(addr >> BLOCK_SHIFT)
            if blk is not None and off <= limit:
                m, state, tid, runtime, nxt, prv, flags, raw_name = unpack(blk, off)
            else:  # across two blocks, or in a partly readable one
                try:
                    m, state, tid, runtime, nxt, prv, flags, raw_name = \
                        mem.unpack(st, addr)
                except ReadError:
                    return None
            if (m != magic or prv != prev or runtime != rt_addr or
                    task_addrs.setdefault(tid, addr) != addr or state >= nstates or
                    not 0 < tid < next_id or flags & bad_flags or
                    b"\0" not in raw_name):
                return None
            count += 1
            name = raw_names.get(raw_name)
            if name is None:
                name = raw_names[raw_name] = fixed_string(raw_name)
            names[tid] = name
            state_name = state_names[state]
            if keep is None or keep(tid, state_name, name):
                append((tid, addr, None, state_name, name, flags))
            prev = addr
            addr = nxt
        return self._sorted(out), count

    def _owned(self, rt_addr, head, errors, keep, single, brent):
        out = []
        append = out.append
        names = self.names
        raw_names = self.raw_names
        task_addrs = self.task_addrs
        check = self._task_fields
        state_names = self.state_names
        nstates = len(state_names)
        next_id = self.next_task_id or (1 << 64)
        in_flux_bit = C.TF_IN_FLUX
        walked = 0
        in_flux = 0
        list_errors = []
        for node in linked(self.mem, head, self.task_head, C.TASK_MAGIC, OWNED, MAX_TASKS,
                           list_errors, next_index=4, prev_index=5, brent=brent):
            _, state, tid, runtime, _, _, flags, raw_name = node.fields
            addr = node.addr
            walked += 1
            in_flux = flags & in_flux_bit
            # The usual task, checked inline: a new id handed out, a known
            # state and flags (_task_fields says what is wrong otherwise).
            if (task_addrs.setdefault(tid, addr) == addr and state < nstates and
                    0 < tid < next_id and not flags & ~_TASK_FLAG_BITS and
                    b"\0" in raw_name):
                error = None
            else:
                error = check(addr, state, tid, flags, raw_name, nstates)
            if single:
                pass
            elif node.link_error is not None:
                error = "%s: owned_prev is 0x%x, expected 0x%x" % (
                    ("in-flux" if in_flux else "corrupt",) + node.link_error)
            elif runtime != rt_addr:
                error = ("corrupt: task says its runtime is 0x%x, but it is on the "
                         "list of runtime 0x%x" % (runtime, rt_addr))
            name = raw_names.get(raw_name)
            if name is None:
                name = raw_names[raw_name] = fixed_string(raw_name)
            names[tid] = name
            state_name = state_names[state] if state < nstates else "?%d" % state
            if keep is None or keep(tid, state_name, name):
                append((tid, addr, error, state_name, name, flags))
            if single:
                break
        out = self._sorted(out)
        for e in list_errors:  # after a task being relinked: a torn read
            if in_flux and e.startswith("corrupt: "):
                e = "in-flux: " + e[len("corrupt: "):]
            errors.append(e)
        return out, walked

    def _sorted(self, out):
        """The items of an owned list by id; the first of two tasks with one
        id is marked suspect too."""
        if self.dup_ids:
            out = [self._dup(item) for item in out]
        out.sort(key=itemgetter(0))
        return out

    def _dup(self, item):
        tid, addr, error = item[:3]
        other = self.dup_ids.get(tid)
        if error is not None or other is None or other == addr:
            return item
        return (tid, addr, "corrupt: id %d is also the id of task 0x%x" % (tid, other)) \
            + item[3:]

    def _task_fields(self, addr, state, tid, flags, raw_name, nstates):
        """The problem of a task's own fields (id, state, flags, name), or
        None.  Ids are learnt here (task_addrs) to find duplicates."""
        seen = self.task_addrs.get(tid)
        if seen is None:
            self.task_addrs[tid] = addr
        elif seen != addr:
            self.dup_ids[tid] = addr
            return "corrupt: id %d is also the id of task 0x%x" % (tid, seen)
        if state >= nstates:
            return "corrupt: state %d is not a task state" % state
        if tid == 0 or (self.next_task_id and tid >= self.next_task_id):
            return ("corrupt: id %d was never handed out (ids so far are below %d)"
                    % (tid, self.next_task_id))
        if flags & ~_TASK_FLAG_BITS:
            return "corrupt: flags 0x%x has bits no task flag uses" % flags
        if b"\0" not in raw_name:
            return "corrupt: the name is not NUL-terminated"
        return None
