/* A CPython extension module built without Python headers: the handful of ABI items it uses
   are declared here (wasm32: pointers, long and Py_ssize_t are 32-bit).  It calls into
   libouter.so, so importing it needs the library chain outer -> counter. */
typedef long Py_ssize_t;
typedef struct _object { Py_ssize_t ob_refcnt; void *ob_type; } PyObject;
typedef PyObject *(*PyCFunction)(PyObject *, PyObject *);
typedef struct { const char *ml_name; PyCFunction ml_meth; int ml_flags; const char *ml_doc; } PyMethodDef;
typedef struct { PyObject ob_base; PyObject *(*m_init)(void); Py_ssize_t m_index; PyObject *m_copy; } PyModuleDef_Base;
typedef struct {
  PyModuleDef_Base m_base; const char *m_name; const char *m_doc; Py_ssize_t m_size;
  PyMethodDef *m_methods; void *m_slots; void *m_traverse; void *m_clear; void *m_free;
} PyModuleDef;

PyObject *PyModule_Create2(PyModuleDef *, int);
PyObject *PyLong_FromLong(long);
int outer_next(void);

#define METH_NOARGS 0x0004

static PyObject *ext_next(PyObject *self, PyObject *unused) { return PyLong_FromLong(outer_next()); }

static PyMethodDef methods[] = {{"next", ext_next, METH_NOARGS, "next counter value"}, {0, 0, 0, 0}};
static PyModuleDef module = {{{1, 0}, 0, 0, 0}, "_ext", 0, -1, methods, 0, 0, 0, 0};

__attribute__((visibility("default"))) PyObject *PyInit__ext(void) { return PyModule_Create2(&module, 1013); }
