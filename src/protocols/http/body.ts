// Reading a REST request body within its limits: the body limit (after decompression), the shared
// in-flight byte budget, and the request timeout for a body that stops arriving.

import type http from 'node:http';
import zlib from 'node:zlib';
import type { BudgetLease } from '../../core/budget.js';
import { handOver } from '../../core/tensor.js';
import { GIVE_MIN_BYTES } from '../../backends/wire.js';

export class HttpError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

export interface BodyLimits {
  /** Largest body, after decompression (--http-max-body). */
  maxBytes: number;
  /** Holds the body's bytes (wire and decompressed) against the server's budget. */
  lease?: BudgetLease;
  /** Drop the request when no body bytes arrive for this long (--request-timeout); 0 = never. */
  idleMs?: number;
  /**
   * Its signal aborts when the client goes away; read only when the body waits on the budget (the
   * request's 'close' ends a read in progress otherwise).
   */
  signal?: { readonly signal: AbortSignal };
}

/** Bodies below this are taken as they lie in the socket's chunk: their tensors are copied to the worker anyway. */
const SMALL_BODY = GIVE_MIN_BYTES;

/** How long the rest of a refused body is read and dropped before its connection is closed. */
const LINGER_MS = 2_000;

/** Reads and drops the rest of a refused body for a moment, then closes its connection. */
export function discardRest(req: http.IncomingMessage): void {
  if (req.complete) return;
  const timer = setTimeout(() => req.socket.destroy(), LINGER_MS);
  const stop = () => clearTimeout(timer);
  req.once('end', stop);
  req.once('close', stop);
  req.resume();
}

type Encoding = 'identity' | 'gzip' | 'deflate';

function encodingOf(header: string | undefined): Encoding {
  const enc = (header ?? 'identity').trim().toLowerCase();
  if (enc === 'identity' || enc === '') return 'identity';
  if (enc === 'gzip' || enc === 'x-gzip') return 'gzip';
  if (enc === 'deflate') return 'deflate';
  throw new HttpError(415, `unsupported Content-Encoding '${header}'; use gzip, deflate or identity`);
}

/**
 * The whole body, decompressed. Bytes are taken from the budget before they are kept: the declared
 * Content-Length up front, chunked bodies and decompressed output as they grow (pausing the socket
 * while the budget is full). Decompression is streamed and stops at the limit, so a small bomb never
 * inflates past it. Not async: no frame kept per request (refusals are rejections all the same).
 */
export function readBody(req: http.IncomingMessage, limits: BodyLimits): Promise<Buffer> {
  let enc: Encoding;
  try {
    enc = encodingOf(req.headers['content-encoding']);
  } catch (e) {
    return Promise.reject(e);
  }
  const limit = limits.maxBytes;
  const lease = limits.lease;
  const header = req.headers['content-length'];
  const declared = header === undefined ? undefined : Number(header);
  if (declared !== undefined && declared > limit) {
    return Promise.reject(new HttpError(413, `request body of ${declared} bytes exceeds the limit of ${limit} bytes (--http-max-body)`));
  }
  if (declared === 0) return Promise.resolve(Buffer.alloc(0));
  if (declared !== undefined && lease && !lease.tryGrow(declared)) {
    return lease.grow(declared, limits.signal?.signal).then(() => bodyOf(req, limits, enc, declared));
  }
  // The parser hands over the rest of the headers' packet before a microtask runs: after one, a small
  // body has usually all arrived and is taken at once, with no listeners or timers.
  if (enc === 'identity' && declared !== undefined && declared < SMALL_BODY && req.readableLength < declared) {
    return Promise.resolve().then(() => bodyOf(req, limits, enc, declared));
  }
  const body = bodyOf(req, limits, enc, declared);
  return body instanceof Promise ? body : Promise.resolve(body);
}

/**
 * A small body whose bytes are all buffered is taken whole. `req.complete` is not waited for: node:http
 * sets it a turn of the event loop later, and the parser never gives a body more than its
 * Content-Length, so that many bytes buffered is the whole body. Larger bodies are read into a buffer
 * of their own (readStreamed), which the backend may move to its worker instead of copying.
 */
function bodyOf(req: http.IncomingMessage, limits: BodyLimits, enc: Encoding, declared: number | undefined): Buffer | Promise<Buffer> {
  if (enc === 'identity' && declared !== undefined && declared < SMALL_BODY && req.readableLength === declared) {
    const all = req.read() as Buffer | null;
    if (all && all.byteLength === declared) return all;
    if (all) req.unshift(all);
  }
  return readStreamed(req, limits, enc, declared);
}

/** The body as it streams in: chunked, compressed, large, or not all there yet. */
function readStreamed(req: http.IncomingMessage, limits: BodyLimits, enc: Encoding, declared: number | undefined): Promise<Buffer> {
  // Its own function: the closures below then cost nothing to the small bodies taken whole above.
  const { maxBytes: limit, lease } = limits;
  return new Promise<Buffer>((resolve, reject) => {
    let settled = false;
    let waits = 0;
    let ended = false;
    let received = 0;
    // Identity bodies of known length land in one buffer (no concat, which would double the peak).
    const whole = enc === 'identity' && declared !== undefined ? Buffer.allocUnsafeSlow(declared) : undefined;
    const parts: Buffer[] = [];
    let kept = 0;
    // 64 KiB output chunks: a quarter of the callbacks of the 16 KiB default.
    const z = enc === 'gzip' ? zlib.createGunzip({ chunkSize: 64 * 1024 }) : enc === 'deflate' ? zlib.createInflate({ chunkSize: 64 * 1024 }) : undefined;

    const idleMs = limits.idleMs ?? 0;
    const timer = idleMs > 0 ? setTimeout(() => {
      // Only a client that is not sending counts, not one held back by the budget or the inflater.
      if (waits > 0 || req.isPaused()) {
        timer!.refresh();
        return;
      }
      fail(new HttpError(408, `request body stalled: no bytes arrived for ${idleMs / 1000} s (--request-timeout)`));
    }, idleMs) : undefined;

    const cleanup = () => {
      clearTimeout(timer);
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      req.off('close', onClose);
      if (z) {
        z.removeAllListeners('data');
        z.on('error', () => {});
        z.destroy();
      }
    };
    const fail = (e: unknown) => {
      if (settled) return;
      settled = true;
      cleanup();
      req.pause();
      reject(e);
    };
    const succeed = (b: Buffer) => {
      if (settled) return;
      settled = true;
      cleanup();
      resolve(b);
    };

    /** Let the socket flow again unless the budget or the decompressor is holding it back. */
    const flow = () => {
      if (!settled && waits === 0 && !z?.writableNeedDrain) req.resume();
    };

    /** Take `n` more bytes from the budget; when it is full, hold `source` until there is room. */
    const account = (n: number, source: NodeJS.ReadableStream) => {
      if (!lease || lease.tryGrow(n)) return;
      waits++;
      source.pause();
      lease.grow(n, limits.signal?.signal).then(() => {
        waits--;
        timer?.refresh();
        if (settled) return;
        if (source === z) z.resume();
        flow();
      }, fail);
    };

    /** Keep a chunk of (decompressed) body, enforcing the limit. */
    const keep = (c: Buffer, source: NodeJS.ReadableStream) => {
      kept += c.byteLength;
      if (kept > limit) {
        fail(new HttpError(413, z
          ? `decompressed request body exceeds the limit of ${limit} bytes (--http-max-body)`
          : `request body exceeds the limit of ${limit} bytes (--http-max-body)`));
        return;
      }
      // Compressed input is accounted on arrival; its output counts separately.
      if (z) account(c.byteLength, source);
      parts.push(c);
    };

    const onData = (c: Buffer) => {
      timer?.refresh();
      received += c.byteLength;
      if (declared === undefined) account(c.byteLength, req);
      if (whole) {
        if (received > declared!) return fail(new HttpError(400, `request body is longer than its Content-Length of ${declared} bytes`));
        c.copy(whole, received - c.byteLength);
        return;
      }
      if (z) {
        if (!z.write(c)) {
          req.pause();
          z.once('drain', flow);
        }
        return;
      }
      keep(c, req);
    };
    const onEnd = () => {
      ended = true;
      if (z) {
        z.end();
        return;
      }
      if (whole) {
        if (received !== declared) return fail(new HttpError(400, `request body ended after ${received} of its ${declared} bytes`));
        // Nothing but this request references the buffer: the backend may move it to its worker (zero-copy).
        handOver(whole.buffer);
        return succeed(whole);
      }
      succeed(parts.length === 1 ? parts[0] : Buffer.concat(parts, kept));
    };
    const onError = (e: Error) => fail(e);
    const onClose = () => {
      if (!ended) fail(new HttpError(400, 'client closed the connection before the request body was complete'));
    };

    if (z) {
      z.on('data', (c: Buffer) => keep(c, z));
      z.on('end', () => succeed(parts.length === 1 ? parts[0] : Buffer.concat(parts, kept)));
      z.on('error', (e) => fail(new HttpError(400, `request body is not valid ${enc} data: ${e.message}`)));
    }
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
    req.on('close', onClose);
  });
}
