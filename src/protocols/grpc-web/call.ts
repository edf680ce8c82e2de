// One gRPC-Web call over one HTTP exchange (HTTP/1.1 or HTTP/2): the request body holds at most one
// message, read within the message limit, the in-flight budget and the stall timer; responses go out
// frame by frame (base64 per frame in text mode), the status as a trailer frame, or in the HTTP
// headers when nothing was sent yet (trailers-only). An RpcCall, so GrpcServer.dispatch runs it.

import { EventEmitter } from 'node:events';
import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';
import type { Readable } from 'node:stream';
import { Metadata } from '@grpc/grpc-js';
import { InferenceError, invalidArg } from '../../core/errors.js';
import { encodeGrpcMessage, inflateBounded, parseTimeout, type CallLimits } from '../grpc/call.js';
import type { RpcCall, RpcMethod, RpcStatus } from '../grpc/rpc-call.js';
import { Base64Groups, contentTypeOf, frame, HEADER_BYTES, TRAILER_FLAG, trailerFrame, type WebMode } from './codec.js';

/** What a call needs of the HTTP exchange that carries it (server.ts adapts node:http and node:http2). */
export interface WebExchange {
  /** The request body. */
  body: Readable;
  /** Emits the response's 'drain' and 'close'. */
  events: EventEmitter;
  /** Sends the HTTP 200 head; with `end`, the response ends there (trailers-only) and the rest of the body is dropped. */
  respond(headers: OutgoingHttpHeaders, end: boolean): void;
  write(chunk: Buffer): boolean;
  end(): void;
  /** Cuts the exchange off (a reader that does not take its error status). */
  abort(): void;
}

const OK = 0;
/** How long an error status waiting behind data the client does not read may wait before the exchange is cut. */
const TRAILER_GRACE_MS = 5_000;

export class GrpcWebCall extends EventEmitter implements RpcCall {
  request: unknown;
  cancelled = false;
  private done = false;
  private closed = false;
  private headersSent = false;
  private _metadata?: Metadata;
  private readonly deadline: number;
  private deadlineTimer?: NodeJS.Timeout;
  private stallTimer?: NodeJS.Timeout;
  private readonly ac = new AbortController();
  /** Budget held for the request, given back when the exchange closes. */
  private readonly held: (() => void)[] = [];
  private readonly encoding: string;
  // Reading state: bytes not yet framed, the length of the frame whose header arrived (-1: none).
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private frameLen = -1;
  private frameFlag = 0;
  private frames = 0;
  private reserving?: Promise<void>;
  private message?: Promise<unknown>;

  constructor(
    private readonly x: WebExchange,
    readonly headers: IncomingHttpHeaders,
    readonly method: RpcMethod,
    private readonly mode: WebMode,
    private readonly limits: CallLimits,
    /** Sent with the response head (CORS). */
    private readonly extraHeaders: OutgoingHttpHeaders = {},
  ) {
    super();
    // 'error' is how handlers send a failing status (as with grpc-js); it must never throw.
    this.on('error', (e: RpcStatus) => this.sendStatus(e));
    this.encoding = String(headers['grpc-encoding'] ?? 'identity').toLowerCase();
    const timeout = parseTimeout(headers['grpc-timeout'] as string | undefined);
    this.deadline = timeout === undefined ? Infinity : Date.now() + timeout;
    if (timeout !== undefined) {
      this.deadlineTimer = setTimeout(() => this.fail(new InferenceError('DEADLINE_EXCEEDED', 'deadline exceeded'), true), Math.min(timeout, 2 ** 31 - 1));
    }
    x.events.on('drain', () => this.emit('drain'));
    x.events.once('close', () => {
      this.closed = true;
      if (!this.done) this.cancel();
      this.finish();
      this.held.splice(0).forEach((r) => r());
      this.emit('close');
    });
  }

  /** Aborts when the call is cancelled (RpcCall; the call path's CallContext reads it). */
  get signal(): AbortSignal {
    return this.ac.signal;
  }

  get metadata(): Metadata {
    return (this._metadata ??= Metadata.fromHttp2Headers(this.headers));
  }

  getDeadline(): number {
    return this.deadline;
  }

  getPath(): string {
    return this.method.path;
  }

  /** Reads the body; its one message (if any) goes to `onMessage` once the body has ended, then `onEnd`. */
  read(onMessage: (msg: unknown) => void, onEnd: () => void): void {
    const body = this.x.body;
    const text = this.mode === 'text' ? new Base64Groups() : undefined;
    this.armStall();
    body.on('data', (chunk: Buffer) => {
      if (this.done) return;
      this.armStall();
      try {
        const bytes = text ? text.push(chunk) : chunk;
        if (bytes.byteLength) {
          this.pending.push(bytes);
          this.pendingBytes += bytes.byteLength;
        }
        this.takeFrames();
      } catch (e) {
        this.failWith(e);
      }
    });
    body.on('end', () => {
      clearTimeout(this.stallTimer);
      const ended = async () => {
        await this.reserving;
        if (this.done) return;
        text?.end();
        if (this.pendingBytes > 0) {
          throw invalidArg(this.frameLen < 0
            ? `request body ended inside a message header (${this.pendingBytes} of 5 bytes)`
            : `request body ended inside a message (${this.pendingBytes - HEADER_BYTES} of ${this.frameLen} bytes)`);
        }
        const msg = await this.message;
        if (this.done) return;
        if (this.message) onMessage(msg);
        onEnd();
      };
      ended().catch((e) => this.failWith(e));
    });
  }

  /** Frames out of the pending bytes; a body carries one message, and only messages. */
  private takeFrames(): void {
    while (!this.done && !this.reserving) {
      if (this.frameLen < 0) {
        if (this.pendingBytes < HEADER_BYTES) return;
        if (this.pending[0].byteLength < HEADER_BYTES) this.pending = [Buffer.concat(this.pending, this.pendingBytes)];
        const flag = this.pending[0][0];
        const len = this.pending[0].readUInt32BE(1);
        if (flag & TRAILER_FLAG) throw invalidArg(`the request holds a trailer frame (flag 0x${flag.toString(16)}): a gRPC-Web request carries messages only`);
        if (flag > 1) throw invalidArg(`bad message frame flag ${flag}`);
        if (++this.frames > 1) throw this.oneMessageOnly();
        if (len > this.limits.maxMessageBytes) {
          throw new InferenceError('RESOURCE_EXHAUSTED', `request message of ${len} bytes exceeds the limit of ${this.limits.maxMessageBytes} bytes (--grpc-max-message)`);
        }
        this.frameLen = len;
        this.frameFlag = flag;
        // The message's memory is reserved from its header, before its bytes pile up.
        this.reserve(len);
        continue;
      }
      if (this.pendingBytes < HEADER_BYTES + this.frameLen) return;
      const all = this.pending.length === 1 ? this.pending[0] : Buffer.concat(this.pending, this.pendingBytes);
      const payload = all.subarray(HEADER_BYTES, HEADER_BYTES + this.frameLen);
      const rest = all.subarray(HEADER_BYTES + this.frameLen);
      this.pending = rest.byteLength ? [rest] : [];
      this.pendingBytes = rest.byteLength;
      this.frameLen = -1;
      this.message = this.decode(this.frameFlag, payload);
      // Failures surface when the body ends (or at once, through failWith).
      this.message.catch((e) => this.failWith(e));
    }
  }

  private oneMessageOnly(): InferenceError {
    const path = this.method.path;
    if (!this.method.requestStream) return invalidArg(`${path} takes one request message, got more`);
    return new InferenceError('UNIMPLEMENTED',
      `${path} over gRPC-Web takes one request message per call (a browser cannot stream a request body); send each request in its own call, which is served as a server stream`);
  }

  private reserve(len: number): void {
    const now = this.limits.tryReserve?.(len);
    if (now) {
      this.held.push(now);
      return;
    }
    if (!this.limits.reserve) return;
    const body = this.x.body;
    body.pause();
    this.reserving = this.limits.reserve(len, this.ac.signal).then((release) => {
      this.reserving = undefined;
      this.hold(release);
      if (this.done) return;
      body.resume();
      try {
        this.takeFrames();
      } catch (e) {
        this.failWith(e);
      }
    }, (e) => {
      this.reserving = undefined;
      this.failWith(e);
    });
  }

  private hold(release: () => void): void {
    if (this.closed) release();
    else this.held.push(release);
  }

  private async decode(flag: number, payload: Buffer): Promise<unknown> {
    let bytes = payload;
    if (flag === 1) {
      if (this.encoding === 'identity') throw invalidArg('a message is marked compressed but grpc-encoding is identity');
      if (this.encoding !== 'gzip' && this.encoding !== 'deflate') {
        throw new InferenceError('UNIMPLEMENTED', `grpc-encoding '${this.encoding}' is not supported; use gzip, deflate or identity`);
      }
      const inflated = await inflateBounded(payload, this.encoding, this.limits.maxMessageBytes, this.limits.tryReserve);
      inflated.held.forEach((r) => this.hold(r));
      bytes = inflated.bytes;
      if (!this.limits.tryReserve && this.limits.reserve) this.hold(await this.limits.reserve(bytes.byteLength, this.ac.signal));
    }
    return this.method.requestDeserialize(bytes);
  }

  private armStall(): void {
    const ms = this.limits.requestTimeoutMs;
    if (!ms) return;
    clearTimeout(this.stallTimer);
    this.stallTimer = setTimeout(() => {
      if (this.done) return;
      // Held back by the budget is not stalling.
      if (this.reserving) return this.stallTimer?.refresh();
      this.fail(new InferenceError('DEADLINE_EXCEEDED', `request stalled: no bytes for ${ms / 1000} s (--request-timeout)`));
    }, ms);
    this.stallTimer.unref();
  }

  private failWith(e: unknown): void {
    if (this.done) return;
    this.fail(e instanceof InferenceError ? e : invalidArg(String((e as Error)?.message ?? e)));
  }

  private encode(b: Buffer): Buffer {
    return this.mode === 'text' ? Buffer.from(b.toString('base64'), 'latin1') : b;
  }

  private head(): OutgoingHttpHeaders {
    return { ...this.extraHeaders, 'content-type': contentTypeOf(this.mode), 'grpc-accept-encoding': 'identity,deflate,gzip' };
  }

  /** Sends one response message as its own frame; false means wait for 'drain'. */
  write(msg: unknown): boolean {
    if (this.done || this.closed) return false;
    if (!this.headersSent) {
      this.headersSent = true;
      this.x.respond(this.head(), false);
    }
    return this.x.write(this.encode(frame(0, this.method.responseSerialize(msg))));
  }

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
    this.ac.abort();
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
    this.emit('status', code);
    const message = e.details ?? e.message ?? '';
    if (!this.closed) {
      if (!this.headersSent) {
        // Trailers-only: the status travels in the HTTP head, with an empty body.
        this.headersSent = true;
        this.x.respond({ ...this.head(), 'grpc-status': String(code), 'grpc-message': encodeGrpcMessage(message) }, true);
      } else {
        this.x.write(this.encode(trailerFrame(code, message)));
        this.x.end();
        // A stream ended for its stalled reader (idle timeout, shutdown) must not hold its connection.
        if (code !== OK) setTimeout(() => this.closed || this.x.abort(), TRAILER_GRACE_MS).unref();
      }
    }
    this.finish();
  }

  private finish(): void {
    clearTimeout(this.deadlineTimer);
    clearTimeout(this.stallTimer);
  }
}
