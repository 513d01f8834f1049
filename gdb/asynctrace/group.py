"""Grouping of task records (`--group KEY` on `info async-tasks` and
`async-bt`): tasks with the same await chain, innermost user frame,
resource, spawn site or state become one group with a count, the states
it holds and its first ids.  Groups come largest first (ties: lowest first
id).  Await chains are shared objects of one reading (records.Chain), so
grouping by chain costs one dict lookup per task.  No gdb here.
"""

from . import text

EXAMPLE_IDS = 5  # ids printed per group (JSON: JSON_IDS)
JSON_IDS = 20
MAX_GROUPS_TEXT = 25  # groups printed without --limit


class Group(object):
    __slots__ = ("key", "tasks", "states")

    def __init__(self, key):
        self.key = key
        self.tasks = []
        self.states = {}

    @property
    def example(self):
        return self.tasks[0]


def _tree_shape(frame, depth=0):
    if frame is None or depth > 64:
        return None
    res = frame.resource
    return (_head_key(frame.head), res.kind if res is not None else None,
            tuple(_tree_shape(c, depth + 1) for c in frame.children))


def _head_key(h):
    return (h.function, h.file, h.line, h.kind) if h is not None else None


def _tree_chain(frame):
    """The heads of a tree that is a plain chain (each frame one child, all
    readable), else None: the walker builds some chains as trees, and they
    must group with the others."""
    heads = []
    while frame is not None and frame.head is not None and len(heads) < 256:
        heads.append(_head_key(frame.head))
        if not frame.children:
            return tuple(heads), frame.resource
        if len(frame.children) > 1:
            return None
        frame = frame.children[0]
    return None


_chain_heads = {}  # Chain -> tuple of its heads (Chains are shared per reading)


def _key_chain(t):
    chain = t.chain
    if chain is not None:
        heads = _chain_heads.get(chain)
        if heads is None:
            heads = _chain_heads[chain] = tuple(_head_key(h) for h in chain.heads)
        res = t.resource
        return (heads, res.kind if res is not None else None)
    if t.tree is None:
        return ("none", t.state)
    flat = _tree_chain(t.tree)
    if flat is not None:
        return (flat[0], flat[1].kind if flat[1] is not None else None)
    return ("tree", _tree_shape(t.tree))


def _key_where(t):
    if t.chain is not None:
        heads, res = t.chain.heads, t.resource
    elif t.tree is not None:
        paths = text.leaf_paths(t.tree)
        heads = [f.head for f in paths[0] if f.head is not None]
        res = paths[0][-1].resource if len(paths) == 1 else None
    else:
        return ("none", t.state)
    user = None
    for h in reversed(heads):
        if h.kind == "async":
            user = (h.function, h.file, h.line)
            break
    leaf = bool(heads) and heads[-1].kind == "leaf"
    return (user, res.kind if leaf and res is not None else None)


def _key_resource(t):
    rs = t.resources()
    if not rs:
        return ("none",)
    return (rs[0].kind, rs[0].object)


def _key_spawn(t):
    sp = t.spawn
    return (sp.kind, sp.function, sp.file, sp.line) if sp is not None else ("none",)


def _key_state(t):
    return t.state


KEYS = {"chain": _key_chain, "where": _key_where, "resource": _key_resource,
        "spawn": _key_spawn, "state": _key_state}


def group(tasks, by):
    """Groups of `tasks` by key `by` (one of KEYS), largest first."""
    keyf = KEYS[by]
    _chain_heads.clear()
    groups = {}
    for t in tasks:
        k = keyf(t)
        g = groups.get(k)
        if g is None:
            g = groups[k] = Group(k)
        g.tasks.append(t)
        g.states[t.state] = g.states.get(t.state, 0) + 1
    return sorted(groups.values(), key=lambda g: (-len(g.tasks), g.tasks[0].id))


# -- what a group shows ---------------------------------------------------------

def describe(by, g, now, names):
    """The group's key in words (one line; chains innermost first)."""
    t = g.example
    if by == "state":
        return t.state
    if by == "spawn":
        sp = t.spawn
        if sp is None:
            return "no spawn site"
        return "%s at %s:%s (in %s)" % ("block_on" if sp.kind == "block-on" else "spawned",
                                        text.short_file(sp.file), sp.line, sp.function)
    if by == "resource":
        rs = t.resources()
        return text.resource_words(rs[0], now, names) if rs else "waits on nothing"
    if by == "where":
        user, kind = g.key
        where = "%s %s:%s" % (user[0], text.short_file(user[1]), user[2]) if user \
            else "no async frame"
        return where + (" -> %s" % kind if kind else "")
    return chain_words(t)


def chain_words(t):
    """An await chain (first branch of a tree) innermost first:
    `at_mutex_lock mutex <- transfer x.c:35 <- account x.c:61`."""
    tree = t.await_tree()
    if tree is None:
        return "no await frames (%s)" % t.state
    paths = text.leaf_paths(tree)
    parts = []
    for f in reversed(paths[0]):
        if f.head is None:
            parts.append(f.error or "?")
        elif f.kind == "leaf":
            parts.append("%s %s" % (f.function, f.resource.kind if f.resource else ""))
        else:
            parts.append("%s %s:%s" % (f.function, text.short_file(f.file), f.line))
    words = " <- ".join(p.strip() for p in parts)
    if len(paths) > 1:
        words += "  (+%d more branches)" % (len(paths) - 1)
    return words


def ids_words(g, n=EXAMPLE_IDS):
    ids = [str(t.id) for t in g.tasks[:n]]
    more = len(g.tasks) - len(ids)
    return ", ".join(ids) + (" (and %d more)" % more if more > 0 else "")


def states_words(g):
    return ",".join("%s:%d" % (s, n) if len(g.states) > 1 else s
                    for s, n in sorted(g.states.items()))


def groups_text(groups, by, total, now, names, limit=None):
    """The grouped listing: one header line, one line per group (count,
    states, example ids) with its key under it."""
    cap = limit or MAX_GROUPS_TEXT
    lines = ["%s in %s by %s, largest first:" % (
        text.count(total, "task"), text.count(len(groups), "group"), by)]
    rows = [("COUNT", "STATE", "IDS")]
    keys = []
    for g in groups[:cap]:
        rows.append((str(len(g.tasks)), states_words(g), ids_words(g)))
        keys.append(describe(by, g, now, names))
    table = text._columns(rows, right=(0,))
    lines.append(table[0])
    for row, key in zip(table[1:], keys):
        lines.append(row)
        lines.append("         " + key)
    if len(groups) > cap:
        rest = sum(len(g.tasks) for g in groups[cap:])
        lines.append("  and %d more groups (%s)%s" % (
            len(groups) - cap, text.count(rest, "task"),
            "" if limit else "; --limit N shows more"))
    return "\n".join(lines)


def groups_json(groups, by, total, now, names, limit=None):
    """The grouped listing as a JSON-ready dict (docs/trace-format.md,
    "Groups")."""
    out = []
    for g in groups[:limit] if limit else groups:
        t = g.example
        out.append({"key": describe(by, g, now, names), "count": len(g.tasks),
                    "states": dict(sorted(g.states.items())),
                    "ids": [x.id for x in g.tasks[:JSON_IDS]],
                    "example": {"id": t.id, "name": t.name, "chain": chain_words(t)}})
    return {"format": "asynctrace-groups", "version": 1, "by": by, "tasks": total,
            "groups": out, "more_groups": max(0, len(groups) - len(out))}
