"""The records of one reading: what walk.py builds from the program's memory,
and what the JSON writer (jsonout.py), the text output (text.py) and the
deadlock analysis (deadlock.py) read.  One walk, several formatters.

Tasks and resources, of which a walk makes one per task, are named tuples
(made with `new(Task, (...))` in hot loops: no Python-level constructor,
and the JSON writer unpacks them in one step); the rest are small
__slots__ objects.  What repeats from task to task is built once per
reading and shared: a site, the head of a frame (its site and resume line),
the shape of a whole await chain.  A task whose await
tree is a plain chain of a known shape (the common case) keeps only its
chain, the frame addresses and the leaf's resource; its Frame objects are
made on demand (Task.await_tree).  Field meanings and names are those of
docs/trace-format.md.
"""

from collections import namedtuple

new = tuple.__new__  # new(Task, (field, ...)): a record without __new__'s cost

# A resource's fields after kind, object and since_ns, in trace-format
# order, by resource kind.
RESOURCE_FIELDS = {
    "sleep": ("deadline_ns",),
    # lock_*: where the holder took the lock (None, None, 0 when unknown).
    "mutex": ("owner", "waiters", "lock_function", "lock_file", "lock_line"),
    # holders: ((task id, permits), ...) by task id; capacity: the permits
    # the semaphore was created with.
    "semaphore": ("wanted", "permits", "waiters", "capacity", "holders",
                  "holders_truncated"),
    "notify": ("waiters", "last_notifier", "notified"),
    # sender_tasks: ids of the tasks holding sender handles, by id.
    "channel-send": ("capacity", "len", "senders", "receiver_task", "closed",
                     "sender_tasks", "sender_tasks_truncated"),
    "channel-recv": ("capacity", "len", "senders", "receiver_task", "closed",
                     "sender_tasks", "sender_tasks_truncated"),
    "oneshot": ("receiver_task", "closed", "sender_task", "sender_dropped"),
    "join": ("task",),
    "read": ("fd",),
    "write": ("fd",),
    # thread: LWP of the pool thread running the job, 0 while queued.
    "blocking": ("job", "thread"),
}


# What a field added with debugger ABI 2 reads as when a source lacks it
# (a document of an older program): "unknown".
ADDED_FIELD_DEFAULTS = {
    "lock_function": None, "lock_file": None, "lock_line": 0, "capacity": 0,
    "holders": (), "holders_truncated": False, "last_notifier": 0, "notified": 0,
    "sender_tasks": (), "sender_tasks_truncated": False, "sender_task": 0,
    "sender_dropped": False, "thread": 0,
}


class Site(object):
    """A site record: spawn sites and the static part of frames."""
    __slots__ = ("kind", "function", "file", "line")

    def __init__(self, kind, function, file, line):
        self.kind = kind
        self.function = function
        self.file = file
        self.line = line


class Head(object):
    """What a frame shows, shared by every frame with the same site and
    resume line: line is the resume line (or the site's line)."""
    __slots__ = ("function", "file", "line", "kind", "leaf")

    def __init__(self, function, file, line, kind):
        self.function = function
        self.file = file
        self.line = line
        self.kind = kind
        self.leaf = kind == "leaf"


class Chain(object):
    """The shape of an await chain (each frame with one child): its heads,
    root first, and whether it ends in a leaf."""
    __slots__ = ("heads", "leaf")

    def __init__(self, heads):
        self.heads = heads
        self.leaf = heads[-1].leaf


class Resource(namedtuple("_Resource", "kind object since_ns values error")):
    """What a leaf waits for.  `object` is an address (0: none), `values`
    the fields of RESOURCE_FIELDS[kind] in order (empty when `error` says
    the record could not be read or is not what it should be)."""
    __slots__ = ()

    def get(self, name, default=None):
        """The field `name` (see RESOURCE_FIELDS), or `default`."""
        names = RESOURCE_FIELDS.get(self.kind, ())
        if self.error is None and name in names:
            return self.values[names.index(name)]
        return default

    @property
    def object_text(self):
        """The object's address as the trace document writes it, or None."""
        return "0x%x" % self.object if self.object else None


class Frame(object):
    """One node of an await tree.  `head` is None for a frame that could not
    be read or whose site is bad: `error` says why."""
    __slots__ = ("head", "address", "resource", "children", "error")

    def __init__(self, head, address, resource, children, error=None):
        self.head = head
        self.address = address
        self.resource = resource
        self.children = children
        self.error = error

    @property
    def function(self):
        return self.head.function if self.head is not None else None

    @property
    def file(self):
        return self.head.file if self.head is not None else None

    @property
    def line(self):
        return self.head.line if self.head is not None else None

    @property
    def kind(self):
        return self.head.kind if self.head is not None else None


TASK_FIELDS = ("id address name state flags parent spawn polls created_ns state_ns "
               "poll_start_ns poll_end_ns worker thread error chain frames resource tree")


class Task(namedtuple("_Task", TASK_FIELDS)):
    """One task.  `state` is the state's name, `flags` a tuple of flag
    names, `spawn` a Site or None, `thread` the LWP polling it or None,
    `error` a list problem or None.  The await tree is either `chain` (a
    Chain) with `frames` (the frame addresses, root first) and `resource`
    (the leaf's, when the chain ends in one), or `tree` (a Frame), or
    neither (no await tree: finished, or no future)."""
    __slots__ = ()

    def await_tree(self):
        """The root Frame of the await tree, or None (made from the chain
        when the task has one: new Frame objects on every call)."""
        chain = self.chain
        if chain is None:
            return self.tree
        heads = chain.heads
        addrs = self.frames
        i = len(heads) - 1
        node = Frame(heads[i], addrs[i], self.resource if chain.leaf else None, [])
        while i:
            i -= 1
            node = Frame(heads[i], addrs[i], None, [node])
        return node

    def resources(self):
        """Every resource of the await tree (depth first, in await order)."""
        if self.chain is not None:
            return [self.resource] if self.resource is not None else []
        out = []
        stack = [self.tree] if self.tree is not None else []
        while stack:
            f = stack.pop()
            if f.resource is not None:
                out.append(f.resource)
            stack.extend(reversed(f.children))
        return out
