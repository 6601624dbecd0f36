/* A library that reaches its own exported data and function through the GOT, as Rust's std
   does with its statics: the loader fills those GOT entries from the module's own exports. */
__attribute__((visibility("default"))) int selfgot_state = 41;

__attribute__((visibility("default"))) int selfgot_bump(void) { return ++selfgot_state; }

__attribute__((visibility("default"))) int (*selfgot_pointer(void))(void) { return selfgot_bump; }

#ifdef SELFGOT_THROWS
/* Built for WebAssembly exception handling: a tag import only such a runtime provides. */
__attribute__((visibility("default"))) void selfgot_throw(void *payload) { __builtin_wasm_throw(0, payload); }
#endif
