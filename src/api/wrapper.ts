// The one wrapper every call goes through, on every protocol: auth (admit), then decode, the method
// and encode, with decode failures as INVALID_ARGUMENT, every error through the one table
// (core/errors.ts), the span of traced methods with its stages, and the metrics of the finished call.

import { asInferenceError, InferenceError, invalidArg } from '../core/errors.js';
import { nowMs } from '../core/trace.js';
import { mapStream } from '../core/iter.js';
import type { AccessControl } from '../security/auth.js';
import type { Tracing } from '../metrics/tracing.js';
import type { CallContext, WireProtocol } from './context.js';

/** Told of every finished call: its protocol, label, code (HTTP status or gRPC status name) and seconds. */
export type Observer = (protocol: WireProtocol, label: string, code: string | number, seconds: number) => void;

/** Told of every finished call with its context (the access log). */
export type CallLog = (ctx: CallContext, code: string | number, seconds: number) => void;

export interface WrapperOptions {
  /** Access checks per wire; gRPC-Web calls are gRPC calls (and use the gRPC one). */
  access?: { http?: AccessControl; grpc?: AccessControl };
  tracing?: Tracing;
  observe?: Observer;
  /** Off when absent: then a finished call costs nothing more. */
  accessLog?: CallLog;
}

/** Inference methods get a span (as Triton traces inference requests), whatever their wire. */
const TRACED = new Set(['ModelInfer', 'ModelStreamInfer', 'Generate', 'Predict']);
const lastSegment = (method: string) => method.slice(method.lastIndexOf('/') + 1);

export class CallWrapper {
  constructor(private readonly opts: WrapperOptions = {}) {}

  /** True when admit() has anything to check for this wire (front-ends skip building what it reads otherwise). */
  checksAccess(protocol: WireProtocol): boolean {
    return this.access(protocol)?.enabled === true;
  }

  private access(protocol: WireProtocol): AccessControl | undefined {
    return protocol === 'http' ? this.opts.access?.http : this.opts.access?.grpc;
  }

  /**
   * The auth step: why the call may not go on, or undefined. Adapters run it as soon as the call's
   * headers are in (REST: before the body is read).
   */
  admit(ctx: CallContext): InferenceError | undefined {
    const access = this.access(ctx.protocol);
    if (!access?.enabled) return undefined;
    const denied = access.check(ctx.method, ctx.header);
    if (!denied) ctx.identity = { scheme: access.requiresKey ? 'api-key' : 'anonymous' };
    return denied;
  }

  /** Opens the call's span when tracing is on and the method is traced. */
  private startSpan(ctx: CallContext, model?: string): void {
    const tracing = this.opts.tracing;
    // Tracing off costs nothing more: ctx.method (REST works it out from the path) is not even read.
    if (!tracing || ctx.trace) return;
    const op = lastSegment(ctx.method);
    if (!TRACED.has(op)) return;
    const attributes: Record<string, string> = { 'rpc.system': ctx.protocol, 'rpc.method': op };
    if (model) attributes['duet.model'] = model;
    const name = ctx.protocol === 'http' ? `POST ${ctx.label}` : ctx.label;
    ctx.trace = tracing.startRequest(name, { traceparent: ctx.header('traceparent'), tracestate: ctx.header('tracestate') }, attributes);
  }

  /**
   * One call with one answer: `decode` reads the wire's request (its failures are INVALID_ARGUMENT
   * unless they carry a code of their own), `fn` is the method, `encode` writes the answer. Rejects with
   * an InferenceError only. `encode` also gets the decoded request (so `fn` need not bundle it with its answer).
   */
  async unary<Q, R, W>(ctx: CallContext, decode: () => Q | Promise<Q>, fn: (ctx: CallContext, req: Q) => R | Promise<R>, encode: (res: R, req: Q) => W, model?: string): Promise<W> {
    this.startSpan(ctx, model);
    const trace = ctx.trace;
    try {
      const t0 = trace ? nowMs() : 0;
      // A decode that answers at once is not awaited (each await is a trip through the microtask queue).
      let req = decodeNow(decode);
      if (req instanceof Promise) req = await decoded(req);
      if (trace) trace.record('decode', t0, nowMs());
      const res = await fn(ctx, req);
      if (!trace) return encode(res, req);
      const t1 = nowMs();
      const out = encode(res, req);
      trace.record('encode', t1, nowMs());
      trace.end();
      return out;
    } catch (e) {
      const err = asInferenceError(e);
      trace?.end(err);
      throw err;
    }
  }

  /**
   * One call with a stream of answers: as unary, with `fn` giving the responses as they come. An error
   * before the first answer rejects the first read; later ones end the iteration with the error.
   */
  stream<Q, R, W>(ctx: CallContext, decode: () => Q | Promise<Q>, fn: (ctx: CallContext, req: Q) => AsyncIterable<R>, encode: (res: R) => W, model?: string): AsyncIterable<W> {
    return mapStream(() => {
      this.startSpan(ctx, model);
      const req = decodeNow(decode);
      return req instanceof Promise ? decoded(req).then((q) => fn(ctx, q)) : fn(ctx, req);
    }, encode, (how, err) => {
      const failed = how === 'error' ? asInferenceError(err) : undefined;
      ctx.trace?.end(failed);
      return failed;
    });
  }

  /** Metrics and the access log: every call once, when its answer is complete (or it was refused or cut). */
  finished(ctx: CallContext, code: string | number): void {
    const seconds = (performance.now() - ctx.start) / 1000;
    this.opts.observe?.(ctx.protocol, ctx.label, code, seconds);
    this.opts.accessLog?.(ctx, code, seconds);
  }

  /** True when finished calls are logged: adapters count what the access log reads only then. */
  get logsAccess(): boolean {
    return this.opts.accessLog !== undefined;
  }
}

/** A request that cannot be read is the client's: never INTERNAL. */
const decodeError = (e: unknown) => (e instanceof InferenceError ? e : invalidArg(`malformed request: ${(e as Error)?.message ?? String(e)}`));

function decodeNow<Q>(decode: () => Q | Promise<Q>): Q | Promise<Q> {
  try {
    return decode();
  } catch (e) {
    throw decodeError(e);
  }
}

async function decoded<Q>(pending: Promise<Q>): Promise<Q> {
  try {
    return await pending;
  } catch (e) {
    throw decodeError(e);
  }
}
