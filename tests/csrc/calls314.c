/* Calls PyBytes_Join, which only CPython 3.14 has: an `env.PyBytes_Join` function import,
   bound lazily, so older runtimes load the module and fail at the call. */
typedef struct _object PyObject;
PyObject *PyBytes_Join(PyObject *sep, PyObject *iterable);

__attribute__((visibility("default"))) PyObject *join(PyObject *sep, PyObject *items) { return PyBytes_Join(sep, items); }
