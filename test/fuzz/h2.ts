// gRPC spoken by hand over node:http2, so tests can send what no gRPC library would: broken
// messages, frames cut short, bad compression, streams abandoned mid-way.

import http2 from 'node:http2';

/** A gRPC length-prefixed message: flag byte, 4-byte big-endian length, payload. */
export function frame(payload: Uint8Array, opts: { compressed?: boolean; declaredLength?: number } = {}): Buffer {
  const head = Buffer.alloc(5);
  head[0] = opts.compressed ? 1 : 0;
  head.writeUInt32BE(opts.declaredLength ?? payload.byteLength, 1);
  return Buffer.concat([head, payload]);
}

/** The messages in a gRPC body, and any bytes left over that do not form a whole message. */
export function unframe(body: Buffer): { messages: Buffer[]; rest: number } {
  const messages: Buffer[] = [];
  let o = 0;
  while (o + 5 <= body.length) {
    const n = body.readUInt32BE(o + 1);
    if (o + 5 + n > body.length) break;
    messages.push(body.subarray(o + 5, o + 5 + n));
    o += 5 + n;
  }
  return { messages, rest: body.length - o };
}

export interface GrpcOutcome {
  /** grpc-status from the trailers (or a trailers-only response); NaN when none came. */
  status: number;
  message: string;
  httpStatus: number;
  messages: Buffer[];
  /** Set when the stream failed below gRPC (RST_STREAM, GOAWAY, socket error). */
  streamError?: string;
}

export interface CallOptions {
  /** Extra request headers, e.g. grpc-encoding. */
  headers?: http2.OutgoingHttpHeaders;
  /** Write the frames and then close the stream with RST_STREAM(CANCEL) after this many ms, without reading on. */
  cancelAfterMs?: number;
  /** Keep the request side open instead of ending it after the frames. */
  leaveOpen?: boolean;
  timeoutMs?: number;
}

/** One call: the frames are written as given (whole or not), then the request side ends. */
export function grpcCall(session: http2.ClientHttp2Session, path: string, body: Buffer | Buffer[], opts: CallOptions = {}): Promise<GrpcOutcome> {
  return new Promise((resolve) => {
    const req = session.request({
      ':method': 'POST', ':path': path, 'content-type': 'application/grpc', te: 'trailers', ...opts.headers,
    });
    const chunks: Buffer[] = [];
    let head: http2.IncomingHttpHeaders = {};
    let trailers: http2.IncomingHttpHeaders = {};
    let done = false;
    const finish = (streamError?: string) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      const status = trailers['grpc-status'] ?? head['grpc-status'];
      const message = trailers['grpc-message'] ?? head['grpc-message'] ?? '';
      resolve({
        status: status === undefined ? NaN : Number(status),
        message: decodeURIComponent(String(message)),
        httpStatus: Number(head[':status'] ?? 0),
        messages: unframe(Buffer.concat(chunks)).messages,
        streamError,
      });
    };
    const timer = setTimeout(() => {
      req.close(http2.constants.NGHTTP2_CANCEL);
      finish(`no answer within ${opts.timeoutMs ?? 10_000} ms`);
    }, opts.timeoutMs ?? 10_000);
    req.on('response', (h) => { head = h; });
    req.on('trailers', (t) => { trailers = t; });
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => finish(trailers['grpc-status'] ?? head['grpc-status'] ? undefined
      : `the response ended without a grpc-status (${chunks.length} data chunks, headers ${JSON.stringify(head)})`));
    // Closed without the response's end: reset by the server (RST_STREAM, even NO_ERROR, loses the status).
    req.on('close', () => finish(`stream closed before its end (RST_STREAM code ${req.rstCode}, ${chunks.length} data chunks, trailers ${trailers['grpc-status'] ?? 'none'})`));
    req.on('error', (e) => finish(e.message));
    for (const b of Array.isArray(body) ? body : [body]) req.write(b);
    if (opts.cancelAfterMs !== undefined) {
      setTimeout(() => {
        req.close(http2.constants.NGHTTP2_CANCEL);
        finish('cancelled by the test');
      }, opts.cancelAfterMs);
      return;
    }
    if (!opts.leaveOpen) req.end();
  });
}

export const INFER_PATH = '/inference.GRPCInferenceService/ModelInfer';
export const STREAM_PATH = '/inference.GRPCInferenceService/ModelStreamInfer';
export const method = (name: string) => `/inference.GRPCInferenceService/${name}`;

/** gRPC status codes a malformed request must never get: UNKNOWN, INTERNAL, DATA_LOSS. */
export const SERVER_FAULTS = new Set([2, 13, 15]);
