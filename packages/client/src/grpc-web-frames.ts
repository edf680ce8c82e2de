// gRPC-Web framing for the client (grpc/grpc doc/PROTOCOL-WEB.md): request frames out; response frames, the
// 0x80 trailer frame and base64 text mode in, whatever the chunk boundaries. No Node APIs, so it runs in browsers.

import { InferenceError } from './errors.js';

/** The frame flag bits: 0x01 compressed, 0x80 trailers. */
const COMPRESSED = 0x01;
const TRAILERS = 0x80;

const malformed = (what: string) => new InferenceError('INTERNAL', `malformed gRPC-Web response: ${what}`);

/** One message as a data frame: flag 0, 4-byte big-endian length, the bytes. */
export function encodeFrame(message: Uint8Array): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(5 + message.byteLength);
  new DataView(out.buffer).setUint32(1, message.byteLength);
  out.set(message, 5);
  return out;
}

export type Frame = { kind: 'message'; data: Uint8Array } | { kind: 'trailers'; trailers: Map<string, string> };

/** Cuts a response body into frames as its chunks arrive; a frame may span any number of chunks. */
export class FrameReader {
  private chunks: Uint8Array[] = [];
  private buffered = 0;
  private trailersSeen = false;

  constructor(private readonly maxMessageBytes = 2 ** 31 - 1) {}

  /** The frames this chunk completes. */
  push(chunk: Uint8Array): Frame[] {
    if (chunk.byteLength === 0) return [];
    this.chunks.push(chunk);
    this.buffered += chunk.byteLength;
    const frames: Frame[] = [];
    while (this.buffered >= 5) {
      const head = this.peek(5);
      const flag = head[0];
      const length = new DataView(head.buffer, head.byteOffset, 5).getUint32(1);
      if (this.trailersSeen) throw malformed('data after the trailer frame');
      if (flag & ~(COMPRESSED | TRAILERS)) throw malformed(`unknown frame flag 0x${flag.toString(16).padStart(2, '0')}`);
      if (flag & COMPRESSED) throw malformed('a compressed frame, but the client asked for no grpc-encoding');
      if (!(flag & TRAILERS) && length > this.maxMessageBytes) {
        throw new InferenceError('RESOURCE_EXHAUSTED', `Received message larger than max (${length} vs. ${this.maxMessageBytes})`);
      }
      if (this.buffered < 5 + length) break;
      const body = this.take(5 + length).subarray(5);
      if (flag & TRAILERS) {
        this.trailersSeen = true;
        frames.push({ kind: 'trailers', trailers: parseTrailers(body) });
      } else {
        frames.push({ kind: 'message', data: body });
      }
    }
    return frames;
  }

  /** Bytes of an unfinished frame: at the end of the body, a truncated response. */
  get pending(): number {
    return this.buffered;
  }

  /** The first n buffered bytes as one array (joined only when they span chunks). */
  private peek(n: number): Uint8Array {
    if (this.chunks[0].byteLength >= n) return this.chunks[0].subarray(0, n);
    const joined = concat(this.chunks, this.buffered);
    this.chunks = [joined];
    return joined.subarray(0, n);
  }

  private take(n: number): Uint8Array {
    const out = this.peek(n);
    const rest = this.chunks[0].subarray(n);
    if (rest.byteLength) this.chunks[0] = rest;
    else this.chunks.shift();
    this.buffered -= n;
    return out;
  }
}

function concat(chunks: Uint8Array[], total: number): Uint8Array {
  const out = new Uint8Array(total);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.byteLength;
  }
  return out;
}

/** A trailer frame's `name: value\r\n` lines; names lower-cased, repeated names joined with ", ". */
export function parseTrailers(block: Uint8Array): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of new TextDecoder().decode(block).split(/\r?\n/)) {
    if (line === '') continue;
    const colon = line.indexOf(':');
    const name = colon > 0 ? line.slice(0, colon).trim().toLowerCase() : '';
    if (!name || !/^[!#$%&'*+\-.^_`|~0-9a-z]+$/.test(name)) throw malformed(`trailer line ${JSON.stringify(line.slice(0, 80))} is not "name: value"`);
    const value = line.slice(colon + 1).trim();
    const prev = out.get(name);
    out.set(name, prev === undefined ? value : `${prev}, ${value}`);
  }
  return out;
}

/** The call's status from trailers (or trailers-only headers); undefined when they carry no grpc-status. */
export function statusOf(get: (name: string) => string | null | undefined): { code: number; message: string } | undefined {
  const status = get('grpc-status');
  if (status === null || status === undefined) return undefined;
  if (!/^\d{1,2}$/.test(status.trim())) throw malformed(`grpc-status ${JSON.stringify(status)} is not a status code`);
  return { code: Number(status.trim()), message: percentDecode(get('grpc-message') ?? '') };
}

function percentDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s; // not valid percent-encoding: show it as sent
  }
}

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const VALUE = new Int16Array(128).fill(-1);
for (let i = 0; i < ALPHABET.length; i++) VALUE[ALPHABET.charCodeAt(i)] = i;
const PAD = '='.charCodeAt(0);

/**
 * grpc-web-text bodies: base64 decoded in 4-character groups as they arrive. Each frame may be encoded on its
 * own, so padding can end any group, not only the last.
 */
export class Base64Reader {
  private carry: number[] = [];

  push(chunk: Uint8Array): Uint8Array {
    const chars = this.carry.length ? Uint8Array.from([...this.carry, ...chunk]) : chunk;
    const whole = chars.byteLength - (chars.byteLength % 4);
    this.carry = Array.from(chars.subarray(whole));
    const out = new Uint8Array((whole / 4) * 3);
    let n = 0;
    for (let i = 0; i < whole; i += 4) {
      const a = sextet(chars[i]), b = sextet(chars[i + 1]);
      const padC = chars[i + 2] === PAD, padD = chars[i + 3] === PAD;
      if (padC && !padD) throw malformed('base64 group with "=" before its last character');
      const c = padC ? 0 : sextet(chars[i + 2]), d = padD ? 0 : sextet(chars[i + 3]);
      const v = (a << 18) | (b << 12) | (c << 6) | d;
      out[n++] = v >> 16;
      if (!padC) out[n++] = (v >> 8) & 0xff;
      if (!padD) out[n++] = v & 0xff;
    }
    return out.subarray(0, n);
  }

  /** Characters of an unfinished group: at the end of the body, a truncated response. */
  get pending(): number {
    return this.carry.length;
  }
}

function sextet(ch: number): number {
  const v = ch < 128 ? VALUE[ch] : -1;
  if (v < 0) throw malformed(`${JSON.stringify(String.fromCharCode(ch))} is not a base64 character`);
  return v;
}

/** A request body in text mode: the frame as base64. */
export function encodeBase64(bytes: Uint8Array): string {
  const B = (globalThis as { Buffer?: typeof Buffer }).Buffer;
  if (B) return B.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
  let s = '';
  for (let i = 0; i < bytes.byteLength; i += 3) {
    const v = (bytes[i] << 16) | ((bytes[i + 1] ?? 0) << 8) | (bytes[i + 2] ?? 0);
    s += ALPHABET[v >> 18] + ALPHABET[(v >> 12) & 63]
      + (i + 1 < bytes.byteLength ? ALPHABET[(v >> 6) & 63] : '=') + (i + 2 < bytes.byteLength ? ALPHABET[v & 63] : '=');
  }
  return s;
}
