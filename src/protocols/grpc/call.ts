// One gRPC call on one HTTP/2 stream: length-prefixed messages in (decompressed within limits), messages
// and a status trailer out. It is an RpcCall (rpc-call.ts), the grpc-js call shape the handlers use, so
// they need not know which transport they run on.

import http2 from 'node:http2';
import { deflateSync, gzipSync } from 'node:zlib';
import { InferenceError, invalidArg } from '../../core/errors.js';
import { CallBase, OK, type CallLimits } from './call-base.js';
import { checkCompressed, COMPRESS_MIN_BYTES, cutShort, encodeGrpcMessage, HEADER_BYTES, inflateBounded, responseEncoding, tooLarge } from './framing.js';
import type { RpcMethod } from './rpc-call.js';
import { Sweeper } from './sweep.js';

export type { CallLimits } from './call-base.js';

/** Below this a frame header and its message go out as one buffer; above, the copy costs more than a second write. */
const COALESCE_BYTES = 16 * 1024;
const RESPONSE_HEADERS: http2.OutgoingHttpHeaders = Object.freeze({ ':status': 200, 'content-type': 'application/grpc+proto', 'grpc-accept-encoding': 'identity,deflate,gzip' });
// No date header: gRPC has no use for it, and node:http2 would make, copy and encode one per response.
const WAIT_FOR_TRAILERS = Object.freeze({ waitForTrailers: true, sendDate: false }) as http2.ServerStreamResponseOptions;
const TRAILERS_ONLY = Object.freeze({ endStream: true, sendDate: false }) as http2.ServerStreamResponseOptions;
/** node:http2 copies the trailers it is given, so one object serves every call that ends OK. */
const OK_TRAILERS: http2.OutgoingHttpHeaders = Object.freeze({ 'grpc-status': String(OK), 'grpc-message': '' });
/** How long a client still sending after the status has to read the trailers before its stream is reset. */
const TRAILER_GRACE_MS = 5_000;
/** Calls whose trailers wait behind data the client does not take: reset when overdue (no timer per call). */
const trailersDue = new Sweeper<'trailerSlot', ServerCall>('trailerSlot', (call) => call.trailersOverdue());
const noop = () => {};

// The stream's listeners are shared by every call: each finds its call on the stream (no closures per call).
const CALL = Symbol('duet.call');
type CallStream = http2.ServerHttp2Stream & { [CALL]: ServerCall };
function onStreamClose(this: CallStream): void {
  this[CALL].streamClosed();
}
function onStreamData(this: CallStream, chunk: Buffer): void {
  this[CALL].chunk(chunk);
}
function onStreamEnd(this: CallStream): void {
  this[CALL].inputDone();
}
function onWantTrailers(this: CallStream): void {
  this[CALL].sendTrailers();
}

export class ServerCall extends CallBase {
  /** Memory reserved for the frame whose header has arrived. */
  private frameHeld?: () => void;
  private frameWaiting = false;
  private received = 0;
  /** Memory held for a single request message, given back when the stream closes (most often one release). */
  private held?: () => void;
  private moreHeld?: (() => void)[];
  /** Messages still being decoded (decompression, memory waits); until then later messages queue behind. */
  private inflight: Promise<void> | undefined;
  private busy = 0;
  /** Set once the trailers went out. */
  private trailed = false;
  /** Set only when this method's responses are compressed and the client accepts gzip or deflate. */
  private readonly outEncoding?: 'gzip' | 'deflate';
  /** What read() was given. */
  private onMessage?: (msg: unknown, call: CallBase) => void;
  private onEnd?: (call: CallBase) => void;
  /** The trailers to send when node:http2 asks for them. */
  private trailers?: http2.OutgoingHttpHeaders;
  /** The trailers sweeper's field (sweep.ts). */
  trailerSlot = 0;

  constructor(
    readonly stream: http2.ServerHttp2Stream,
    headers: http2.IncomingHttpHeaders,
    def: RpcMethod,
    limits: CallLimits,
  ) {
    super(headers, def, limits);
    if (limits.compressLevel !== undefined && limits.compressPaths?.has(def.path)) this.outEncoding = responseEncoding(headers['grpc-accept-encoding']);
    (stream as CallStream)[CALL] = this;
    // No 'aborted' listener: a stream cut off before its end also closes, and closed() cancels a call not done.
    stream.on('close', onStreamClose);
    // 'close' follows every error and cancels a call not done; this only keeps the error from being thrown.
    stream.on('error', noop);
    // Only streamed responses wait for 'drain'; a unary answer is one write.
    if (def.responseStream) stream.on('drain', () => this.emit('drain'));
  }

  /** @internal The stream closed. */
  streamClosed(): void {
    trailersDue.disarm(this);
    this.closed();
    this.freeHeld();
  }

  getPeer(): string {
    const s = this.stream.session?.socket;
    return s ? `${s.remoteAddress}:${s.remotePort}` : 'unknown';
  }

  /** Starts reading request messages; each decoded one goes to `onMessage`, the end of input to `onEnd`. */
  read(onMessage: (msg: unknown, call: CallBase) => void, onEnd: (call: CallBase) => void): void {
    this.onMessage = onMessage;
    this.onEnd = onEnd;
    this.armStall();
    this.stream.on('data', onStreamData);
    this.stream.on('end', onStreamEnd);
  }

  /** @internal Bytes of the request. */
  chunk(chunk: Buffer): void {
    // After the status, what a client still sends is read and dropped (its window must reopen).
    this.bytesIn += chunk.byteLength;
    if (this.done) return;
    this.addPending(chunk);
    this.drainFrames(this.onMessage!);
    this.armStall();
  }

  /** @internal The end of the request. */
  inputDone(): void {
    this.clearStall();
    this.afterFrames(this.onEnd!);
  }

  /** END_STREAM may come while frames wait for memory (their bytes all in): the end goes after them. */
  private afterFrames(onEnd: (call: CallBase) => void): void {
    if (this.frameWaiting) this.once('frameReserved', () => this.afterFrames(onEnd));
    else if (!this.busy) this.inputEnded(onEnd);
    else this.inOrder(() => this.inputEnded(onEnd));
  }

  private inputEnded(onEnd: (call: CallBase) => void): void {
    if (this.done) return;
    if (this.pendingBytes > 0) return this.fail(cutShort('stream', this.pendingBytes, this.frameLen));
    onEnd(this);
  }

  /** Runs `fn` after the messages before it are handled: at once when none is still being decoded. */
  private inOrder(fn: () => void | Promise<void>): void {
    if (!this.busy) return this.track(fn());
    this.busy++;
    this.inflight = this.inflight!.then(fn).finally(() => this.busy--);
  }

  /** A message still being decoded: later ones queue behind it. */
  private track(r: void | Promise<void>): void {
    if (!r) return;
    this.busy++;
    this.inflight = r.finally(() => this.busy--);
  }

  protected override armStall(): void {
    // A stream may sit idle between messages for as long as it likes; only a message cut off mid-way stalls.
    if (this.def.requestStream && this.pendingBytes === 0) return this.clearStall();
    super.armStall();
  }

  private drainFrames(onMessage: (msg: unknown, call: CallBase) => void): void {
    while (!this.done) {
      if (this.frameLen < 0) {
        if (this.pendingBytes < HEADER_BYTES) return;
        const len = this.header().readUInt32BE(1);
        if (len > this.limits.maxMessageBytes) {
          this.fail(tooLarge(len, this.limits.maxMessageBytes));
          return;
        }
        this.frameLen = len;
        // The message's memory is reserved from its header, before its bytes pile up (as REST does with Content-Length).
        if (this.limits.reserve && !this.reserveFrame(len, onMessage)) return;
      }
      if (this.frameWaiting || this.pendingBytes < HEADER_BYTES + this.frameLen) return;
      const flag = this.pending[0][0];
      const body = this.takeBody();
      const held = this.frameHeld;
      this.frameHeld = undefined;
      this.received++;
      const seq = this.received;
      // Messages are handled in order even when some wait for memory or decompression.
      if (this.busy) this.inOrder(() => this.decodeOne(flag, body, seq, onMessage, held));
      else this.track(this.decodeOne(flag, body, seq, onMessage, held));
    }
  }

  /** Reserves a frame's bytes: true when that happened at once; else reading pauses until it does. */
  private reserveFrame(len: number, onMessage: (msg: unknown, call: CallBase) => void): boolean {
    const now = this.limits.tryReserve?.(len);
    if (now) {
      this.frameHeld = now;
      return true;
    }
    this.frameWaiting = true;
    this.stream.pause();
    this.limits.reserve!(len, this.signal).then((release) => {
      this.frameWaiting = false;
      if (this.done) return this.holdUntilClosed(release);
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
  private decodeOne(flag: number, body: Buffer, seq: number, onMessage: (msg: unknown, call: CallBase) => void, held?: () => void): void | Promise<void> {
    try {
      if (this.done) return this.settle(held);
      if (!this.def.requestStream && seq > 1) throw invalidArg(`${this.def.path} takes one request message, got more`);
      if (flag > 1) throw invalidArg(`bad message frame flag ${flag}`);
      if (flag === 1) return this.decodeCompressed(body, held ? [held] : [], onMessage);
      onMessage(this.def.requestDeserialize(body), this);
    } catch (e) {
      this.failWith(e);
    }
    this.settle(held);
  }

  private async decodeCompressed(body: Buffer, held: (() => void)[], onMessage: (msg: unknown, call: CallBase) => void): Promise<void> {
    try {
      checkCompressed(this.encoding);
      const inflated = await inflateBounded(body, this.encoding, this.limits.maxMessageBytes, this.limits.tryReserve);
      held.push(...inflated.held);
      if (!this.limits.tryReserve && this.limits.reserve) held.push(await this.limits.reserve(inflated.bytes.byteLength, this.signal));
      if (this.done) return;
      onMessage(this.def.requestDeserialize(inflated.bytes), this);
    } catch (e) {
      this.failWith(e);
    } finally {
      for (const r of held) this.settle(r);
    }
  }

  /** Memory held for a message: a stream's go back one by one; a single request's when its stream closes. */
  private settle(held: (() => void) | undefined): void {
    if (!held) return;
    if (this.def.requestStream) held();
    else this.holdUntilClosed(held);
  }

  /** Sends one response message; false means wait for 'drain'. */
  write(msg: unknown): boolean {
    if (this.done || this.stream.destroyed) return false;
    this.sendHeaders();
    if (!this.outEncoding) {
      // Encoded straight into its frame: no second buffer, no copy.
      const frame = this.def.responseFrame?.(msg);
      if (frame) {
        frame[0] = 0;
        frame.writeUInt32BE(frame.byteLength - HEADER_BYTES, 1);
        this.bytesOut += frame.byteLength;
        return this.stream.write(frame);
      }
    }
    let payload = this.def.responseSerialize(msg);
    let flag = 0;
    if (this.outEncoding && payload.byteLength >= COMPRESS_MIN_BYTES) {
      const level = this.limits.compressLevel;
      payload = this.outEncoding === 'gzip' ? gzipSync(payload, { level }) : deflateSync(payload, { level });
      flag = 1;
    }
    const n = payload.byteLength;
    this.bytesOut += HEADER_BYTES + n;
    if (n < COALESCE_BYTES) {
      // One buffer for prefix and message: one DATA frame, one copy of a small message.
      const frame = Buffer.allocUnsafe(HEADER_BYTES + n);
      frame[0] = flag;
      frame.writeUInt32BE(n, 1);
      frame.set(payload, HEADER_BYTES);
      return this.stream.write(frame);
    }
    const head = Buffer.allocUnsafe(HEADER_BYTES);
    head[0] = flag;
    head.writeUInt32BE(n, 1);
    this.stream.write(head);
    return this.stream.write(payload);
  }

  private sendHeaders(): void {
    if (this.headersSent) return;
    this.headersSent = true;
    // node:http2 copies the headers it is given, so one object serves every call.
    this.stream.respond(this.outEncoding ? { ...RESPONSE_HEADERS, 'grpc-encoding': this.outEncoding } : RESPONSE_HEADERS, WAIT_FOR_TRAILERS);
  }

  protected writeStatus(code: number, message: string): void {
    const s = this.stream;
    if (s.destroyed || s.closed) return;
    const trailers = code === OK && !message ? OK_TRAILERS : { 'grpc-status': String(code), 'grpc-message': encodeGrpcMessage(message) };
    if (!this.headersSent) {
      // Trailers-only: the status travels in the one HEADERS frame.
      this.headersSent = true;
      s.respond({ ':status': 200, 'content-type': 'application/grpc+proto', ...trailers }, TRAILERS_ONLY);
      this.stopReading();
      return;
    }
    // node:http2 asks once per stream; `on` spares `once`'s wrapper.
    this.trailers = trailers;
    s.on('wantTrailers', onWantTrailers);
    s.end();
    // Trailers wait behind data the client does not take (a stalled reader): then the stream is reset.
    // Cleared on close, so a finished call is not kept alive for the grace period.
    if (!s.closed && !this.trailed) trailersDue.arm(this, TRAILER_GRACE_MS);
  }

  /** @internal node:http2 asks for the trailers. */
  sendTrailers(): void {
    this.trailed = true;
    trailersDue.disarm(this);
    this.stream.sendTrailers(this.trailers!);
    // nghttp2 would send a reset ahead of the trailers (they queue behind the stream's data),
    // so the client gets time to read them and end its side before it is cut off.
    if (!this.stream.readableEnded) setTimeout(() => this.stopReading(), TRAILER_GRACE_MS).unref();
  }

  /** A client still sending is told to stop (RST_STREAM NO_ERROR after the status, as gRPC servers do). */
  private stopReading(): void {
    const s = this.stream;
    if (!s.readableEnded && !s.closed) s.close(http2.constants.NGHTTP2_NO_ERROR);
  }

  /** The trailers waited the grace period behind data the client does not take: reset the stream. */
  trailersOverdue(): void {
    const s = this.stream;
    if (!this.trailed && !s.closed && !s.destroyed) s.close(http2.constants.NGHTTP2_CANCEL);
  }

  /** Memory held for the request goes back once its stream closes (the response is out, or the call died). */
  private holdUntilClosed(release: () => void): void {
    if (this.stream.closed || this.stream.destroyed) return release();
    if (!this.held) this.held = release;
    else (this.moreHeld ??= []).push(release);
  }

  private freeHeld(): void {
    const one = this.held;
    const more = this.moreHeld;
    this.held = this.moreHeld = undefined;
    one?.();
    if (more) for (const r of more) r();
  }

  protected override finish(): void {
    super.finish();
    if (this.frameHeld) {
      this.holdUntilClosed(this.frameHeld);
      this.frameHeld = undefined;
    }
    if (this.stream.closed || this.stream.destroyed) this.freeHeld();
  }
}
