/* A weak undefined function that no runtime has: the module loads everywhere and sees a null
   address. */
int pyodide_auditwheel_absent_function(void) __attribute__((weak));

__attribute__((visibility("default"))) int absent_function_is_set(void) { return pyodide_auditwheel_absent_function != 0; }
