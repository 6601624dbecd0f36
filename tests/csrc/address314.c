/* Takes the address of PyBytes_Join (3.14 only): a `GOT.func.PyBytes_Join` import, which the
   loader resolves when the module is loaded, so older runtimes refuse to load it. */
typedef struct _object PyObject;
PyObject *PyBytes_Join(PyObject *sep, PyObject *iterable);

__attribute__((visibility("default"))) void *join_address(void) { return (void *)&PyBytes_Join; }
