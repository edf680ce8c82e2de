// What a method handler knows of the call it serves, whatever the wire: built by each protocol
// adapter from its own request (node:http, an RpcCall), read by the wrapper and the handlers.

import type { CancelHook } from '../core/cancel.js';
import type { RequestTrace } from '../metrics/tracing.js';

export type WireProtocol = 'http' | 'grpc' | 'grpc-web';

/** Who the call was admitted as; set by the wrapper's auth step. */
export interface Identity {
  /** 'api-key' when the call presented the server's API key; 'anonymous' when none is needed. */
  scheme: 'api-key' | 'anonymous';
}

export interface CallContext {
  readonly protocol: WireProtocol;
  /** The method, by its gRPC name ('ModelInfer'); REST routes use the one they match (security/auth.ts). */
  readonly method: string;
  /** How metrics and spans name the call on its wire: the REST route label, or the gRPC method name. */
  readonly label: string;
  /** Aborts when the client cancels, the deadline passes or the server ends the call. */
  readonly signal: AbortSignal;
  /**
   * The same news as `signal` without making an AbortController, when the adapter has it. Adapters
   * give it as a getter (not an own field), so a context copied with spread does not carry it.
   */
  readonly cancel?: CancelHook;
  /** Absolute deadline, Date.now() milliseconds (gRPC's grpc-timeout). */
  readonly deadline?: number;
  /** A request header or metadata value by lower-case name. */
  readonly header: (name: string) => string | undefined;
  /** performance.now() when the call arrived. */
  readonly start: number;
  identity?: Identity;
  /** The call's span, while tracing is on and the method is traced. */
  trace?: RequestTrace;
  /** What the access log records of the finished call; read only when it is on. */
  facts?(): CallFacts;
}

/** A finished call as the access log sees it: never a tensor or a header value. */
export interface CallFacts {
  /** REST: 'VERB /path'; gRPC: the method's path. */
  method: string;
  /** The model the call names, when it names one. */
  model?: string;
  /** REST: the exchange's bytes on the connection, headers included; gRPC: message frames. */
  bytesIn: number;
  bytesOut: number;
}

/** The parts of a call below the protocols that a data-plane request carries along. */
export const scopeOf = (ctx: CallContext) => ({ signal: ctx.signal, deadline: ctx.deadline, trace: ctx.trace });
