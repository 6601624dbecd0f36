/* A library exporting wide() as (i32)->i64. */
__attribute__((visibility("default"))) long long wide(int x) { return (long long)x * 3; }
