/* An EM_JS function, as emscripten's EM_JS macro lays it out: the export __em_js__NAME holds
   "(params)<::>{body}", and the loader makes it the JavaScript function NAME. */
__attribute__((used, visibility("default"))) char __em_js__js_answer[] = "(void)<::>{ return 42; }";
int js_answer(void);

__attribute__((visibility("default"))) int call_js_answer(void) { return js_answer(); }
