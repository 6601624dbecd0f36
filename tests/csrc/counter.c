/* A library with state: one process-wide counter.  If the runtime loads two copies of this
   library, each copy counts on its own and the test sees the sequence restart. */
static int counter;

__attribute__((visibility("default"))) int counter_next(void) { return ++counter; }
