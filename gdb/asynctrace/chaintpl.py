"""Chain templates: one unpack and one tuple comparison check a task's whole
await chain, when it looks like one already checked.

A task is one allocation and its futures live inline in it, so the frames
of an await chain sit at the same offsets from the root frame in every task
spawned from the same function (100,000 tasks of a server usually have a
handful of shapes).  Once walk.Walker._chain_links has read and checked a
chain frame by frame, a Template remembers the frame offsets from the root
and every word it checked: each frame's site and resume word, zero sibling
links, the root's zero parent, the leaf's zero child, and every parent and
child link as "root + offset".  Checking the next task against it is one
struct unpack over the span of the frame headers and one comparison with
the words expected at that root address: exactly what the frame-by-frame
walk would have checked, so a match is the same verdict, and anything else
(another shape, a bad link, a span across a block boundary) goes back to
the frame-by-frame walk, which says what is wrong.
"""

import struct
from operator import itemgetter

MAX_TEMPLATES = 256  # shapes remembered per reading (walks stay bounded)

# Positions of a frame's fields in the FRAME reader's tuple (walk.py).
SITE, PARENT, CHILD, SIBLING, LINE = range(5)  # LINE: resume_line, or (ABI 3) resume


class Template(object):
    """A checked chain's layout: `rel` the frame offsets from the root
    frame (increasing, the root's 0), `chain` the shared records.Chain, `hi`
    the end of the last frame header from the root.  A chain whose root
    frame is at `root`, at `off` in a block `blk`, with off + hi <= BLOCK,
    is this template's, all of its links checked, when
    pick(unpack(blk, off)) == consts + tuple(map(root.__add__, ptr_rel))
    (walk.Walker.tasks does that test inline)."""
    __slots__ = ("rel", "chain", "hi", "unpack", "pick", "consts", "ptr_rel")


def make(frame_struct, addrs, shape, chain):
    """The Template of a chain just checked frame by frame (its frame
    addresses root first, its shape: site and resume line of each frame),
    or None when its frames are not laid out in increasing, disjoint order
    (no single unpack reads them)."""
    root = addrs[0]
    rel = [a - root for a in addrs]
    fsize = frame_struct.size
    body = frame_struct.format.lstrip("<=@!>")
    fmt = ["<"]
    pos = rel[0]
    for r in rel:
        if r < pos:
            return None
        if r > pos:
            fmt.append("%dx" % (r - pos))
        fmt.append(body)
        pos = r + fsize
    n = len(addrs)
    consts, const_pos, ptr_rel, ptr_pos = [], [], [], []
    for i in range(n):
        base = 5 * i
        consts += [shape[2 * i], 0, shape[2 * i + 1]]
        const_pos += [base + SITE, base + SIBLING, base + LINE]
        if i == 0:
            consts.append(0)
            const_pos.append(base + PARENT)
        else:
            ptr_rel.append(rel[i - 1])
            ptr_pos.append(base + PARENT)
        if i == n - 1:
            consts.append(0)
            const_pos.append(base + CHILD)
        else:
            ptr_rel.append(rel[i + 1])
            ptr_pos.append(base + CHILD)
    t = Template()
    t.rel = tuple(rel)
    t.chain = chain
    t.hi = pos
    t.unpack = struct.Struct("".join(fmt)).unpack_from
    t.pick = itemgetter(*(const_pos + ptr_pos))
    t.consts = tuple(consts)
    t.ptr_rel = tuple(ptr_rel)
    return t
