// GrpcWebClient: inference.GRPCInferenceService over gRPC-Web (grpc/grpc doc/PROTOCOL-WEB.md) on the global
// fetch, as a browser speaks it: the REST port, HTTP/1.1, unary and server-streaming calls only.

import { InferenceError } from './errors.js';
import type { inference } from './generated/proto.js';
import { INFERENCE_METHODS, methodPath } from './grpc-methods.js';
import type { ClientTls, InferInput, InferOptions, InferResult } from './types.js';
import { errorOfStatus, GrpcServiceClient, streamRequest, streamResultOf, untilFinal, type InferenceMethod } from './grpc-common.js';
import { networkMessage } from './http.js';
import { Base64Reader, encodeBase64, encodeFrame, FrameReader, statusOf } from './grpc-web-frames.js';

export interface GrpcWebClientOptions {
  /** 'binary' sends application/grpc-web+proto (default); 'text' sends application/grpc-web-text (base64). */
  mode?: 'binary' | 'text';
  /** Per-call deadline in milliseconds, sent as grpc-timeout and enforced here too. */
  timeoutMs?: number;
  /** The server's API key, sent as `authorization: Bearer <token>`. */
  token?: string;
  /** Headers sent with every call (e.g. Triton's `triton-grpc-protocol-<key>` for a restricted protocol). */
  headers?: Record<string, string>;
  /** The largest response message accepted (default 2^31-1, as GrpcClient). */
  maxMessageBytes?: number;
  /** TLS client settings (CA, client certificate): Node only (a browser has its own), with an https:// URL. */
  tls?: ClientTls;
  /** The fetch to use (default: the global one). */
  fetch?: typeof fetch;
}

// The spec's mapping for an HTTP error that carries no grpc-status (grpc/grpc doc/http-grpc-status-mapping.md).
const STATUS_OF_HTTP: Record<number, number> = { 400: 13, 401: 16, 403: 7, 404: 12, 429: 14, 502: 14, 503: 14, 504: 14 };

export class GrpcWebClient extends GrpcServiceClient {
  readonly protocol = 'grpc-web' as const;
  private readonly base: string;
  private readonly text: boolean;
  private readonly timeoutMs: number | undefined;
  private readonly maxMessageBytes: number;
  private readonly fixedHeaders: Record<string, string>;
  private readonly fetch: typeof fetch;

  /** `url` like "http://localhost:8000" (the REST port) or "localhost:8000"; https URLs use TLS as fetch does. */
  constructor(url: string, opts: GrpcWebClientOptions = {}) {
    super();
    if (opts.tls && !opts.fetch) throw new TypeError('GrpcWebClient: the tls option needs Node (where duet-client handles it) or a fetch of your own');
    this.fetch = opts.fetch ?? ((input, init) => globalThis.fetch(input, init));
    this.base = (/^https?:\/\//.test(url) ? url : `http://${url}`).replace(/\/+$/, '');
    this.text = opts.mode === 'text';
    this.timeoutMs = opts.timeoutMs;
    this.maxMessageBytes = opts.maxMessageBytes ?? 2 ** 31 - 1;
    const type = this.text ? 'application/grpc-web-text' : 'application/grpc-web+proto';
    this.fixedHeaders = {
      ...opts.headers,
      ...(opts.token !== undefined ? { authorization: `Bearer ${opts.token}` } : {}),
      'content-type': type,
      accept: type,
      'x-grpc-web': '1',
      'x-user-agent': 'duet-grpc-web-client',
      ...(this.timeoutMs ? { 'grpc-timeout': `${Math.max(1, Math.ceil(this.timeoutMs))}m` } : {}),
    };
  }

  async call<Res>(method: InferenceMethod, request: object, signal?: AbortSignal): Promise<Res> {
    let message: Uint8Array | undefined;
    for await (const m of this.messages(method, request, signal)) {
      if (message) throw new InferenceError('INTERNAL', `${method}: the server sent more than one response to a unary call`);
      message = m;
    }
    if (!message) throw new InferenceError('INTERNAL', `${method}: the server ended the call with status OK and no response`);
    return INFERENCE_METHODS[method].response.decode(message) as Res;
  }

  /** ModelStreamInfer carrying one request (gRPC-Web has no client streaming): its responses as they arrive. */
  async *streamInfer(model: string, inputs: InferInput[], options: InferOptions = {}): AsyncIterable<InferResult> {
    const decode = INFERENCE_METHODS.ModelStreamInfer.response.decode;
    const messages = this.messages('ModelStreamInfer', streamRequest(model, inputs, options), options.signal);
    yield* untilFinal((async function* () {
      for await (const m of messages) yield streamResultOf(decode(m) as inference.ModelStreamInferResponse);
    })());
  }

  /** One call's response messages as their frames complete; ends at an OK status, throws any other. */
  private async *messages(method: InferenceMethod, request: object, signal?: AbortSignal): AsyncGenerator<Uint8Array> {
    const frame = encodeFrame(INFERENCE_METHODS[method].request.encode(request).finish());
    const abort = new AbortController();
    let why: InferenceError | undefined;
    const stop = (e: InferenceError) => {
      why ??= e;
      abort.abort();
    };
    const onAbort = () => stop(new InferenceError('CANCELLED', 'Cancelled on client'));
    if (signal?.aborted) onAbort();
    signal?.addEventListener('abort', onAbort, { once: true });
    const timer = this.timeoutMs
      ? setTimeout(() => stop(new InferenceError('DEADLINE_EXCEEDED', `Deadline exceeded after ${this.timeoutMs} ms`)), this.timeoutMs)
      : undefined;
    // Why a fetch or read failed: our own abort (cancel, deadline), else the network.
    const failed = (e: unknown) => why ?? new InferenceError('UNAVAILABLE', networkMessage(e));
    let finished = false;
    try {
      let res: Response;
      try {
        res = await this.fetch(`${this.base}${methodPath(method)}`, {
          method: 'POST', headers: this.fixedHeaders, body: this.text ? encodeBase64(frame) : frame, signal: abort.signal,
        });
      } catch (e) {
        throw failed(e);
      }
      const early = statusOf((n) => res.headers.get(n));
      if (early) {
        // Trailers-only: the status came in the headers and there is no body to read.
        finished = true;
        if (early.code !== 0) throw errorOfStatus(early.code, early.message);
        return;
      }
      if (res.status !== 200) throw await httpError(res);
      const type = res.headers.get('content-type') ?? '';
      if (!type.startsWith('application/grpc-web')) {
        throw new InferenceError('INTERNAL', `${method}: the server answered with content-type '${type}', not gRPC-Web`);
      }
      const text = type.startsWith('application/grpc-web-text') ? new Base64Reader() : undefined;
      const frames = new FrameReader(this.maxMessageBytes);
      const reader = res.body!.getReader();
      for (;;) {
        let chunk: ReadableStreamReadResult<Uint8Array>;
        try {
          chunk = await reader.read();
        } catch (e) {
          throw failed(e);
        }
        if (chunk.done) break;
        for (const f of frames.push(text ? text.push(chunk.value) : chunk.value)) {
          if (f.kind === 'message') {
            yield f.data;
            continue;
          }
          const status = statusOf((n) => f.trailers.get(n));
          if (!status) throw new InferenceError('INTERNAL', `${method}: the trailer frame has no grpc-status`);
          finished = true;
          if (status.code !== 0) throw errorOfStatus(status.code, status.message);
        }
      }
      if (!finished) {
        const partial = frames.pending > 0 || (text?.pending ?? 0) > 0;
        throw new InferenceError('INTERNAL', `${method}: the response ended ${partial ? 'inside a frame' : 'without a trailer frame'} (no grpc-status)`);
      }
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      // A reader that stopped early (or an error) cancels the call; the server sees its connection close.
      if (!finished) abort.abort();
    }
  }

  /** Nothing to release: fetch owns its connections. */
  async close(): Promise<void> {}
}

/** A non-200 answer without grpc-status (a proxy, or a server that does not speak gRPC-Web at this path). */
async function httpError(res: Response): Promise<InferenceError> {
  const body = (await res.text().catch(() => '')).slice(0, 200);
  return errorOfStatus(STATUS_OF_HTTP[res.status] ?? 2, `HTTP ${res.status} ${res.statusText}${body ? `: ${body}` : ''}`);
}
