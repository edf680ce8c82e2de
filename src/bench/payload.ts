// What `duet bench` sends: input tensors (random values of the input's datatype, integer pixels,
// text, or a file) and the request each protocol puts on the wire for them, encoded the way the
// SDK (packages/client) encodes it, so the measured client time is what an SDK user pays.

import { readFileSync } from 'node:fs';
import { bytesOf, elementSize, isDataType, type DataType } from '../core/datatypes.js';
import { jsonToRaw, rawToJsonText } from '../core/json-tensor.js';
import { elementCount, encodeBytes } from '../core/tensor.js';
import type { inference } from '../generated/proto.js';

export type Protocol = 'grpc' | 'http-json' | 'http-binary';
export const PROTOCOLS: readonly Protocol[] = ['grpc', 'http-json', 'http-binary'];

/** One input as the bench carries it: raw little-endian bytes (BYTES in length-prefixed form). */
export interface BenchInput {
  name: string;
  datatype: DataType;
  shape: number[];
  raw: Uint8Array;
}

/**
 * random: values of the datatype (floats uniform in [0, 1) at full precision);
 * pixels: integers 0..255 in whatever numeric datatype (how JSON size depends on the numbers);
 * text: every BYTES element this string; file: a JSON or raw binary file.
 */
export type DataSpec = { kind: 'random' } | { kind: 'pixels' } | { kind: 'text'; value: string } | { kind: 'file'; path: string };

export function parseDataSpec(s: string | undefined): DataSpec {
  if (s === undefined || s === 'random') return { kind: 'random' };
  if (s === 'pixels') return { kind: 'pixels' };
  if (s.startsWith('text:')) return { kind: 'text', value: s.slice(5) };
  return { kind: 'file', path: s };
}

export function describeData(d: DataSpec): string {
  switch (d.kind) {
    case 'random': return 'random';
    case 'pixels': return 'integer pixels 0..255';
    case 'text': return `text (${Buffer.byteLength(d.value)} bytes)`;
    case 'file': return `file ${d.path}`;
  }
}

/** A deterministic generator (mulberry32), so two runs send the same numbers. */
export function rng(seed = 0x2545f491): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const WORDS = ['inference', 'tensor', 'model', 'the', 'a', 'request', 'gRPC', 'REST', 'latency', 'of', 'server', 'batch', 'queue', 'fast'];

/** Raw bytes for `count` elements of `dt` following `data` (not for files: see fileInputs). */
export function generate(dt: DataType, count: number, data: DataSpec, random = rng()): Uint8Array {
  if (dt === 'BYTES') {
    const text = data.kind === 'text' ? data.value : undefined;
    const els = Array.from({ length: count }, () => Buffer.from(text ?? Array.from({ length: 6 }, () => WORDS[Math.floor(random() * WORDS.length)]).join(' ')));
    return encodeBytes(els);
  }
  const pixels = data.kind === 'pixels';
  const values: unknown[] = new Array(count);
  for (let i = 0; i < count; i++) {
    const r = random();
    switch (dt) {
      case 'BOOL': values[i] = r < 0.5; break;
      case 'FP16': case 'FP32': case 'FP64': values[i] = pixels ? Math.floor(r * 256) : r; break;
      case 'INT8': values[i] = pixels ? Math.floor(r * 128) : Math.floor(r * 256) - 128; break;
      case 'UINT8': values[i] = Math.floor(r * 256); break;
      case 'INT64': case 'UINT64': values[i] = BigInt(Math.floor(r * (pixels ? 256 : 2 ** 31))); break;
      default: values[i] = Math.floor(r * (pixels ? 256 : 32768)); break;
    }
  }
  if (dt === 'FP32' && !pixels) {
    // Float32 values at full precision: what a float32 tensor from numpy or a typed array holds.
    const f = new Float32Array(count);
    for (let i = 0; i < count; i++) f[i] = values[i] as number;
    return bytesOf(f);
  }
  return jsonToRaw(dt, values, 'bench input');
}

export interface InputSpec {
  name: string;
  datatype: string;
  /** From metadata: -1 for variable dimensions. */
  shape: number[];
}

/**
 * Concrete shapes: `shapes` maps an input name (or '' for every input) to its dims; variable
 * dimensions otherwise become 1 (the batch dimension) — anything else variable needs --shape.
 */
export function resolveShapes(inputs: InputSpec[], shapes: Map<string, number[]>, model: string, opts: { keepVariable?: boolean } = {}): { name: string; datatype: DataType; shape: number[] }[] {
  return inputs.map((i) => {
    if (!isDataType(i.datatype)) throw new Error(`model '${model}' input '${i.name}' has datatype '${i.datatype}' the bench cannot generate`);
    const given = shapes.get(i.name) ?? shapes.get('');
    let shape: number[];
    if (given) shape = given;
    else {
      const variable = i.shape.slice(1).some((d) => d < 0);
      // A file's size can settle the variable dimensions (see fileInputs).
      if (variable && opts.keepVariable) return { name: i.name, datatype: i.datatype, shape: [i.shape[0] < 0 ? 1 : i.shape[0], ...i.shape.slice(1)] };
      if (variable) throw new Error(`model '${model}' input '${i.name}' has variable shape [${i.shape.join(',')}]; give one with --shape, e.g. --shape ${i.name}:1,${i.shape.slice(1).map((d) => (d < 0 ? 16 : d)).join(',')}`);
      shape = i.shape.map((d) => (d < 0 ? 1 : d));
    }
    return { name: i.name, datatype: i.datatype, shape };
  });
}

/** `1,128` or `INPUT0:1,128;INPUT1:1,4` into a map ('' = every input). */
export function parseShapes(s: string | undefined): Map<string, number[]> {
  const m = new Map<string, number[]>();
  if (!s) return m;
  for (const part of s.split(';').map((x) => x.trim()).filter(Boolean)) {
    const colon = part.lastIndexOf(':');
    const name = colon >= 0 ? part.slice(0, colon) : '';
    const dims = part.slice(colon + 1).split(/[,x]/).map((d) => Number(d.trim()));
    if (!dims.length || dims.some((d) => !Number.isInteger(d) || d < 0)) throw new Error(`--shape: '${part}' is not a list of non-negative integers like 1,128`);
    m.set(name, dims);
  }
  return m;
}

/** Inputs with values, for generated data or a file. */
export function makeInputs(specs: { name: string; datatype: DataType; shape: number[] }[], data: DataSpec): BenchInput[] {
  if (data.kind === 'file') return fileInputs(specs, data.path);
  const random = rng();
  return specs.map((s) => ({ ...s, raw: generate(s.datatype, elementCount(s.shape), data, random) }));
}

/** `shape` for `n` elements: as is when it fits, with its one variable (-1) dimension filled in, else an error. */
export function fitShape(shape: number[], n: number, what: string): number[] {
  const free = shape.filter((d) => d < 0).length;
  const fixed = shape.reduce((p, d) => (d < 0 ? p : p * d), 1);
  if (free === 0 && fixed === n) return shape;
  if (free === 1 && fixed > 0 && n % fixed === 0) return shape.map((d) => (d < 0 ? n / fixed : d));
  throw new Error(`${what}: ${n} values do not fit shape [${shape.join(',')}]; give one with --shape`);
}

/**
 * A JSON file: `{"INPUT0": [...]}`, `{"inputs": [{"name", "data", "shape"?}]}` or, for one input, a bare
 * array (nested arrays are flattened). Any other file is raw little-endian bytes of the first input
 * (for BYTES: one element holding the whole file); its shape comes from --shape or from the size.
 */
export function fileInputs(specs: { name: string; datatype: DataType; shape: number[] }[], path: string): BenchInput[] {
  const buf = readFileSync(path);
  let json: unknown;
  const head = buf.subarray(0, 64).toString('utf8').trimStart();
  if (head.startsWith('{') || head.startsWith('[')) {
    try {
      json = JSON.parse(buf.toString('utf8'));
    } catch {
      json = undefined;
    }
  }
  if (json === undefined) {
    if (specs.length !== 1) throw new Error(`--data ${path}: a raw binary file feeds one input, but the model has ${specs.length}`);
    const s = specs[0];
    if (s.datatype === 'BYTES') return [{ ...s, shape: fitShape(s.shape, 1, `--data ${path}`), raw: encodeBytes([buf]) }];
    const size = elementSize(s.datatype);
    if (buf.byteLength % size) throw new Error(`--data ${path}: ${buf.byteLength} bytes is not a whole number of ${s.datatype} elements`);
    const shape = fitShape(s.shape, buf.byteLength / size, `--data ${path}`);
    return [{ ...s, shape, raw: new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength).slice() }];
  }
  const byName = new Map<string, { data: unknown; shape?: number[] }>();
  if (Array.isArray(json)) byName.set(specs[0]?.name ?? '', { data: json });
  else if (json && typeof json === 'object' && Array.isArray((json as { inputs?: unknown }).inputs)) {
    for (const i of (json as { inputs: { name: string; data: unknown; shape?: number[] }[] }).inputs) byName.set(i.name, { data: i.data, shape: i.shape });
  } else if (json && typeof json === 'object') {
    for (const [k, v] of Object.entries(json)) byName.set(k, { data: v });
  }
  return specs.map((s) => {
    const e = byName.get(s.name);
    if (!e) throw new Error(`--data ${path}: no values for input '${s.name}'`);
    const flat = (Array.isArray(e.data) ? e.data : [e.data]).flat(Infinity) as unknown[];
    const raw = s.datatype === 'BYTES'
      ? encodeBytes(flat.map((v) => Buffer.from(String(v))))
      : jsonToRaw(s.datatype, flat, `--data ${path} input '${s.name}'`);
    const shape = e.shape ?? fitShape(s.shape, flat.length, `--data ${path} input '${s.name}'`);
    return { name: s.name, datatype: s.datatype, shape, raw };
  });
}

/** One REST infer request as the SDK's HttpClient.infer writes it. */
export interface HttpRequestBytes {
  path: string;
  headers: Record<string, string | number>;
  chunks: Uint8Array[];
  bodyBytes: number;
}

export function modelPath(model: string, version?: string): string {
  return `/v2/models/${encodeURIComponent(model)}${version ? `/versions/${encodeURIComponent(version)}` : ''}`;
}

/**
 * The REST body: JSON with `data` arrays, or (binary) the JSON header then each input's raw bytes,
 * with binary outputs requested. Mirrors HttpClient.infer with no requested outputs.
 */
export function encodeHttp(model: string, version: string | undefined, inputs: BenchInput[], binary: boolean): HttpRequestBytes {
  const parts = inputs.map((inp) => {
    const head = `{"name":${JSON.stringify(inp.name)},"datatype":${JSON.stringify(inp.datatype)},"shape":${JSON.stringify(inp.shape)}`;
    return binary ? `${head},"parameters":{"binary_data_size":${inp.raw.byteLength}}}` : `${head},"data":${rawToJsonText(inp.datatype, inp.raw)}}`;
  });
  let json = `{"inputs":[${parts.join(',')}]`;
  if (binary) json += ',"parameters":{"binary_data_output":true}';
  json += '}';
  const head = Buffer.from(json);
  const chunks: Uint8Array[] = binary ? [head, ...inputs.map((i) => i.raw)] : [head];
  const bodyBytes = chunks.reduce((n, c) => n + c.byteLength, 0);
  const headers: Record<string, string | number> = { 'content-type': binary ? 'application/octet-stream' : 'application/json', 'content-length': bodyBytes };
  if (binary) headers['inference-header-content-length'] = head.byteLength;
  return { path: `${modelPath(model, version)}/infer`, headers, chunks, bodyBytes };
}

/** The ModelInferRequest the SDK's GrpcClient.infer sends: every input in raw_input_contents. */
export function grpcRequest(model: string, version: string | undefined, inputs: BenchInput[]): inference.IModelInferRequest {
  return {
    model_name: model,
    model_version: version ?? '',
    id: '',
    parameters: {},
    inputs: inputs.map((i) => ({ name: i.name, datatype: i.datatype, shape: i.shape, parameters: {} })),
    outputs: [],
    raw_input_contents: inputs.map((i) => i.raw),
  };
}

/** Raw tensor bytes of all inputs (what the in-process call and the binary formats carry). */
export function tensorBytes(inputs: BenchInput[]): number {
  return inputs.reduce((n, i) => n + i.raw.byteLength, 0);
}
