// gRPC's wire pieces shared by gRPC on HTTP/2 (call.ts) and gRPC-Web (../grpc-web/): the 5-byte
// message prefix, grpc-timeout, grpc-message's percent-encoding and bounded decompression.

import zlib from 'node:zlib';
import { InferenceError, invalidArg } from '../../core/errors.js';

/** Flag byte and 4-byte big-endian length before every message. */
export const HEADER_BYTES = 5;

/** Smaller responses stay uncompressed (their frame flag says so): zlib's header would eat the gain. */
export const COMPRESS_MIN_BYTES = 1024;

/** The encoding for a response: gzip, else deflate, when the client accepts it; undefined for identity. */
export function responseEncoding(accept: string | string[] | undefined): 'gzip' | 'deflate' | undefined {
  const list = String(accept ?? '').toLowerCase().split(',').map((e) => e.trim());
  return list.includes('gzip') ? 'gzip' : list.includes('deflate') ? 'deflate' : undefined;
}

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

/** The error for a message whose prefix announces more than the limit. */
export function tooLarge(len: number, limit: number): InferenceError {
  return new InferenceError('RESOURCE_EXHAUSTED', `request message of ${len} bytes exceeds the limit of ${limit} bytes (--grpc-max-message)`);
}

/** The error for a request that ended part-way through a message; `what` names the carrier (stream, body). */
export function cutShort(what: string, pendingBytes: number, frameLen: number): InferenceError {
  return invalidArg(frameLen < 0
    ? `request ${what} ended inside a message header (${pendingBytes} of 5 bytes)`
    : `request ${what} ended inside a message (${pendingBytes - HEADER_BYTES} of ${frameLen} bytes)`);
}

/** Throws unless a message marked compressed can be inflated under the call's grpc-encoding. */
export function checkCompressed(encoding: string): asserts encoding is 'gzip' | 'deflate' {
  if (encoding === 'identity') throw invalidArg('a message is marked compressed but grpc-encoding is identity');
  if (encoding !== 'gzip' && encoding !== 'deflate') {
    throw new InferenceError('UNIMPLEMENTED', `grpc-encoding '${encoding}' is not supported; use gzip, deflate or identity`);
  }
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
