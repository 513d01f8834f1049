/* _speedups.c - the optional C form of the per-task hot loops.
 *
 * asynctrace._speedups does what these Python loops do, and nothing else:
 * lists.ListWalker._owned_healthy (the owned-list walk of a list in which
 * nothing is wrong), the template branch of walk.Walker.tasks (the record
 * of a task whose await chain matches one of the chain templates met
 * last), the JSON writer's per-task loop (_speedups_json.h) and the task
 * table's first pass (_speedups_table.h).  Like the standard library's
 * _json next to json, it is an accelerator of code that stays in Python:
 * the Python loops are the reference (and what runs when this module is
 * not built, ASYNCTRACE_PURE_PYTHON is set or accel.pure() says so); tests
 * and the fuzzer compare both.  Whatever is not plainly healthy goes back
 * to Python, which reads it again and says what is wrong, so no message,
 * check or verdict lives here.
 *
 * Memory comes from the walk's block cache (memory.Memory): `blocks` maps a
 * block number to a 64 KiB buffer, `load(number)` reads one into it (None:
 * not all readable), `read(address, size)` reads anything else (a record
 * across two blocks) and raises when it cannot.  Every access is checked
 * against the length of the buffer it comes from: garbage links only send
 * the walk back to Python.
 */

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

#define BLOCK_SHIFT 16
#define BLOCK_SIZE ((Py_ssize_t)1 << BLOCK_SHIFT)
#define BLOCK_MASK ((uint64_t)BLOCK_SIZE - 1)
#define MAX_FIELDS 16
#define MAX_REL 64    /* frames of a chain (walk.MAX_CHAIN) */
#define MAX_LINKS 128 /* its parent and child links */
#define NTPL 8        /* templates tried, most recently used first */

/* -- memory ------------------------------------------------------------- */

typedef struct {
    PyObject *blocks, *load, *read; /* borrowed */
    uint64_t no;                    /* block held in `buf` */
    int held;
    Py_buffer buf;
    PyObject *tmp; /* the last read() result */
} Mem;

static void mem_drop(Mem *m)
{
    if (m->held) {
        PyBuffer_Release(&m->buf);
        m->held = 0;
    }
    Py_CLEAR(m->tmp);
}

/* Holds block `no` in m->buf; 1 when it is fully readable, 0 when not, -1
 * on a Python error that must propagate. */
static int mem_block(Mem *m, uint64_t no)
{
    PyObject *key, *blk;
    int owned = 0;

    if (m->held && m->no == no)
        return 1;
    if (m->held) {
        PyBuffer_Release(&m->buf);
        m->held = 0;
    }
    key = PyLong_FromUnsignedLongLong(no);
    if (!key)
        return -1;
    blk = PyDict_GetItemWithError(m->blocks, key);
    if (!blk) {
        if (PyErr_Occurred()) {
            Py_DECREF(key);
            return -1;
        }
        blk = PyObject_CallOneArg(m->load, key);
        if (!blk) {
            Py_DECREF(key);
            return -1;
        }
        owned = 1;
    }
    Py_DECREF(key);
    if (blk == Py_None) {
        if (owned)
            Py_DECREF(blk);
        return 0;
    }
    if (PyObject_GetBuffer(blk, &m->buf, PyBUF_SIMPLE) < 0) {
        if (owned)
            Py_DECREF(blk);
        return -1;
    }
    if (owned)
        Py_DECREF(blk); /* the buffer keeps its own reference */
    if (m->buf.len != BLOCK_SIZE) {
        PyBuffer_Release(&m->buf);
        return 0;
    }
    m->held = 1;
    m->no = no;
    return 1;
}

/* `size` bytes at `addr`, or NULL: with an exception set when it must
 * propagate, without one when the memory is not readable (the caller
 * leaves the record to Python). */
static const uint8_t *mem_at(Mem *m, uint64_t addr, Py_ssize_t size)
{
    uint64_t off = addr & BLOCK_MASK;
    int r;

    if (addr == 0 || size > BLOCK_SIZE)
        return NULL;
    if (off + (uint64_t)size <= (uint64_t)BLOCK_SIZE) {
        r = mem_block(m, addr >> BLOCK_SHIFT);
        if (r < 0)
            return NULL;
        if (r > 0)
            return (const uint8_t *)m->buf.buf + off;
    }
    if (addr > UINT64_MAX - (uint64_t)size)
        return NULL;
    Py_CLEAR(m->tmp);
    m->tmp = PyObject_CallFunction(m->read, "Kn", (unsigned long long)addr, size);
    if (!m->tmp) {
        if (PyErr_ExceptionMatches(PyExc_Exception))
            PyErr_Clear(); /* unreadable: Python says so */
        return NULL;
    }
    if (!PyBytes_Check(m->tmp) || PyBytes_GET_SIZE(m->tmp) != size) {
        Py_CLEAR(m->tmp);
        return NULL;
    }
    return (const uint8_t *)PyBytes_AS_STRING(m->tmp);
}

/* -- fields ------------------------------------------------------------- */

typedef struct {
    Py_ssize_t off, size;
    int is_signed, is_bytes;
} Field;

/* Reads a layout: a sequence of (offset, size, kind) with kind "u", "i" or
 * "s"; returns the number of fields and sets *span to the bytes they
 * cover from the record's start, or -1 (exception set). */
static int parse_fields(PyObject *seq, Field *out, Py_ssize_t *span)
{
    Py_ssize_t n, i;

    if (!PyTuple_Check(seq) || (n = PyTuple_GET_SIZE(seq)) > MAX_FIELDS) {
        PyErr_SetString(PyExc_TypeError, "a layout is a tuple of (offset, size, kind)");
        return -1;
    }
    *span = 0;
    for (i = 0; i < n; i++) {
        const char *kind;
        Field *f = &out[i];
        if (!PyArg_ParseTuple(PyTuple_GET_ITEM(seq, i), "nns", &f->off, &f->size, &kind))
            return -1;
        f->is_bytes = kind[0] == 's';
        f->is_signed = kind[0] == 'i';
        if (f->off < 0 || f->size <= 0 || f->off + f->size > BLOCK_SIZE ||
            (!f->is_bytes && f->size != 1 && f->size != 2 && f->size != 4 &&
             f->size != 8)) {
            PyErr_SetString(PyExc_ValueError, "a field this module cannot read");
            return -1;
        }
        if (f->off + f->size > *span)
            *span = f->off + f->size;
    }
    return (int)n;
}

static uint64_t get_u(const uint8_t *p, Py_ssize_t size)
{
    uint64_t v = 0;
    Py_ssize_t i;

    for (i = size - 1; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

static uint64_t field_u(const uint8_t *rec, const Field *f)
{
    return get_u(rec + f->off, f->size);
}

/* The field as a Python int (signed fields sign-extended). */
static PyObject *field_obj(const uint8_t *rec, const Field *f)
{
    uint64_t v = field_u(rec, f);

    if (f->is_signed) {
        int shift = 64 - 8 * (int)f->size;
        return PyLong_FromLongLong((long long)(int64_t)(v << shift) >> shift);
    }
    return PyLong_FromUnsignedLongLong(v);
}

/* -- the owned list ------------------------------------------------------ */

enum { O_MAGIC, O_STATE, O_ID, O_RUNTIME, O_NEXT, O_PREV, O_FLAGS, O_NAME, O_COUNT };

/* The name (cached by its raw bytes in raw_names, decoded by `decode` on
 * a miss): a new reference, or NULL. */
static PyObject *task_name(const uint8_t *p, Py_ssize_t size, PyObject *raw_names,
                           PyObject *decode)
{
    PyObject *raw = PyBytes_FromStringAndSize((const char *)p, size), *name;

    if (!raw)
        return NULL;
    name = PyDict_GetItemWithError(raw_names, raw);
    if (name) {
        Py_INCREF(name);
    } else if (!PyErr_Occurred()) {
        name = PyObject_CallOneArg(decode, raw);
        if (name && PyDict_SetItem(raw_names, raw, name) < 0)
            Py_CLEAR(name);
    }
    Py_DECREF(raw);
    return name;
}

/* Appends one healthy node's item; 0, or -1 on a Python error. */
static int owned_item(PyObject *out, const uint8_t *rec, const Field *f, PyObject *addr_o,
                      PyObject *tid_o, PyObject *state_names, uint64_t state,
                      PyObject *names, PyObject *raw_names, PyObject *decode,
                      PyObject *keep)
{
    PyObject *name, *state_name, *item, *flags_o = NULL;
    int rc = -1;

    name = task_name(rec + f[O_NAME].off, f[O_NAME].size, raw_names, decode);
    if (!name)
        return -1;
    if (PyDict_SetItem(names, tid_o, name) < 0)
        goto done;
    state_name = PyTuple_Check(state_names) ? PyTuple_GET_ITEM(state_names, state)
                                            : PyList_GET_ITEM(state_names, state);
    if (keep != Py_None) {
        PyObject *r = PyObject_CallFunctionObjArgs(keep, tid_o, state_name, name, NULL);
        int yes;
        if (!r)
            goto done;
        yes = PyObject_IsTrue(r);
        Py_DECREF(r);
        if (yes <= 0) {
            rc = yes;
            goto done;
        }
    }
    flags_o = field_obj(rec, &f[O_FLAGS]);
    if (!flags_o)
        goto done;
    item = PyTuple_Pack(6, tid_o, addr_o, Py_None, state_name, name, flags_o);
    if (!item)
        goto done;
    rc = PyList_Append(out, item);
    Py_DECREF(item);
done:
    Py_XDECREF(flags_o);
    Py_DECREF(name);
    return rc;
}

/* 1: node healthy and appended; 0: not plainly healthy; -1: error. */
static int owned_node(Mem *m, const Field *f, Py_ssize_t span, uint64_t addr,
                      uint64_t prev, uint64_t rt_addr, uint64_t magic, uint64_t bad_flags,
                      uint64_t next_id, PyObject *state_names, Py_ssize_t nstates,
                      PyObject *names, PyObject *raw_names, PyObject *task_addrs,
                      PyObject *decode, PyObject *keep, PyObject *out, uint64_t *next)
{
    const uint8_t *rec = mem_at(m, addr, span);
    uint64_t tid, state;
    PyObject *tid_o, *addr_o, *seen;
    int rc;

    if (!rec)
        return PyErr_Occurred() ? -1 : 0;
    tid = field_u(rec, &f[O_ID]);
    state = field_u(rec, &f[O_STATE]);
    if (field_u(rec, &f[O_MAGIC]) != magic || field_u(rec, &f[O_PREV]) != prev ||
        field_u(rec, &f[O_RUNTIME]) != rt_addr || state >= (uint64_t)nstates ||
        tid == 0 || (next_id && tid >= next_id) || (field_u(rec, &f[O_FLAGS]) & bad_flags) ||
        !memchr(rec + f[O_NAME].off, 0, f[O_NAME].size))
        return 0;
    *next = field_u(rec, &f[O_NEXT]);
    /* The record may live in m->tmp: copy what is used after a call out. */
    tid_o = PyLong_FromUnsignedLongLong(tid);
    addr_o = PyLong_FromUnsignedLongLong(addr);
    if (!tid_o || !addr_o) {
        Py_XDECREF(tid_o);
        Py_XDECREF(addr_o);
        return -1;
    }
    seen = PyDict_SetDefault(task_addrs, tid_o, addr_o);
    if (!seen) {
        rc = -1;
    } else if (PyLong_AsUnsignedLongLong(seen) != addr) {
        rc = PyErr_Occurred() ? -1 : 0;
    } else {
        uint8_t copy[MAX_FIELDS * 64];
        const uint8_t *r = rec;
        if (m->tmp && span <= (Py_ssize_t)sizeof copy) {
            memcpy(copy, rec, (size_t)span);
            r = copy;
        }
        rc = owned_item(out, r, f, addr_o, tid_o, state_names, state, names, raw_names,
                        decode, keep) < 0 ? -1 : 1;
    }
    Py_DECREF(tid_o);
    Py_DECREF(addr_o);
    return rc;
}

PyDoc_STRVAR(owned_doc,
"owned(blocks, load, read, layout, head, rt_addr, magic, flag_bits, next_id,\n"
"      state_names, names, raw_names, task_addrs, decode, keep, max_tasks)\n"
"-> (items, count) or None\n\n"
"lists.ListWalker._owned_healthy: the owned list from `head`, every node\n"
"plainly healthy, or None as soon as one is not.");

static PyObject *owned(PyObject *self, PyObject *args)
{
    PyObject *blocks, *load, *read, *layout, *state_names, *names, *raw_names,
        *task_addrs, *decode, *keep, *out = NULL;
    unsigned long long head, rt_addr, magic, flag_bits, next_id;
    Py_ssize_t max_tasks, count = 0, span, nstates;
    uint64_t addr, prev = 0, tortoise = 0, power = 1, lam = 1;
    Field f[MAX_FIELDS];
    Mem m = {0};

    if (!PyArg_ParseTuple(args, "O!OOO!KKKKKOO!O!O!OOn:owned", &PyDict_Type, &blocks,
                          &load, &read, &PyTuple_Type, &layout, &head, &rt_addr, &magic,
                          &flag_bits, &next_id, &state_names, &PyDict_Type, &names,
                          &PyDict_Type, &raw_names, &PyDict_Type, &task_addrs, &decode,
                          &keep, &max_tasks))
        return NULL;
    if (parse_fields(layout, f, &span) != O_COUNT)
        return PyErr_Occurred() ? NULL : (PyErr_SetString(PyExc_ValueError,
                                                          "the task head layout"), NULL);
    if (!PyTuple_Check(state_names) && !PyList_Check(state_names)) {
        PyErr_SetString(PyExc_TypeError, "state_names is a tuple or list");
        return NULL;
    }
    nstates = PySequence_Fast_GET_SIZE(state_names);
    m.blocks = blocks;
    m.load = load;
    m.read = read;
    out = PyList_New(0);
    if (!out)
        return NULL;
    for (addr = head; addr; ) {
        uint64_t next = 0;
        int r;
        if (addr == tortoise || count >= max_tasks)
            goto not_healthy;
        if (power == lam) {
            tortoise = addr;
            power <<= 1;
            lam = 0;
        }
        lam++;
        r = owned_node(&m, f, span, addr, prev, rt_addr, magic, ~(uint64_t)flag_bits,
                       next_id, state_names, nstates, names, raw_names, task_addrs, decode,
                       keep, out, &next);
        if (r < 0)
            goto error;
        if (r == 0)
            goto not_healthy;
        count++;
        prev = addr;
        addr = next;
    }
    mem_drop(&m);
    {
        PyObject *res = Py_BuildValue("(Nn)", out, count);
        return res;
    }
not_healthy:
    mem_drop(&m);
    Py_DECREF(out);
    Py_RETURN_NONE;
error:
    mem_drop(&m);
    Py_DECREF(out);
    return NULL;
}

/* -- tasks ---------------------------------------------------------------- */

enum { R_PARENT, R_SPAWN, R_ROOT, R_POLLS, R_CREATED, R_STATE_NS, R_PSTART, R_PEND,
       R_WORKER, R_COUNT };
enum { W_KIND, W_FLAGS, W_OBJECT, W_SINCE, W_DETAIL, W_COUNT };

/* The chain template in use (chaintpl.Template's C form). */
typedef struct {
    PyObject *tpl;   /* the Template (a reference), or NULL */
    PyObject *chain; /* borrowed from tpl */
    int leaf;
    Py_ssize_t hi, nrel;
    uint64_t root_max;
    uint64_t rel[MAX_REL];
    const uint8_t *cmask, *cbase; /* hi bytes each, owned by tpl */
    Py_ssize_t nlinks;
    uint32_t link_off[MAX_LINKS];
    uint64_t link_add[MAX_LINKS];
} Tpl;

static void tpl_clear(Tpl *t)
{
    Py_CLEAR(t->tpl);
    t->chain = NULL;
}

/* Takes template `obj` (a chaintpl.Template with its C form, or None);
 * 0, or -1 on error.  A template without a usable C form is not used. */
static int tpl_set(Tpl *t, PyObject *obj)
{
    PyObject *rel = NULL, *links = NULL, *cmask = NULL, *cbase = NULL, *chain = NULL,
             *leaf = NULL;
    Py_ssize_t i;
    int rc = -1, ok = 0;

    tpl_clear(t);
    if (obj == Py_None)
        return 0;
    rel = PyObject_GetAttrString(obj, "rel");
    links = PyObject_GetAttrString(obj, "links");
    cmask = PyObject_GetAttrString(obj, "cmask");
    cbase = PyObject_GetAttrString(obj, "cbase");
    chain = PyObject_GetAttrString(obj, "chain");
    if (!rel || !links || !cmask || !cbase || !chain)
        goto done;
    leaf = PyObject_GetAttrString(chain, "leaf");
    if (!leaf)
        goto done;
    t->hi = PyBytes_Check(cmask) ? PyBytes_GET_SIZE(cmask) : -1;
    if (!PyTuple_Check(rel) || !PyTuple_Check(links) || t->hi <= 0 ||
        t->hi > BLOCK_SIZE || !PyBytes_Check(cbase) || PyBytes_GET_SIZE(cbase) != t->hi ||
        PyTuple_GET_SIZE(rel) < 1 || PyTuple_GET_SIZE(rel) > MAX_REL ||
        PyTuple_GET_SIZE(links) > MAX_LINKS) {
        rc = 0; /* no C form: Python checks each chain */
        goto done;
    }
    t->nrel = PyTuple_GET_SIZE(rel);
    for (i = 0; i < t->nrel; i++) {
        t->rel[i] = PyLong_AsUnsignedLongLong(PyTuple_GET_ITEM(rel, i));
        if (PyErr_Occurred())
            goto done;
        if (t->rel[i] >= (uint64_t)t->hi) {
            rc = 0;
            goto done;
        }
    }
    t->nlinks = PyTuple_GET_SIZE(links);
    for (i = 0; i < t->nlinks; i++) {
        unsigned long long off, add;
        if (!PyArg_ParseTuple(PyTuple_GET_ITEM(links, i), "KK", &off, &add))
            goto done;
        if (off + 8 > (unsigned long long)t->hi) {
            rc = 0;
            goto done;
        }
        t->link_off[i] = (uint32_t)off;
        t->link_add[i] = add;
    }
    t->root_max = UINT64_MAX - (uint64_t)t->hi;
    t->cmask = (const uint8_t *)PyBytes_AS_STRING(cmask);
    t->cbase = (const uint8_t *)PyBytes_AS_STRING(cbase);
    t->leaf = PyObject_IsTrue(leaf);
    if (t->leaf < 0)
        goto done;
    ok = 1;
    rc = 0;
done:
    if (ok) {
        Py_INCREF(obj);
        t->tpl = obj;
        t->chain = chain; /* kept alive by the template */
    }
    Py_XDECREF(rel);
    Py_XDECREF(links);
    Py_XDECREF(cmask);
    Py_XDECREF(cbase);
    Py_XDECREF(chain);
    Py_XDECREF(leaf);
    return rc;
}

/* Whether the hi bytes at `p` are the template's chain rooted at `root`. */
static int tpl_match(const Tpl *t, const uint8_t *p, uint64_t root)
{
    Py_ssize_t i;

    if (root >= t->root_max)
        return 0;
    for (i = 0; i < t->hi; i++)
        if ((p[i] & t->cmask[i]) != t->cbase[i])
            return 0;
    for (i = 0; i < t->nlinks; i++)
        if (get_u(p + t->link_off[i], 8) != root + t->link_add[i])
            return 0;
    return 1;
}

typedef struct {
    Mem m;
    Field rest[MAX_FIELDS], wait[MAX_FIELDS];
    Py_ssize_t rest_span, wait_span;
    PyObject *spawns, *flag_names, *roots, *live_states, *threads, *detail_only,
        *null_object, *object_only, *objects, *resource, *task_type, *resource_type;
    Tpl tpl[NTPL]; /* tpl[0..ntpl): the templates met, most recent first */
    int ntpl;
    uint64_t spawn_p;   /* the last spawn site looked up ... */
    PyObject *spawn_sp; /* ... and its spawns entry (a reference), or NULL */
} Ctx;

static void ctx_clear(Ctx *c)
{
    int i;

    mem_drop(&c->m);
    Py_CLEAR(c->spawn_sp);
    for (i = 0; i < c->ntpl; i++)
        tpl_clear(&c->tpl[i]);
    c->ntpl = 0;
}

/* Puts template `obj` (from slow(); None: none made) first among those
 * tried, unless it is already there; 0, or -1 on error. */
static int tpl_push(Ctx *c, PyObject *obj)
{
    Tpl fresh;
    int i;

    if (obj == Py_None)
        return 0;
    for (i = 0; i < c->ntpl; i++)
        if (c->tpl[i].tpl == obj)
            return 0;
    memset(&fresh, 0, sizeof fresh);
    if (tpl_set(&fresh, obj) < 0)
        return -1;
    if (!fresh.tpl)
        return 0; /* no C form */
    if (c->ntpl == NTPL)
        tpl_clear(&c->tpl[--c->ntpl]);
    memmove(&c->tpl[1], &c->tpl[0], (size_t)c->ntpl * sizeof c->tpl[0]);
    c->tpl[0] = fresh;
    c->ntpl++;
    return 0;
}

/* A new tuple-subclass record of `type` from n values (references stolen;
 * NULL values mean an error already set). */
static PyObject *record(PyObject *type, PyObject **v, Py_ssize_t n)
{
    PyTypeObject *tp = (PyTypeObject *)type;
    PyObject *r = tp->tp_alloc(tp, n);
    Py_ssize_t i;

    for (i = 0; i < n; i++)
        if (!v[i])
            break;
    if (!r || i < n) {
        Py_XDECREF(r);
        for (i = 0; i < n; i++)
            Py_XDECREF(v[i]);
        return NULL;
    }
    for (i = 0; i < n; i++)
        PyTuple_SET_ITEM(r, i, v[i]);
    return r;
}

/* The Resource of a wait on an object whose fields were read already
 * (object_only kinds: the values cached in `objects` as they are); Py_None
 * when resource() must make it; NULL on error.  New references. */
static PyObject *object_resource(Ctx *c, PyObject *kind_o, uint64_t obj,
                                 const uint8_t *w)
{
    PyObject *kind, *key, *values, *v[5];

    kind = PyDict_GetItemWithError(c->object_only, kind_o);
    if (!kind)
        return PyErr_Occurred() ? NULL : (Py_INCREF(Py_None), Py_None);
    v[1] = PyLong_FromUnsignedLongLong(obj);
    if (!v[1])
        return NULL;
    key = PyTuple_Pack(2, kind_o, v[1]);
    if (!key) {
        Py_DECREF(v[1]);
        return NULL;
    }
    values = PyDict_GetItemWithError(c->objects, key);
    Py_DECREF(key);
    if (!values || !PyTuple_CheckExact(values)) {
        Py_DECREF(v[1]);
        return PyErr_Occurred() ? NULL : (Py_INCREF(Py_None), Py_None);
    }
    Py_INCREF(kind);
    Py_INCREF(values);
    Py_INCREF(Py_None);
    v[0] = kind;
    v[2] = field_obj(w, &c->wait[W_SINCE]);
    v[3] = values;
    v[4] = Py_None;
    return record(c->resource_type, v, 5);
}

/* The Resource of the leaf whose wait record is `w`: a new reference, or
 * NULL with an error set. */
static PyObject *leaf_resource(Ctx *c, const uint8_t *w)
{
    uint64_t kind_v = field_u(w, &c->wait[W_KIND]);
    uint64_t obj = field_u(w, &c->wait[W_OBJECT]);
    PyObject *kind_o, *kind, *wait, *res = NULL;

    kind_o = PyLong_FromUnsignedLongLong(kind_v);
    if (!kind_o)
        return NULL;
    kind = PyDict_GetItemWithError(c->detail_only, kind_o);
    if (kind) {
        int null = 0;
        if (obj) {
            null = PySet_Contains(c->null_object, kind);
            if (null < 0) {
                Py_DECREF(kind_o);
                return NULL;
            }
        }
        if (!null) {
            PyObject *v[5];
            Py_DECREF(kind_o);
            Py_INCREF(kind);
            v[0] = kind;
            v[1] = PyLong_FromUnsignedLongLong(obj);
            v[2] = field_obj(w, &c->wait[W_SINCE]);
            v[3] = NULL;
            {
                PyObject *d = field_obj(w, &c->wait[W_DETAIL]);
                if (d) {
                    v[3] = PyTuple_Pack(1, d);
                    Py_DECREF(d);
                }
            }
            Py_INCREF(Py_None);
            v[4] = Py_None;
            return record(c->resource_type, v, 5);
        }
    } else if (PyErr_Occurred()) {
        Py_DECREF(kind_o);
        return NULL;
    } else if ((res = object_resource(c, kind_o, obj, w)) != Py_None) {
        Py_DECREF(kind_o);
        return res; /* (or NULL: an error) */
    } else {
        Py_DECREF(res);
    }
    wait = Py_BuildValue("(NNNNN)", kind_o, field_obj(w, &c->wait[W_FLAGS]),
                         PyLong_FromUnsignedLongLong(obj), field_obj(w, &c->wait[W_SINCE]),
                         field_obj(w, &c->wait[W_DETAIL]));
    if (!wait)
        return NULL;
    res = PyObject_CallOneArg(c->resource, wait);
    Py_DECREF(wait);
    return res;
}

/* The Task of one item when it is the template's plain case: a new
 * reference; Py_None (a new reference) when Python must do it; NULL on
 * error. */
static PyObject *fast_task(Ctx *c, PyObject *item)
{
    PyObject *tid_o, *addr_o, *error, *state, *name, *flags_o;
    PyObject *sp, *fl, *root_o, *owner, *res = NULL, *addrs, *lwp, *v[19];
    const uint8_t *rec, *chain_p;
    const Tpl *t = NULL;
    uint64_t addr, root, spawn_p;
    uint8_t rest[MAX_FIELDS * 64];
    Py_ssize_t i;
    int live;

    if (!PyTuple_Check(item) || PyTuple_GET_SIZE(item) != 6)
        Py_RETURN_NONE;
    tid_o = PyTuple_GET_ITEM(item, 0);
    addr_o = PyTuple_GET_ITEM(item, 1);
    error = PyTuple_GET_ITEM(item, 2);
    state = PyTuple_GET_ITEM(item, 3);
    name = PyTuple_GET_ITEM(item, 4);
    flags_o = PyTuple_GET_ITEM(item, 5);
    if (error != Py_None || !c->ntpl)
        Py_RETURN_NONE;
    addr = PyLong_AsUnsignedLongLong(addr_o);
    if (PyErr_Occurred())
        return NULL;
    if ((addr & BLOCK_MASK) + (uint64_t)c->rest_span > (uint64_t)BLOCK_SIZE)
        Py_RETURN_NONE; /* Python reads it from two blocks */
    rec = mem_at(&c->m, addr, c->rest_span);
    if (!rec)
        return PyErr_Occurred() ? NULL : (Py_INCREF(Py_None), Py_None);
    memcpy(rest, rec, (size_t)c->rest_span);
    spawn_p = field_u(rest, &c->rest[R_SPAWN]);
    root = field_u(rest, &c->rest[R_ROOT]);
    if (c->spawn_sp && spawn_p == c->spawn_p) {
        sp = c->spawn_sp; /* tasks of a program mostly share a spawn site */
    } else {
        PyObject *k = PyLong_FromUnsignedLongLong(spawn_p);
        if (!k)
            return NULL;
        sp = PyDict_GetItemWithError(c->spawns, k);
        Py_DECREF(k);
        if (!sp && PyErr_Occurred())
            return NULL;
        Py_XINCREF(sp);
        Py_XSETREF(c->spawn_sp, sp);
        c->spawn_p = spawn_p;
    }
    fl = PyDict_GetItemWithError(c->flag_names, flags_o);
    if (!fl && PyErr_Occurred())
        return NULL;
    if (!sp || !fl || !root || !PyTuple_Check(sp) || PyTuple_GET_SIZE(sp) != 2 ||
        PyTuple_GET_ITEM(sp, 1) != Py_None)
        Py_RETURN_NONE;
    live = PySet_Contains(c->live_states, state);
    if (live < 0)
        return NULL;
    if (!live || PyUnicode_CompareWithASCIIString(state, "running") == 0)
        Py_RETURN_NONE;
    root_o = PyLong_FromUnsignedLongLong(root);
    if (!root_o)
        return NULL;
    owner = PyDict_SetDefault(c->roots, root_o, tid_o);
    Py_DECREF(root_o);
    if (!owner)
        return NULL;
    if (owner != tid_o && PyObject_RichCompareBool(owner, tid_o, Py_EQ) != 1)
        return PyErr_Occurred() ? NULL : (Py_INCREF(Py_None), Py_None);
    /* The chain: a template's span in the root's block. */
    for (i = 0; i < c->ntpl; i++) {
        t = &c->tpl[i];
        if ((root & BLOCK_MASK) + (uint64_t)t->hi > (uint64_t)BLOCK_SIZE)
            continue;
        chain_p = mem_at(&c->m, root, t->hi);
        if (!chain_p) {
            if (PyErr_Occurred())
                return NULL;
            continue;
        }
        if (tpl_match(t, chain_p, root))
            break;
    }
    if (i == c->ntpl)
        Py_RETURN_NONE;
    if (c->tpl[i].leaf) {
        uint64_t leaf = root + t->rel[t->nrel - 1];
        const uint8_t *w;
        if ((leaf & BLOCK_MASK) + (uint64_t)c->wait_span > (uint64_t)BLOCK_SIZE)
            Py_RETURN_NONE;
        w = mem_at(&c->m, leaf, c->wait_span);
        if (!w)
            return PyErr_Occurred() ? NULL : (Py_INCREF(Py_None), Py_None);
        res = leaf_resource(c, w);
        if (!res)
            return NULL;
        if (res == Py_None)
            return res; /* (cannot happen: resource() makes a Resource) */
    } else if (PyUnicode_CompareWithASCIIString(state, "idle") == 0) {
        Py_RETURN_NONE; /* suspended, awaiting nothing: Python says so */
    }
    addrs = PyTuple_New(t->nrel);
    if (!addrs) {
        Py_XDECREF(res);
        return NULL;
    }
    for (i = 0; i < t->nrel; i++) {
        PyObject *a = PyLong_FromUnsignedLongLong(root + t->rel[i]);
        if (!a) {
            Py_DECREF(addrs);
            Py_XDECREF(res);
            return NULL;
        }
        PyTuple_SET_ITEM(addrs, i, a);
    }
    lwp = PyDict_GetItemWithError(c->threads, addr_o);
    if (!lwp && PyErr_Occurred()) {
        Py_DECREF(addrs);
        Py_XDECREF(res);
        return NULL;
    }
    v[0] = tid_o;
    v[1] = addr_o;
    v[2] = name;
    v[3] = state;
    v[4] = fl;
    v[6] = PyTuple_GET_ITEM(sp, 0);
    v[13] = lwp ? lwp : Py_None;
    v[14] = Py_None;
    v[15] = t->chain;
    v[18] = Py_None;
    for (i = 0; i < 19; i++)
        if (i < 5 || i == 6 || (i >= 13 && i <= 15) || i == 18)
            Py_INCREF(v[i]);
    v[5] = field_obj(rest, &c->rest[R_PARENT]);
    v[7] = field_obj(rest, &c->rest[R_POLLS]);
    v[8] = field_obj(rest, &c->rest[R_CREATED]);
    v[9] = field_obj(rest, &c->rest[R_STATE_NS]);
    v[10] = field_obj(rest, &c->rest[R_PSTART]);
    v[11] = field_obj(rest, &c->rest[R_PEND]);
    v[12] = field_obj(rest, &c->rest[R_WORKER]);
    v[16] = addrs;
    if (!res) {
        Py_INCREF(Py_None);
        res = Py_None;
    }
    v[17] = res;
    return record(c->task_type, v, 19);
}

PyDoc_STRVAR(tasks_doc,
"tasks(items, blocks, load, read, rest_layout, wait_layout, spawns, flag_names,\n"
"      roots, live_states, threads, detail_only, null_object, object_only,\n"
"      objects, resource, task_type, resource_type, slow) -> list of Task\n\n"
"walk.Walker.tasks: the record of every item that matches the chain template\n"
"in use; slow(item) -> (Task, Template or None) for every other item.");

static PyObject *tasks(PyObject *self, PyObject *args)
{
    PyObject *items, *rest_layout, *wait_layout, *slow, *out = NULL;
    Py_ssize_t i, n;
    Ctx c;

    memset(&c, 0, sizeof c);
    if (!PyArg_ParseTuple(args, "O!O!OOO!O!O!O!O!O!O!O!O!O!O!OOOO:tasks", &PyList_Type,
                          &items, &PyDict_Type, &c.m.blocks, &c.m.load, &c.m.read,
                          &PyTuple_Type, &rest_layout, &PyTuple_Type, &wait_layout,
                          &PyDict_Type, &c.spawns, &PyDict_Type, &c.flag_names,
                          &PyDict_Type, &c.roots, &PyFrozenSet_Type, &c.live_states,
                          &PyDict_Type, &c.threads, &PyDict_Type, &c.detail_only,
                          &PyFrozenSet_Type, &c.null_object, &PyDict_Type, &c.object_only,
                          &PyDict_Type, &c.objects, &c.resource, &c.task_type,
                          &c.resource_type, &slow))
        return NULL;
    if (!PyType_Check(c.task_type) || !PyType_Check(c.resource_type) ||
        !PyType_IsSubtype((PyTypeObject *)c.task_type, &PyTuple_Type) ||
        !PyType_IsSubtype((PyTypeObject *)c.resource_type, &PyTuple_Type)) {
        PyErr_SetString(PyExc_TypeError, "records are tuple types");
        return NULL;
    }
    if (parse_fields(rest_layout, c.rest, &c.rest_span) != R_COUNT ||
        parse_fields(wait_layout, c.wait, &c.wait_span) != W_COUNT) {
        if (!PyErr_Occurred())
            PyErr_SetString(PyExc_ValueError, "the task or leaf layout");
        return NULL;
    }
    n = PyList_GET_SIZE(items);
    out = PyList_New(n);
    if (!out)
        return NULL;
    for (i = 0; i < n; i++) {
        PyObject *item = PyList_GET_ITEM(items, i), *t;
        Py_INCREF(item); /* slow() may change the list */
        t = fast_task(&c, item);
        if (t == Py_None) {
            PyObject *pair;
            Py_DECREF(t);
            pair = PyObject_CallOneArg(slow, item);
            t = NULL;
            if (pair && PyTuple_Check(pair) && PyTuple_GET_SIZE(pair) == 2) {
                if (tpl_push(&c, PyTuple_GET_ITEM(pair, 1)) == 0) {
                    t = PyTuple_GET_ITEM(pair, 0);
                    Py_INCREF(t);
                }
            } else if (pair) {
                PyErr_SetString(PyExc_TypeError, "slow() returns (task, template)");
            }
            Py_XDECREF(pair);
        }
        Py_DECREF(item);
        if (!t)
            goto error;
        PyList_SET_ITEM(out, i, t);
    }
    ctx_clear(&c);
    return out;
error:
    ctx_clear(&c);
    Py_DECREF(out);
    return NULL;
}

#include "_speedups_json.h"  /* json_tasks: the JSON writer's hot loop */
#include "_speedups_table.h" /* table_rows: the task table's first pass */

static PyMethodDef methods[] = {
    {"owned", owned, METH_VARARGS, owned_doc},
    {"tasks", tasks, METH_VARARGS, tasks_doc},
    {"json_tasks", json_tasks, METH_VARARGS, json_tasks_doc},
    {"table_rows", table_rows, METH_VARARGS, table_rows_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_speedups",
    "C forms of the walk's two hot loops (see lists.py and walk.py).", -1, methods,
    NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__speedups(void)
{
    return PyModule_Create(&module);
}
