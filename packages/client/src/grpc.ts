// GrpcClient: inference.GRPCInferenceService over gRPC on node:http2 (Node only). The same frames, headers and
// trailers any gRPC client sends, without grpc-js's channel machinery, whose CPU dominated duet bench's gRPC runs.

import http2 from 'node:http2';
import { AsyncQueue } from './async-queue.js';
import { InferenceError } from './errors.js';
import type { inference } from './generated/proto.js';
import { INFERENCE_METHODS, methodPath } from './grpc-methods.js';
import { encodeFrame, FrameReader, statusOf } from './grpc-web-frames.js';
import {
  errorOfStatus, GrpcServiceClient, streamOne, streamRequest, streamResultOf,
  type InferenceMethod, type InferStream, type StreamResult,
} from './grpc-common.js';
import type { ClientTls, InferInput, InferOptions, InferResult } from './types.js';

export { decodeInferResponse, type InferStream, type StreamResult } from './grpc-common.js';

export interface GrpcClientOptions {
  /** The largest response message accepted (default 2^31-1). */
  maxMessageBytes?: number;
  /** HTTP/2 flow-control window the client grants the server (default 8 MiB). */
  windowBytes?: number;
  /** Per-call deadline in milliseconds (unary calls), sent as grpc-timeout and enforced here too. */
  timeoutMs?: number;
  /** The server's API key, sent as metadata `authorization: Bearer <token>`. */
  token?: string;
  /** Metadata sent with every call (e.g. Triton's `triton-grpc-protocol-<key>` for a restricted protocol). */
  headers?: Record<string, string>;
  /** Connect over TLS: `ca` to trust (default: the system's CAs); `cert` and `key` for mutual TLS. */
  tls?: ClientTls;
}

/** Responses an InferStream holds for a slow reader before it stops reading from the network. */
const STREAM_HIGH_WATER = 16;

// The spec's mapping for an HTTP status that carries no grpc-status (grpc/grpc doc/http-grpc-status-mapping.md).
const STATUS_OF_HTTP: Record<number, number> = { 400: 13, 401: 16, 403: 7, 404: 12, 429: 14, 502: 14, 503: 14, 504: 14 };

/** One call on its HTTP/2 stream: write request frames to it, cancel it. */
interface Call {
  stream: http2.ClientHttp2Stream;
  cancel(e: InferenceError): void;
}

export class GrpcClient extends GrpcServiceClient {
  readonly protocol = 'grpc' as const;
  private readonly origin: string;
  private readonly connectOptions: http2.SecureClientSessionOptions;
  private readonly windowBytes: number;
  private readonly maxMessageBytes: number;
  private readonly timeoutMs: number | undefined;
  private readonly fixedHeaders: Record<string, string>;
  private session: http2.ClientHttp2Session | undefined;
  private active = 0;
  /** Why the connection failed, for the calls it takes down. */
  private sessionError: Error | undefined;
  private closed = false;

  /** `address` like "localhost:8001" (plaintext unless `tls` is given, or the scheme is grpcs:// or https://). */
  constructor(address: string, opts: GrpcClientOptions = {}) {
    super();
    const secure = opts.tls !== undefined || /^(grpcs|https):\/\//.test(address);
    this.origin = `${secure ? 'https' : 'http'}://${address.replace(/^[a-z]+:\/\//, '')}`;
    const pem = (v: string | Uint8Array | undefined) => (v === undefined || typeof v === 'string' ? v : Buffer.from(v));
    this.connectOptions = secure ? { ca: pem(opts.tls?.ca), cert: pem(opts.tls?.cert), key: pem(opts.tls?.key) } : {};
    this.windowBytes = opts.windowBytes ?? 8 * 1024 * 1024;
    this.maxMessageBytes = opts.maxMessageBytes ?? 2 ** 31 - 1;
    this.timeoutMs = opts.timeoutMs;
    this.fixedHeaders = {
      ...Object.fromEntries(Object.entries(opts.headers ?? {}).map(([k, v]) => [k.toLowerCase(), v])),
      ...(opts.token !== undefined ? { authorization: `Bearer ${opts.token}` } : {}),
    };
  }

  /** The connection, opened on first use and again after the server closed it. */
  private connect(): http2.ClientHttp2Session {
    const live = this.session;
    if (live && !live.closed && !live.destroyed) return live;
    const s = http2.connect(this.origin, { ...this.connectOptions, settings: { initialWindowSize: this.windowBytes } });
    // Each stream's call reports the failure, naming it.
    s.on('error', (e) => (this.sessionError = e));
    this.sessionError = undefined;
    s.once('connect', () => s.setLocalWindowSize(this.windowBytes));
    const forget = () => {
      if (this.session === s) this.session = undefined;
    };
    s.once('close', forget);
    s.once('goaway', forget);
    this.session = s;
    return s;
  }

  /** An idle connection does not keep the process alive; one with calls in flight does. */
  private track(delta: number): void {
    this.active += delta;
    if (this.active === 0) this.session?.unref();
    else if (delta > 0 && this.active === 1) this.session?.ref();
  }

  /**
   * Starts one call: `onMessage` gets each response message, `onEnd` the outcome once (an error, or none for OK).
   * `deadlineMs` bounds the whole call.
   */
  private start(method: InferenceMethod, signal: AbortSignal | undefined, deadlineMs: number | undefined,
    onMessage: (m: Uint8Array) => void, onEnd: (e?: InferenceError) => void): Call | undefined {
    if (this.closed) {
      onEnd(new InferenceError('UNAVAILABLE', 'the client is closed'));
      return undefined;
    }
    const headers: http2.OutgoingHttpHeaders = {
      ...this.fixedHeaders,
      ':method': 'POST', ':path': methodPath(method), 'content-type': 'application/grpc', te: 'trailers',
      ...(deadlineMs ? { 'grpc-timeout': `${Math.max(1, Math.ceil(deadlineMs))}m` } : {}),
    };
    let stream: http2.ClientHttp2Stream;
    try {
      stream = this.connect().request(headers);
    } catch (e) {
      onEnd(new InferenceError('UNAVAILABLE', (e as Error).message));
      return undefined;
    }
    this.track(1);
    let ended = false;
    let status: { code: number; message: string } | undefined;
    const end = (e?: InferenceError) => {
      if (ended) return;
      ended = true;
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      this.track(-1);
      onEnd(e);
    };
    const cancel = (e: InferenceError) => {
      end(e);
      if (!stream.closed) stream.close(http2.constants.NGHTTP2_CANCEL);
    };
    const onAbort = () => cancel(new InferenceError('CANCELLED', 'Cancelled on client'));
    const timer = deadlineMs ? setTimeout(() => cancel(new InferenceError('DEADLINE_EXCEEDED', `Deadline exceeded after ${deadlineMs} ms`)), deadlineMs) : undefined;
    if (signal?.aborted) onAbort();
    signal?.addEventListener('abort', onAbort, { once: true });

    const frames = new FrameReader(this.maxMessageBytes);
    stream.on('response', (h) => {
      const get = (n: string) => h[n] as string | undefined;
      try {
        // Trailers-only: the status came with the headers.
        status = statusOf(get);
      } catch (e) {
        cancel(e as InferenceError);
        return;
      }
      const code = Number(h[':status']);
      if (!status && code !== 200) cancel(errorOfStatus(STATUS_OF_HTTP[code] ?? 2, `HTTP ${code} from ${method}`));
      else if (!status && !String(get('content-type') ?? '').startsWith('application/grpc')) {
        cancel(new InferenceError('INTERNAL', `${method}: the server answered with content-type '${get('content-type')}', not gRPC`));
      }
    });
    stream.on('data', (chunk: Uint8Array) => {
      if (ended) return;
      try {
        for (const f of frames.push(chunk)) {
          if (f.kind !== 'message') throw new InferenceError('INTERNAL', `${method}: a trailer frame in a gRPC body`);
          onMessage(f.data);
        }
      } catch (e) {
        cancel(e instanceof InferenceError ? e : new InferenceError('INTERNAL', String(e)));
      }
    });
    stream.on('trailers', (h) => {
      try {
        status = statusOf((n) => h[n] as string | undefined);
      } catch (e) {
        cancel(e as InferenceError);
      }
    });
    stream.on('error', (e: Error & { cause?: Error }) => end(new InferenceError('UNAVAILABLE', e.cause ? `${e.message}: ${e.cause.message}` : e.message)));
    stream.on('close', () => {
      // Our own cancel ended the call already: a stream closed without a status here lost its connection.
      if (!status) end(new InferenceError('UNAVAILABLE', this.sessionError ? `connection failed: ${this.sessionError.message}`
        : `${method}: the stream closed without a grpc-status (HTTP/2 code ${stream.rstCode})`));
      else if (status.code !== 0) end(errorOfStatus(status.code, status.message));
      else if (frames.pending > 0) end(new InferenceError('INTERNAL', `${method}: the response ended inside a message`));
      else end();
    });
    return { stream, cancel };
  }

  /** One unary call with the request message's bytes; the response message's bytes. For tools and the bench. */
  unary(method: InferenceMethod, request: Uint8Array, signal?: AbortSignal): Promise<Uint8Array> {
    return new Promise((resolve, reject) => {
      let message: Uint8Array | undefined;
      let count = 0;
      const call = this.start(method, signal, this.timeoutMs, (m) => {
        message = m;
        count++;
      }, (e) => {
        if (e) reject(e);
        else if (count !== 1) reject(new InferenceError('INTERNAL', `${method}: the server sent ${count} responses to a unary call`));
        else resolve(message!);
      });
      call?.stream.end(encodeFrame(request));
    });
  }

  async call<Res>(method: InferenceMethod, request: object, signal?: AbortSignal): Promise<Res> {
    const m = INFERENCE_METHODS[method];
    return m.response.decode(await this.unary(method, m.request.encode(request).finish(), signal)) as Res;
  }

  /**
   * A ModelStreamInfer stream: send any number of requests, read every response (matched by id)
   * as it comes. Each response item is final when the server says the request is done.
   */
  openStream(signal?: AbortSignal): InferStream {
    const { request, response } = INFERENCE_METHODS.ModelStreamInfer;
    const queue = new AsyncQueue<StreamResult>();
    // A slow reader pauses the stream once STREAM_HIGH_WATER responses wait here, so HTTP/2 flow control
    // holds the server (and the model) back instead of this queue growing without bound.
    let buffered = 0;
    const call = this.start('ModelStreamInfer', signal, undefined, (m) => {
      queue.push(streamResultOf(response.decode(m) as inference.ModelStreamInferResponse));
      if (++buffered >= STREAM_HIGH_WATER) call?.stream.pause();
    }, (e) => queue.end(e));
    return {
      send: (model, inputs, options = {}) => {
        if (call && !call.stream.closed) call.stream.write(encodeFrame(request.encode(streamRequest(model, inputs, options)).finish()));
      },
      end: () => call?.stream.end(),
      cancel: () => call?.cancel(new InferenceError('CANCELLED', 'Cancelled on client')),
      responses: (async function* () {
        for await (const r of queue) {
          if (--buffered < STREAM_HIGH_WATER && call?.stream.isPaused()) call.stream.resume();
          yield r;
        }
      })(),
    };
  }

  streamInfer(model: string, inputs: InferInput[], options: InferOptions = {}): AsyncIterable<InferResult> {
    return streamOne(this.openStream(options.signal), model, inputs, options);
  }


  /** Ends the connection once the calls in flight are done; later calls fail. */
  async close(): Promise<void> {
    this.closed = true;
    const s = this.session;
    this.session = undefined;
    // Like grpc-js's close: calls in flight finish, nothing waits for them.
    if (s && !s.closed && !s.destroyed) s.close();
  }
}
