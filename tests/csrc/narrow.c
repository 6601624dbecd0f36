/* Built against an older header of libwide.so: wide() declared (i32)->i32, so the import's
   type differs from the export of the library it NEEDs. */
int wide(int x);

__attribute__((visibility("default"))) int call_wide(void) { return wide(14); }
