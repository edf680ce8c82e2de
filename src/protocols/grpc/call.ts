// One gRPC call on one HTTP/2 stream: length-prefixed messages in (decompressed within limits), messages
// and a status trailer out. It is an RpcCall (rpc-call.ts), the grpc-js call shape the handlers use, so
// they need not know which transport they run on.

import { EventEmitter } from 'node:events';
import http2 from 'node:http2';
import zlib from 'node:zlib';
import { Metadata } from '@grpc/grpc-js';
import { InferenceError, invalidArg } from '../../core/errors.js';
import type { RpcCall, RpcMethod, RpcStatus } from './rpc-call.js';

/** What a call needs from its server: limits, and how to reserve memory for what it receives. */
export interface CallLimits {
  maxMessageBytes: number;
  /** Reserve bytes of memory; resolves to their release, or rejects (RESOURCE_EXHAUSTED). */
  reserve?: (bytes: number, signal: AbortSignal) => Promise<() => void>;
  /** The same without waiting: a release when the bytes fit now, else undefined (then `reserve` is used). */
  tryReserve?: (bytes: number) => (() => void) | undefined;
  /** A request message that stalls this long (no bytes) is dropped. */
  requestTimeoutMs?: number;
}

const HEADER_BYTES = 5;
/** Below this a frame header and its message go out as one buffer; above, the copy costs more than a second write. */
const COALESCE_BYTES = 16 * 1024;
const OK = 0;
/** How long a client still sending after the status has to read the trailers before its stream is reset. */
const TRAILER_GRACE_MS = 5_000;


/** grpc-timeout: digits then one unit letter (gRPC over HTTP/2 spec). */
export function parseTimeout(v: string | undefined): number | undefined {
  if (!v) return undefined;
  const m = /^(\d{1,8})([HMSmun])$/.exec(v);
  if (!m) return undefined;
  const n = Number(m[1]);
  const ms = { H: 3_600_000, M: 60_000, S: 1000, m: 1, u: 1e-3, n: 1e-6 }[m[2] as 'H'];
  return n * ms;
}

/** grpc-message is percent-encoded outside printable ASCII. */
export function encodeGrpcMessage(s: string): string {
  return /^[\x20-\x24\x26-\x7e]*$/.test(s) ? s : Array.from(Buffer.from(s, 'utf8'), (b) =>
    b >= 0x20 && b <= 0x7e && b !== 0x25 ? String.fromCharCode(b) : `%${b.toString(16).toUpperCase().padStart(2, '0')}`).join('');
}

/** Reserved as inflation goes, a step at a time, so a small compressed message cannot grow past the budget. */
const INFLATE_STEP = 1024 * 1024;

/**
 * Inflate one message, stopping at `limit` bytes and, when `take` is given, as soon as the memory
 * budget has no room for what it has grown to. Resolves to the bytes and what was reserved for them.
 */
export function inflateBounded(data: Buffer, encoding: string, limit: number, take?: (bytes: number) => (() => void) | undefined): Promise<{ bytes: Buffer; held: (() => void)[] }> {
  return new Promise((resolve, reject) => {
    const z = encoding === 'gzip' ? zlib.createGunzip() : zlib.createInflate();
    const parts: Buffer[] = [];
    const held: (() => void)[] = [];
    let size = 0;
    let reserved = 0;
    const stop = (err: InferenceError) => {
      z.destroy();
      held.splice(0).forEach((r) => r());
      reject(err);
    };
    z.on('data', (c: Buffer) => {
      size += c.byteLength;
      if (size > limit) return stop(new InferenceError('RESOURCE_EXHAUSTED', `message decompresses to more than ${limit} bytes (--grpc-max-message)`));
      // Twice the size: the pieces and the one buffer they are joined into live side by side for a while.
      while (take && 2 * size > reserved) {
        const step = Math.max(INFLATE_STEP, 2 * size - reserved);
        const r = take(step);
        if (!r) return stop(new InferenceError('RESOURCE_EXHAUSTED', `message decompresses past the memory left in the in-flight budget (${size} bytes so far; --max-inflight-bytes)`));
        held.push(r);
        reserved += step;
      }
      parts.push(c);
    });
    z.on('error', (e) => stop(invalidArg(`message is not valid ${encoding} data: ${e.message}`)));
    z.on('end', () => resolve({ bytes: parts.length === 1 ? parts[0] : Buffer.concat(parts, size), held }));
    z.end(data);
  });
}

export class ServerCall extends EventEmitter implements RpcCall {
  request: unknown;
  cancelled = false;
  /** Set once the status went out (or the stream died): nothing more is written. */
  done = false;
  private finished = false;
  private _metadata?: Metadata;
  private readonly deadline: number;
  private deadlineTimer?: NodeJS.Timeout;
  private stallTimer?: NodeJS.Timeout;
  private headersSent = false;
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  /** Length of the frame whose header has arrived (-1: none yet), and the memory reserved for it. */
  private frameLen = -1;
  private frameHeld?: () => void;
  private frameWaiting = false;
  private received = 0;
  private readonly releases: (() => void)[] = [];
  /** Made when something first waits on the call (most calls never do): see `signal`. */
  private ac?: AbortController;
  /** Messages still being decoded (decompression, memory waits); until then later messages queue behind. */
  private inflight: Promise<void> | undefined;
  private busy = 0;
  private trailerTimer?: NodeJS.Timeout;
  private readonly encoding: string;

  constructor(
    readonly stream: http2.ServerHttp2Stream,
    readonly headers: http2.IncomingHttpHeaders,
    readonly def: RpcMethod,
    private readonly limits: CallLimits,
  ) {
    super();
    this.encoding = String(headers['grpc-encoding'] ?? 'identity').toLowerCase();
    const timeout = parseTimeout(headers['grpc-timeout'] as string | undefined);
    this.deadline = timeout === undefined ? Infinity : Date.now() + timeout;
    if (timeout !== undefined) {
      this.deadlineTimer = setTimeout(() => this.fail(new InferenceError('DEADLINE_EXCEEDED', 'deadline exceeded'), true), Math.min(timeout, 2 ** 31 - 1));
    }
    stream.on('aborted', () => this.cancel());
    stream.on('close', () => {
      clearTimeout(this.trailerTimer);
      if (!this.done) this.cancel();
      this.finish();
      this.emit('close');
    });
    stream.on('error', () => this.cancel());
    // Only streamed responses wait for 'drain'; a unary answer is one write.
    if (def.responseStream) stream.on('drain', () => this.emit('drain'));
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
    if (!this.ac) {
      this.ac = new AbortController();
      if (this.cancelled) this.ac.abort();
    }
    return this.ac.signal;
  }

  get metadata(): Metadata {
    return (this._metadata ??= Metadata.fromHttp2Headers(this.headers));
  }

  getDeadline(): number {
    return this.deadline;
  }

  getPeer(): string {
    const s = this.stream.session?.socket;
    return s ? `${s.remoteAddress}:${s.remotePort}` : 'unknown';
  }

  getPath(): string {
    return this.def.path;
  }

  /** Starts reading request messages; each decoded one goes to `onMessage`, the end of input to `onEnd`. */
  read(onMessage: (msg: unknown) => void, onEnd: () => void): void {
    this.armStall();
    this.stream.on('data', (chunk: Buffer) => {
      // After the status, what a client still sends is read and dropped (its window must reopen).
      if (this.done) return;
      this.pending.push(chunk);
      this.pendingBytes += chunk.byteLength;
      this.drainFrames(onMessage);
      this.armStall();
    });
    const ended = () => {
      this.inOrder(() => {
        if (this.done) return;
        if (this.pendingBytes > 0) {
          this.fail(invalidArg(this.frameLen < 0
            ? `request stream ended inside a message header (${this.pendingBytes} of 5 bytes)`
            : `request stream ended inside a message (${this.pendingBytes - HEADER_BYTES} of ${this.frameLen} bytes)`));
          return;
        }
        onEnd();
      });
    };
    // END_STREAM may come while frames wait for memory (their bytes all in): the end goes after them.
    const afterFrames = () => this.frameWaiting ? this.once('frameReserved', afterFrames) : ended();
    this.stream.on('end', () => {
      this.clearStall();
      afterFrames();
    });
  }

  /** Runs `fn` after the messages before it are handled: at once when none is still being decoded. */
  private inOrder(fn: () => void | Promise<void>): void {
    if (!this.busy) {
      const r = fn();
      if (!r) return;
      this.busy++;
      this.inflight = r.finally(() => this.busy--);
      return;
    }
    this.busy++;
    this.inflight = this.inflight!.then(fn).finally(() => this.busy--);
  }

  private armStall(): void {
    const ms = this.limits.requestTimeoutMs;
    if (!ms) return;
    // A stream may sit idle between messages for as long as it likes; only a message cut off mid-way stalls.
    if (this.def.requestStream && this.pendingBytes === 0) return this.clearStall();
    // One timer per call, pushed back as bytes come (cheaper than a new one per chunk).
    if (this.stallTimer) {
      this.stallTimer.refresh();
      return;
    }
    this.stallTimer = setTimeout(() => {
      if (!this.done) this.fail(new InferenceError('DEADLINE_EXCEEDED', `request stalled: no bytes for ${ms / 1000} s (--request-timeout)`));
    }, ms);
    this.stallTimer.unref();
  }

  private clearStall(): void {
    clearTimeout(this.stallTimer);
    this.stallTimer = undefined;
  }

  /** The 5-byte header of the next frame, gathered into the first pending chunk. */
  private header(): Buffer {
    if (this.pending[0].byteLength < HEADER_BYTES) this.pending = [Buffer.concat(this.pending, this.pendingBytes)];
    return this.pending[0];
  }

  private drainFrames(onMessage: (msg: unknown) => void): void {
    while (!this.done) {
      if (this.frameLen < 0) {
        if (this.pendingBytes < HEADER_BYTES) return;
        const len = this.header().readUInt32BE(1);
        if (len > this.limits.maxMessageBytes) {
          this.fail(new InferenceError('RESOURCE_EXHAUSTED', `request message of ${len} bytes exceeds the limit of ${this.limits.maxMessageBytes} bytes (--grpc-max-message)`));
          return;
        }
        this.frameLen = len;
        // The message's memory is reserved from its header, before its bytes pile up (as REST does with Content-Length).
        if (this.limits.reserve && !this.reserveFrame(len, onMessage)) return;
      }
      if (this.frameWaiting || this.pendingBytes < HEADER_BYTES + this.frameLen) return;
      // Chunks are joined once, when the whole message is there.
      const all = this.pending.length === 1 ? this.pending[0] : Buffer.concat(this.pending, this.pendingBytes);
      const flag = all[0];
      const body = all.subarray(HEADER_BYTES, HEADER_BYTES + this.frameLen);
      const rest = all.subarray(HEADER_BYTES + this.frameLen);
      this.pending = rest.byteLength ? [rest] : [];
      this.pendingBytes = rest.byteLength;
      this.frameLen = -1;
      const held = this.frameHeld;
      this.frameHeld = undefined;
      this.received++;
      const seq = this.received;
      // Messages are handled in order even when some wait for memory or decompression.
      this.inOrder(() => this.decodeOne(flag, body, seq, onMessage, held));
    }
  }

  /** Reserves a frame's bytes: true when that happened at once; else reading pauses until it does. */
  private reserveFrame(len: number, onMessage: (msg: unknown) => void): boolean {
    const now = this.limits.tryReserve?.(len);
    if (now) {
      this.frameHeld = now;
      return true;
    }
    this.frameWaiting = true;
    this.stream.pause();
    this.limits.reserve!(len, this.signal).then((release) => {
      this.frameWaiting = false;
      if (this.done) return this.releaseWhenClosed([release]);
      this.frameHeld = release;
      this.stream.resume();
      this.drainFrames(onMessage);
      this.emit('frameReserved');
    }, (e) => {
      this.frameWaiting = false;
      if (!this.done) this.fail(e instanceof InferenceError ? e : new InferenceError('CANCELLED', String((e as Error)?.message ?? e)));
    });
    return false;
  }

  /** Decodes one message and hands it on; synchronous unless it must be inflated. */
  private decodeOne(flag: number, body: Buffer, seq: number, onMessage: (msg: unknown) => void, frameHeld?: () => void): void | Promise<void> {
    const held: (() => void)[] = frameHeld ? [frameHeld] : [];
    try {
      if (this.done) return this.settle(held);
      if (!this.def.requestStream && seq > 1) throw invalidArg(`${this.def.path} takes one request message, got more`);
      if (flag > 1) throw invalidArg(`bad message frame flag ${flag}`);
      if (flag === 1) return this.decodeCompressed(body, held, onMessage);
      onMessage(this.def.requestDeserialize(body));
    } catch (e) {
      if (!this.done) this.fail(e instanceof InferenceError ? e : invalidArg((e as Error).message));
    }
    this.settle(held);
  }

  private async decodeCompressed(body: Buffer, held: (() => void)[], onMessage: (msg: unknown) => void): Promise<void> {
    try {
      if (this.encoding === 'identity') throw invalidArg('a message is marked compressed but grpc-encoding is identity');
      if (this.encoding !== 'gzip' && this.encoding !== 'deflate') {
        throw new InferenceError('UNIMPLEMENTED', `grpc-encoding '${this.encoding}' is not supported; use gzip, deflate or identity`);
      }
      const inflated = await inflateBounded(body, this.encoding, this.limits.maxMessageBytes, this.limits.tryReserve);
      held.push(...inflated.held);
      if (!this.limits.tryReserve && this.limits.reserve) held.push(await this.limits.reserve(inflated.bytes.byteLength, this.signal));
      if (this.done) return;
      onMessage(this.def.requestDeserialize(inflated.bytes));
    } catch (e) {
      if (!this.done) this.fail(e instanceof InferenceError ? e : invalidArg((e as Error).message));
    } finally {
      this.settle(held);
    }
  }

  /** Memory held for a message: a stream's go back one by one; a single request's at the end of its call. */
  private settle(held: (() => void)[]): void {
    if (!held.length) return;
    if (this.def.requestStream) held.forEach((r) => r());
    else if (this.finished) this.releaseWhenClosed(held);
    else this.releases.push(...held);
  }

  /** Sends one response message; false means wait for 'drain'. */
  write(msg: unknown): boolean {
    if (this.done || this.stream.destroyed) return false;
    this.sendHeaders();
    const payload = this.def.responseSerialize(msg);
    const head = Buffer.allocUnsafe(HEADER_BYTES);
    head[0] = 0;
    head.writeUInt32BE(payload.byteLength, 1);
    if (payload.byteLength < COALESCE_BYTES) return this.stream.write(Buffer.concat([head, payload], HEADER_BYTES + payload.byteLength));
    this.stream.write(head);
    return this.stream.write(payload);
  }

  private sendHeaders(): void {
    if (this.headersSent) return;
    this.headersSent = true;
    this.stream.respond({ ':status': 200, 'content-type': 'application/grpc+proto', 'grpc-accept-encoding': 'identity,deflate,gzip' }, { waitForTrailers: true });
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
    this.ac?.abort();
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
    const trailers = { 'grpc-status': String(code), 'grpc-message': encodeGrpcMessage(e.details ?? e.message ?? '') };
    const s = this.stream;
    // A client still sending is told to stop (RST_STREAM NO_ERROR after the status, as gRPC servers do).
    const stopReading = () => {
      if (!s.readableEnded && !s.closed) s.close(http2.constants.NGHTTP2_NO_ERROR);
    };
    if (!s.destroyed && !s.closed) {
      if (!this.headersSent) {
        // Trailers-only: the status travels in the one HEADERS frame.
        this.headersSent = true;
        s.respond({ ':status': 200, 'content-type': 'application/grpc+proto', ...trailers }, { endStream: true });
        stopReading();
      } else {
        let trailed = false;
        s.once('wantTrailers', () => {
          trailed = true;
          s.sendTrailers(trailers);
          // nghttp2 would send a reset ahead of the trailers (they queue behind the stream's data),
          // so the client gets time to read them and end its side before it is cut off.
          if (!s.readableEnded) setTimeout(stopReading, TRAILER_GRACE_MS).unref();
        });
        s.end();
        // Trailers wait behind data the client does not take (a stalled reader): then the stream is reset.
        // Cleared on close, so a finished call is not kept alive for the grace period.
        if (!s.closed) {
          this.trailerTimer = setTimeout(() => {
            if (!trailed && !s.closed && !s.destroyed) s.close(http2.constants.NGHTTP2_CANCEL);
          }, TRAILER_GRACE_MS);
          this.trailerTimer.unref();
        }
      }
    }
    this.finish();
  }

  private releaseWhenClosed(rel: (() => void)[]): void {
    let freed = false;
    const free = () => {
      if (!freed) rel.forEach((r) => r());
      freed = true;
    };
    if (this.stream.closed || this.stream.destroyed) free();
    else this.stream.once('close', free);
  }

  private finish(): void {
    this.finished = true;
    clearTimeout(this.deadlineTimer);
    this.clearStall();
    // Memory held for the request goes back once the response is out (or the call died).
    if (this.frameHeld) {
      this.releases.push(this.frameHeld);
      this.frameHeld = undefined;
    }
    if (this.releases.length) this.releaseWhenClosed(this.releases.splice(0));
  }
}
