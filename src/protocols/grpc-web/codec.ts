// gRPC-Web's bytes (grpc/grpc doc/PROTOCOL-WEB.md): which content types mean which mode, messages and
// the trailer as length-prefixed frames, and the text mode's base64, decoded in 4-character groups so a
// body may be cut anywhere and may hold several padded segments one after another.

import { invalidArg } from '../../core/errors.js';
import { encodeGrpcMessage, HEADER_BYTES } from '../grpc/framing.js';

export type WebMode = 'binary' | 'text';

/** Flag of the frame that carries the trailers, last in a response. */
export const TRAILER_FLAG = 0x80;
export { HEADER_BYTES };

const MODES: Record<string, WebMode> = {
  'application/grpc-web': 'binary',
  'application/grpc-web+proto': 'binary',
  'application/grpc-web-text': 'text',
  'application/grpc-web-text+proto': 'text',
};

/** True for any content type gRPC-Web clients send (including subtypes this server refuses, such as +json). */
export const isGrpcWeb = (contentType: string | undefined): boolean => !!contentType && /^application\/grpc-web/i.test(contentType.trim());

/** The mode a gRPC-Web content type asks for, or undefined for a codec this server does not speak. */
export function modeOf(contentType: string): WebMode | undefined {
  return MODES[contentType.split(';')[0].trim().toLowerCase()];
}

export const contentTypeOf = (mode: WebMode) => mode === 'text' ? 'application/grpc-web-text+proto' : 'application/grpc-web+proto';

export const SUPPORTED_TYPES = 'application/grpc-web, application/grpc-web+proto, application/grpc-web-text or application/grpc-web-text+proto';

/** One frame: flag byte, 4-byte big-endian length, payload. */
export function frame(flag: number, payload: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(HEADER_BYTES + payload.byteLength);
  out[0] = flag;
  out.writeUInt32BE(payload.byteLength, 1);
  out.set(payload, HEADER_BYTES);
  return out;
}

/** The trailer frame: grpc-status, grpc-message and trailing metadata as HTTP/1 header lines. */
export function trailerFrame(code: number, message: string, metadata: Record<string, string> = {}): Buffer {
  let text = `grpc-status:${code}\r\ngrpc-message:${encodeGrpcMessage(message)}\r\n`;
  for (const [k, v] of Object.entries(metadata)) text += `${k.toLowerCase()}:${v}\r\n`;
  return frame(TRAILER_FLAG, Buffer.from(text, 'latin1'));
}

const B64_CHARS = /^[A-Za-z0-9+/=]*$/;
const PADDED_GROUP = /^[A-Za-z0-9+/]{2}(?:==|[A-Za-z0-9+/]=)$/;

/**
 * Decodes grpc-web-text request bodies as they arrive. Whole 4-character groups are decoded; the rest
 * waits for the next chunk. A group ending in '=' ends one base64 segment; another may follow.
 */
export class Base64Groups {
  private carry = '';

  /** The bytes of the whole groups seen so far; throws INVALID_ARGUMENT on anything that is not base64. */
  push(chunk: Buffer): Buffer {
    let s = this.carry + chunk.toString('latin1');
    if (!B64_CHARS.test(s)) throw invalidArg(`grpc-web-text request body is not base64: it holds ${describeBad(s)}`);
    const whole = s.length - (s.length % 4);
    this.carry = s.slice(whole);
    s = s.slice(0, whole);
    const parts: Buffer[] = [];
    let start = 0;
    for (let pad = s.indexOf('='); pad >= 0; pad = s.indexOf('=', start)) {
      const end = pad - (pad % 4) + 4;
      if (!PADDED_GROUP.test(s.slice(end - 4, end))) throw invalidArg(`grpc-web-text request body has misplaced base64 padding ('${s.slice(end - 4, end)}')`);
      parts.push(Buffer.from(s.slice(start, end), 'base64'));
      start = end;
    }
    if (start < s.length) parts.push(Buffer.from(s.slice(start), 'base64'));
    return parts.length === 1 ? parts[0] : Buffer.concat(parts);
  }

  /** Throws when the body ended inside a group. */
  end(): void {
    if (this.carry) throw invalidArg(`grpc-web-text request body ends inside a base64 group ('${this.carry}'): its length must be a multiple of 4`);
  }
}

function describeBad(s: string): string {
  const i = s.search(/[^A-Za-z0-9+/=]/);
  const c = s.charCodeAt(i);
  return c >= 0x21 && c <= 0x7e ? `'${s[i]}'` : `the byte 0x${c.toString(16).padStart(2, '0')}`;
}
