/* The middle of the chain: needs libcounter.so. */
int counter_next(void);

__attribute__((visibility("default"))) int outer_next(void) { return counter_next(); }
