"""Chain templates: one integer comparison checks a task's whole await chain,
when it looks like one already checked.

A task is one allocation and its futures live inline in it, so the frames
of an await chain sit at the same offsets from the root frame in every task
spawned from the same function (100,000 tasks of a server usually have a
handful of shapes).  Once walk.Walker._chain_links has read and checked a
chain frame by frame, a Template remembers the frame offsets from the root
and every word it checked: each frame's site and resume word, zero sibling
links, the root's zero parent, the leaf's zero child, and every parent and
child link as "root + offset".  The field offsets and sizes come from the
layout table.

The bytes from the root frame to the end of the last frame header, read as
one little-endian integer and masked to those fields, must then equal
`base + root * mult`: `base` holds the constant words and the offsets,
`mult` a 1 in the lowest byte of every link field.  No sum carries from one
field into the next (root + hi < 2**64 is checked), so the integers are
equal exactly when every field holds what the frame-by-frame walk would
have accepted: a match is the same verdict, and anything else (another
shape, a bad link, a span across a block boundary) goes back to the
frame-by-frame walk, which says what is wrong.  One comparison of a few
big integers makes a handful of objects where unpacking the words makes
dozens (docs/performance.md).
"""

MAX_TEMPLATES = 256  # shapes remembered per reading (walks stay bounded)
# The frame words a template checks; the last is the resume word: resume_line
# (ABI 1 and 2) or resume, the await record's address (ABI 3).
FIELDS = ("site", "parent", "child", "sibling")


class Template(object):
    """A checked chain's layout: `rel` the frame offsets from the root frame
    (increasing, the root's 0), `chain` the shared records.Chain, `hi` the
    end of the last frame header from the root.  A chain whose root frame
    is at `root` < root_max, at `off` in a cached block `blk` with
    off + hi <= BLOCK, is this template's, all of its links checked, when
    int.from_bytes(blk[off:off + hi], "little") & mask == base + root * mult
    (walk.Walker.tasks does that test inline)."""
    __slots__ = ("rel", "chain", "hi", "mask", "base", "mult", "root_max", "cmask",
                 "cbase", "links")


def make(frame_record, addrs, shape, chain):
    """The Template of a chain just checked frame by frame (its frame
    addresses root first; its shape: site and resume line of each frame),
    given the layout table's frame record; None when its frames are not in
    increasing, disjoint order."""
    try:
        resume = "resume" if "resume" in frame_record.fields else "resume_line"
        fields = [frame_record.fields[name] for name in FIELDS + (resume,)]
    except KeyError:
        return None
    fsize = max(off + size for off, size in fields)
    root = addrs[0]
    rel = [a - root for a in addrs]
    n = len(rel)
    mask = base = mult = 0
    link_mask = 0
    links = []  # (byte offset from the root frame, offset of the frame it names)
    end = 0
    for i, r in enumerate(rel):
        if r < end:
            return None
        end = r + fsize
        site_v, line_v = shape[2 * i], shape[2 * i + 1]
        parent = None if i == 0 else rel[i - 1]  # None: the word must be 0
        child = None if i == n - 1 else rel[i + 1]
        for (off, size), value, link in zip(fields, (site_v, 0, 0, 0, line_v),
                                            (None, parent, child, None, None)):
            shift = 8 * (r + off)
            mask |= ((1 << (8 * size)) - 1) << shift
            if link is None:
                base |= value << shift
            else:
                base |= link << shift
                mult |= 1 << shift
                link_mask |= ((1 << (8 * size)) - 1) << shift
                links.append((r + off, link) if size == 8 else None)
    t = Template()
    t.rel = tuple(rel)
    t.chain = chain
    t.hi = end
    t.mask = mask
    t.base = base
    t.mult = mult
    t.root_max = (1 << 64) - end
    # The same test in bytes, for the C form of the walk (_speedups.c): the
    # constant bytes under cmask equal cbase, and every 8-byte link at its
    # offset equals root + its frame's offset.
    t.cmask = (mask & ~link_mask).to_bytes(end, "little")
    t.cbase = (base & ~link_mask).to_bytes(end, "little")
    t.links = tuple(links) if None not in links else None
    return t
