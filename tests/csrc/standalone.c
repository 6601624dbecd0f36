/* A module with no needs at all. */
__attribute__((visibility("default"))) int standalone_answer(int x) { return x * 2 + 42; }
