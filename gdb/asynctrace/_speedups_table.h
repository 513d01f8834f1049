/* _speedups_table.h - the C form of the task table's first pass (included
 * by _speedups.c; one module).
 *
 * table_rows() does what tasktable._Cells._read_py does for the common row
 * and nothing else: a healthy task off any thread whose await tree is a
 * chain, with a state time and, if its leaf waits, a resource without an
 * error whose words are cached (a sleep's words come from the span of
 * deadlines that show the same text).  Its entry is found by the task's
 * own fields, its resource words and its FOR text, in the same dict the
 * Python pass fills.  Every other task, and every task whose entry is not
 * made yet, goes to slow(task), the Python pass of one task, which makes
 * the entry; the texts of FOR and of a sleep come from age_span() and
 * sleep_span() (tasktable.py) whenever a value leaves the span of the last
 * text.
 */

typedef struct {
    PyObject *fn;   /* (value) -> (text, lo, hi) */
    PyObject *text; /* owned; NULL: no span yet */
    long long lo, hi;
} TSpan;

/* The text of `v` (new reference), NULL with an error set, or Py_None
 * (new reference) when the span cannot be held in 64 bits. */
static PyObject *tspan_text(TSpan *s, long long v)
{
    PyObject *arg, *r, *text;
    long long lo, hi;
    int o1, o2;

    if (s->text && s->lo <= v && v < s->hi) {
        Py_INCREF(s->text);
        return s->text;
    }
    arg = PyLong_FromLongLong(v);
    if (!arg)
        return NULL;
    r = PyObject_CallOneArg(s->fn, arg);
    Py_DECREF(arg);
    if (!r)
        return NULL;
    if (!PyTuple_Check(r) || PyTuple_GET_SIZE(r) != 3) {
        Py_DECREF(r);
        PyErr_SetString(PyExc_TypeError, "a span is (text, lo, hi)");
        return NULL;
    }
    text = PyTuple_GET_ITEM(r, 0);
    lo = PyLong_AsLongLongAndOverflow(PyTuple_GET_ITEM(r, 1), &o1);
    hi = PyLong_AsLongLongAndOverflow(PyTuple_GET_ITEM(r, 2), &o2);
    if (PyErr_Occurred()) {
        Py_DECREF(r);
        return NULL;
    }
    Py_INCREF(text);
    Py_CLEAR(s->text);
    if (!o1 && !o2) { /* else the span is not kept: this row alone */
        Py_INCREF(text);
        s->text = text;
        s->lo = lo;
        s->hi = hi;
    }
    Py_DECREF(r);
    return text;
}

/* The value of an exact int of 64 bits in *out: 1, or 0 when it is not one. */
static int tint(PyObject *v, long long *out)
{
    int overflow;

    if (!PyLong_CheckExact(v))
        return 0;
    *out = PyLong_AsLongLongAndOverflow(v, &overflow);
    if (overflow || (*out == -1 && PyErr_Occurred())) {
        PyErr_Clear();
        return 0;
    }
    return 1;
}

/* The words of the leaf's resource (new reference; Py_None for no
 * resource), NULL with no error set when the row is not for C, NULL with
 * an error set on a failure. */
static PyObject *trow_words(PyObject *res, PyObject *words, TSpan *sleep, long long now)
{
    PyObject *kind, *values, *key, *w;
    long long deadline, left;

    if (res == Py_None) {
        Py_INCREF(Py_None);
        return Py_None;
    }
    if (!PyTuple_Check(res) || PyTuple_GET_SIZE(res) != 5 || PyTuple_GET_ITEM(res, 4) != Py_None)
        return NULL;
    kind = PyTuple_GET_ITEM(res, 0);
    values = PyTuple_GET_ITEM(res, 3);
    if (PyUnicode_Check(kind) && PyUnicode_CompareWithASCIIString(kind, "sleep") == 0) {
        if (!PyTuple_Check(values) || PyTuple_GET_SIZE(values) < 1 ||
            !tint(PyTuple_GET_ITEM(values, 0), &deadline) || deadline == 0 ||
            __builtin_sub_overflow(deadline, now, &left))
            return NULL;
        return tspan_text(sleep, left);
    }
    key = PyTuple_Pack(3, kind, PyTuple_GET_ITEM(res, 1), values);
    if (!key)
        return NULL;
    w = PyDict_GetItemWithError(words, key);
    Py_DECREF(key);
    if (!w) {
        PyErr_Clear(); /* unhashable values: Python's */
        return NULL;
    }
    Py_INCREF(w);
    return w;
}

/* The entry of a common row (new reference), NULL with no error set when
 * the row is not for C (or its entry is not made yet), NULL with an error
 * set on a failure. */
static PyObject *trow_entry(PyObject *t, PyObject *by_fields, PyObject *words, PyObject *polled,
                            TSpan *age, TSpan *sleep, long long now)
{
    PyObject *w, *a, *key, *entry;
    long long state_ns, since;
    int r;

    if (!PyTuple_Check(t) || PyTuple_GET_SIZE(t) != 19 /* records.TASK_FIELDS */ ||
        PyTuple_GET_ITEM(t, 14) != Py_None || PyTuple_GET_ITEM(t, 15) == Py_None ||
        !tint(PyTuple_GET_ITEM(t, 9), &state_ns) || state_ns == 0)
        return NULL;
    if (polled != Py_None) {
        r = PyDict_Contains(polled, PyTuple_GET_ITEM(t, 1));
        if (r != 0) {
            if (r < 0)
                PyErr_Clear();
            return NULL;
        }
    }
    since = 0;
    if (now > state_ns && __builtin_sub_overflow(now, state_ns, &since))
        return NULL;
    w = trow_words(PyTuple_GET_ITEM(t, 17), words, sleep, now);
    if (!w)
        return NULL;
    a = tspan_text(age, since);
    if (!a) {
        Py_DECREF(w);
        return NULL;
    }
    key = PyTuple_Pack(7, PyTuple_GET_ITEM(t, 3), PyTuple_GET_ITEM(t, 2), PyTuple_GET_ITEM(t, 12),
                       PyTuple_GET_ITEM(t, 7), PyTuple_GET_ITEM(t, 15), w, a);
    Py_DECREF(w);
    Py_DECREF(a);
    if (!key)
        return NULL;
    entry = PyDict_GetItemWithError(by_fields, key);
    Py_DECREF(key);
    if (!entry) {
        PyErr_Clear();
        return NULL;
    }
    Py_INCREF(entry);
    return entry;
}

PyDoc_STRVAR(table_rows_doc,
"table_rows(tasks, now, by_fields, words, polled, ids, rows, slow, age_span,\n"
"           sleep_span)\n\n"
"tasktable._Cells.read: append each task's id to `ids` and its entry to\n"
"`rows`; slow(task) -> entry for every task that is not a common row or\n"
"whose entry is not in `by_fields` yet.");

static PyObject *table_rows(PyObject *self, PyObject *args)
{
    PyObject *tasks, *now_obj, *by_fields, *words, *polled, *ids, *rows, *slow;
    TSpan age = {NULL, NULL, 0, 0}, sleep = {NULL, NULL, 0, 0};
    Py_ssize_t i, n;
    long long now = 0;
    int timed;

    if (!PyArg_ParseTuple(args, "O!OO!O!OO!O!OOO:table_rows", &PyList_Type, &tasks, &now_obj,
                          &PyDict_Type, &by_fields, &PyDict_Type, &words, &polled,
                          &PyList_Type, &ids, &PyList_Type, &rows, &slow, &age.fn, &sleep.fn))
        return NULL;
    if (polled != Py_None && !PyDict_Check(polled)) {
        PyErr_SetString(PyExc_TypeError, "polled is a dict or None");
        return NULL;
    }
    timed = tint(now_obj, &now);
    n = PyList_GET_SIZE(tasks);
    for (i = 0; i < n; i++) {
        PyObject *t = PyList_GET_ITEM(tasks, i), *entry = NULL;
        Py_INCREF(t);
        if (timed)
            entry = trow_entry(t, by_fields, words, polled, &age, &sleep, now);
        if (!entry && !PyErr_Occurred())
            entry = PyObject_CallOneArg(slow, t);
        if (!entry || PyList_Append(ids, PyTuple_Check(t) && PyTuple_GET_SIZE(t) > 0
                                              ? PyTuple_GET_ITEM(t, 0) : Py_None) < 0 ||
            PyList_Append(rows, entry) < 0) {
            Py_XDECREF(entry);
            Py_DECREF(t);
            Py_CLEAR(age.text);
            Py_CLEAR(sleep.text);
            return NULL;
        }
        Py_DECREF(entry);
        Py_DECREF(t);
    }
    Py_CLEAR(age.text);
    Py_CLEAR(sleep.text);
    Py_RETURN_NONE;
}
