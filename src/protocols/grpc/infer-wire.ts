// ModelInfer's request and response read and written by hand on their common shape (names, datatypes,
// shapes, raw tensor bytes), without protobufjs' objects. Anything else (parameters, typed contents,
// unknown fields, non-ASCII strings, odd wire types, malformed bytes) returns undefined and protobufjs
// does the work, so its results and its error messages stay what they were.

import type { inference } from '../../generated/proto.js';

/** What codec.ts decodeInferRequest reads of a ModelInferRequest. */
export interface PlainInferRequest {
  model_name: string;
  model_version: string;
  id: string;
  inputs: { name: string; datatype: string; shape: number[]; contents: null }[];
  outputs: { name: string }[];
  raw_input_contents: Uint8Array[];
  parameters?: undefined;
}

const LEN = 2;
const VARINT = 0;
/** Values of more than 7 varint bytes (2^49 and up, negative int64s) are left to protobufjs. */
const MAX_VARINT_BYTES = 7;

/** A varint at `pos`: the value, and the position after it in `at`; -1 when it is not a small non-negative one. */
class Cursor {
  pos = 0;
  constructor(readonly b: Uint8Array, readonly end: number) {}

  varint(): number {
    let v = 0;
    let mul = 1;
    for (let i = 0; i < MAX_VARINT_BYTES; i++) {
      if (this.pos >= this.end) return -1;
      const x = this.b[this.pos++];
      v += (x & 0x7f) * mul;
      if (x < 0x80) return v;
      mul *= 128;
    }
    return -1;
  }

  /** The end of a length-delimited field starting here, or -1. */
  span(): number {
    const n = this.varint();
    return n < 0 || this.pos + n > this.end ? -1 : this.pos + n;
  }

  /** An ASCII string (else undefined: protobufjs verifies UTF-8). */
  ascii(): string | undefined {
    const e = this.span();
    if (e < 0) return undefined;
    const b = this.b;
    let s = '';
    for (let i = this.pos; i < e; i++) {
      const c = b[i];
      if (c >= 0x80) return undefined;
      s += String.fromCharCode(c);
    }
    this.pos = e;
    return s;
  }
}

/** A ModelInferRequest of the common shape, or undefined (then protobufjs decodes it). */
export function readInferRequest(b: Buffer): PlainInferRequest | undefined {
  const c = new Cursor(b, b.byteLength);
  const m: PlainInferRequest = { model_name: '', model_version: '', id: '', inputs: [], outputs: [], raw_input_contents: [] };
  while (c.pos < c.end) {
    const tag = c.varint();
    if (tag < 0 || (tag & 7) !== LEN) return undefined;
    const field = tag >>> 3;
    if (field <= 3) {
      const s = c.ascii();
      if (s === undefined) return undefined;
      if (field === 1) m.model_name = s;
      else if (field === 2) m.model_version = s;
      else if (field === 3) m.id = s;
      else return undefined;
    } else if (field === 5) {
      const e = c.span();
      if (e < 0 || !readInput(b, c.pos, e, m.inputs)) return undefined;
      c.pos = e;
    } else if (field === 6) {
      const e = c.span();
      if (e < 0 || !readOutput(b, c.pos, e, m.outputs)) return undefined;
      c.pos = e;
    } else if (field === 7) {
      const e = c.span();
      if (e < 0) return undefined;
      // A view of the message's bytes, as protobufjs gives for a Buffer.
      m.raw_input_contents.push(b.subarray(c.pos, e));
      c.pos = e;
    } else {
      return undefined;
    }
  }
  return m;
}

function readInput(b: Buffer, start: number, end: number, into: PlainInferRequest['inputs']): boolean {
  const c = new Cursor(b, end);
  c.pos = start;
  const t = { name: '', datatype: '', shape: [] as number[], contents: null };
  while (c.pos < end) {
    const tag = c.varint();
    if (tag < 0) return false;
    const field = tag >>> 3;
    const wire = tag & 7;
    if ((field === 1 || field === 2) && wire === LEN) {
      const s = c.ascii();
      if (s === undefined) return false;
      if (field === 1) t.name = s;
      else t.datatype = s;
    } else if (field === 3 && wire === LEN) {
      // Packed dims (what every encoder sends).
      const e = c.span();
      if (e < 0) return false;
      const dims = new Cursor(b, e);
      dims.pos = c.pos;
      while (dims.pos < e) {
        const d = dims.varint();
        if (d < 0) return false;
        t.shape.push(d);
      }
      c.pos = e;
    } else if (field === 3 && wire === VARINT) {
      const d = c.varint();
      if (d < 0) return false;
      t.shape.push(d);
    } else {
      return false;
    }
  }
  into.push(t);
  return true;
}

function readOutput(b: Buffer, start: number, end: number, into: PlainInferRequest['outputs']): boolean {
  const c = new Cursor(b, end);
  c.pos = start;
  let name = '';
  while (c.pos < end) {
    const tag = c.varint();
    if (tag !== ((1 << 3) | LEN)) return false;
    const s = c.ascii();
    if (s === undefined) return false;
    name = s;
  }
  into.push({ name });
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

const isAscii = (s: string) => /^[\x00-\x7f]*$/.test(s);
const strSize = (s: string | null | undefined) => (s ? 1 + varintSize(s.length) + s.length : 0);

function putStr(b: Buffer, pos: number, tag: number, s: string | null | undefined): number {
  if (!s) return pos;
  b[pos++] = tag;
  pos = putVarint(b, pos, s.length);
  b.write(s, pos, 'latin1');
  return pos + s.length;
}

/**
 * A ModelInferResponse (as codec.ts encodeInferResponse builds it) as protobufjs would encode it,
 * after `headroom` free bytes (for the frame prefix); undefined when it is not of the common shape.
 */
export function writeInferResponse(r: inference.IModelInferResponse, headroom: number): Buffer | undefined {
  if (r.parameters && Object.keys(r.parameters).length) return undefined;
  const outs = r.outputs ?? [];
  const raws = r.raw_output_contents ?? [];
  const strs = [r.model_name, r.model_version, r.id];
  let size = 0;
  for (const s of strs) {
    if (s && !isAscii(s)) return undefined;
    size += strSize(s);
  }
  const outSizes: number[] = [];
  const dimSizes: number[] = [];
  for (const o of outs) {
    if ((o.parameters && Object.keys(o.parameters).length) || o.contents) return undefined;
    if ((o.name && !isAscii(o.name)) || (o.datatype && !isAscii(o.datatype))) return undefined;
    let dims = 0;
    for (const d of o.shape ?? []) {
      if (typeof d !== 'number' || !Number.isSafeInteger(d) || d < 0) return undefined;
      dims += varintSize(d);
    }
    dimSizes.push(dims);
    const n = strSize(o.name) + strSize(o.datatype) + (dims ? 1 + varintSize(dims) + dims : 0);
    outSizes.push(n);
    size += 1 + varintSize(n) + n;
  }
  for (const d of raws) size += 1 + varintSize(d.byteLength) + d.byteLength;
  const b = Buffer.allocUnsafe(headroom + size);
  let pos = headroom;
  pos = putStr(b, pos, 10, r.model_name);
  pos = putStr(b, pos, 18, r.model_version);
  pos = putStr(b, pos, 26, r.id);
  outs.forEach((o, i) => {
    b[pos++] = 42;
    pos = putVarint(b, pos, outSizes[i]);
    pos = putStr(b, pos, 10, o.name);
    pos = putStr(b, pos, 18, o.datatype);
    if (dimSizes[i]) {
      b[pos++] = 26;
      pos = putVarint(b, pos, dimSizes[i]);
      for (const d of o.shape as number[]) pos = putVarint(b, pos, d);
    }
  });
  for (const d of raws) {
    b[pos++] = 50;
    pos = putVarint(b, pos, d.byteLength);
    b.set(d, pos);
    pos += d.byteLength;
  }
  return b;
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
