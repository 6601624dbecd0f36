/* The older libwide.so that libnarrow.so was linked against: wide() as (i32)->i32. */
__attribute__((visibility("default"))) int wide(int x) { return x * 3; }
