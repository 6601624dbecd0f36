/* A module loaded with ctypes from a deep package directory; needs libouter.so. */
int outer_next(void);

__attribute__((visibility("default"))) int user_next(void) { return outer_next(); }
