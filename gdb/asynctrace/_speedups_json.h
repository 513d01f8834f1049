/* _speedups_json.h - the C form of the JSON writer's hot loop (included by
 * _speedups.c; one module).
 *
 * json_tasks() does what jsonout.JsonWriter's shape writers do in Python,
 * and nothing else: the JSON text of a task whose await chain has a known
 * shape and whose leaf's resource has integer fields and no error.  The
 * text is the shape's format (jsonout.JsonWriter._chain) cut at its
 * conversions into literal pieces by Python (`program`), with the task's
 * fields in between, in the order the format has them.  The JSON of names,
 * states, flag sets and spawn sites comes from the writer's caches; a task
 * anything is missing for (a name not met yet, a shape without a program,
 * a field that is not a plain int of 64 bits) gets None, and Python writes
 * it (and fills the caches for the next one).  Every piece is ASCII (the
 * writer's JSON escapes everything else), so the text is copied byte for
 * byte into an ASCII str.
 */

typedef struct {
    char *p;
    Py_ssize_t len, cap;
} JBuf;

static int jb_room(JBuf *b, Py_ssize_t more)
{
    if (b->len + more <= b->cap)
        return 0;
    Py_ssize_t cap = b->cap ? b->cap : 4096;
    while (cap < b->len + more)
        cap *= 2;
    char *p = PyMem_Realloc(b->p, cap);
    if (!p) {
        PyErr_NoMemory();
        return -1;
    }
    b->p = p;
    b->cap = cap;
    return 0;
}

/* 1: appended; 0: not an ASCII str (the task goes to Python); -1: error. */
static int jb_str(JBuf *b, PyObject *s)
{
    if (!s || !PyUnicode_CheckExact(s) || !PyUnicode_IS_ASCII(s))
        return 0;
    Py_ssize_t n = PyUnicode_GET_LENGTH(s);
    if (jb_room(b, n) < 0)
        return -1;
    memcpy(b->p + b->len, PyUnicode_1BYTE_DATA(s), n);
    b->len += n;
    return 1;
}

/* `%d` of an int of 64 bits (signed, or unsigned above INT64_MAX). */
static int jb_dec(JBuf *b, PyObject *v)
{
    char tmp[24];
    int i = sizeof tmp, neg = 0, overflow;
    unsigned long long u;

    if (!PyLong_CheckExact(v))
        return 0;
    long long x = PyLong_AsLongLongAndOverflow(v, &overflow);
    if (overflow > 0) {
        u = PyLong_AsUnsignedLongLong(v);
        if (u == (unsigned long long)-1 && PyErr_Occurred()) {
            PyErr_Clear();
            return 0;
        }
    } else if (overflow < 0 || (x == -1 && PyErr_Occurred())) {
        PyErr_Clear();
        return 0;
    } else if (x < 0) {
        neg = 1;
        u = 0ULL - (unsigned long long)x;
    } else {
        u = (unsigned long long)x;
    }
    do {
        tmp[--i] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (neg)
        tmp[--i] = '-';
    if (jb_room(b, sizeof tmp - i) < 0)
        return -1;
    memcpy(b->p + b->len, tmp + i, sizeof tmp - i);
    b->len += sizeof tmp - i;
    return 1;
}

/* `%x` of an unsigned int of 64 bits. */
static int jb_hex(JBuf *b, PyObject *v)
{
    static const char digits[] = "0123456789abcdef";
    char tmp[16];
    int i = sizeof tmp;

    if (!PyLong_CheckExact(v))
        return 0;
    unsigned long long u = PyLong_AsUnsignedLongLong(v);
    if (u == (unsigned long long)-1 && PyErr_Occurred()) {
        PyErr_Clear();
        return 0;
    }
    do {
        tmp[--i] = digits[u & 15];
        u >>= 4;
    } while (u);
    if (jb_room(b, sizeof tmp - i) < 0)
        return -1;
    memcpy(b->p + b->len, tmp + i, sizeof tmp - i);
    b->len += sizeof tmp - i;
    return 1;
}

/* The cached JSON of `key` in `cache` (NULL when missing). */
static PyObject *jcached(PyObject *cache, PyObject *key)
{
    PyObject *v = PyDict_GetItemWithError(cache, key);
    if (!v && PyErr_Occurred())
        PyErr_Clear(); /* unhashable: Python says what it is */
    return v;
}

#define JT_FIELDS 19 /* records.TASK_FIELDS */
#define JT_HEAD 14   /* conversions before the frames (jsonout._TASK) */

/* The conversions of one task in `pieces` order: 1 written, 0 not for C,
 * -1 error. */
static int json_task(JBuf *b, PyObject *t, PyObject *programs, PyObject *const *caches)
{
    PyObject *res, *byk, *prog, *frames, *values, *pieces, *obj, *v;
    Py_ssize_t nframes, nvalues, k = 0, i;
    int r;

    if (!PyTuple_Check(t) || PyTuple_GET_SIZE(t) != JT_FIELDS)
        return 0;
    res = PyTuple_GET_ITEM(t, 17);
    frames = PyTuple_GET_ITEM(t, 16);
    if (PyTuple_GET_ITEM(t, 14) != Py_None || PyTuple_GET_ITEM(t, 15) == Py_None ||
        !PyTuple_Check(res) || PyTuple_GET_SIZE(res) != 5 ||
        PyTuple_GET_ITEM(res, 4) != Py_None || !PyTuple_Check(frames))
        return 0;
    byk = jcached(programs, PyTuple_GET_ITEM(t, 15));
    if (!byk || !PyDict_Check(byk))
        return 0;
    prog = jcached(byk, PyTuple_GET_ITEM(res, 0));
    if (!prog || !PyTuple_Check(prog) || PyTuple_GET_SIZE(prog) != 4)
        return 0;
    nframes = PyLong_AsSsize_t(PyTuple_GET_ITEM(prog, 0));
    nvalues = PyLong_AsSsize_t(PyTuple_GET_ITEM(prog, 1));
    values = PyTuple_GET_ITEM(res, 3);
    obj = PyTuple_GET_ITEM(res, 1);
    if (nframes < 0 || nvalues < 0 || PyErr_Occurred()) {
        PyErr_Clear();
        return 0;
    }
    if (PyTuple_GET_SIZE(frames) != nframes || !PyTuple_Check(values) ||
        PyTuple_GET_SIZE(values) != nvalues || !PyLong_CheckExact(obj))
        return 0;
    int with_obj = PyObject_IsTrue(obj);
    pieces = PyTuple_GET_ITEM(prog, with_obj ? 2 : 3);
    if (!PyTuple_Check(pieces) ||
        PyTuple_GET_SIZE(pieces) != JT_HEAD + nframes + with_obj + 1 + nvalues + 1)
        return 0;

#define PIECE()                                                                \
    do {                                                                       \
        if ((r = jb_str(b, PyTuple_GET_ITEM(pieces, k++))) != 1)               \
            return r;                                                          \
    } while (0)
#define CONV(fn, obj)                                                          \
    do {                                                                       \
        PIECE();                                                               \
        if ((r = fn(b, (obj))) != 1)                                           \
            return r;                                                          \
    } while (0)
/* A field that may be None: null, or its conversion. */
#define CONV_OR_NULL(fn, obj)                                                  \
    do {                                                                       \
        PyObject *o_ = (obj);                                                  \
        if (o_ != Py_None) {                                                   \
            CONV(fn, o_);                                                      \
            break;                                                             \
        }                                                                      \
        PIECE();                                                               \
        if (jb_room(b, 4) < 0)                                                 \
            return -1;                                                         \
        memcpy(b->p + b->len, "null", 4);                                      \
        b->len += 4;                                                           \
    } while (0)

    CONV(jb_dec, PyTuple_GET_ITEM(t, 0));                  /* id */
    CONV(jb_hex, PyTuple_GET_ITEM(t, 1));                  /* address */
    CONV(jb_str, jcached(caches[0], PyTuple_GET_ITEM(t, 2))); /* name */
    CONV(jb_str, jcached(caches[1], PyTuple_GET_ITEM(t, 3))); /* state */
    CONV(jb_str, jcached(caches[2], PyTuple_GET_ITEM(t, 4))); /* flags */
    CONV(jb_dec, PyTuple_GET_ITEM(t, 5));                  /* parent */
    v = PyTuple_GET_ITEM(t, 6);                            /* spawn */
    CONV_OR_NULL(jb_str, v == Py_None ? Py_None : jcached(caches[3], v));
    for (i = 7; i <= 12; i++) /* polls, created, state, poll start/end, worker */
        CONV(jb_dec, PyTuple_GET_ITEM(t, i));
    CONV_OR_NULL(jb_dec, PyTuple_GET_ITEM(t, 13)); /* thread */
    for (i = 0; i < nframes; i++)
        CONV(jb_hex, PyTuple_GET_ITEM(frames, i));
    if (with_obj)
        CONV(jb_hex, obj);
    CONV(jb_dec, PyTuple_GET_ITEM(res, 2)); /* since_ns */
    for (i = 0; i < nvalues; i++)
        CONV(jb_dec, PyTuple_GET_ITEM(values, i));
    PIECE();
#undef CONV_OR_NULL
#undef CONV
#undef PIECE
    return 1;
}

PyDoc_STRVAR(json_tasks_doc,
"json_tasks(tasks, programs, names, states, flags, spawns) -> (texts, missing)\n\n"
"jsonout.JsonWriter.tasks: the JSON text of every task a program of\n"
"`programs` ({Chain: {kind: (frames, values, pieces with object, pieces\n"
"without)}}) and the caches can write, None for the others (`missing` of\n"
"them).");

static PyObject *json_tasks(PyObject *self, PyObject *args)
{
    PyObject *tasks, *programs, *caches[4], *out;
    Py_ssize_t i, n, missing = 0;
    JBuf b = {NULL, 0, 0};

    if (!PyArg_ParseTuple(args, "O!O!O!O!O!O!:json_tasks", &PyList_Type, &tasks,
                          &PyDict_Type, &programs, &PyDict_Type, &caches[0],
                          &PyDict_Type, &caches[1], &PyDict_Type, &caches[2],
                          &PyDict_Type, &caches[3]))
        return NULL;
    n = PyList_GET_SIZE(tasks);
    out = PyList_New(n);
    if (!out)
        return NULL;
    for (i = 0; i < n; i++) {
        PyObject *text = Py_None;
        b.len = 0;
        int r = json_task(&b, PyList_GET_ITEM(tasks, i), programs, caches);
        if (r < 0)
            goto error;
        if (r == 1) {
            text = PyUnicode_New(b.len, 127);
            if (!text)
                goto error;
            memcpy(PyUnicode_1BYTE_DATA(text), b.p, b.len);
        } else {
            Py_INCREF(text);
            missing++;
        }
        PyList_SET_ITEM(out, i, text);
    }
    PyMem_Free(b.p);
    return Py_BuildValue("(Nn)", out, missing);
error:
    PyMem_Free(b.p);
    Py_DECREF(out);
    return NULL;
}
