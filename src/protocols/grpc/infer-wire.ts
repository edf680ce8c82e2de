// ModelInfer's request and response read and written by hand on their common shape (names, datatypes,
// shapes, raw tensor bytes), without protobufjs' objects. Anything else (parameters, typed contents,
// unknown fields, non-ASCII strings, odd wire types, malformed bytes) returns undefined and protobufjs
// does the work, so its results and its error messages stay what they were.

import { isDataType } from '../../core/datatypes.js';
import type { InferRequest, InferResponse } from '../../core/infer.js';
import type { Tensor } from '../../core/tensor.js';
import type { inference } from '../../generated/proto.js';

/**
 * A ModelInferRequest of the common shape, read straight into the data plane's request (what codec.ts
 * decodeInferRequest makes of protobufjs's object), with the fields the handlers read of the message.
 */
export class WireInferRequest {
  constructor(readonly model_name: string, readonly model_version: string, readonly id: string, readonly request: InferRequest) {}
}

const LEN = 2;
const VARINT = 0;
/** Values of more than 7 varint bytes (2^49 and up, negative int64s) are left to protobufjs. */
const MAX_VARINT_BYTES = 7;

const NO_BYTES = Buffer.alloc(0);
/** One reader for every message (decoding is synchronous): nothing allocated per field. */
const c: { b: Buffer; pos: number; end: number } = { b: NO_BYTES, pos: 0, end: 0 };

/** A varint at `c.pos` (moving past it); -1 when it is not a small non-negative one. */
function varint(): number {
  let v = 0;
  let mul = 1;
  for (let i = 0; i < MAX_VARINT_BYTES; i++) {
    if (c.pos >= c.end) return -1;
    const x = c.b[c.pos++];
    v += (x & 0x7f) * mul;
    if (x < 0x80) return v;
    mul *= 128;
  }
  return -1;
}

/** The end of a length-delimited field starting here, or -1. */
function span(): number {
  const n = varint();
  return n < 0 || c.pos + n > c.end ? -1 : c.pos + n;
}

/** Names seen lately (model, tensor and datatype names repeat from request to request); short ones only. */
const recent: string[] = [];
const RECENT = 16;
const RECENT_MAX_CHARS = 64;
let recentNext = 0;

/** An ASCII string (else undefined: protobufjs verifies UTF-8); a name (`isName`) that repeats is not made again. */
function ascii(isName = true): string | undefined {
  const e = span();
  if (e < 0) return undefined;
  const b = c.b;
  const start = c.pos;
  const n = e - start;
  for (let i = start; i < e; i++) if (b[i] >= 0x80) return undefined;
  c.pos = e;
  if (n === 0) return '';
  if (!isName || n > RECENT_MAX_CHARS) return b.toString('latin1', start, e);
  search: for (const s of recent) {
    if (s.length !== n) continue;
    for (let i = 0; i < n; i++) if (s.charCodeAt(i) !== b[start + i]) continue search;
    return s;
  }
  const s = b.toString('latin1', start, e);
  recent[recentNext] = s;
  recentNext = (recentNext + 1) % RECENT;
  return s;
}

/**
 * A ModelInferRequest of the common shape, or undefined: then protobufjs decodes it (and codec.ts
 * answers what is wrong with it: every request this returns is one codec.ts accepts).
 */
export function readInferRequest(b: Buffer): WireInferRequest | undefined {
  c.b = b;
  c.pos = 0;
  c.end = b.byteLength;
  try {
    return readRequest(b);
  } finally {
    c.b = NO_BYTES;
  }
}

/** An input's data until its raw_input_contents entry is read. */
const EMPTY = new Uint8Array(0);

function readRequest(b: Buffer): WireInferRequest | undefined {
  let model = '';
  let version = '';
  let id = '';
  const inputs: Tensor[] = [];
  const outputs: { name: string; parameters: Record<string, never> }[] = [];
  let raws = 0;
  while (c.pos < c.end) {
    const tag = varint();
    if (tag < 0 || (tag & 7) !== LEN) return undefined;
    const field = tag >>> 3;
    if (field === 1 || field === 2 || field === 3) {
      // The id is the one string that differs from request to request.
      const s = ascii(field !== 3);
      if (s === undefined) return undefined;
      if (field === 1) model = s;
      else if (field === 2) version = s;
      else id = s;
    } else if (field === 5) {
      const e = span();
      if (e < 0 || !readInput(e, inputs)) return undefined;
    } else if (field === 6) {
      const e = span();
      if (e < 0 || !readOutput(e, outputs)) return undefined;
    } else if (field === 7) {
      const e = span();
      if (e < 0) return undefined;
      // A view of the message's bytes, as protobufjs gives for a Buffer; an input written before its
      // contents gets them here, in order (more contents than inputs is an error: protobufjs's path says so).
      if (raws >= inputs.length) return undefined;
      inputs[raws++].data = b.subarray(c.pos, e);
      c.pos = e;
    } else {
      return undefined;
    }
  }
  // What codec.ts refuses is left to it, for its messages: no model, contents missing for some input.
  if (!model || raws !== inputs.length) return undefined;
  return new WireInferRequest(model, version, id, {
    modelName: model,
    modelVersion: version || undefined,
    id: id || undefined,
    inputs,
    outputs: outputs.length ? outputs : undefined,
    parameters: {},
  });
}

function readInput(end: number, into: Tensor[]): boolean {
  const outer = c.end;
  c.end = end;
  let name = '';
  let datatype = '';
  const shape: number[] = [];
  while (c.pos < end) {
    const tag = varint();
    if (tag < 0) return false;
    const field = tag >>> 3;
    const wire = tag & 7;
    if ((field === 1 || field === 2) && wire === LEN) {
      const s = ascii();
      if (s === undefined) return false;
      if (field === 1) name = s;
      else datatype = s;
    } else if (field === 3 && wire === LEN) {
      // Packed dims (what every encoder sends).
      const e = span();
      if (e < 0) return false;
      c.end = e;
      while (c.pos < e) {
        const d = varint();
        if (d < 0) return false;
        shape.push(d);
      }
      c.end = end;
    } else if (field === 3 && wire === VARINT) {
      const d = varint();
      if (d < 0) return false;
      shape.push(d);
    } else {
      return false;
    }
  }
  c.end = outer;
  // An unknown datatype is codec.ts's to name.
  if (!isDataType(datatype)) return false;
  into.push({ name, datatype, shape, data: EMPTY, parameters: {} });
  return true;
}

function readOutput(end: number, into: { name: string; parameters: Record<string, never> }[]): boolean {
  const outer = c.end;
  c.end = end;
  let name = '';
  while (c.pos < end) {
    if (varint() !== ((1 << 3) | LEN)) return false;
    const s = ascii();
    if (s === undefined) return false;
    name = s;
  }
  c.end = outer;
  into.push({ name, parameters: {} });
  return true;
}

/** The bytes of a varint. */
function varintSize(v: number): number {
  let n = 1;
  while (v >= 128) {
    v = Math.floor(v / 128);
    n++;
  }
  return n;
}

function putVarint(b: Buffer, pos: number, v: number): number {
  while (v >= 128) {
    b[pos++] = (v % 128) | 0x80;
    v = Math.floor(v / 128);
  }
  b[pos++] = v;
  return pos;
}

/** Empty, absent, or ASCII only (one byte a character, as protobufjs writes it). */
function plain(s: string | null | undefined): boolean {
  if (!s) return true;
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) >= 0x80) return false;
  return true;
}

const strSize = (s: string | null | undefined) => (s ? 1 + varintSize(s.length) + s.length : 0);

function putStr(b: Buffer, pos: number, tag: number, s: string | null | undefined): number {
  if (!s) return pos;
  b[pos++] = tag;
  pos = putVarint(b, pos, s.length);
  for (let i = 0; i < s.length; i++) b[pos++] = s.charCodeAt(i);
  return pos;
}

const hasKeys = (o: object | null | undefined) => {
  for (const _ in o) return true;
  return false;
};

/** An output tensor as both shapes have it: protobufjs's InferOutputTensor, the data plane's Tensor. */
interface OutputLike {
  name?: string | null;
  datatype?: string | null;
  shape?: readonly unknown[] | null;
}

/** The packed dims' bytes; -1 when a dim is not a safe non-negative integer (protobufjs writes those). */
function dimsSize(shape: readonly unknown[] | null | undefined): number {
  let n = 0;
  if (shape) for (const d of shape) {
    if (typeof d !== 'number' || !Number.isSafeInteger(d) || d < 0) return -1;
    n += varintSize(d);
  }
  return n;
}

/** An InferOutputTensor's bytes; -1 when it is not of the common shape. */
function outputSize(o: OutputLike): number {
  if (!plain(o.name) || !plain(o.datatype)) return -1;
  const dims = dimsSize(o.shape);
  if (dims < 0) return -1;
  return strSize(o.name) + strSize(o.datatype) + (dims ? 1 + varintSize(dims) + dims : 0);
}

/** A ModelInferResponse without parameters, as protobufjs writes it, after `headroom` bytes; undefined when not plain. */
function writeResponse(headroom: number, model: string | null | undefined, version: string | null | undefined, id: string | null | undefined,
  outs: readonly OutputLike[], raws: readonly Uint8Array[]): Buffer | undefined {
  if (!plain(model) || !plain(version) || !plain(id)) return undefined;
  let size = strSize(model) + strSize(version) + strSize(id);
  for (const o of outs) {
    const n = outputSize(o);
    if (n < 0) return undefined;
    size += 1 + varintSize(n) + n;
  }
  for (const d of raws) size += 1 + varintSize(d.byteLength) + d.byteLength;
  const b = Buffer.allocUnsafe(headroom + size);
  let pos = putStr(b, headroom, 10, model);
  pos = putStr(b, pos, 18, version);
  pos = putStr(b, pos, 26, id);
  for (const o of outs) {
    b[pos++] = 42;
    pos = putVarint(b, pos, outputSize(o));
    pos = putStr(b, pos, 10, o.name);
    pos = putStr(b, pos, 18, o.datatype);
    const dims = dimsSize(o.shape);
    if (dims) {
      b[pos++] = 26;
      pos = putVarint(b, pos, dims);
      for (const d of o.shape as number[]) pos = putVarint(b, pos, d);
    }
  }
  for (const d of raws) {
    b[pos++] = 50;
    pos = putVarint(b, pos, d.byteLength);
    b.set(d, pos);
    pos += d.byteLength;
  }
  return b;
}

/**
 * A ModelInferResponse (as codec.ts encodeInferResponse builds it) as protobufjs would encode it,
 * after `headroom` free bytes (for the frame prefix); undefined when it is not of the common shape.
 */
export function writeInferResponse(r: inference.IModelInferResponse, headroom: number): Buffer | undefined {
  if (hasKeys(r.parameters)) return undefined;
  const outs = r.outputs ?? [];
  for (const o of outs) if (hasKeys(o.parameters) || o.contents) return undefined;
  return writeResponse(headroom, r.model_name, r.model_version, r.id, outs, r.raw_output_contents ?? []);
}

/**
 * ModelInfer's answer as the data plane gave it: written to the wire straight from its tensors, without
 * protobufjs's object, which `encode` (codec.ts encodeInferResponse) makes where the writer cannot.
 */
export class InferReply {
  constructor(readonly response: InferResponse, private readonly encode: (r: InferResponse) => inference.IModelInferResponse) {}

  message(): inference.IModelInferResponse {
    return this.encode(this.response);
  }

  /** The bytes protobufjs would write for message(), after `headroom` bytes; undefined when not of the common shape. */
  write(headroom: number): Buffer | undefined {
    const r = this.response;
    if (hasKeys(r.parameters)) return undefined;
    const raws: Uint8Array[] = [];
    for (const t of r.outputs) raws.push(t.data);
    return writeResponse(headroom, r.modelName, r.modelVersion, r.id, r.outputs, raws);
  }
}

/** Room for ModelStreamInferResponse's tag and length ahead of its infer_response (a varint of up to 5 bytes). */
const STREAM_ROOM = 6;

/**
 * A ModelStreamInferResponse holding just an infer_response of the common shape (every token of a
 * decoupled model), as protobufjs would encode it, after `headroom` free bytes; else undefined.
 */
export function writeStreamInferResponse(v: inference.IModelStreamInferResponse, headroom: number): Buffer | undefined {
  if (v.error_message != null || !v.infer_response) return undefined;
  const b = writeInferResponse(v.infer_response, headroom + STREAM_ROOM);
  if (!b) return undefined;
  const n = b.byteLength - headroom - STREAM_ROOM;
  const start = STREAM_ROOM - 1 - varintSize(n);
  b[headroom + start] = 18;
  putVarint(b, headroom + start + 1, n);
  return b.subarray(start);
}
