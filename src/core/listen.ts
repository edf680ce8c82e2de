// What every listener (REST, gRPC, metrics) binds to unless told otherwise.

/** Every interface, as Triton. */
export const DEFAULT_HOST = '0.0.0.0';
