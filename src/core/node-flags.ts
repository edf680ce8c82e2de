// Node's own flags for `duet serve`, wherever the project starts it (npm start, the container image's
// NODE_OPTIONS, `duet bench`): a V8 flag cannot be set once the process runs.
//
// --max-semi-space-size=32: V8's young generation grows to 2 × 32 MiB instead of 2 × 16. A request's
// garbage (parsed bodies, tensors, responses) then dies before a scavenge more often, and the main
// thread's GC time halves under load (REST JSON at c=64: 15-16 → 8 µs per request in CPU profiles; 64
// bought no more). The cost is up to 32 MiB more resident memory under load.

export const SERVE_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=32'];
