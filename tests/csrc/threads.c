/* A library built with threads: its atomics need a shared memory, so its memory import is
   shared (wasm-ld --shared-memory), which no Pyodide release's memory is. */
#include <stdatomic.h>

static _Atomic int counter;

__attribute__((visibility("default"))) int threads_bump(void) { return atomic_fetch_add(&counter, 1) + 1; }
