// What every gRPC call does whatever carries it (call.ts on HTTP/2, ../grpc-web/call.ts on HTTP/1.1 or
// HTTP/2): the deadline, the stall timer, the abort signal, metadata, gathering framed messages, and
// ending once, with one status. Subclasses read and write their wire.

import { EventEmitter } from 'node:events';
import type { IncomingHttpHeaders } from 'node:http';
import { Metadata } from '@grpc/grpc-js';
import { CancelWatchers } from '../../core/cancel.js';
import { InferenceError, invalidArg } from '../../core/errors.js';
import { handOver } from '../../core/tensor.js';
import { HEADER_BYTES, parseTimeout } from './framing.js';
import { Sweeper } from './sweep.js';
import type { RpcCall, RpcMethod, RpcStatus } from './rpc-call.js';
import type { CallContext } from '../../api/context.js';

/** What a call needs from its server: limits, and how to reserve memory for what it receives. */
export interface CallLimits {
  maxMessageBytes: number;
  /** Reserve bytes of memory; resolves to their release, or rejects (RESOURCE_EXHAUSTED). */
  reserve?: (bytes: number, signal: AbortSignal) => Promise<() => void>;
  /** The same without waiting: a release when the bytes fit now, else undefined (then `reserve` is used). */
  tryReserve?: (bytes: number) => (() => void) | undefined;
  /** A request message that stalls this long (no bytes) is dropped. */
  requestTimeoutMs?: number;
  /** zlib level for the responses of `compressPaths` (--grpc-infer-response-compression-level); absent: never. */
  compressLevel?: number;
  compressPaths?: ReadonlySet<string>;
}

export const OK = 0;

/** Told of a call's end by plain calls, not events (the server that runs it: metrics and shutdown). */
export interface CallObserver {
  /** The status is going out, or the call was cancelled (then CANCELLED); at most once per call. */
  callEnded(call: CallBase, code: number): void;
  /** The transport is done with the call. */
  callClosed(call: CallBase): void;
}

/** No bytes pending (never written to: a chunk arriving then gets an array of its own). */
const NONE: readonly Buffer[] = Object.freeze([]);

/** Stalled requests, for every call at once (no timer per call). */
const stalls = new Sweeper<'stallSlot', CallBase>('stallSlot', (call) => call.stalled());

export abstract class CallBase extends EventEmitter implements RpcCall {
  request: unknown;
  cancelled = false;
  /** Set by the server that runs the call. */
  observer?: CallObserver;
  ctx?: CallContext;
  /** Body bytes read and message bytes written (frames, as sent on the wire), for the access log. */
  bytesIn = 0;
  bytesOut = 0;
  private ended = false;
  /** Set once the status went out (or the exchange died): nothing more is written. */
  done = false;
  protected headersSent = false;
  protected readonly encoding: string;
  private readonly deadline: number;
  private deadlineTimer?: NodeJS.Timeout;
  /** What the queue watches instead of the signal; it makes the signal too, when first read (most calls never do). */
  readonly watchers = new CancelWatchers();
  private _metadata?: Metadata;
  // Reading: bytes not yet framed, and the length of the frame whose header has arrived (-1: none yet).
  protected pending: readonly Buffer[] = NONE;
  protected pendingBytes = 0;
  protected frameLen = -1;
  /** The stall sweeper's field (sweep.ts). */
  stallSlot = 0;
  /** The server's list of calls in progress (call-list.ts). */
  listPrev?: CallBase;
  listNext?: CallBase;
  listed = false;
  streaming = false;

  constructor(
    readonly headers: IncomingHttpHeaders,
    readonly def: RpcMethod,
    protected readonly limits: CallLimits,
  ) {
    super();
    this.encoding = String(headers['grpc-encoding'] ?? 'identity').toLowerCase();
    const timeout = parseTimeout(headers['grpc-timeout'] as string | undefined);
    this.deadline = timeout === undefined ? Infinity : Date.now() + timeout;
    if (timeout !== undefined) {
      this.deadlineTimer = setTimeout(() => this.fail(new InferenceError('DEADLINE_EXCEEDED', 'deadline exceeded'), true), Math.min(timeout, 2 ** 31 - 1));
    }
  }

  /** 'error' is how handlers send a failing status (as with grpc-js); it must never throw. */
  override emit(event: string | symbol, ...args: unknown[]): boolean {
    if (event === 'error') {
      this.sendStatus(args[0] as RpcStatus);
      if (this.listenerCount('error') > 0) super.emit('error', ...args);
      return true;
    }
    return super.emit(event, ...args);
  }

  /** Aborts when the call is cancelled (client gone, deadline passed). */
  get signal(): AbortSignal {
    return this.watchers.signal;
  }

  get metadata(): Metadata {
    return (this._metadata ??= Metadata.fromHttp2Headers(this.headers));
  }

  getDeadline(): number {
    return this.deadline;
  }

  getPath(): string {
    return this.def.path;
  }

  abstract read(onMessage: (msg: unknown, call: CallBase) => void, onEnd: (call: CallBase) => void): void;
  abstract write(msg: unknown): boolean;
  /** Puts the status on the wire (trailers, or trailers-only when nothing was sent yet). */
  protected abstract writeStatus(code: number, message: string): void;

  /** Ends the call with OK. */
  end(): void {
    if (this.done) return;
    this.sendStatus({ code: OK, details: '' });
    this.emit('finish');
  }

  /** As grpc-js: an error ends the call with its status. */
  destroy(err?: RpcStatus): void {
    if (err) this.sendStatus(err);
    else this.cancel();
  }

  /** The client went away (or its deadline passed): handlers see 'cancelled' and stop. */
  cancel(): void {
    if (this.cancelled) return;
    this.cancelled = true;
    this.watchers.cancel();
    this.reportEnd(1);
    this.emit('cancelled');
    this.finish();
  }

  fail(err: InferenceError, cancelled = false): void {
    this.sendStatus({ code: err.grpcStatus, details: err.message });
    if (cancelled) this.cancel();
  }

  sendStatus(e: RpcStatus): void {
    if (this.done) return;
    this.done = true;
    const code = e.code ?? 2;
    this.reportEnd(code);
    this.emit('status', code);
    this.writeStatus(code, e.details ?? e.message ?? '');
    this.finish();
  }

  /** Fails the call with what was thrown (a plain error is the request's fault), unless it is over. */
  protected failWith(e: unknown): void {
    if (this.done) return;
    this.fail(e instanceof InferenceError ? e : invalidArg(String((e as Error)?.message ?? e)));
  }

  private reportEnd(code: number): void {
    if (this.ended) return;
    this.ended = true;
    this.observer?.callEnded(this, code);
  }

  /** The transport is done with the call. */
  protected closed(): void {
    if (!this.done) this.cancel();
    this.finish();
    this.observer?.callClosed(this);
    this.emit('close');
  }

  /** True while reading waits on something other than the client (memory): that is not stalling. */
  protected heldBack(): boolean {
    return false;
  }

  /** A request message that gets no bytes for --request-timeout fails the call (pushed back as bytes come). */
  protected armStall(): void {
    const ms = this.limits.requestTimeoutMs;
    if (ms) stalls.arm(this, ms);
  }

  /** Called by the sweep when no bytes came for --request-timeout. */
  stalled(): void {
    if (this.done) return;
    const ms = this.limits.requestTimeoutMs!;
    if (this.heldBack()) return stalls.arm(this, ms);
    this.fail(new InferenceError('DEADLINE_EXCEEDED', `request stalled: no bytes for ${ms / 1000} s (--request-timeout)`));
  }

  protected clearStall(): void {
    stalls.disarm(this);
  }

  /** Bytes received, not yet framed. */
  protected addPending(chunk: Buffer): void {
    // Most messages come in one chunk: a one-slot array, not one grown by push.
    if (this.pending.length) (this.pending as Buffer[]).push(chunk);
    else this.pending = [chunk];
    this.pendingBytes += chunk.byteLength;
  }

  /** The 5-byte header of the next frame, gathered into the first pending chunk. */
  protected header(): Buffer {
    if (this.pending[0].byteLength < HEADER_BYTES) this.pending = [Buffer.concat(this.pending, this.pendingBytes)];
    return this.pending[0];
  }

  /** Takes the whole frame at the head of `pending` (its flag is `pending[0][0]` until then); returns its payload. */
  protected takeBody(): Buffer {
    // Chunks are joined once, when the whole message is there.
    const joined = this.pending.length > 1;
    const all = joined ? Buffer.concat(this.pending, this.pendingBytes) : this.pending[0];
    const body = all.subarray(HEADER_BYTES, HEADER_BYTES + this.frameLen);
    const restBytes = all.byteLength - HEADER_BYTES - this.frameLen;
    // A message joined into a fresh buffer of its own: its tensors may move to the model's worker without a copy.
    if (joined && restBytes === 0 && all.byteLength === all.buffer.byteLength) handOver(all.buffer);
    this.pending = restBytes ? [all.subarray(HEADER_BYTES + this.frameLen)] : NONE;
    this.pendingBytes = restBytes;
    this.frameLen = -1;
    return body;
  }

  /** Stops the timers; memory held for the request is the subclass's to give back. */
  protected finish(): void {
    clearTimeout(this.deadlineTimer);
    this.clearStall();
  }
}
