"""Reading the program's memory in bulk: a block cache over a backend's
read_memory (backend.py: GDB, a PID, a core) and record unpacking with
precompiled struct.Struct.

One Memory object lives for one command: a live process may change between
two commands (it is stopped during one), a core never does.  Reads go by
64 KiB blocks; a block that is only partly mapped falls back to 4 KiB pages,
and an unmapped page raises ReadError for the record that touches it, never
for its neighbours.

The cache holds at most MAX_BLOCKS blocks and is emptied when full: walks
go through memory mostly in order, re-reading a block is cheap, and buffers
that are recycled cost far less than fresh memory (page faults dominate
when a walk over 100,000 tasks keeps 60 MB of blocks alive).
"""

import struct

BLOCK_SHIFT = 16
BLOCK = 1 << BLOCK_SHIFT
BLOCK_MASK = BLOCK - 1
PAGE_SHIFT = 12
PAGE = 1 << PAGE_SHIFT
PAGE_MASK = PAGE - 1
MAX_BLOCKS = 64

U32 = struct.Struct("<I")
U64 = struct.Struct("<Q")


class ReadError(Exception):
    """Memory at `address` cannot be read (unmapped, or not in the core)."""

    def __init__(self, address, size):
        Exception.__init__(self, "cannot read %d bytes at 0x%x" % (size, address))
        self.address = address
        self.size = size


class Memory(object):
    """Cached reader of one program's address space, through `backend`
    (read_memory(address, size) raising one of backend.read_errors)."""

    def __init__(self, backend):
        self.backend = backend
        self._read = backend.read_memory
        self._errors = tuple(backend.read_errors) + (OverflowError, ValueError)
        # Fully readable blocks: number -> bytes of BLOCK.  Hot loops in
        # walk.py unpack straight from these (see fast_limit()).
        self.blocks = {}
        self.partial = set()  # blocks that must be read page by page
        self.pages = {}  # page number -> bytes of PAGE, or None (unreadable)
        self.strings = {}  # address -> str (C strings are immutable here)
        self.reads = 0  # read_memory calls made (for the benchmark)

    def reset(self):
        """Forget cached blocks and pages (the program may have run since
        they were read); C strings stay (they are immutable here)."""
        self.blocks.clear()
        self.partial.clear()
        self.pages.clear()

    # -- raw access -------------------------------------------------------

    def _raw(self, address, size):
        """The backend's buffer (GDB's is a memoryview: struct unpacks from
        it without a copy)."""
        self.reads += 1
        return self._read(address, size)

    def _block(self, number):
        """The bytes of block `number`, or None when it is not all readable."""
        if number in self.partial:
            return None
        if len(self.blocks) >= MAX_BLOCKS:
            self.blocks.clear()
        try:
            data = self._raw(number << BLOCK_SHIFT, BLOCK)
        except self._errors:
            self.partial.add(number)
            return None
        self.blocks[number] = data
        return data

    def _page(self, number):
        try:
            data = self._raw(number << PAGE_SHIFT, PAGE)
        except self._errors:
            data = None
        self.pages[number] = data
        return data

    def _slow_read(self, address, size):
        """Page-by-page read, for records crossing or inside partial blocks."""
        if address <= 0 or size < 0 or address + size > (1 << 64):
            raise ReadError(address, size)
        out = []
        addr = address
        end = address + size
        while addr < end:
            blk = self.blocks.get(addr >> BLOCK_SHIFT)
            if blk is None:
                blk = self._block(addr >> BLOCK_SHIFT)
            if blk is not None:
                off = addr & BLOCK_MASK
                take = min(end - addr, BLOCK - off)
                out.append(bytes(blk[off:off + take]))
                addr += take
                continue
            pno = addr >> PAGE_SHIFT
            page = self.pages.get(pno, False)
            if page is False:
                page = self._page(pno)
            if page is None:
                raise ReadError(address, size)
            off = addr & PAGE_MASK
            take = min(end - addr, PAGE - off)
            out.append(bytes(page[off:off + take]))
            addr += take
        return b"".join(out)

    # -- public API --------------------------------------------------------

    def read(self, address, size):
        """`size` bytes at `address` (bytes); ReadError if any is unmapped."""
        if address <= 0:
            raise ReadError(address, size)
        blk = self.blocks.get(address >> BLOCK_SHIFT)
        if blk is None:
            blk = self._block(address >> BLOCK_SHIFT)
        off = address & BLOCK_MASK
        if blk is not None and off + size <= BLOCK:
            return bytes(blk[off:off + size])
        return self._slow_read(address, size)

    def unpack(self, st, address):
        """Unpack struct.Struct `st` at `address` (the hot path of walks)."""
        if address <= 0:
            raise ReadError(address, st.size)
        blk = self.blocks.get(address >> BLOCK_SHIFT)
        if blk is None:
            blk = self._block(address >> BLOCK_SHIFT)
        off = address & BLOCK_MASK
        if blk is not None and off + st.size <= BLOCK:
            return st.unpack_from(blk, off)
        return st.unpack(self._slow_read(address, st.size))

    def u32(self, address):
        return self.unpack(U32, address)[0]

    def u64(self, address):
        return self.unpack(U64, address)[0]

    def cstring(self, address, limit=256):
        """A NUL-terminated string (decoded leniently), at most `limit` bytes.
        ReadError if its first byte is unreadable."""
        s = self.strings.get(address)
        if s is not None:
            return s
        data = b""
        addr = address
        while len(data) < limit:
            chunk_len = min(limit - len(data), PAGE - (addr & PAGE_MASK))
            try:
                chunk = self.read(addr, chunk_len)
            except ReadError:
                if not data:
                    raise
                break
            nul = chunk.find(b"\0")
            if nul >= 0:
                data += chunk[:nul]
                break
            data += chunk
            addr += chunk_len
        s = data.decode("utf-8", "replace")
        self.strings[address] = s
        return s


def fast_limit(st):
    """Largest in-block offset at which `st` can be unpacked straight from a
    cached block (the hot-loop test `off <= fast_limit`)."""
    return BLOCK - st.size


def fixed_string(raw):
    """A char[N] field: up to the first NUL, decoded leniently."""
    nul = raw.find(b"\0")
    if nul >= 0:
        raw = raw[:nul]
    return raw.decode("utf-8", "replace")
