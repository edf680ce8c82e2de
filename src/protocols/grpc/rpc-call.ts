// The contract between a transport that carries gRPC calls (gRPC on HTTP/2, gRPC-Web on HTTP/1.1 or
// HTTP/2) and what runs them (GrpcServer.dispatch and the handlers). Nothing here knows about a wire.

import type { EventEmitter } from 'node:events';
import type { Metadata } from '@grpc/grpc-js';
import type { InferenceError } from '../../core/errors.js';

/** One method as a transport needs it: its path, its shape, and how its messages become bytes. */
export interface RpcMethod {
  path: string;
  requestStream: boolean;
  responseStream: boolean;
  requestDeserialize(bytes: Buffer): unknown;
  responseSerialize(msg: unknown): Buffer;
  /** Where the method has one: the response after 5 blank bytes for the frame prefix (undefined: use responseSerialize). */
  responseFrame?(msg: unknown): Buffer | undefined;
}

/** A status to end a call with (grpc-js's ServiceError has this shape too). */
export interface RpcStatus {
  code?: number;
  details?: string;
  message?: string;
}

/**
 * One call, whatever carries it. Events, as grpc-js's server calls have them:
 * - 'data' (msg), 'end': request messages and the end of input, for streaming-input methods (emitted by dispatch);
 * - 'cancelled': the client went away or the deadline passed; handlers stop;
 * - 'drain': a write that returned false may go on;
 * - 'status' (code): the status is going out (once);
 * - 'error' (RpcStatus): a handler ends the call with that status;
 * - 'close': the transport is done with the call.
 */
export interface RpcCall extends EventEmitter {
  /** The one request message of a unary or server-streaming call, set by dispatch before the handler runs. */
  request: unknown;
  readonly cancelled: boolean;
  /** Aborts when the call is cancelled: the client went away, the deadline passed or the server cut it. */
  readonly signal: AbortSignal;
  readonly metadata: Metadata;
  /** Date.now() milliseconds, Infinity without a deadline. */
  getDeadline(): number;
  getPath(): string;
  /** Starts reading request messages: each decoded one to `onMessage`, the end of input to `onEnd` (each also given the call). */
  read(onMessage: (msg: unknown, call: RpcCall) => void, onEnd: (call: RpcCall) => void): void;
  /** Sends one response message; false means wait for 'drain'. */
  write(msg: unknown): boolean;
  /** Ends the call with OK. */
  end(): void;
  sendStatus(status: RpcStatus): void;
  /** Ends the call with the error's status; `cancelled` also cancels the handler's work. */
  fail(err: InferenceError, cancelled?: boolean): void;
  /** With a status, ends the call with it; without, cancels it. */
  destroy(err?: RpcStatus): void;
  cancel(): void;
}
