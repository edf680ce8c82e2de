// One error type for the whole server, and the one table that maps its codes onto both protocols.

export type ErrorCode =
  | 'INVALID_ARGUMENT' | 'NOT_FOUND' | 'ALREADY_EXISTS' | 'UNAVAILABLE' | 'RESOURCE_EXHAUSTED'
  | 'DEADLINE_EXCEEDED' | 'CANCELLED' | 'UNIMPLEMENTED' | 'INTERNAL' | 'FAILED_PRECONDITION'
  | 'UNAUTHENTICATED' | 'PERMISSION_DENIED';

interface StatusRow { http: number; grpc: number }

// gRPC numbers are the canonical status codes (grpc/status.h).
export const STATUS_TABLE: Record<ErrorCode, StatusRow> = {
  INVALID_ARGUMENT: { http: 400, grpc: 3 },
  NOT_FOUND: { http: 404, grpc: 5 },
  ALREADY_EXISTS: { http: 409, grpc: 6 },
  FAILED_PRECONDITION: { http: 400, grpc: 9 },
  RESOURCE_EXHAUSTED: { http: 429, grpc: 8 },
  UNAVAILABLE: { http: 503, grpc: 14 },
  DEADLINE_EXCEEDED: { http: 504, grpc: 4 },
  CANCELLED: { http: 499, grpc: 1 },
  UNIMPLEMENTED: { http: 501, grpc: 12 },
  INTERNAL: { http: 500, grpc: 13 },
  UNAUTHENTICATED: { http: 401, grpc: 16 },
  PERMISSION_DENIED: { http: 403, grpc: 7 },
};

export class InferenceError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string) {
    super(message);
    this.code = code;
    this.name = 'InferenceError';
  }
  get httpStatus(): number {
    return STATUS_TABLE[this.code].http;
  }
  get grpcStatus(): number {
    return STATUS_TABLE[this.code].grpc;
  }
}

export const invalidArg = (msg: string) => new InferenceError('INVALID_ARGUMENT', msg);
export const notFound = (msg: string) => new InferenceError('NOT_FOUND', msg);
export const unavailable = (msg: string) => new InferenceError('UNAVAILABLE', msg);

/** Any thrown value as an InferenceError; unknown failures are INTERNAL. */
export function asInferenceError(e: unknown): InferenceError {
  if (e instanceof InferenceError) return e;
  if (e && typeof e === 'object' && 'code' in e && 'message' in e && typeof e.code === 'string' && e.code in STATUS_TABLE) {
    return new InferenceError(e.code as ErrorCode, String(e.message));
  }
  return new InferenceError('INTERNAL', e instanceof Error ? e.message : String(e));
}
