// One gRPC-Web call over one HTTP exchange (HTTP/1.1 or HTTP/2): the request body holds at most one
// message, read within the message limit, the in-flight budget and the stall timer; responses go out
// frame by frame (base64 per frame in text mode), the status as a trailer frame, or in the HTTP
// headers when nothing was sent yet (trailers-only). An RpcCall, so GrpcServer.dispatch runs it.

import type { EventEmitter } from 'node:events';
import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';
import type { Readable } from 'node:stream';
import { InferenceError, invalidArg } from '../../core/errors.js';
import { CallBase, OK, type CallLimits } from '../grpc/call-base.js';
import { checkCompressed, cutShort, encodeGrpcMessage, inflateBounded, tooLarge } from '../grpc/framing.js';
import type { RpcMethod } from '../grpc/rpc-call.js';
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

/** How long an error status waiting behind data the client does not read may wait before the exchange is cut. */
const TRAILER_GRACE_MS = 5_000;

export class GrpcWebCall extends CallBase {
  /** The exchange has closed. */
  private isClosed = false;
  /** Budget held for the request, given back when the exchange closes. */
  private readonly held: (() => void)[] = [];
  private frameFlag = 0;
  private frames = 0;
  private reserving?: Promise<void>;
  private message?: Promise<unknown>;

  constructor(
    private readonly x: WebExchange,
    headers: IncomingHttpHeaders,
    method: RpcMethod,
    private readonly mode: WebMode,
    limits: CallLimits,
    /** Sent with the response head (CORS). */
    private readonly extraHeaders: OutgoingHttpHeaders = {},
  ) {
    super(headers, method, limits);
    x.events.on('drain', () => this.emit('drain'));
    x.events.once('close', () => {
      this.isClosed = true;
      this.held.splice(0).forEach((r) => r());
      this.closed();
    });
  }

  /** Reads the body; its one message (if any) goes to `onMessage` once the body has ended, then `onEnd`. */
  read(onMessage: (msg: unknown, call: CallBase) => void, onEnd: (call: CallBase) => void): void {
    const body = this.x.body;
    const text = this.mode === 'text' ? new Base64Groups() : undefined;
    this.armStall();
    body.on('data', (chunk: Buffer) => {
      this.bytesIn += chunk.byteLength;
      if (this.done) return;
      this.armStall();
      try {
        const bytes = text ? text.push(chunk) : chunk;
        if (bytes.byteLength) {
          this.addPending(bytes);
        }
        this.takeFrames();
      } catch (e) {
        this.failWith(e);
      }
    });
    body.on('end', () => {
      this.clearStall();
      const ended = async () => {
        await this.reserving;
        if (this.done) return;
        text?.end();
        if (this.pendingBytes > 0) throw cutShort('body', this.pendingBytes, this.frameLen);
        const msg = await this.message;
        if (this.done) return;
        if (this.message) onMessage(msg, this);
        onEnd(this);
      };
      ended().catch((e) => this.failWith(e));
    });
  }

  /** Frames out of the pending bytes; a body carries one message, and only messages. */
  private takeFrames(): void {
    while (!this.done && !this.reserving) {
      if (this.frameLen < 0) {
        if (this.pendingBytes < HEADER_BYTES) return;
        const head = this.header();
        const flag = head[0];
        const len = head.readUInt32BE(1);
        if (flag & TRAILER_FLAG) throw invalidArg(`the request holds a trailer frame (flag 0x${flag.toString(16)}): a gRPC-Web request carries messages only`);
        if (flag > 1) throw invalidArg(`bad message frame flag ${flag}`);
        if (++this.frames > 1) throw this.oneMessageOnly();
        if (len > this.limits.maxMessageBytes) {
          throw tooLarge(len, this.limits.maxMessageBytes);
        }
        this.frameLen = len;
        this.frameFlag = flag;
        // The message's memory is reserved from its header, before its bytes pile up.
        this.reserve(len);
        continue;
      }
      if (this.pendingBytes < HEADER_BYTES + this.frameLen) return;
      this.message = this.decode(this.frameFlag, this.takeBody());
      // Failures surface when the body ends (or at once, through failWith).
      this.message.catch((e) => this.failWith(e));
    }
  }

  private oneMessageOnly(): InferenceError {
    const path = this.def.path;
    if (!this.def.requestStream) return invalidArg(`${path} takes one request message, got more`);
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
    this.reserving = this.limits.reserve(len, this.signal).then((release) => {
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
    if (this.isClosed) release();
    else this.held.push(release);
  }

  private async decode(flag: number, payload: Buffer): Promise<unknown> {
    let bytes = payload;
    if (flag === 1) {
      checkCompressed(this.encoding);
      const inflated = await inflateBounded(payload, this.encoding, this.limits.maxMessageBytes, this.limits.tryReserve);
      inflated.held.forEach((r) => this.hold(r));
      bytes = inflated.bytes;
      if (!this.limits.tryReserve && this.limits.reserve) this.hold(await this.limits.reserve(bytes.byteLength, this.signal));
    }
    return this.def.requestDeserialize(bytes);
  }

  /** Held back by the budget is not stalling. */
  protected override heldBack(): boolean {
    return this.reserving !== undefined;
  }

  private encode(b: Buffer): Buffer {
    return this.mode === 'text' ? Buffer.from(b.toString('base64'), 'latin1') : b;
  }

  private head(): OutgoingHttpHeaders {
    return { ...this.extraHeaders, 'content-type': contentTypeOf(this.mode), 'grpc-accept-encoding': 'identity,deflate,gzip' };
  }

  /** Sends one response message as its own frame; false means wait for 'drain'. */
  write(msg: unknown): boolean {
    if (this.done || this.isClosed) return false;
    if (!this.headersSent) {
      this.headersSent = true;
      this.x.respond(this.head(), false);
    }
    const out = this.encode(frame(0, this.def.responseSerialize(msg)));
    this.bytesOut += out.byteLength;
    return this.x.write(out);
  }

  protected writeStatus(code: number, message: string): void {
    if (!this.isClosed) {
      if (!this.headersSent) {
        // Trailers-only: the status travels in the HTTP head, with an empty body.
        this.headersSent = true;
        this.x.respond({ ...this.head(), 'grpc-status': String(code), 'grpc-message': encodeGrpcMessage(message) }, true);
      } else {
        this.x.write(this.encode(trailerFrame(code, message)));
        this.x.end();
        // A stream ended for its stalled reader (idle timeout, shutdown) must not hold its connection.
        if (code !== OK) setTimeout(() => this.isClosed || this.x.abort(), TRAILER_GRACE_MS).unref();
      }
    }
  }
}
