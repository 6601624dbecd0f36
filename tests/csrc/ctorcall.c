/* A library whose constructor calls a function no runtime provides, and which calls another
   only from an exported function: the loader runs the constructor as it loads the library, so
   the first fails at load and the second only when called (onnx 1.23.2's constructors call
   __hash_memory, which Pyodide 0.28 and 0.29 lack). */
extern int paw_absent_at_load(int);
extern int paw_absent_when_called(int);

static int ready;

__attribute__((constructor)) static void start_up(void) { ready = paw_absent_at_load(1); }

__attribute__((visibility("default"))) int ctorcall_later(int value) { return paw_absent_when_called(value) + ready; }
