"""Filters, sorting and limits of `info async-tasks` and `async-bt`
(docs/gdb.md, "Selecting and grouping tasks"), on task records.

parse() turns the options' text into a Selection (a bad value raises
ValueError with one clear sentence); Selection.apply() keeps the tasks that
pass every filter, sorted and cut.  The options that the list walk can
apply by itself (state, name) are also given to it, so a narrow selection
does not read every await tree.  No gdb here.
"""

import fnmatch

NS = {"ns": 1, "us": 1000, "ms": 1000000, "s": 1000000000, "m": 60000000000,
      "h": 3600000000000, "d": 86400000000000}
SORT_KEYS = ("wait", "polls", "id")
GROUP_KEYS = ("chain", "where", "resource", "spawn", "state")
VALUE_OPTIONS = ("--state", "--name", "--waits-for", "--at", "--min-wait",
                 "--spawned-at", "--descendants-of", "--sort", "--limit", "--group")


def parse_duration(text):
    """"500ms", "2s", "1.5m", "3h", "2d", "250us" -> nanoseconds."""
    t = text.strip().lower()
    for unit in sorted(NS, key=len, reverse=True):
        if t.endswith(unit) and t[:-len(unit)]:
            try:
                value = float(t[:-len(unit)])
            except ValueError:
                break
            if value < 0:
                break
            return int(value * NS[unit])
    raise ValueError("--min-wait needs a duration with a unit (ns, us, ms, s, m, h, d), "
                     "like 500ms or 2s, not %r" % text)


class Location(object):
    """`file:line` (the file's name or a suffix of its path) or a substring
    of a function or file name."""
    __slots__ = ("file", "line", "text")

    def __init__(self, text, what):
        if not text:
            raise ValueError("%s needs a location: file:line or part of a function name"
                             % what)
        self.text = text
        self.file = self.line = None
        head, sep, tail = text.rpartition(":")
        if sep and tail.isdigit() and head:
            self.file, self.line = head, int(tail)
        elif sep and head and not tail:
            raise ValueError("%s %r: give file:LINE with a line number" % (what, text))

    def matches(self, function, file, line):
        if self.line is not None:
            return (line == self.line and bool(file)
                    and (file == self.file or file.endswith("/" + self.file)))
        return bool((function and self.text in function) or (file and self.text in file))


class Selection(object):
    """Parsed filters, sort and limit."""

    def __init__(self):
        self.state = self.name = self.waits_kind = self.sort = self.group = None
        self.waits_object = self.at = self.min_wait = self.spawned_at = None
        self.descendants_of = self.limit = None

    @property
    def needs_records(self):
        """Whether anything beyond state and name needs task records."""
        return any(v is not None for v in (
            self.waits_kind, self.waits_object, self.at, self.min_wait, self.spawned_at,
            self.descendants_of, self.sort, self.limit, self.group))

    def apply(self, tasks, now):
        """The tasks (records) that pass every filter, sorted, cut."""
        out = tasks
        if self.descendants_of is not None:
            below = descendants(tasks, self.descendants_of)
            out = [t for t in out if t.id in below]
        if self.state is not None:
            out = [t for t in out if t.state == self.state]
        if self.name is not None:
            out = [t for t in out if fnmatch.fnmatchcase(t.name, self.name)]
        if self.waits_kind is not None or self.waits_object is not None:
            out = [t for t in out if self._waits(t)]
        if self.at is not None:
            out = [t for t in out if at_location(t, self.at)]
        if self.spawned_at is not None:
            sp = self.spawned_at
            out = [t for t in out if t.spawn is not None
                   and sp.matches(t.spawn.function, t.spawn.file, t.spawn.line)]
        if self.min_wait is not None:
            out = [t for t in out if (wait_ns(t, now) or 0) >= self.min_wait]
        if self.sort == "wait":
            out = sorted(out, key=lambda t: (-(wait_ns(t, now) or 0), t.id))
        elif self.sort == "polls":
            out = sorted(out, key=lambda t: (-t.polls, t.id))
        elif self.sort == "id":
            out = sorted(out, key=lambda t: t.id)
        if self.limit is not None and self.group is None:
            out = out[:self.limit]
        return out

    def _waits(self, t):
        for r in t.resources():
            if self.waits_kind is not None and r.kind == self.waits_kind:
                return True
            if self.waits_object is not None and r.object == self.waits_object:
                return True
        return False


def parse(opts, states, kinds):
    """A Selection from {option: text}; `states` and `kinds` are the task
    state and resource kind names of the program's ABI."""
    sel = Selection()
    if "--state" in opts:
        sel.state = _one_of(opts["--state"], states, "state")
    sel.name = opts.get("--name")
    if "--waits-for" in opts:
        v = opts["--waits-for"]
        if v.lower().startswith("0x"):
            sel.waits_object = _number(v, "--waits-for")
        else:
            sel.waits_kind = _one_of(v, kinds, "resource kind (or an address 0x...)")
    if "--at" in opts:
        sel.at = Location(opts["--at"], "--at")
    if "--spawned-at" in opts:
        sel.spawned_at = Location(opts["--spawned-at"], "--spawned-at")
    if "--min-wait" in opts:
        sel.min_wait = parse_duration(opts["--min-wait"])
    if "--descendants-of" in opts:
        sel.descendants_of = _number(opts["--descendants-of"], "--descendants-of")
        if sel.descendants_of <= 0:
            raise ValueError("--descendants-of needs a task id (a positive number)")
    if "--sort" in opts:
        sel.sort = _one_of(opts["--sort"], SORT_KEYS, "sort key")
    if "--limit" in opts:
        sel.limit = _number(opts["--limit"], "--limit")
        if sel.limit <= 0:
            raise ValueError("--limit needs a positive number, not %s" % opts["--limit"])
    if "--group" in opts:
        sel.group = _one_of(opts["--group"], GROUP_KEYS, "grouping key")
    return sel


def normalize_group(argv):
    """`--group` may stand alone (by chain) or take a key: make it
    `--group=KEY` so the option parser sees one token."""
    out = []
    i = 0
    while i < len(argv):
        a = argv[i]
        if a == "--group":
            nxt = argv[i + 1] if i + 1 < len(argv) else None
            # A word that is not an option, "all" or a task id is a key.
            if nxt is not None and not nxt.startswith("-") and nxt != "all" \
                    and not nxt.isdigit():
                a = "--group=" + argv[i + 1]
                i += 1
            else:
                a = "--group=chain"
        out.append(a)
        i += 1
    return out


def _one_of(value, allowed, what):
    if value not in allowed:
        raise ValueError("unknown %s %r: one of %s" % (what, value, ", ".join(allowed)))
    return value


def _number(text, what):
    try:
        return int(text, 0)
    except ValueError:
        raise ValueError("%s needs a number, not %r" % (what, text))


def wait_ns(task, now):
    """How long the task has waited: since its oldest leaf started waiting
    (idle with resources), else since it entered its state; None unknown."""
    if now is None:
        return None
    since = None
    for r in task.resources():
        if r.since_ns and (since is None or r.since_ns < since):
            since = r.since_ns
    if since is None:
        since = task.state_ns
    return now - since if since else None


def at_location(task, loc):
    """Whether some frame of the task's await tree is at `loc`."""
    chain = task.chain
    if chain is not None:
        return any(loc.matches(h.function, h.file, h.line) for h in chain.heads)
    stack = [task.tree] if task.tree is not None else []
    while stack:
        f = stack.pop()
        if f.head is not None and loc.matches(f.function, f.file, f.line):
            return True
        stack.extend(f.children)
    return False


def descendants(tasks, root):
    """Ids of the tasks spawned (transitively) by task `root`."""
    children = {}
    for t in tasks:
        children.setdefault(t.parent, []).append(t.id)
    out = set()
    stack = [root]
    while stack:
        for c in children.get(stack.pop(), ()):
            if c not in out and c != root:
                out.add(c)
                stack.append(c)
    return out
