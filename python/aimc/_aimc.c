/* _aimc.c - the CPython extension of the aimc package: the library's objects as Python types.
 *
 * Written against the CPython C API and numpy's C API (docs/python.md says why), linked
 * against libaimc (driver, kernel, configs, models, mapper) and the command's shared report
 * code (tools/: cli_run_json, cli_map_json, cli_info_json, the sweep), so that a report from
 * Python is the command's report byte for byte. The Python layer (aimc/__init__.py) turns the
 * JSON texts made here into dicts and wraps the types.
 *
 * Rules kept here: nothing prints; every failing call raises aimc.Error carrying the status
 * code, its name and the library's message (a config's file:line:col); arrays in and out are
 * float32 and are used in place when they are C-contiguous float32 already; the GIL is
 * released around every call that can take time (programming, MVMs, waits, runs, sweeps),
 * and a per-object lock keeps two Python threads out of one crossbar model at a time.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#define NPY_NO_DEPRECATED_API NPY_1_7_API_VERSION
#include <numpy/arrayobject.h>
#include <pythread.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "aimc.h"
#include "aimc_config.h"
#include "aimc_cost.h"
#include "aimc_map.h"
#include "aimc_rt.h"
#include "aimc_xbar.h"
#include "cli.h"
#include "json.h"
#include "sweep.h"

PyMODINIT_FUNC PyInit__aimc(void);

_Static_assert(sizeof(aimc_tile) == 8 * sizeof(uint32_t), "aimc_tile is 8 uint32 fields");

/* ---- errors ---------------------------------------------------------------------------- */

static PyObject *AimcError; /* aimc.Error */

static const char *status_name(int rc)
{
    static const char *const names[] = {
        "OK",        "ERR_INVALID", "ERR_NOMEM",  "ERR_IO",       "ERR_PARSE",
        "ERR_CONFIG", "ERR_NOFIT",  "ERR_STATE",  "ERR_BADHANDLE", "ERR_DEVICE",
        "ERR_TIMEOUT", "ERR_UNSUPPORTED", "ERR_NOTFOUND", "ERR_RANGE", "ERR_ABORTED"};
    return rc <= 0 && -rc < (int)(sizeof names / sizeof names[0]) ? names[-rc] : "ERR_UNKNOWN";
}

/* Raise aimc.Error(message) with .status, .status_name and .message; returns NULL. */
static PyObject *raise_status(int rc, const char *msg)
{
    const char *text = msg && msg[0] ? msg : aimc_strerror(rc);
    PyObject *e = PyObject_CallFunction(AimcError, "s", text);
    if (!e) return NULL;
    PyObject *st = PyLong_FromLong(rc), *nm = PyUnicode_FromString(status_name(rc)),
             *m = PyUnicode_FromString(text);
    if (st && nm && m && !PyObject_SetAttrString(e, "status", st) &&
        !PyObject_SetAttrString(e, "status_name", nm) && !PyObject_SetAttrString(e, "message", m))
        PyErr_SetObject(AimcError, e);
    Py_XDECREF(st);
    Py_XDECREF(nm);
    Py_XDECREF(m);
    Py_DECREF(e);
    return NULL;
}

static PyObject *raise_diag(int rc, const aimc_diag *d) { return raise_status(rc, d->msg); }

/* ---- helpers --------------------------------------------------------------------------- */

/* A float32 C-contiguous array of ndim 1 or 2 from o, without a copy when o is one already
 * (a new reference, or NULL with an exception set). */
static PyArrayObject *f32_in(PyObject *o, const char *what)
{
    PyArrayObject *a = (PyArrayObject *)PyArray_FROMANY(o, NPY_FLOAT32, 1, 2,
                                                        NPY_ARRAY_IN_ARRAY | NPY_ARRAY_FORCECAST);
    if (!a) {
        PyErr_Format(PyExc_TypeError, "%s: expected a 1-D or 2-D array of numbers", what);
        return NULL;
    }
    return a;
}

/* A writable float32 C-contiguous array given by the caller (no copy: results go into it). */
static int f32_out(PyObject *o, const char *what, npy_intp rows, npy_intp cols)
{
    if (!PyArray_Check(o) || PyArray_TYPE((PyArrayObject *)o) != NPY_FLOAT32 ||
        !PyArray_IS_C_CONTIGUOUS((PyArrayObject *)o) || !PyArray_ISWRITEABLE((PyArrayObject *)o)) {
        PyErr_Format(PyExc_TypeError, "%s: expected a writable C-contiguous float32 array", what);
        return -1;
    }
    if ((npy_intp)PyArray_SIZE((PyArrayObject *)o) != rows * cols) {
        PyErr_Format(PyExc_ValueError, "%s: expected %zd x %zd elements, got %zd", what,
                     (Py_ssize_t)rows, (Py_ssize_t)cols,
                     (Py_ssize_t)PyArray_SIZE((PyArrayObject *)o));
        return -1;
    }
    return 0;
}

/* A tile table: an (n, 8) uint32 array in aimc_tile's field order. */
static PyArrayObject *tiles_in(PyObject *o)
{
    PyArrayObject *t = (PyArrayObject *)PyArray_FROMANY(o, NPY_UINT32, 2, 2, NPY_ARRAY_IN_ARRAY);
    if (!t) return NULL;
    if (PyArray_DIM(t, 1) != 8 || PyArray_DIM(t, 0) < 1) {
        Py_DECREF(t);
        PyErr_SetString(PyExc_ValueError, "tiles: expected an (n, 8) array of uint32 (matrix, "
                                          "row0, nrows, col0, ncols, slice, xbar, xbar_col0)");
        return NULL;
    }
    return t;
}

/* Free a malloc'ed block when the numpy array that owns it goes. */
static void capsule_free(PyObject *cap) { free(PyCapsule_GetPointer(cap, "aimc.block")); }

/* A numpy array over a malloc'ed block, which it frees (no copy). Takes data even on failure. */
static PyObject *array_owning(void *data, int nd, npy_intp *dims, int type)
{
    PyObject *a = PyArray_SimpleNewFromData(nd, dims, type, data);
    if (!a) {
        free(data);
        return NULL;
    }
    PyObject *cap = PyCapsule_New(data, "aimc.block", capsule_free);
    if (!cap) {
        Py_DECREF(a);
        free(data);
        return NULL;
    }
    if (PyArray_SetBaseObject((PyArrayObject *)a, cap) < 0) {
        Py_DECREF(a);
        return NULL;
    }
    return a;
}

/* JSON text written by fn into a memory stream, as a Python str. */
typedef void (*json_fn)(aimc_json *j, void *ctx);
static PyObject *json_text(json_fn fn, void *ctx)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    aimc_json j;
    if (!f || aimc_json_open_file(&j, f)) {
        if (f) fclose(f);
        free(buf);
        return PyErr_NoMemory();
    }
    aimc_json_obj_begin(&j, NULL);
    aimc_json_str(&j, "aimc_version", AIMC_VERSION);
    fn(&j, ctx);
    aimc_json_obj_end(&j);
    int bad = aimc_json_close(&j);
    PyObject *s = bad ? raise_status(AIMC_ERR_IO, "writing a report failed")
                      : PyUnicode_FromStringAndSize(buf, (Py_ssize_t)len);
    free(buf);
    return s;
}

/* "key=value" assignments from a dict {key: value} or a sequence of "key=value" strings, kept
 * alive in *keep (a list of bytes). Returns the count, or -1 with an exception set. */
static Py_ssize_t sets_from(PyObject *o, PyObject **keep, const char ***out)
{
    *keep = PyList_New(0);
    *out = NULL;
    if (!*keep) return -1;
    if (!o || o == Py_None) return 0;
    PyObject *items = PyDict_Check(o) ? PyDict_Items(o) : PySequence_List(o);
    if (!items) {
        PyErr_SetString(PyExc_TypeError, "set: expected a dict {key: value} or a list of "
                                         "\"key=value\" strings");
        return -1;
    }
    Py_ssize_t n = PyList_GET_SIZE(items);
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *it = PyList_GET_ITEM(items, i), *s;
        if (PyTuple_Check(it)) {
            PyObject *k = PyTuple_GET_ITEM(it, 0), *v = PyTuple_GET_ITEM(it, 1);
            s = v == Py_True    ? PyUnicode_FromFormat("%S=true", k)
                : v == Py_False ? PyUnicode_FromFormat("%S=false", k)
                                : PyUnicode_FromFormat("%S=%S", k, v);
        } else if (PyUnicode_Check(it)) {
            s = Py_NewRef(it);
        } else {
            Py_DECREF(items);
            PyErr_SetString(PyExc_TypeError, "set: expected \"key=value\" strings");
            return -1;
        }
        PyObject *b = s ? PyUnicode_AsUTF8String(s) : NULL;
        Py_XDECREF(s);
        if (!b || PyList_Append(*keep, b)) {
            Py_XDECREF(b);
            Py_DECREF(items);
            return -1;
        }
        Py_DECREF(b);
    }
    Py_DECREF(items);
    if (n > CLI_MAX_SETS) {
        PyErr_Format(PyExc_ValueError, "set: at most %d keys", CLI_MAX_SETS);
        return -1;
    }
    *out = PyMem_Calloc((size_t)n + 1, sizeof **out);
    if (!*out) {
        PyErr_NoMemory();
        return -1;
    }
    for (Py_ssize_t i = 0; i < n; i++) (*out)[i] = PyBytes_AS_STRING(PyList_GET_ITEM(*keep, i));
    return n;
}

static int set_item(PyObject *d, const char *k, PyObject *v)
{
    if (!v) return -1;
    int rc = PyDict_SetItemString(d, k, v);
    Py_DECREF(v);
    return rc;
}

/* ---- Machine --------------------------------------------------------------------------- */

typedef struct {
    PyObject_HEAD
    aimc_arch a;
} MachineObject;

static PyTypeObject MachineType;

static PyObject *machine_new(PyTypeObject *type, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"path", "set", "text", "name", NULL};
    const char *path = NULL, *text = NULL, *name = "<string>";
    PyObject *set = NULL, *keep = NULL;
    const char **sets = NULL;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "|zOzs", kwlist, &path, &set, &text, &name))
        return NULL;
    Py_ssize_t n = sets_from(set, &keep, &sets);
    MachineObject *self = NULL;
    if (n < 0) goto out;
    self = (MachineObject *)type->tp_alloc(type, 0);
    if (!self) goto out;
    aimc_diag d = {{0}};
    int rc = text ? aimc_cfg_load_string(text, name, sets, (size_t)n, &self->a, &d)
                  : aimc_cfg_load(path, sets, (size_t)n, &self->a, &d);
    if (rc) {
        Py_CLEAR(self);
        raise_diag(rc, &d);
    }
out:
    PyMem_Free(sets);
    Py_XDECREF(keep);
    return (PyObject *)self;
}

static void info_cb(aimc_json *j, void *ctx) { cli_info_json(j, ctx); }

static PyObject *machine_info_json(MachineObject *self, PyObject *unused)
{
    (void)unused;
    return json_text(info_cb, &self->a);
}

static PyObject *machine_with_set(MachineObject *self, PyObject *set)
{
    PyObject *keep = NULL;
    const char **sets = NULL;
    Py_ssize_t n = sets_from(set, &keep, &sets);
    MachineObject *m = NULL;
    if (n < 0) goto out;
    m = (MachineObject *)Py_TYPE(self)->tp_alloc(Py_TYPE(self), 0);
    if (!m) goto out;
    m->a = self->a;
    aimc_diag d = {{0}};
    int rc = AIMC_OK;
    for (Py_ssize_t i = 0; i < n && rc == AIMC_OK; i++) rc = aimc_cfg_set(&m->a, sets[i], &d);
    if (rc == AIMC_OK) rc = aimc_arch_validate(&m->a, &d);
    if (rc) {
        Py_CLEAR(m);
        raise_diag(rc, &d);
    }
out:
    PyMem_Free(sets);
    Py_XDECREF(keep);
    return (PyObject *)m;
}

enum { M_NAME, M_ROWS, M_COLS, M_LCOLS, M_SLICES, M_XBARS, M_WBITS, M_ADC, M_DAC, M_BPC, M_CHIPS };

static PyObject *machine_get(MachineObject *self, void *closure)
{
    const aimc_arch *a = &self->a;
    switch ((int)(intptr_t)closure) {
    case M_NAME: return PyUnicode_FromString(a->name);
    case M_ROWS: return PyLong_FromLong(a->crossbar.rows);
    case M_COLS: return PyLong_FromLong(a->crossbar.cols);
    case M_LCOLS: return PyLong_FromLong(aimc_arch_logical_cols(a));
    case M_SLICES: return PyLong_FromLong(aimc_arch_slices(a));
    case M_XBARS: return PyLong_FromLong(aimc_arch_total_crossbars(a) * a->hierarchy.tiers);
    case M_WBITS: return PyLong_FromLong(a->crossbar.weight_bits);
    case M_ADC: return PyLong_FromLong(a->adc.bits);
    case M_DAC: return PyLong_FromLong(a->dac.bits);
    case M_BPC: return PyLong_FromLong(a->crossbar.bits_per_cell);
    case M_CHIPS: return PyLong_FromLong(a->hierarchy.chips);
    }
    Py_RETURN_NONE;
}

#define GET(name, id, doc) {name, (getter)machine_get, NULL, doc, (void *)(intptr_t)(id)}
static PyGetSetDef machine_getset[] = {
    GET("name", M_NAME, "the config's name"),
    GET("xbar_rows", M_ROWS, "crossbar.rows"),
    GET("xbar_cols", M_COLS, "crossbar.cols (physical columns)"),
    GET("logical_cols", M_LCOLS, "weight columns one crossbar holds"),
    GET("slices", M_SLICES, "crossbars (bit slices) per weight"),
    GET("crossbars", M_XBARS, "crossbar arrays of the whole machine"),
    GET("weight_bits", M_WBITS, "crossbar.weight_bits"),
    GET("adc_bits", M_ADC, "adc.bits"),
    GET("dac_bits", M_DAC, "dac.bits"),
    GET("bits_per_cell", M_BPC, "crossbar.bits_per_cell"),
    GET("chips", M_CHIPS, "hierarchy.chips"),
    {NULL, NULL, NULL, NULL, NULL},
};

static PyMethodDef machine_methods[] = {
    {"_info_json", (PyCFunction)machine_info_json, METH_NOARGS, "aimc info --json as text"},
    {"with_set", (PyCFunction)machine_with_set, METH_O,
     "with_set({key: value}) -> a copy with the keys overridden (the checks of --set)"},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject MachineType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "aimc._aimc.Machine",
    .tp_basicsize = sizeof(MachineObject),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE,
    .tp_doc = "Machine(path=None, set=None, text=None, name='<string>'): a machine config",
    .tp_new = machine_new,
    .tp_methods = machine_methods,
    .tp_getset = machine_getset,
};

/* ---- Model ----------------------------------------------------------------------------- */

typedef struct {
    PyObject_HEAD
    aimc_model *m;
    int weights;
} ModelObject;

static PyTypeObject ModelType;

static PyObject *model_new(PyTypeObject *type, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"path", "weights", "text", "name", NULL};
    const char *path = NULL, *text = NULL, *name = "<string>";
    int weights = 1;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "|zpzs", kwlist, &path, &weights, &text, &name))
        return NULL;
    if (!path && !text) {
        PyErr_SetString(PyExc_TypeError, "Model: give a path or text");
        return NULL;
    }
    ModelObject *self = (ModelObject *)type->tp_alloc(type, 0);
    if (!self) return NULL;
    self->weights = weights;
    aimc_diag d = {{0}};
    int rc;
    Py_BEGIN_ALLOW_THREADS
    rc = text ? aimc_model_load_string(text, name, weights, &self->m, &d)
              : aimc_model_load(path, weights, &self->m, &d);
    Py_END_ALLOW_THREADS
    if (rc) {
        Py_DECREF(self);
        return raise_diag(rc, &d);
    }
    return (PyObject *)self;
}

static void model_dealloc(ModelObject *self)
{
    aimc_model_free(self->m);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static const char *kind_name(aimc_mat_kind k)
{
    static const char *const names[] = {"router", "gate", "up", "down", "head"};
    return (unsigned)k < sizeof names / sizeof names[0] ? names[k] : "other";
}

static PyObject *model_matrices(ModelObject *self, PyObject *unused)
{
    (void)unused;
    PyObject *l = PyList_New((Py_ssize_t)self->m->n_matrices);
    for (size_t i = 0; l && i < self->m->n_matrices; i++) {
        const aimc_matrix *x = &self->m->m[i];
        PyObject *d = Py_BuildValue("{s:n,s:s,s:s,s:i,s:i,s:I,s:I}", "index", (Py_ssize_t)i,
                                    "name", x->name, "kind", kind_name(x->kind), "layer",
                                    x->layer, "expert", x->expert, "rows", x->rows, "cols",
                                    x->cols);
        if (!d) {
            Py_CLEAR(l);
            break;
        }
        PyList_SET_ITEM(l, (Py_ssize_t)i, d);
    }
    return l;
}

/* The weights of matrix i as a read-only (rows, cols) float32 view that keeps the model. */
static PyObject *model_weights(ModelObject *self, PyObject *arg)
{
    Py_ssize_t i = PyLong_AsSsize_t(arg);
    if (i == -1 && PyErr_Occurred()) return NULL;
    if (i < 0 || (size_t)i >= self->m->n_matrices) {
        PyErr_Format(PyExc_IndexError, "matrix %zd: the model has %zu", i, self->m->n_matrices);
        return NULL;
    }
    const aimc_matrix *x = &self->m->m[i];
    if (!x->w) return raise_status(AIMC_ERR_STATE, "the model was loaded without weights");
    npy_intp dims[2] = {x->rows, x->cols};
    PyObject *a = PyArray_New(&PyArray_Type, 2, dims, NPY_FLOAT32, NULL, x->w, 0,
                              NPY_ARRAY_C_CONTIGUOUS | NPY_ARRAY_ALIGNED, NULL);
    if (!a) return NULL;
    if (PyArray_SetBaseObject((PyArrayObject *)a, Py_NewRef((PyObject *)self)) < 0) {
        Py_DECREF(a);
        return NULL;
    }
    return a;
}

enum { MO_NAME, MO_LAYERS, MO_DMODEL, MO_EXPERTS, MO_TOPK, MO_SHARED, MO_DFF, MO_CLASSES,
       MO_NMAT, MO_WCOUNT, MO_HASW };

static PyObject *model_get(ModelObject *self, void *closure)
{
    const aimc_model *m = self->m;
    switch ((int)(intptr_t)closure) {
    case MO_NAME: return PyUnicode_FromString(m->name);
    case MO_LAYERS: return PyLong_FromLong(m->layers);
    case MO_DMODEL: return PyLong_FromLong(m->d_model);
    case MO_EXPERTS: return PyLong_FromLong(m->n_experts);
    case MO_TOPK: return PyLong_FromLong(m->top_k);
    case MO_SHARED: return PyLong_FromLong(m->n_shared);
    case MO_DFF: return PyLong_FromLong(m->d_ff);
    case MO_CLASSES: return PyLong_FromLong(m->n_classes);
    case MO_NMAT: return PyLong_FromSize_t(m->n_matrices);
    case MO_WCOUNT: return PyLong_FromUnsignedLongLong((unsigned long long)aimc_model_weight_count(m));
    case MO_HASW: return PyBool_FromLong(self->weights);
    }
    Py_RETURN_NONE;
}

#define MGET(name, id, doc) {name, (getter)model_get, NULL, doc, (void *)(intptr_t)(id)}
static PyGetSetDef model_getset[] = {
    MGET("name", MO_NAME, "the model's name"),
    MGET("layers", MO_LAYERS, "layers"),
    MGET("d_model", MO_DMODEL, "residual stream width"),
    MGET("n_experts", MO_EXPERTS, "routed experts per layer"),
    MGET("top_k", MO_TOPK, "experts per token"),
    MGET("n_shared", MO_SHARED, "shared experts per layer"),
    MGET("d_ff", MO_DFF, "expert hidden size"),
    MGET("n_classes", MO_CLASSES, "classes of a classifier's head (0: none)"),
    MGET("n_matrices", MO_NMAT, "weight matrices"),
    MGET("weight_count", MO_WCOUNT, "weights of every matrix"),
    MGET("has_weights", MO_HASW, "loaded with its weights"),
    {NULL, NULL, NULL, NULL, NULL},
};

static PyMethodDef model_methods[] = {
    {"matrices", (PyCFunction)model_matrices, METH_NOARGS, "every weight matrix, as dicts"},
    {"weights", (PyCFunction)model_weights, METH_O,
     "weights(i) -> matrix i's weights, a read-only (rows, cols) float32 view"},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject ModelType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "aimc._aimc.Model",
    .tp_basicsize = sizeof(ModelObject),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE,
    .tp_doc = "Model(path, weights=True, text=None, name='<string>'): an MoE model file",
    .tp_new = model_new,
    .tp_dealloc = (destructor)model_dealloc,
    .tp_methods = model_methods,
    .tp_getset = model_getset,
};

/* ---- Plan and map() -------------------------------------------------------------------- */

typedef struct {
    PyObject_HEAD
    aimc_plan *p;
    aimc_arch a;
    ModelObject *model;
    aimc_routing *rt;
    aimc_map_summary s;
} PlanObject;

static PyTypeObject PlanType;

static void plan_dealloc(PlanObject *self)
{
    aimc_plan_free(self->p);
    aimc_routing_free(self->rt);
    Py_XDECREF(self->model);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static void map_cb(aimc_json *j, void *ctx)
{
    PlanObject *p = ctx;
    cli_map_json(j, &p->a, p->model->m, p->p, p->rt, &p->s);
}

static PyObject *plan_summary_json(PlanObject *self, PyObject *unused)
{
    (void)unused;
    return json_text(map_cb, self);
}

/* The tiles of matrix i, an (n, 8) uint32 array in aimc_tile's field order. */
static PyObject *plan_tiles(PlanObject *self, PyObject *arg)
{
    Py_ssize_t i = PyLong_AsSsize_t(arg);
    if (i == -1 && PyErr_Occurred()) return NULL;
    if (i < 0 || (size_t)i >= self->p->n_matrices) {
        PyErr_Format(PyExc_IndexError, "matrix %zd: the plan has %zu", i, self->p->n_matrices);
        return NULL;
    }
    if (!self->p->tiles) return raise_status(AIMC_ERR_STATE, "a shape-only plan holds no tiles");
    npy_intp dims[2] = {(npy_intp)self->p->count[i], 8};
    PyObject *a = PyArray_SimpleNew(2, dims, NPY_UINT32);
    if (a) memcpy(PyArray_DATA((PyArrayObject *)a), self->p->tiles + self->p->first[i],
                  self->p->count[i] * sizeof(aimc_tile));
    return a;
}

enum { P_TILES, P_CHIPS, P_XBARS };
static PyObject *plan_get(PlanObject *self, void *closure)
{
    switch ((int)(intptr_t)closure) {
    case P_TILES: return PyLong_FromSize_t(self->p->n_tiles);
    case P_CHIPS: return PyLong_FromLong(self->p->chips_used);
    case P_XBARS: return PyLong_FromLong(self->p->xbars_used);
    }
    Py_RETURN_NONE;
}

static PyGetSetDef plan_getset[] = {
    {"n_tiles", (getter)plan_get, NULL, "tiles placed", (void *)(intptr_t)P_TILES},
    {"chips_used", (getter)plan_get, NULL, "chips the tiles use", (void *)(intptr_t)P_CHIPS},
    {"crossbars_used", (getter)plan_get, NULL, "crossbars the tiles use", (void *)(intptr_t)P_XBARS},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyMethodDef plan_methods[] = {
    {"_summary_json", (PyCFunction)plan_summary_json, METH_NOARGS, "aimc map --json as text"},
    {"tiles", (PyCFunction)plan_tiles, METH_O,
     "tiles(i) -> matrix i's tiles, an (n, 8) uint32 array (aimc_tile's fields)"},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject PlanType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "aimc._aimc.Plan",
    .tp_basicsize = sizeof(PlanObject),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "a mapping of a model onto a machine (aimc.map)",
    .tp_dealloc = (destructor)plan_dealloc,
    .tp_methods = plan_methods,
    .tp_getset = plan_getset,
};

static PyObject *py_map(PyObject *mod, PyObject *args, PyObject *kw)
{
    (void)mod;
    static char *kwlist[] = {"machine", "model", "shape_only", "seed", "routing", NULL};
    MachineObject *mach;
    ModelObject *model;
    int shape_only = 0;
    unsigned long long seed = 1;
    const char *routing = "uniform";
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O!O!|pKs", kwlist, &MachineType, &mach,
                                     &ModelType, &model, &shape_only, &seed, &routing))
        return NULL;
    PlanObject *self = (PlanObject *)PlanType.tp_alloc(&PlanType, 0);
    if (!self) return NULL;
    self->a = mach->a;
    self->model = (ModelObject *)Py_NewRef((PyObject *)model);
    if (shape_only) self->a.hierarchy.chips_auto = 1;
    aimc_diag d = {{0}};
    int rc;
    Py_BEGIN_ALLOW_THREADS
    rc = aimc_routing_from_spec(routing, model->m, &self->rt, &d);
    if (rc == AIMC_OK) {
        aimc_map_opts opts = {self->rt, NULL, 0, shape_only};
        float *faults = cli_fault_map(&self->a, seed, &opts.n_fault);
        opts.fault_fraction = faults;
        rc = aimc_map_plan_ex(&self->a, model->m, &opts, &self->p, &d);
        free(faults);
    }
    if (rc == AIMC_OK) rc = aimc_map_summarise(&self->a, model->m, self->p, self->rt, &self->s, &d);
    Py_END_ALLOW_THREADS
    if (rc) {
        Py_DECREF(self);
        return raise_diag(rc, &d);
    }
    return (PyObject *)self;
}

/* Tiles for one matrix on a machine, crossbars from first_xbar on: row blocks of
 * crossbar.rows, column blocks of the logical columns, one crossbar per bit slice. */
static PyObject *py_tiles(PyObject *mod, PyObject *args, PyObject *kw)
{
    (void)mod;
    static char *kwlist[] = {"machine", "rows", "cols", "first_xbar", "matrix", NULL};
    MachineObject *mach;
    unsigned rows, cols, first = 0, matrix = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O!II|II", kwlist, &MachineType, &mach, &rows,
                                     &cols, &first, &matrix))
        return NULL;
    const aimc_arch *a = &mach->a;
    const unsigned R = (unsigned)a->crossbar.rows, L = (unsigned)aimc_arch_logical_cols(a),
                   S = (unsigned)aimc_arch_slices(a);
    if (rows == 0 || cols == 0) return raise_status(AIMC_ERR_INVALID, "tiles: rows and cols must be > 0");
    const unsigned long long rb = (rows + R - 1) / R, cb = (cols + L - 1) / L, n = rb * cb * S;
    const unsigned long long total = (unsigned long long)aimc_arch_total_crossbars(a) *
                                     (unsigned long long)a->hierarchy.tiers;
    if (first + n > total) {
        char msg[200];
        snprintf(msg, sizeof msg, "tiles: a %u x %u matrix needs %llu crossbars from %u; the "
                 "machine has %llu", rows, cols, n, first, total);
        return raise_status(AIMC_ERR_NOFIT, msg);
    }
    npy_intp dims[2] = {(npy_intp)n, 8};
    PyObject *arr = PyArray_SimpleNew(2, dims, NPY_UINT32);
    if (!arr) return NULL;
    aimc_tile *t = PyArray_DATA((PyArrayObject *)arr);
    size_t k = 0;
    for (unsigned long long r = 0; r < rb; r++)
        for (unsigned long long c = 0; c < cb; c++)
            for (unsigned s = 0; s < S; s++, k++)
                t[k] = (aimc_tile){.matrix = matrix,
                                   .row0 = (uint32_t)(r * R),
                                   .nrows = (uint32_t)(rows - r * R < R ? rows - r * R : R),
                                   .col0 = (uint32_t)(c * L),
                                   .ncols = (uint32_t)(cols - c * L < L ? cols - c * L : L),
                                   .slice = s,
                                   .xbar = (uint32_t)(first + k),
                                   .xbar_col0 = 0};
    return arr;
}

/* ---- run() ----------------------------------------------------------------------------- */

typedef struct {
    cli_run_result *res;
    const aimc_model *m;
    const cli_options *o;
    const cli_run_opts *ro;
    const aimc_routing *routing;
    const aimc_gpu *gpu;
} run_ctx;

static void run_cb(aimc_json *j, void *ctx)
{
    run_ctx *c = ctx;
    cli_run_json(j, c->res, c->m, c->o, c->ro, c->routing, c->gpu);
}

/* run(ids=): a language model's token ids, a sequence or a 1-D integer array, each in
 * 0..vocab-1, copied into *out (malloc'ed, the caller frees it); 0, or -1 with TypeError
 * (not integers) or ValueError (shape, count, an id outside the vocabulary) set. */
static int ids_in(PyObject *o, const aimc_model *m, int **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    PyArrayObject *a = (PyArrayObject *)PyArray_FromAny(o, NULL, 0, 0, 0, NULL);
    if (!a) {
        PyErr_Clear();
        PyErr_SetString(PyExc_TypeError, "run: ids: expected a sequence or a 1-D array of "
                                         "integer token ids");
        return -1;
    }
    int rc = -1;
    PyArrayObject *c = NULL;
    const npy_intp k = PyArray_SIZE(a);
    if ((PyArray_NDIM(a) == 1 && k < 1) || k > 65536) {
        PyErr_Format(PyExc_ValueError, "run: ids: expected 1..65536 token ids, got %zd",
                     (Py_ssize_t)k);
        goto out;
    }
    if (!PyArray_ISINTEGER(a)) {
        PyErr_Format(PyExc_TypeError, "run: ids: expected integer token ids, got dtype %S",
                     (PyObject *)PyArray_DESCR(a));
        goto out;
    }
    if (PyArray_NDIM(a) != 1) {
        PyErr_Format(PyExc_ValueError, "run: ids: expected a 1-D sequence of token ids, got %d "
                     "dimensions", PyArray_NDIM(a));
        goto out;
    }
    const int uns = PyArray_ISUNSIGNED(a);
    if (!(c = (PyArrayObject *)PyArray_FROMANY((PyObject *)a, uns ? NPY_UINT64 : NPY_INT64, 1,
                                               1, NPY_ARRAY_IN_ARRAY)))
        goto out;
    if (!(*out = malloc((size_t)k * sizeof **out))) {
        PyErr_NoMemory();
        goto out;
    }
    for (npy_intp i = 0; i < k; i++) {
        const uint64_t u = uns ? ((const uint64_t *)PyArray_DATA(c))[i] : 0;
        const int64_t v = uns ? 0 : ((const int64_t *)PyArray_DATA(c))[i];
        if (uns ? u >= (uint64_t)m->vocab : v < 0 || v >= m->vocab) {
            char got[32];
            if (uns) snprintf(got, sizeof got, "%llu", (unsigned long long)u);
            else snprintf(got, sizeof got, "%lld", (long long)v);
            PyErr_Format(PyExc_ValueError, "run: ids[%zd]: %s is not a token id of model %s: "
                         "expected 0..%d (model.vocab %d)", (Py_ssize_t)i, got, m->name,
                         m->vocab - 1, m->vocab);
            free(*out);
            *out = NULL;
            goto out;
        }
        (*out)[i] = (int)(uns ? u : (uint64_t)v);
    }
    *n = (size_t)k;
    rc = 0;
out:
    Py_XDECREF(c);
    Py_DECREF(a);
    return rc;
}

/* run(x0=): the inputs of a model without a vocabulary, tokens x d_model finite real numbers,
 * as a float32 C-contiguous array of the run's own (a new reference; always a copy, so no
 * other thread changes it while the run, without the GIL, reads it); complex numbers are
 * refused, not cut to their real part. NULL with TypeError or ValueError set. */
static PyArrayObject *x0_in(PyObject *o, const aimc_model *m)
{
    if (PyArray_Check(o) && PyArray_ISCOMPLEX((PyArrayObject *)o)) {
        PyErr_Format(PyExc_TypeError, "run: x0: complex numbers are no inputs: expected a 2-D "
                     "real array (tokens x %d, model %s's d_model)", m->d_model, m->name);
        return NULL;
    }
    PyArrayObject *a = (PyArrayObject *)PyArray_FROMANY(
        o, NPY_FLOAT32, 0, 0, NPY_ARRAY_IN_ARRAY | NPY_ARRAY_FORCECAST | NPY_ARRAY_ENSURECOPY);
    if (!a) {
        PyErr_Clear();
        PyErr_Format(PyExc_TypeError, "run: x0: expected a 2-D float32 array (tokens x %d, "
                     "model %s's d_model)", m->d_model, m->name);
        return NULL;
    }
    if (PyArray_NDIM(a) != 2 || PyArray_DIM(a, 1) != m->d_model || PyArray_DIM(a, 0) < 1 ||
        PyArray_DIM(a, 0) > 65536) {
        PyObject *shape = PyObject_GetAttrString((PyObject *)a, "shape");
        if (shape)
            PyErr_Format(PyExc_ValueError, "run: x0: expected shape (tokens, %d) with 1..65536 "
                         "tokens (model %s's d_model is %d), got %S", m->d_model, m->name,
                         m->d_model, shape);
        Py_XDECREF(shape);
        Py_DECREF(a);
        return NULL;
    }
    const float *x = PyArray_DATA(a);
    const npy_intp n = PyArray_SIZE(a);
    for (npy_intp i = 0; i < n; i++)
        if (!isfinite(x[i])) {
            PyErr_Format(PyExc_ValueError, "run: x0[%zd, %zd]: %s is not a finite float32",
                         (Py_ssize_t)(i / m->d_model), (Py_ssize_t)(i % m->d_model),
                         isnan(x[i]) ? "nan" : x[i] > 0 ? "inf" : "-inf");
            Py_DECREF(a);
            return NULL;
        }
    return a;
}

/* run(machine, model, ...) -> (report JSON text, outputs dict of arrays) */
static PyObject *py_run(PyObject *mod, PyObject *args, PyObject *kw)
{
    (void)mod;
    static char *kwlist[] = {"machine", "model", "tokens", "seed", "backend", "timing_only",
                             "batch", "window", "activity", "routing", "compare", "trace",
                             "ids", "x0", "prompt", "generate", NULL};
    MachineObject *mach;
    ModelObject *model;
    long tokens = 0, batch = 0, window = 0, prompt = 0;
    unsigned long long seed = 1;
    const char *backend = "sim:", *activity = "measured", *routing = NULL, *compare = NULL,
               *trace = NULL;
    PyObject *ids_o = Py_None, *x0_o = Py_None;
    int timing_only = 0, generate = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O!O!|lKspllszzzOOlp", kwlist, &MachineType,
                                     &mach, &ModelType, &model, &tokens, &seed, &backend,
                                     &timing_only, &batch, &window, &activity, &routing, &compare,
                                     &trace, &ids_o, &x0_o, &prompt, &generate))
        return NULL;
    if (tokens < 0 || tokens > 65536 || batch < 0 || batch > 65536 || window < 0 ||
        window > 65536 || prompt < 0 || prompt > 65536)
        return raise_status(AIMC_ERR_INVALID, "run: tokens, batch, window and prompt are counts "
                                              "in 1..65536 (0: default)");
    const aimc_model *m = model->m;
    /* the command's rules for --tokens-file, --prompt and --generate (tools/cmd_run.c), in
     * the keywords' names */
    const int given_ids = ids_o != Py_None, given_x0 = x0_o != Py_None;
    if (given_ids && given_x0)
        return raise_status(AIMC_ERR_INVALID, "run: ids and x0: give one (ids for a model with "
                                              "a vocabulary, x0 for one without)");
    if ((given_ids || given_x0) && timing_only)
        return raise_status(AIMC_ERR_INVALID, given_ids
                                                  ? "run: ids needs values: a timing-only device "
                                                    "takes and gives none"
                                                  : "run: x0 needs values: a timing-only device "
                                                    "takes and gives none");
    if ((given_ids || given_x0) && tokens)
        return raise_status(AIMC_ERR_INVALID, given_ids
                                                  ? "run: tokens and ids: give one (ids says "
                                                    "how many)"
                                                  : "run: tokens and x0: give one (x0 says "
                                                    "how many)");
    char why[400];
    if (given_ids && m->vocab <= 0) {
        snprintf(why, sizeof why, "run: ids: model %s has no vocabulary (model.vocab), so it "
                 "takes no token ids; x0 gives its tokens' d_model input values", m->name);
        return raise_status(AIMC_ERR_INVALID, why);
    }
    if (given_x0 && m->vocab > 0) {
        snprintf(why, sizeof why, "run: x0: model %s has a vocabulary (model.vocab %d): its "
                 "tokens are ids, given with ids", m->name, m->vocab);
        return raise_status(AIMC_ERR_INVALID, why);
    }
    {
        static const char *const names[3] = {"prompt", "generate", "batch=N"};
        aimc_diag sd = {{0}};
        if (cli_sequence_opts_check(m, prompt != 0, generate != 0, names, &sd) != AIMC_OK) {
            char msg[sizeof sd.msg + 8];
            snprintf(msg, sizeof msg, "run: %s", sd.msg);
            return raise_status(AIMC_ERR_INVALID, msg);
        }
    }
    if (strcmp(activity, "measured") && strcmp(activity, "assumed"))
        return raise_status(AIMC_ERR_INVALID, "run: activity is \"measured\" or \"assumed\"");
    if (routing && !timing_only)
        return raise_status(AIMC_ERR_INVALID,
                            "run: routing is for timing_only (with values the device routes)");
    if ((timing_only || trace) && strncmp(backend, "sim:", 4) != 0)
        return raise_status(AIMC_ERR_INVALID, "run: timing_only and trace need the sim: backend");
    if (!timing_only && !model->weights)
        return raise_status(AIMC_ERR_STATE, "run: the model was loaded without weights "
                                            "(Model(path, weights=False)): use timing_only");
    const aimc_gpu *gpu = NULL;
    if (compare && (strncmp(compare, "gpu:", 4) != 0 || !(gpu = aimc_gpu_find(compare + 4))))
        return raise_status(AIMC_ERR_NOTFOUND, "run: compare: expected gpu:NAME (a100, h100, h200)");
    int *ids = NULL;
    size_t n_ids = 0;
    PyArrayObject *x0 = NULL; /* held until the run is over: the run reads its data */
    if (given_ids && ids_in(ids_o, m, &ids, &n_ids)) return NULL;
    if (given_x0 && !(x0 = x0_in(x0_o, m))) return NULL;
    cli_options o;
    memset(&o, 0, sizeof o);
    o.backend = backend;
    o.seed = seed;
    o.tokens = tokens;
    /* Every token's outputs; a language model's are those of the ids its windows ran (its
     * text), with the perplexity and next-token accuracy the command reports. */
    cli_run_opts ro = {.timing_only = timing_only,
                       .activity_assumed = !strcmp(activity, "assumed"),
                       .trace = trace,
                       .routing = routing,
                       .compare = compare,
                       .batch = batch,
                       .window = window,
                       .prompt = prompt,
                       .generate = generate,
                       .keep_outputs = 1,
                       .x0 = x0 ? PyArray_DATA(x0) : NULL,
                       .x0_tokens = x0 ? (size_t)PyArray_DIM(x0, 0) : 0,
                       .ids = ids,
                       .n_ids = n_ids};
    cli_run_result res;
    aimc_routing *rt = NULL;
    aimc_diag d = {{0}};
    int rc = AIMC_OK;
    Py_BEGIN_ALLOW_THREADS
    if (routing) rc = aimc_routing_from_spec(routing, model->m, &rt, &d);
    if (rc == AIMC_OK) rc = cli_run_compute(&mach->a, model->m, &o, &ro, rt, &res, &d);
    else memset(&res, 0, sizeof res);
    Py_END_ALLOW_THREADS
    PyObject *out = NULL, *text = NULL, *arrays = NULL;
    if (rc) {
        raise_diag(rc, &d);
        goto done;
    }
    run_ctx ctx = {&res, model->m, &o, &ro, rt, gpu};
    if (!(text = json_text(run_cb, &ctx))) goto done;
    if (!(arrays = PyDict_New())) goto done;
    cli_outputs *op = &res.ex.outputs;
    if (op->x) {
        npy_intp dx[2] = {(npy_intp)op->ntok, m->d_model};
        PyObject *a = array_owning(op->x, 2, dx, NPY_FLOAT32);
        op->x = NULL;
        if (set_item(arrays, "x", a)) goto done;
    }
    if (op->logits) {
        npy_intp dl[2] = {(npy_intp)op->ntok, m->n_classes};
        PyObject *a = array_owning(op->logits, 2, dl, NPY_FLOAT32);
        op->logits = NULL;
        if (set_item(arrays, "logits", a)) goto done;
    }
    if (op->experts) {
        npy_intp de[3] = {m->layers - m->dense_layers, (npy_intp)op->ntok, m->top_k};
        PyObject *a = array_owning(op->experts, 3, de, NPY_INT32);
        op->experts = NULL;
        if (set_item(arrays, "experts", a)) goto done;
    }
    if (op->labels) {
        npy_intp dn[1] = {(npy_intp)op->ntok};
        PyObject *a = array_owning(op->labels, 1, dn, NPY_INT32);
        op->labels = NULL;
        if (set_item(arrays, "labels", a)) goto done;
    }
    if (op->ids) {
        npy_intp dn[1] = {(npy_intp)op->ntok};
        PyObject *a = array_owning(op->ids, 1, dn, NPY_INT32);
        op->ids = NULL;
        if (set_item(arrays, "ids", a)) goto done;
    }
    out = PyTuple_Pack(2, text, arrays);
done:
    Py_XDECREF(text);
    Py_XDECREF(arrays);
    cli_run_result_free(&res);
    aimc_routing_free(rt);
    free(ids);
    Py_XDECREF(x0);
    return out;
}

/* ---- sweep() --------------------------------------------------------------------------- */

/* sweep(spec_path, default_model, out_dir, jobs, text=None) -> the JSON text aimc sweep
 * writes (PREFIX.json), its files left in out_dir. */
static PyObject *py_sweep(PyObject *mod, PyObject *args, PyObject *kw)
{
    (void)mod;
    static char *kwlist[] = {"spec", "default_model", "out_dir", "jobs", "text", NULL};
    const char *spec, *dmodel, *dir, *text = NULL;
    int jobs = 1;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "sss|iz", kwlist, &spec, &dmodel, &dir, &jobs,
                                     &text))
        return NULL;
    if (jobs < 1 || jobs > 1024) return raise_status(AIMC_ERR_INVALID, "sweep: jobs in 1..1024");
    sweep_spec *s = calloc(1, sizeof *s);
    if (!s) return PyErr_NoMemory();
    aimc_model *m = NULL;
    sweep_results r;
    memset(&r, 0, sizeof r);
    aimc_diag d = {{0}};
    char path[SWEEP_PATH_LEN + 16];
    int fd = -1, rc;
    PyObject *result = NULL;
    Py_BEGIN_ALLOW_THREADS
    rc = text ? sweep_spec_load_string(text, spec, s, &d) : sweep_spec_load(spec, s, &d);
    if (!rc) rc = sweep_spec_add_model(s, dmodel, &d);
    if (!rc) rc = aimc_model_load(s->model_path, 1, &m, &d);
    if (!rc && sweep_results_init(&r, s->n_points, s->n_metrics))
        rc = aimc_diag_set(&d, AIMC_ERR_NOMEM, "out of memory for %llu points",
                           (unsigned long long)s->n_points);
    if (!rc) {
        snprintf(path, sizeof path, "%s/sweep.log", dir);
        rc = sweep_log_open(s, path, 1, &r, &fd, &d);
    }
    if (!rc) {
        sweep_progress pg;
        sweep_progress_start(&pg, s->n_points, -1);
        if (jobs == 1) { /* in this process, no fork */
            char line[SWEEP_LINE_MAX];
            for (uint64_t i = 0; !rc && i < s->n_points; i++) {
                int len = sweep_eval_point(s, m, i, line, sizeof line);
                if (len < 0) rc = aimc_diag_set(&d, AIMC_ERR_NOMEM, "point %llu: line too long",
                                                (unsigned long long)i);
                else if (!(rc = sweep_log_append(fd, line, (size_t)len, &d)))
                    rc = sweep_results_add(s, &r, line, (size_t)len);
            }
        } else {
            rc = sweep_run_local(s, m, &r, fd, jobs, &pg, &d);
        }
    }
    if (!rc) {
        sweep_pareto(s, &r);
        snprintf(path, sizeof path, "%s/sweep.json", dir);
        rc = sweep_write_json(s, &r, path, &d);
        if (!rc) {
            snprintf(path, sizeof path, "%s/sweep.csv", dir);
            rc = sweep_write_csv(s, &r, path, &d);
        }
    }
    if (fd >= 0) close(fd);
    Py_END_ALLOW_THREADS
    if (rc) raise_diag(rc, &d);
    else result = PyUnicode_FromString(path);
    sweep_results_free(&r);
    aimc_model_free(m);
    sweep_spec_free(s);
    free(s);
    return result;
}

/* ---- Xbar: the crossbar kernel --------------------------------------------------------- */

typedef struct {
    PyObject_HEAD
    aimc_xbar *x;
    aimc_xbar_stats st;
    PyThread_type_lock lock;
} XbarObject;

static PyTypeObject XbarType;

static PyObject *xbar_new(PyTypeObject *type, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"machine", "seed", NULL};
    MachineObject *mach;
    unsigned long long seed = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O!|K", kwlist, &MachineType, &mach, &seed))
        return NULL;
    XbarObject *self = (XbarObject *)type->tp_alloc(type, 0);
    if (!self) return NULL;
    if (!(self->lock = PyThread_allocate_lock())) {
        Py_DECREF(self);
        return PyErr_NoMemory();
    }
    int rc = aimc_xbar_create(&mach->a, seed, &self->x);
    if (rc) {
        Py_DECREF(self);
        return raise_status(rc, NULL);
    }
    return (PyObject *)self;
}

static void xbar_dealloc(XbarObject *self)
{
    aimc_xbar_destroy(self->x);
    if (self->lock) PyThread_free_lock(self->lock);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

#define XBAR_LOCKED(self, stmt)                                                                 \
    do {                                                                                        \
        Py_BEGIN_ALLOW_THREADS PyThread_acquire_lock((self)->lock, WAIT_LOCK);                 \
        stmt;                                                                                   \
        PyThread_release_lock((self)->lock);                                                    \
        Py_END_ALLOW_THREADS                                                                    \
    } while (0)

static PyObject *program_report(const aimc_program_report *r)
{
    return Py_BuildValue("{s:I,s:K,s:K,s:K,s:d,s:K,s:K}", "iterations", r->iterations,
                         "devices", (unsigned long long)r->devices, "devices_failed",
                         (unsigned long long)r->devices_failed, "pulses",
                         (unsigned long long)r->pulses, "rms_error_us", r->rms_error_us, "xbars",
                         (unsigned long long)r->xbars, "pulses_max",
                         (unsigned long long)r->pulses_max);
}

static PyObject *xbar_program(XbarObject *self, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"matrix", "w", "tiles", "verify", "tolerance", NULL};
    unsigned id, verify = 0;
    double tol = 0.0;
    PyObject *wo, *to;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "IOO|Id", kwlist, &id, &wo, &to, &verify, &tol))
        return NULL;
    PyArrayObject *w = f32_in(wo, "w"), *t = w ? tiles_in(to) : NULL;
    if (!t) {
        Py_XDECREF(w);
        return NULL;
    }
    if (PyArray_NDIM(w) != 2) {
        Py_DECREF(w);
        Py_DECREF(t);
        PyErr_SetString(PyExc_ValueError, "w: expected a 2-D (rows, cols) array");
        return NULL;
    }
    const uint32_t rows = (uint32_t)PyArray_DIM(w, 0), cols = (uint32_t)PyArray_DIM(w, 1);
    const float *wp = PyArray_DATA(w);
    const aimc_tile *tp = PyArray_DATA(t);
    const size_t nt = (size_t)PyArray_DIM(t, 0);
    aimc_program_opts po = {verify, tol};
    aimc_program_report rep;
    memset(&rep, 0, sizeof rep);
    aimc_diag d = {{0}};
    int rc;
    XBAR_LOCKED(self, rc = aimc_xbar_program_verify(self->x, id, wp, rows, cols, tp, nt, &po,
                                                    &rep, &self->st, &d));
    Py_DECREF(w);
    Py_DECREF(t);
    if (rc) return raise_diag(rc, &d);
    return program_report(&rep);
}

/* y = x W for a batch: x (batch, rows) or (rows,), float32; out (optional) receives y. */
static PyObject *xbar_mvm(XbarObject *self, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"matrix", "x", "out", NULL};
    unsigned id;
    PyObject *xo, *outo = NULL;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "IO|O", kwlist, &id, &xo, &outo)) return NULL;
    uint32_t rows, cols;
    if (aimc_xbar_matrix_shape(self->x, id, &rows, &cols) != AIMC_OK) {
        char msg[96];
        snprintf(msg, sizeof msg, "matrix %u is not programmed", id);
        return raise_status(AIMC_ERR_STATE, msg);
    }
    PyArrayObject *x = f32_in(xo, "x");
    if (!x) return NULL;
    const int nd = PyArray_NDIM(x);
    const npy_intp batch = nd == 2 ? PyArray_DIM(x, 0) : 1;
    if (PyArray_DIM(x, nd - 1) != (npy_intp)rows || batch < 1) {
        PyErr_Format(PyExc_ValueError, "x: expected %u inputs per vector (matrix %u is %u x %u), "
                     "got %zd", rows, id, rows, cols, (Py_ssize_t)PyArray_DIM(x, nd - 1));
        Py_DECREF(x);
        return NULL;
    }
    PyObject *y;
    if (outo && outo != Py_None) {
        if (f32_out(outo, "out", batch, cols)) {
            Py_DECREF(x);
            return NULL;
        }
        y = Py_NewRef(outo);
    } else {
        npy_intp dims[2] = {batch, cols};
        y = nd == 2 ? PyArray_SimpleNew(2, dims, NPY_FLOAT32)
                    : PyArray_SimpleNew(1, dims + 1, NPY_FLOAT32);
        if (!y) {
            Py_DECREF(x);
            return NULL;
        }
    }
    const float *xp = PyArray_DATA(x);
    float *yp = PyArray_DATA((PyArrayObject *)y);
    int rc;
    XBAR_LOCKED(self, rc = aimc_xbar_mvm(self->x, id, xp, (uint32_t)batch, yp, &self->st));
    Py_DECREF(x);
    if (rc) {
        Py_DECREF(y);
        return raise_status(rc, rc == AIMC_ERR_STATE ? "the matrix was overwritten by another"
                                                     : NULL);
    }
    return y;
}

/* The C call alone, n times on the same arrays: the reference of make bench-python. */
static PyObject *xbar_time_c(XbarObject *self, PyObject *args)
{
    unsigned id;
    int n;
    PyObject *xo, *yo;
    if (!PyArg_ParseTuple(args, "IOOi", &id, &xo, &yo, &n)) return NULL;
    uint32_t rows, cols;
    if (aimc_xbar_matrix_shape(self->x, id, &rows, &cols) != AIMC_OK)
        return raise_status(AIMC_ERR_STATE, "not programmed");
    if (!PyArray_Check(xo) || !PyArray_Check(yo)) return raise_status(AIMC_ERR_INVALID, "arrays");
    const uint32_t batch = (uint32_t)(PyArray_SIZE((PyArrayObject *)xo) / rows);
    const float *xp = PyArray_DATA((PyArrayObject *)xo);
    float *yp = PyArray_DATA((PyArrayObject *)yo);
    int rc = AIMC_OK;
    struct timespec t0, t1;
    Py_BEGIN_ALLOW_THREADS
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (int i = 0; i < n && rc == AIMC_OK; i++) rc = aimc_xbar_mvm(self->x, id, xp, batch, yp, NULL);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    Py_END_ALLOW_THREADS
    if (rc) return raise_status(rc, NULL);
    return PyFloat_FromDouble((double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec));
}

static PyObject *xbar_stats(XbarObject *self, PyObject *unused)
{
    (void)unused;
    const aimc_xbar_stats *s = &self->st;
    return Py_BuildValue("{s:K,s:K,s:d,s:K,s:K,s:K}", "mvms", (unsigned long long)s->mvms,
                         "dac_drives", (unsigned long long)s->dac_drives, "xbar_charge",
                         s->xbar_charge, "adc_saturations",
                         (unsigned long long)s->adc_saturations, "cells_programmed",
                         (unsigned long long)s->cells_programmed, "program_pulses",
                         (unsigned long long)s->program_pulses);
}

static PyObject *xbar_reset_stats(XbarObject *self, PyObject *unused)
{
    (void)unused;
    memset(&self->st, 0, sizeof self->st);
    Py_RETURN_NONE;
}

static PyObject *xbar_set_read_time(XbarObject *self, PyObject *arg)
{
    double t = PyFloat_AsDouble(arg);
    if (t == -1.0 && PyErr_Occurred()) return NULL;
    int rc;
    XBAR_LOCKED(self, rc = aimc_xbar_set_read_time(self->x, t));
    if (rc) return raise_status(rc, "read_time: a time >= 0 in seconds");
    Py_RETURN_NONE;
}

static PyObject *xbar_set_drift_compensation(XbarObject *self, PyObject *arg)
{
    int on = PyObject_IsTrue(arg);
    if (on < 0) return NULL;
    int rc;
    XBAR_LOCKED(self, rc = aimc_xbar_set_drift_compensation(self->x, on));
    if (rc) return raise_status(rc, NULL);
    Py_RETURN_NONE;
}

static PyObject *xbar_set_threads(XbarObject *self, PyObject *arg)
{
    long n = PyLong_AsLong(arg);
    if (n == -1 && PyErr_Occurred()) return NULL;
    int rc;
    XBAR_LOCKED(self, rc = aimc_xbar_set_threads(self->x, n < 1 || n > 1024 ? 0 : (int)n));
    if (rc) return raise_status(rc, "threads: 1..1024");
    Py_RETURN_NONE;
}

static PyObject *xbar_shape(XbarObject *self, PyObject *arg)
{
    unsigned long id = PyLong_AsUnsignedLong(arg);
    if (PyErr_Occurred()) return NULL;
    uint32_t rows, cols;
    if (id > UINT32_MAX || aimc_xbar_matrix_shape(self->x, (uint32_t)id, &rows, &cols) != AIMC_OK)
        Py_RETURN_NONE;
    return Py_BuildValue("(II)", rows, cols);
}

static PyObject *xbar_memory(XbarObject *self, PyObject *unused)
{
    (void)unused;
    return PyLong_FromSize_t(aimc_xbar_memory_bytes(self->x));
}

static PyObject *xbar_cell(XbarObject *self, PyObject *args)
{
    unsigned xb, row, col;
    if (!PyArg_ParseTuple(args, "III", &xb, &row, &col)) return NULL;
    aimc_xbar_cell_info c;
    int rc;
    XBAR_LOCKED(self, rc = aimc_xbar_cell(self->x, xb, row, col, &c));
    if (rc) return raise_status(rc, "cell: no such crossbar, row or column");
    return Py_BuildValue("{s:O,s:i,s:d,s:d,s:d,s:d}", "programmed", c.programmed ? Py_True : Py_False,
                         "fault", c.fault, "g_prog_us", c.g_prog_us, "nu", c.nu, "g_read_us",
                         c.g_read_us, "read_sigma_us", c.read_sigma_us);
}

static PyMethodDef xbar_methods[] = {
    {"program", (PyCFunction)(void (*)(void))xbar_program, METH_VARARGS | METH_KEYWORDS,
     "program(matrix, w, tiles, verify=0, tolerance=0.0) -> report dict"},
    {"mvm", (PyCFunction)(void (*)(void))xbar_mvm, METH_VARARGS | METH_KEYWORDS,
     "mvm(matrix, x, out=None) -> y = x W as the machine computes it (float32)"},
    {"stats", (PyCFunction)xbar_stats, METH_NOARGS, "the data-dependent counts so far"},
    {"reset_stats", (PyCFunction)xbar_reset_stats, METH_NOARGS, "counts to zero"},
    {"set_read_time", (PyCFunction)xbar_set_read_time, METH_O,
     "reads happen t seconds after programming (PCM drift, 1/f noise)"},
    {"set_drift_compensation", (PyCFunction)xbar_set_drift_compensation, METH_O,
     "global drift compensation on or off"},
    {"set_threads", (PyCFunction)xbar_set_threads, METH_O, "threads of an MVM (results identical)"},
    {"matrix_shape", (PyCFunction)xbar_shape, METH_O, "(rows, cols) of a programmed matrix, or None"},
    {"memory_bytes", (PyCFunction)xbar_memory, METH_NOARGS, "memory the machine holds"},
    {"cell", (PyCFunction)xbar_cell, METH_VARARGS, "cell(xbar, row, col) -> one device as read"},
    {"_time_c", (PyCFunction)xbar_time_c, METH_VARARGS, "benchmark: n C calls, seconds"},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject XbarType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "aimc._aimc.Xbar",
    .tp_basicsize = sizeof(XbarObject),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE,
    .tp_doc = "Xbar(machine, seed=0): the crossbar kernel (aimc_xbar.h) on numpy arrays",
    .tp_new = xbar_new,
    .tp_dealloc = (destructor)xbar_dealloc,
    .tp_methods = xbar_methods,
};

/* ---- Device and Buffer: the driver ----------------------------------------------------- */

typedef struct {
    PyObject_HEAD
    aimc_dev *dev;
    int closed;      /* close() was called: calls fail; the device itself goes with the object */
    PyObject *jobs;  /* fence -> the arrays a submit writes into, kept until waited for */
} DeviceObject;

typedef struct {
    PyObject_HEAD
    DeviceObject *dev;
    aimc_bo *bo;
    PyArray_Descr *dtype;
    int nd;
    npy_intp dims[NPY_MAXDIMS];
} BufferObject;

static PyTypeObject DeviceType, BufferType;

/* The device's last error as an exception. */
static PyObject *raise_dev(DeviceObject *self, int rc)
{
    return raise_status(rc, aimc_error_text(self->dev));
}

static int dev_ok(DeviceObject *self)
{
    if (self->closed || !self->dev) {
        raise_status(AIMC_ERR_BADHANDLE, "the device is closed");
        return 0;
    }
    return 1;
}

static PyObject *device_new(PyTypeObject *type, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"uri", "machine", "seed", "watchdog_us", "timing_only", NULL};
    const char *uri = "sim:";
    PyObject *mach = Py_None;
    unsigned long long seed = 0;
    unsigned watchdog = 0;
    int timing_only = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "|sOKIp", kwlist, &uri, &mach, &seed, &watchdog,
                                     &timing_only))
        return NULL;
    if (mach != Py_None && !PyObject_TypeCheck(mach, &MachineType)) {
        PyErr_SetString(PyExc_TypeError, "machine: expected an aimc.Machine or None");
        return NULL;
    }
    DeviceObject *self = (DeviceObject *)type->tp_alloc(type, 0);
    if (!self) return NULL;
    if (!(self->jobs = PyDict_New())) {
        Py_DECREF(self);
        return NULL;
    }
    aimc_diag why = {{0}};
    aimc_open_opts o = {.arch = mach != Py_None ? &((MachineObject *)mach)->a : NULL,
                        .seed = seed,
                        .watchdog_us = watchdog,
                        .diag = &why,
                        .timing_only = timing_only};
    int rc;
    Py_BEGIN_ALLOW_THREADS
    rc = aimc_open(uri, &o, &self->dev);
    Py_END_ALLOW_THREADS
    if (rc) {
        Py_DECREF(self);
        return raise_diag(rc, &why);
    }
    return (PyObject *)self;
}

static void device_dealloc(DeviceObject *self)
{
    if (self->dev) {
        Py_BEGIN_ALLOW_THREADS
        aimc_close(self->dev);
        Py_END_ALLOW_THREADS
    }
    Py_XDECREF(self->jobs);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

/* Buffers keep their device, so the device is freed after its last buffer (aimc.h: destroy
 * buffers before closing); close() only stops further use. */
static PyObject *device_close(DeviceObject *self, PyObject *unused)
{
    (void)unused;
    self->closed = 1;
    PyDict_Clear(self->jobs);
    Py_RETURN_NONE;
}

static PyObject *device_info(DeviceObject *self, PyObject *unused)
{
    (void)unused;
    if (!dev_ok(self)) return NULL;
    aimc_dev_info i;
    int rc = aimc_query(self->dev, &i);
    if (rc) return raise_dev(self, rc);
    return Py_BuildValue("{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:O}",
                         "id", i.id, "version", i.version, "xbar_rows", i.xbar_rows, "xbar_cols",
                         i.xbar_cols, "crossbars", i.crossbars, "adc_bits", i.adc_bits,
                         "dac_bits", i.dac_bits, "bits_per_cell", i.bits_per_cell,
                         "weight_bits", i.weight_bits, "max_matrices", i.max_matrices,
                         "max_dim", i.max_dim, "max_batch", i.max_batch, "max_tiles",
                         i.max_tiles, "max_ring", i.max_ring, "max_elems", i.max_elems,
                         "max_verify", i.max_verify, "timing_only",
                         i.timing_only ? Py_True : Py_False);
}

/* A buffer object shown as a numpy array of shape and dtype. */
static PyObject *device_buffer(DeviceObject *self, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"shape", "dtype", "host_read", NULL};
    PyObject *shape;
    PyArray_Descr *dt = NULL;
    int host_read = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O|O&p", kwlist, &shape, PyArray_DescrConverter2,
                                     &dt, &host_read))
        return NULL;
    if (!dev_ok(self)) {
        Py_XDECREF(dt);
        return NULL;
    }
    if (!dt) dt = PyArray_DescrFromType(NPY_FLOAT32);
    PyArray_Dims dims = {NULL, 0};
    if (!PyArray_IntpConverter(shape, &dims)) {
        Py_DECREF(dt);
        return NULL;
    }
    BufferObject *b = (BufferObject *)BufferType.tp_alloc(&BufferType, 0);
    size_t bytes = (size_t)dt->elsize;
    if (b) {
        b->dtype = dt;
        b->nd = dims.len;
        for (int i = 0; i < dims.len; i++) {
            if (dims.ptr[i] < 0) {
                PyErr_SetString(PyExc_ValueError, "shape: negative dimension");
                Py_CLEAR(b);
                break;
            }
            b->dims[i] = dims.ptr[i];
            bytes *= (size_t)dims.ptr[i];
        }
    } else {
        Py_DECREF(dt);
    }
    PyDimMem_FREE(dims.ptr);
    if (!b) return NULL;
    b->dev = (DeviceObject *)Py_NewRef((PyObject *)self);
    int rc = aimc_bo_create_ex(self->dev, bytes, host_read ? AIMC_BO_HOST_READ : 0, &b->bo);
    if (rc) {
        Py_DECREF(b);
        return raise_status(rc, bytes == 0 ? "buffer: size 0" : NULL);
    }
    return (PyObject *)b;
}

/* An address argument: an int, or a Buffer (its device address). */
static int addr_conv(PyObject *o, void *out)
{
    if (PyObject_TypeCheck(o, &BufferType)) {
        *(uint64_t *)out = aimc_bo_addr(((BufferObject *)o)->bo);
        return 1;
    }
    unsigned long long v = PyLong_AsUnsignedLongLong(o);
    if (v == (unsigned long long)-1 && PyErr_Occurred()) {
        PyErr_SetString(PyExc_TypeError, "expected a device address (int) or an aimc.Buffer");
        return 0;
    }
    *(uint64_t *)out = v;
    return 1;
}

static PyObject *device_program(DeviceObject *self, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"matrix", "w", "tiles", "verify", "tolerance", NULL};
    unsigned id, verify = 0;
    double tol = 0.0;
    PyObject *wo, *to;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "IOO|Id", kwlist, &id, &wo, &to, &verify, &tol))
        return NULL;
    if (!dev_ok(self)) return NULL;
    PyArrayObject *w = NULL, *t = NULL;
    uint32_t rows = 0, cols = 0;
    if (PyTuple_Check(wo)) { /* (rows, cols): a timing-only device holds no values */
        if (!PyArg_ParseTuple(wo, "II", &rows, &cols)) return NULL;
    } else {
        if (!(w = f32_in(wo, "w"))) return NULL;
        if (PyArray_NDIM(w) != 2) {
            Py_DECREF(w);
            PyErr_SetString(PyExc_ValueError, "w: expected a 2-D (rows, cols) array");
            return NULL;
        }
        rows = (uint32_t)PyArray_DIM(w, 0);
        cols = (uint32_t)PyArray_DIM(w, 1);
    }
    if (!(t = tiles_in(to))) {
        Py_XDECREF(w);
        return NULL;
    }
    aimc_weights_opts wo2 = {verify, tol};
    aimc_weights_report rep;
    memset(&rep, 0, sizeof rep);
    const float *wp = w ? PyArray_DATA(w) : NULL;
    const aimc_tile *tp = PyArray_DATA(t);
    const size_t nt = (size_t)PyArray_DIM(t, 0);
    int rc;
    Py_BEGIN_ALLOW_THREADS
    rc = aimc_weights_program(self->dev, id, wp, rows, cols, tp, nt, &wo2, &rep);
    Py_END_ALLOW_THREADS
    Py_XDECREF(w);
    Py_DECREF(t);
    if (rc) return raise_dev(self, rc);
    return Py_BuildValue("{s:I,s:K,s:K,s:K,s:d}", "iterations", rep.iterations, "devices",
                         (unsigned long long)rep.devices, "devices_failed",
                         (unsigned long long)rep.devices_failed, "pulses",
                         (unsigned long long)rep.pulses, "rms_error_us", rep.rms_error_us);
}

static PyObject *device_readback(DeviceObject *self, PyObject *args)
{
    unsigned id, rows, cols;
    if (!PyArg_ParseTuple(args, "III", &id, &rows, &cols)) return NULL;
    if (!dev_ok(self)) return NULL;
    npy_intp dims[2] = {rows, cols};
    PyObject *w = PyArray_SimpleNew(2, dims, NPY_FLOAT32);
    if (!w) return NULL;
    float *wp = PyArray_DATA((PyArrayObject *)w);
    int rc;
    Py_BEGIN_ALLOW_THREADS
    rc = aimc_weights_readback(self->dev, id, wp, rows, cols);
    Py_END_ALLOW_THREADS
    if (rc) {
        Py_DECREF(w);
        return raise_dev(self, rc);
    }
    return w;
}

/* Keep what a job writes into (and reads) until its fence is waited for. */
static PyObject *job_keep(DeviceObject *self, uint64_t fence, PyObject *keep)
{
    PyObject *f = PyLong_FromUnsignedLongLong(fence);
    if (!f || PyDict_SetItem(self->jobs, f, keep)) {
        Py_XDECREF(f);
        return NULL;
    }
    return f;
}

static void job_done(DeviceObject *self, uint64_t fence)
{
    PyObject *f = PyLong_FromUnsignedLongLong(fence);
    if (f && PyDict_DelItem(self->jobs, f)) PyErr_Clear();
    Py_XDECREF(f);
}

/* submit_mvm(matrix, x, y) -> fence: y (float32, writable, batch x cols) is filled when the
 * fence is waited for; x is copied at the submit. */
static PyObject *device_submit_mvm(DeviceObject *self, PyObject *args)
{
    unsigned id;
    PyObject *xo, *yo;
    if (!PyArg_ParseTuple(args, "IOO", &id, &xo, &yo)) return NULL;
    if (!dev_ok(self)) return NULL;
    PyArrayObject *x = f32_in(xo, "x");
    if (!x) return NULL;
    const npy_intp batch = PyArray_NDIM(x) == 2 ? PyArray_DIM(x, 0) : 1;
    if (!PyArray_Check(yo) || PyArray_SIZE((PyArrayObject *)yo) % batch ||
        f32_out(yo, "y", 1, PyArray_SIZE((PyArrayObject *)yo))) {
        Py_DECREF(x);
        if (!PyErr_Occurred())
            PyErr_SetString(PyExc_TypeError, "y: expected a float32 array of batch x cols");
        return NULL;
    }
    uint64_t fence = 0;
    const float *xp = PyArray_DATA(x);
    float *yp = PyArray_DATA((PyArrayObject *)yo);
    int rc;
    Py_BEGIN_ALLOW_THREADS
    rc = aimc_submit_mvm(self->dev, id, xp, (uint32_t)batch, yp, &fence);
    Py_END_ALLOW_THREADS
    if (rc) {
        Py_DECREF(x);
        return raise_dev(self, rc);
    }
    PyObject *keep = PyTuple_Pack(2, (PyObject *)x, yo);
    Py_DECREF(x);
    if (!keep) return NULL;
    PyObject *f = job_keep(self, fence, keep);
    Py_DECREF(keep);
    return f;
}

#define SUBMIT_END                                                                             \
    if (rc) return raise_dev(self, rc);                                                        \
    return PyLong_FromUnsignedLongLong(fence)

static PyObject *device_submit_mvm_addr(DeviceObject *self, PyObject *args)
{
    unsigned id, batch;
    uint64_t x, y, fence = 0;
    if (!PyArg_ParseTuple(args, "IIO&O&", &id, &batch, addr_conv, &x, addr_conv, &y)) return NULL;
    if (!dev_ok(self)) return NULL;
    int rc;
    Py_BEGIN_ALLOW_THREADS
    rc = aimc_submit_mvm_addr(self->dev, id, batch, x, y, &fence);
    Py_END_ALLOW_THREADS
    SUBMIT_END;
}

static PyObject *device_submit_rmsnorm(DeviceObject *self, PyObject *args)
{
    unsigned batch, dim;
    uint64_t in, out, fence = 0;
    if (!PyArg_ParseTuple(args, "IIO&O&", &batch, &dim, addr_conv, &in, addr_conv, &out))
        return NULL;
    if (!dev_ok(self)) return NULL;
    int rc;
    Py_BEGIN_ALLOW_THREADS
    rc = aimc_submit_rmsnorm(self->dev, batch, dim, in, out, &fence);
    Py_END_ALLOW_THREADS
    SUBMIT_END;
}

static PyObject *device_submit_topk(DeviceObject *self, PyObject *args)
{
    unsigned batch, n, k;
    uint64_t in, idx, w, fence = 0;
    if (!PyArg_ParseTuple(args, "IIIO&O&O&", &batch, &n, &k, addr_conv, &in, addr_conv, &idx,
                          addr_conv, &w))
        return NULL;
    if (!dev_ok(self)) return NULL;
    int rc;
    Py_BEGIN_ALLOW_THREADS
    rc = aimc_submit_topk(self->dev, batch, n, k, in, idx, w, &fence);
    Py_END_ALLOW_THREADS
    SUBMIT_END;
}

static PyObject *device_submit_silu_mul(DeviceObject *self, PyObject *args)
{
    unsigned count;
    uint64_t g, u, out, fence = 0;
    if (!PyArg_ParseTuple(args, "IO&O&O&", &count, addr_conv, &g, addr_conv, &u, addr_conv, &out))
        return NULL;
    if (!dev_ok(self)) return NULL;
    int rc;
    Py_BEGIN_ALLOW_THREADS
    rc = aimc_submit_silu_mul(self->dev, count, g, u, out, &fence);
    Py_END_ALLOW_THREADS
    SUBMIT_END;
}

static PyObject *device_submit_gather(DeviceObject *self, PyObject *args)
{
    unsigned batch, dim, src_rows;
    uint64_t src, idx, dst, fence = 0;
    if (!PyArg_ParseTuple(args, "IIIO&O&O&", &batch, &dim, &src_rows, addr_conv, &src,
                          addr_conv, &idx, addr_conv, &dst))
        return NULL;
    if (!dev_ok(self)) return NULL;
    int rc;
    Py_BEGIN_ALLOW_THREADS
    rc = aimc_submit_gather(self->dev, batch, dim, src_rows, src, idx, dst, &fence);
    Py_END_ALLOW_THREADS
    SUBMIT_END;
}

static PyObject *device_submit_scale_acc(DeviceObject *self, PyObject *args)
{
    unsigned batch, dim, dst_rows;
    uint64_t src, idx, w, dst, fence = 0;
    if (!PyArg_ParseTuple(args, "IIIO&O&O&O&", &batch, &dim, &dst_rows, addr_conv, &src,
                          addr_conv, &idx, addr_conv, &w, addr_conv, &dst))
        return NULL;
    if (!dev_ok(self)) return NULL;
    int rc;
    Py_BEGIN_ALLOW_THREADS
    rc = aimc_submit_scale_acc(self->dev, batch, dim, dst_rows, src, idx, w, dst, &fence);
    Py_END_ALLOW_THREADS
    SUBMIT_END;
}

static PyObject *device_submit_fence(DeviceObject *self, PyObject *unused)
{
    (void)unused;
    if (!dev_ok(self)) return NULL;
    uint64_t fence = 0;
    int rc;
    Py_BEGIN_ALLOW_THREADS
    rc = aimc_submit_fence(self->dev, &fence);
    Py_END_ALLOW_THREADS
    SUBMIT_END;
}

static PyObject *device_submit_raw(DeviceObject *self, PyObject *arg)
{
    if (!dev_ok(self)) return NULL;
    Py_buffer b;
    if (PyObject_GetBuffer(arg, &b, PyBUF_SIMPLE)) return NULL;
    uint64_t fence = 0;
    int rc;
    Py_BEGIN_ALLOW_THREADS
    rc = aimc_submit_raw(self->dev, b.buf, (size_t)b.len, &fence);
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&b);
    SUBMIT_END;
}

static int64_t timeout_ns(PyObject *t)
{
    if (!t || t == Py_None) return -1;
    double s = PyFloat_AsDouble(t);
    if (s == -1.0 && PyErr_Occurred()) return -2;
    return s < 0 ? -1 : s > 9e9 ? INT64_MAX : (int64_t)(s * 1e9);
}

static PyObject *device_wait(DeviceObject *self, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"fence", "timeout", NULL};
    unsigned long long fence;
    PyObject *to = NULL;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "K|O", kwlist, &fence, &to)) return NULL;
    if (!dev_ok(self)) return NULL;
    const int64_t ns = timeout_ns(to);
    if (ns == -2) return NULL;
    int rc;
    Py_BEGIN_ALLOW_THREADS
    rc = aimc_fence_wait(self->dev, fence, ns);
    Py_END_ALLOW_THREADS
    if (rc != AIMC_ERR_TIMEOUT) job_done(self, fence);
    if (rc) return raise_dev(self, rc);
    Py_RETURN_NONE;
}

static PyObject *device_poll(DeviceObject *self, PyObject *arg)
{
    unsigned long long fence = PyLong_AsUnsignedLongLong(arg);
    if (PyErr_Occurred()) return NULL;
    if (!dev_ok(self)) return NULL;
    int rc;
    Py_BEGIN_ALLOW_THREADS
    rc = aimc_fence_poll(self->dev, fence);
    Py_END_ALLOW_THREADS
    if (rc == AIMC_ERR_TIMEOUT) Py_RETURN_FALSE;
    job_done(self, fence);
    if (rc) return raise_dev(self, rc);
    Py_RETURN_TRUE;
}

static PyObject *device_wait_any(DeviceObject *self, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"fences", "timeout", NULL};
    PyObject *fo, *to = NULL;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O|O", kwlist, &fo, &to)) return NULL;
    if (!dev_ok(self)) return NULL;
    const int64_t ns = timeout_ns(to);
    if (ns == -2) return NULL;
    PyObject *seq = PySequence_Fast(fo, "fences: expected a sequence of fences");
    if (!seq) return NULL;
    const Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
    uint64_t *f = PyMem_Calloc((size_t)(n ? n : 1), sizeof *f);
    if (!f) {
        Py_DECREF(seq);
        return PyErr_NoMemory();
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        f[i] = PyLong_AsUnsignedLongLong(PySequence_Fast_GET_ITEM(seq, i));
        if (PyErr_Occurred()) {
            PyMem_Free(f);
            Py_DECREF(seq);
            return NULL;
        }
    }
    Py_DECREF(seq);
    size_t idx = 0;
    int rc;
    Py_BEGIN_ALLOW_THREADS
    rc = aimc_fence_wait_any(self->dev, f, (size_t)n, ns, &idx);
    Py_END_ALLOW_THREADS
    if ((rc == AIMC_OK || rc == AIMC_ERR_DEVICE || rc == AIMC_ERR_ABORTED) && idx < (size_t)n)
        job_done(self, f[idx]);
    PyMem_Free(f);
    if (rc) return raise_dev(self, rc);
    return PyLong_FromSize_t(idx);
}

static PyObject *counters_dict(const aimc_counters *c)
{
    PyObject *d = Py_BuildValue("{s:K,s:K,s:K,s:K,s:K,s:K,s:K,s:K,s:K,s:K,s:K,s:K}", "cycles",
                                (unsigned long long)c->cycles, "time", (unsigned long long)c->time,
                                "mvms", (unsigned long long)c->mvms, "adc_conversions",
                                (unsigned long long)c->adc_conversions, "adc_saturations",
                                (unsigned long long)c->adc_saturations, "dac_drives",
                                (unsigned long long)c->dac_drives, "xbar_reads",
                                (unsigned long long)c->xbar_reads, "digital_ops",
                                (unsigned long long)c->digital_ops, "cells_programmed",
                                (unsigned long long)c->cells_programmed, "noc_bytes",
                                (unsigned long long)c->noc_bytes, "link_bytes",
                                (unsigned long long)c->link_bytes, "host_bytes",
                                (unsigned long long)c->host_bytes);
    PyObject *e = PyDict_New();
    for (int q = 0; d && e && q < AIMC_PART_COUNT; q++)
        if (set_item(e, aimc_part_name((aimc_part)q), PyFloat_FromDouble(c->energy_pj[q]))) {
            Py_CLEAR(e);
        }
    if (!d || !e || set_item(d, "energy_pj", e)) {
        Py_XDECREF(d);
        return NULL;
    }
    return d;
}

static PyObject *device_counters(DeviceObject *self, PyObject *unused)
{
    (void)unused;
    if (!dev_ok(self)) return NULL;
    aimc_counters c;
    int rc = aimc_counters_read(self->dev, &c);
    if (rc) return raise_dev(self, rc);
    return counters_dict(&c);
}

static PyObject *device_counters_reset(DeviceObject *self, PyObject *unused)
{
    (void)unused;
    if (!dev_ok(self)) return NULL;
    int rc = aimc_counters_reset(self->dev);
    if (rc) return raise_dev(self, rc);
    Py_RETURN_NONE;
}

static PyObject *device_profile(DeviceObject *self, PyObject *args)
{
    const char *kind;
    unsigned id;
    if (!PyArg_ParseTuple(args, "sI", &kind, &id)) return NULL;
    if (!dev_ok(self)) return NULL;
    int k = !strcmp(kind, "matrix") ? AIMC_PROFILE_MATRIX : !strcmp(kind, "opcode") ? AIMC_PROFILE_OPCODE : -1;
    if (k < 0) return raise_status(AIMC_ERR_INVALID, "profile: kind is \"matrix\" or \"opcode\"");
    aimc_profile p;
    int rc = aimc_profile_read(self->dev, k, id, &p);
    if (rc) return raise_status(rc, rc == AIMC_ERR_UNSUPPORTED ? "this backend keeps no profile"
                                                               : aimc_error_text(self->dev));
    PyObject *d = Py_BuildValue("{s:K,s:K,s:K}", "commands", (unsigned long long)p.commands,
                                "vectors", (unsigned long long)p.vectors, "busy_cycles",
                                (unsigned long long)p.busy_cycles);
    PyObject *e = PyDict_New();
    for (int q = 0; d && e && q < AIMC_PART_COUNT; q++)
        if (set_item(e, aimc_part_name((aimc_part)q), PyFloat_FromDouble(p.energy_pj[q]))) {
            Py_CLEAR(e);
        }
    if (!d || !e || set_item(d, "energy_pj", e)) {
        Py_XDECREF(d);
        return NULL;
    }
    return d;
}

static PyObject *device_error_state(DeviceObject *self, PyObject *unused)
{
    (void)unused;
    if (!dev_ok(self)) return NULL;
    aimc_dev_error e;
    int rc = aimc_error_get(self->dev, &e);
    if (rc) return raise_dev(self, rc);
    return Py_BuildValue("{s:I,s:K,s:I,s:I,s:I}", "bits", e.bits, "fence",
                         (unsigned long long)e.fence, "info", e.info, "irq_status", e.irq_status,
                         "status", e.status);
}

static PyObject *device_reset(DeviceObject *self, PyObject *unused)
{
    (void)unused;
    if (!dev_ok(self)) return NULL;
    int rc;
    Py_BEGIN_ALLOW_THREADS
    rc = aimc_reset(self->dev);
    Py_END_ALLOW_THREADS
    PyDict_Clear(self->jobs);
    if (rc) return raise_dev(self, rc);
    Py_RETURN_NONE;
}

static PyObject *device_error_text(DeviceObject *self, void *unused)
{
    (void)unused;
    return PyUnicode_FromString(self->dev ? aimc_error_text(self->dev) : "");
}

static PyObject *device_enter(PyObject *self, PyObject *unused)
{
    (void)unused;
    return Py_NewRef(self);
}

static PyObject *device_exit(DeviceObject *self, PyObject *args)
{
    (void)args;
    return device_close(self, NULL);
}

static PyMethodDef device_methods[] = {
    {"close", (PyCFunction)device_close, METH_NOARGS,
     "no further calls; the device is freed with its last buffer"},
    {"info", (PyCFunction)device_info, METH_NOARGS, "ID and capability registers, as a dict"},
    {"buffer", (PyCFunction)(void (*)(void))device_buffer, METH_VARARGS | METH_KEYWORDS,
     "buffer(shape, dtype=float32, host_read=False) -> Buffer (a buffer object)"},
    {"program", (PyCFunction)(void (*)(void))device_program, METH_VARARGS | METH_KEYWORDS,
     "program(matrix, w, tiles, verify=0, tolerance=0.0) -> report dict"},
    {"readback", (PyCFunction)device_readback, METH_VARARGS,
     "readback(matrix, rows, cols) -> the weights as the array computes them"},
    {"submit_mvm", (PyCFunction)device_submit_mvm, METH_VARARGS,
     "submit_mvm(matrix, x, y) -> fence; y is filled when the fence is waited for"},
    {"submit_mvm_addr", (PyCFunction)device_submit_mvm_addr, METH_VARARGS,
     "submit_mvm_addr(matrix, batch, x, y) -> fence, on buffers or device addresses"},
    {"submit_rmsnorm", (PyCFunction)device_submit_rmsnorm, METH_VARARGS,
     "submit_rmsnorm(batch, dim, x, out) -> fence"},
    {"submit_topk", (PyCFunction)device_submit_topk, METH_VARARGS,
     "submit_topk(batch, n, k, logits, idx, w) -> fence"},
    {"submit_silu_mul", (PyCFunction)device_submit_silu_mul, METH_VARARGS,
     "submit_silu_mul(count, g, u, out) -> fence"},
    {"submit_gather", (PyCFunction)device_submit_gather, METH_VARARGS,
     "submit_gather(batch, dim, src_rows, src, idx, dst) -> fence"},
    {"submit_scale_acc", (PyCFunction)device_submit_scale_acc, METH_VARARGS,
     "submit_scale_acc(batch, dim, dst_rows, src, idx, w, dst) -> fence (idx, w: 0 = none)"},
    {"submit_fence", (PyCFunction)device_submit_fence, METH_NOARGS, "a FENCE command -> fence"},
    {"submit_raw", (PyCFunction)device_submit_raw, METH_O,
     "submit_raw(descriptor: 64 bytes) -> fence"},
    {"wait", (PyCFunction)(void (*)(void))device_wait, METH_VARARGS | METH_KEYWORDS,
     "wait(fence, timeout=None): seconds; raises aimc.Error on a failed job or a timeout"},
    {"poll", (PyCFunction)device_poll, METH_O, "poll(fence) -> True when done, False if not yet"},
    {"wait_any", (PyCFunction)(void (*)(void))device_wait_any, METH_VARARGS | METH_KEYWORDS,
     "wait_any(fences, timeout=None) -> the index of the fence that completed"},
    {"counters", (PyCFunction)device_counters, METH_NOARGS, "the performance counters"},
    {"counters_reset", (PyCFunction)device_counters_reset, METH_NOARGS, "counters to 0"},
    {"profile", (PyCFunction)device_profile, METH_VARARGS,
     "profile(\"matrix\" | \"opcode\", id) -> what it did"},
    {"error_state", (PyCFunction)device_error_state, METH_NOARGS,
     "the sticky error registers, without clearing them"},
    {"reset", (PyCFunction)device_reset, METH_NOARGS, "soft reset; jobs not waited for abort"},
    {"__enter__", (PyCFunction)device_enter, METH_NOARGS, NULL},
    {"__exit__", (PyCFunction)device_exit, METH_VARARGS, NULL},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef device_getset[] = {
    {"error_text", (getter)device_error_text, NULL, "the device's last detailed error", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyTypeObject DeviceType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "aimc._aimc.Device",
    .tp_basicsize = sizeof(DeviceObject),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE,
    .tp_doc = "Device(uri='sim:', machine=None, seed=0, watchdog_us=0, timing_only=False): "
              "the driver (aimc.h)",
    .tp_new = device_new,
    .tp_dealloc = (destructor)device_dealloc,
    .tp_methods = device_methods,
    .tp_getset = device_getset,
};

static void buffer_dealloc(BufferObject *self)
{
    aimc_bo_destroy(self->bo);
    Py_XDECREF(self->dtype);
    Py_XDECREF(self->dev);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

/* A numpy view of the buffer's memory that keeps the buffer (no copy). */
static PyObject *buffer_array(BufferObject *self, void *unused)
{
    (void)unused;
    Py_INCREF(self->dtype);
    PyObject *a = PyArray_NewFromDescr(&PyArray_Type, self->dtype, self->nd, self->dims, NULL,
                                       aimc_bo_map(self->bo),
                                       NPY_ARRAY_C_CONTIGUOUS | NPY_ARRAY_ALIGNED |
                                           NPY_ARRAY_WRITEABLE,
                                       NULL);
    if (!a) return NULL;
    if (PyArray_SetBaseObject((PyArrayObject *)a, Py_NewRef((PyObject *)self)) < 0) {
        Py_DECREF(a);
        return NULL;
    }
    return a;
}

static PyObject *buffer_addr(BufferObject *self, void *unused)
{
    (void)unused;
    return PyLong_FromUnsignedLongLong(aimc_bo_addr(self->bo));
}

static PyObject *buffer_size(BufferObject *self, void *unused)
{
    (void)unused;
    return PyLong_FromSize_t(aimc_bo_size(self->bo));
}

static PyObject *buffer_sync(BufferObject *self, PyObject *arg)
{
    const char *dir = PyUnicode_AsUTF8(arg);
    if (!dir) return NULL;
    int d = !strcmp(dir, "to_device") ? AIMC_SYNC_TO_DEVICE
            : !strcmp(dir, "from_device") ? AIMC_SYNC_FROM_DEVICE : 0;
    if (!d) return raise_status(AIMC_ERR_INVALID, "sync: \"to_device\" or \"from_device\"");
    int rc = aimc_bo_sync(self->bo, (aimc_sync_dir)d);
    if (rc) return raise_status(rc, NULL);
    Py_RETURN_NONE;
}

static PyGetSetDef buffer_getset[] = {
    {"array", (getter)buffer_array, NULL, "the buffer as a numpy array (a view, no copy)", NULL},
    {"addr", (getter)buffer_addr, NULL, "the device address, for descriptors", NULL},
    {"size", (getter)buffer_size, NULL, "bytes", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyMethodDef buffer_methods[] = {
    {"sync", (PyCFunction)buffer_sync, METH_O, "sync(\"to_device\" | \"from_device\")"},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject BufferType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "aimc._aimc.Buffer",
    .tp_basicsize = sizeof(BufferObject),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "a buffer object of a Device (Device.buffer)",
    .tp_dealloc = (destructor)buffer_dealloc,
    .tp_getset = buffer_getset,
    .tp_methods = buffer_methods,
};

/* ---- the module ------------------------------------------------------------------------ */

static PyObject *py_strerror(PyObject *mod, PyObject *arg)
{
    (void)mod;
    long rc = PyLong_AsLong(arg);
    if (rc == -1 && PyErr_Occurred()) return NULL;
    return PyUnicode_FromString(aimc_strerror((int)rc));
}

static PyObject *py_opcode_name(PyObject *mod, PyObject *arg)
{
    (void)mod;
    unsigned long op = PyLong_AsUnsignedLong(arg);
    if (PyErr_Occurred()) return NULL;
    const char *n = op <= UINT32_MAX ? aimc_opcode_name((uint32_t)op) : NULL;
    if (!n) Py_RETURN_NONE;
    return PyUnicode_FromString(n);
}

static PyMethodDef module_methods[] = {
    {"map", (PyCFunction)(void (*)(void))py_map, METH_VARARGS | METH_KEYWORDS,
     "map(machine, model, shape_only=False, seed=1, routing='uniform') -> Plan"},
    {"tiles", (PyCFunction)(void (*)(void))py_tiles, METH_VARARGS | METH_KEYWORDS,
     "tiles(machine, rows, cols, first_xbar=0, matrix=0) -> (n, 8) uint32 tile table"},
    {"run", (PyCFunction)(void (*)(void))py_run, METH_VARARGS | METH_KEYWORDS,
     "run(machine, model, ...) -> (aimc run --json text, outputs dict)"},
    {"sweep", (PyCFunction)(void (*)(void))py_sweep, METH_VARARGS | METH_KEYWORDS,
     "sweep(spec, default_model, out_dir, jobs=1, text=None) -> path of the JSON results"},
    {"strerror", py_strerror, METH_O, "the text of a status code"},
    {"opcode_name", py_opcode_name, METH_O, "the name of a descriptor opcode, or None"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT, "aimc._aimc", "The aimc library (see the aimc package).", -1,
    module_methods, NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__aimc(void)
{
    import_array();
    PyTypeObject *types[] = {&MachineType, &ModelType, &PlanType, &XbarType, &DeviceType,
                             &BufferType};
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
        if (PyType_Ready(types[i]) < 0) return NULL;
    PyObject *m = PyModule_Create(&module_def);
    if (!m) return NULL;
    AimcError = PyErr_NewExceptionWithDoc(
        "aimc.Error",
        "An aimc call failed: .status is the negative AIMC_ERR_* code, .status_name its name, "
        ".message the library's message (file:line:col for configs and models).",
        NULL, NULL);
    if (!AimcError || PyModule_AddObjectRef(m, "Error", AimcError) < 0) goto fail;
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
        const char *dot = strrchr(types[i]->tp_name, '.');
        if (PyModule_AddObjectRef(m, dot + 1, (PyObject *)types[i]) < 0) goto fail;
    }
    for (int rc = 0; rc >= AIMC_ERR_ABORTED; rc--)
        if (PyModule_AddIntConstant(m, status_name(rc), rc) < 0) goto fail;
    if (PyModule_AddStringConstant(m, "version", AIMC_VERSION) < 0) goto fail;
    return m;
fail:
    Py_DECREF(m);
    return NULL;
}
