// What the gRPC-Web tests share: Duet's .proto files compiled by protoc at test time into a descriptor
// set that @bufbuild/protobuf reads (no generated code committed), and raw gRPC-Web frames for tests of
// the wire itself.

import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { create, createFileRegistry, fromBinary, toBinary, type DescMessage, type FileRegistry, type MessageInitShape } from '@bufbuild/protobuf';
import { FileDescriptorSetSchema } from '@bufbuild/protobuf/wkt';
import { ROOT } from './harness.js';

/**
 * Every Duet service, from protoc's descriptors. The bidi methods (ModelStreamInfer, reflection) are marked
 * server-streaming, which is how a browser calls them over gRPC-Web (one request per call; fetch cannot
 * stream a request body).
 */
export function duetRegistry(): FileRegistry {
  const dir = mkdtempSync(join(tmpdir(), 'duet-desc-'));
  try {
    const out = join(dir, 'duet.binpb');
    execFileSync('protoc', [`--descriptor_set_out=${out}`, '--include_imports', '-I', join(ROOT, 'proto'),
      'grpc_service.proto', 'model_config.proto', 'predictor.proto', 'health.proto', 'generator.proto', 'reflection.proto']);
    const set = fromBinary(FileDescriptorSetSchema, readFileSync(out));
    for (const f of set.file) for (const s of f.service) for (const m of s.method) if (m.clientStreaming) m.clientStreaming = false;
    return createFileRegistry(set);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export function messageType(reg: FileRegistry, name: string): DescMessage {
  const m = reg.getMessage(name);
  if (!m) throw new Error(`no message ${name} in Duet's protos`);
  return m;
}

export const encode = <D extends DescMessage>(schema: D, init: MessageInitShape<D>) => toBinary(schema, create(schema, init));

/** One gRPC-Web frame: flag, 4-byte big-endian length, payload. */
export function frame(payload: Uint8Array, flag = 0, length = payload.byteLength): Buffer {
  const head = Buffer.alloc(5);
  head[0] = flag;
  head.writeUInt32BE(length, 1);
  return Buffer.concat([head, payload]);
}

export interface WebFrame {
  flag: number;
  data: Buffer;
}

/** A response body as frames; text-mode bodies are decoded first, one padded segment at a time. */
export function parseFrames(body: Buffer, text = false): WebFrame[] {
  let bytes = body;
  if (text) {
    const segments = body.toString('latin1').match(/[^=]*(?:=+|$)/g) ?? [];
    bytes = Buffer.concat(segments.filter((s) => s).map((s) => Buffer.from(s, 'base64')));
  }
  const out: WebFrame[] = [];
  for (let i = 0; i < bytes.byteLength;) {
    const len = bytes.readUInt32BE(i + 1);
    out.push({ flag: bytes[i], data: bytes.subarray(i + 5, i + 5 + len) });
    i += 5 + len;
  }
  return out;
}

/** The trailer frame's lines as a map. */
export function trailerOf(frames: WebFrame[]): Record<string, string> {
  const t = frames.find((f) => f.flag & 0x80);
  if (!t) throw new Error('no trailer frame');
  const out: Record<string, string> = {};
  for (const line of t.data.toString('latin1').split('\r\n')) {
    const i = line.indexOf(':');
    if (i > 0) out[line.slice(0, i).trim()] = line.slice(i + 1).trim();
  }
  return out;
}

/** POSTs a raw gRPC-Web body and answers the HTTP status, headers, raw body and the gRPC status wherever it came. */
export async function rawCall(url: string, body: Uint8Array | string, headers: Record<string, string> = {}) {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/grpc-web+proto', 'x-grpc-web': '1', ...headers }, body: typeof body === 'string' ? body : Buffer.from(body) });
  const raw = Buffer.from(await res.arrayBuffer());
  const text = /grpc-web-text/.test(res.headers.get('content-type') ?? '');
  const frames = raw.byteLength ? parseFrames(raw, text) : [];
  const fromHeaders = res.headers.get('grpc-status');
  const trailer = fromHeaders !== null ? { 'grpc-status': fromHeaders, 'grpc-message': res.headers.get('grpc-message') ?? '' } : trailerOf(frames);
  return { res, raw, frames, status: Number(trailer['grpc-status']), message: decodeURIComponent(trailer['grpc-message'] ?? ''), trailersOnly: fromHeaders !== null };
}
