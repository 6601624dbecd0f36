/* Takes the address of _PyUnicode_InternImmortal, which CPython 3.12.7 (Pyodide 0.27.8) has and
   3.12.1 (Pyodide 0.26.4, the same ABI pyodide_2024_0) lacks: a `GOT.func` import, resolved at
   load, so 0.26.4 refuses the module and 0.27.8 loads it. */
typedef struct _object PyObject;
void _PyUnicode_InternImmortal(void *interp, PyObject **p);

__attribute__((visibility("default"))) void *intern_address(void) { return (void *)&_PyUnicode_InternImmortal; }
