// Mutated REST requests: KServe v2 infer bodies in JSON and with the binary tensor extension,
// generate bodies and repository calls, each built from a valid request and then broken.

import { gzipSync } from 'node:zlib';
import { DATATYPES } from '../../src/core/datatypes.js';
import { hostileShape, hostileValue, mutateBytes, mutateTree, nested, NEST_DEPTHS, Raw, toJson } from './mutate.js';
import type { Rng } from './rng.js';

export interface RestCase {
  method: string;
  path: string;
  headers: Record<string, string>;
  body: Buffer;
  /** What was done, for the failure report. */
  what: string[];
  /** Statuses of 500 and up that are right here (not a fault): e.g. 503 for load/unload when model control is off. */
  allow?: number[];
}

type Json = Record<string, unknown>;
interface Input { name: string; datatype: string; shape: unknown[]; data: unknown[]; binary?: Buffer }
interface Seed { model: string; inputs: Input[]; outputs?: string[] }

const range = (n: number, f: (i: number) => unknown) => Array.from({ length: n }, (_, i) => f(i));
const le = (n: number, size: number, write: (b: Buffer, i: number) => void) => {
  const b = Buffer.alloc(n * size);
  for (let i = 0; i < n; i++) write(b, i);
  return b;
};
const bytesWire = (els: string[]) => Buffer.concat(els.flatMap((s) => {
  const v = Buffer.from(s);
  const h = Buffer.alloc(4);
  h.writeUInt32LE(v.length);
  return [h, v];
}));

/** Valid requests for the models the fuzz repository serves. */
export const REST_SEEDS: (() => Seed)[] = [
  () => ({ model: 'my_model', outputs: ['OUTPUT0'], inputs: [{ name: 'INPUT0', datatype: 'FP32', shape: [1, 128], data: range(128, (i) => i / 8), binary: le(128, 4, (b, i) => b.writeFloatLE(i / 8, i * 4)) }] }),
  () => ({ model: 'simple', inputs: ['INPUT0', 'INPUT1'].map((name) => ({ name, datatype: 'INT32', shape: [1, 16], data: range(16, (i) => i), binary: le(16, 4, (b, i) => b.writeInt32LE(i, i * 4)) })) }),
  () => ({ model: 'simple_string', inputs: ['INPUT0', 'INPUT1'].map((name) => ({ name, datatype: 'BYTES', shape: [1, 16], data: range(16, String), binary: bytesWire(range(16, String) as string[]) })) }),
  () => ({ model: 'identity_int64', inputs: [{ name: 'INPUT0', datatype: 'INT64', shape: [1, 3], data: [new Raw('9007199254740993'), -5, new Raw('-9223372036854775808')], binary: le(3, 8, (b, i) => b.writeBigInt64LE([9007199254740993n, -5n, -(2n ** 63n)][i], i * 8)) }] }),
  () => ({ model: 'identity_uint64', inputs: [{ name: 'INPUT0', datatype: 'UINT64', shape: [1, 2], data: [new Raw('18446744073709551615'), 0], binary: le(2, 8, (b, i) => b.writeBigUInt64LE([2n ** 64n - 1n, 0n][i], i * 8)) }] }),
  () => ({ model: 'identity_fp16', inputs: [{ name: 'INPUT0', datatype: 'FP16', shape: [1, 2], data: [1.5, -2], binary: Buffer.from([0x00, 0x3e, 0x00, 0xc0]) }] }),
  () => ({ model: 'identity_bool', inputs: [{ name: 'INPUT0', datatype: 'BOOL', shape: [1, 3], data: [true, false, true], binary: Buffer.from([1, 0, 1]) }] }),
  () => ({ model: 'identity_int8', inputs: [{ name: 'INPUT0', datatype: 'INT8', shape: [1, 2], data: [-128, 127], binary: Buffer.from([0x80, 0x7f]) }] }),
  () => ({ model: 'identity_bytes', inputs: [{ name: 'INPUT0', datatype: 'BYTES', shape: [1, 2], data: ['a', 'é'], binary: bytesWire(['a', 'é']) }] }),
];

/** A valid JSON body for `seed`, all tensors as JSON data. */
export function seedBody(seed: Seed): Json {
  const body: Json = { id: 'fuzz', inputs: seed.inputs.map((t) => ({ name: t.name, datatype: t.datatype, shape: t.shape, data: t.data })) };
  if (seed.outputs) body.outputs = seed.outputs.map((name) => ({ name, parameters: { binary_data: false } }));
  return body;
}

const PARAM_NAMES = ['binary_data_size', 'binary_data', 'binary_data_output', 'priority', 'timeout', 'classification',
  'sequence_id', 'sequence_start', 'triton_enable_empty_final_response', 'max_tokens', 'x'];

/** Targeted changes to the fields validation cares about most. */
function mutateInfer(rng: Rng, body: Json, what: string[]): void {
  const inputs = Array.isArray(body.inputs) ? (body.inputs as Json[]).filter((x) => x && typeof x === 'object' && !(x instanceof Raw)) : [];
  const t = inputs.length ? rng.pick(inputs) : undefined;
  switch (rng.int(8)) {
    case 0:
      if (t) t.shape = hostileShape(rng);
      what.push(`shape=${toJson(t?.shape).slice(0, 60)}`);
      return;
    case 1:
      if (t) t.datatype = rng.chance(0.5) ? rng.pick(DATATYPES) : hostileValue(rng);
      what.push(`datatype=${toJson(t?.datatype).slice(0, 40)}`);
      return;
    case 2: {
      // Deep nesting of tensor data: every datatype's path must refuse it cleanly.
      const d = rng.pick(NEST_DEPTHS);
      if (t && Array.isArray(t.data)) t.data = nested(t.data, d);
      what.push(`data nested ${d}`);
      return;
    }
    case 3: {
      const where = rng.pick(['request', 'input', 'output']);
      const target = where === 'request' ? body : where === 'input' ? t : (Array.isArray(body.outputs) ? (body.outputs as Json[])[0] : undefined);
      if (target && typeof target === 'object') {
        const p = (target.parameters && typeof target.parameters === 'object' ? target.parameters : (target.parameters = {})) as Json;
        const k = rng.pick(PARAM_NAMES);
        p[k] = rng.chance(0.2) ? nested(1, rng.pick(NEST_DEPTHS)) : hostileValue(rng);
        what.push(`${where} parameter ${k}=${toJson(p[k]).slice(0, 40)}`);
      }
      return;
    }
    case 4:
      if (t) t.name = hostileValue(rng);
      what.push(`name=${toJson(t?.name).slice(0, 40)}`);
      return;
    case 5:
      body.id = hostileValue(rng);
      what.push(`id=${toJson(body.id).slice(0, 40)}`);
      return;
    default:
      what.push(mutateTree(rng, body));
  }
}

/** Body of a binary-extension request: the JSON header, then each binary input's bytes. */
function binaryParts(rng: Rng, seed: Seed, body: Json, what: string[]): Buffer[] {
  const parts: Buffer[] = [];
  const inputs = (body.inputs as Json[]) ?? [];
  seed.inputs.forEach((s, i) => {
    const t = inputs[i];
    if (!s.binary || !t || typeof t !== 'object' || rng.chance(0.1)) return;
    delete t.data;
    let b = s.binary;
    let size: unknown = b.length;
    if (rng.chance(0.25)) {
      const m = mutateBytes(rng, b);
      b = m.bytes;
      what.push(`binary ${i}: ${m.what}`);
      if (rng.chance(0.5)) size = b.length;
    }
    if (rng.chance(0.15)) {
      size = rng.pick<unknown>([-1, 0, b.length + 1, b.length - 1, 2 ** 31, 2 ** 53, 1.5, '4', null, true, new Raw('18446744073709551616')]);
      what.push(`binary_data_size ${i}=${toJson(size)}`);
    }
    t.parameters = { binary_data_size: size };
    parts.push(b);
  });
  return parts;
}

export function restCase(rng: Rng): RestCase {
  const what: string[] = [];
  const kind = rng.int(20);
  if (kind === 0) return generateCase(rng, what);
  if (kind === 1) return miscCase(rng, what);
  const seed = rng.pick(REST_SEEDS)();
  const body = seedBody(seed);
  what.push(`${seed.model}`);
  const binary = rng.chance(0.4);
  const n = rng.range(1, 3);
  for (let i = 0; i < n; i++) mutateInfer(rng, body, what);
  const parts = binary ? binaryParts(rng, seed, body, what) : [];
  if (binary && rng.chance(0.3)) body.parameters = { ...(body.parameters as Json), binary_data_output: true };
  let json: Buffer = Buffer.from(toJson(body));
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (rng.chance(0.15)) {
    const m = mutateBytes(rng, json);
    json = m.bytes;
    what.push(`json: ${m.what}`);
  }
  if (parts.length) headers['inference-header-content-length'] = String(json.length);
  let bytes: Buffer = Buffer.concat([json, ...parts]);
  if (rng.chance(0.1)) {
    const v = rng.pick([String(bytes.length + 1), String(bytes.length * 2), '-1', '0', 'abc', '1e3', '99999999999999999999', ' 5', String(json.length - 1), '', '0x10']);
    headers['inference-header-content-length'] = v;
    what.push(`Inference-Header-Content-Length=${JSON.stringify(v)}`);
  }
  if (rng.chance(0.05)) {
    const enc = rng.pick(['gzip', 'deflate', 'br', 'gzip, gzip', 'identity']);
    headers['content-encoding'] = enc;
    if (enc === 'gzip' && rng.chance(0.5)) bytes = gzipSync(bytes);
    else if (rng.chance(0.5)) bytes = mutateBytes(rng, gzipSync(bytes)).bytes;
    what.push(`Content-Encoding=${enc}`);
  }
  if (rng.chance(0.05)) {
    headers['content-type'] = rng.pick(['text/plain', 'application/octet-stream', 'multipart/form-data; boundary=x', '', 'application/x-www-form-urlencoded']);
    what.push(`Content-Type=${headers['content-type']}`);
  }
  return { method: 'POST', path: `/v2/models/${seed.model}/infer`, headers, body: bytes, what };
}

/** generate / generate_stream on text_echo. */
function generateCase(rng: Rng, what: string[]): RestCase {
  const body: Json = { text_input: 'hello', parameters: { max_tokens: 4 }, id: 'g' };
  const n = rng.range(1, 3);
  for (let i = 0; i < n; i++) {
    if (rng.chance(0.3)) {
      const k = rng.pick(['text_input', 'extra', 'parameters']);
      body[k] = nested(rng.chance(0.5) ? 'x' : { a: 1 }, rng.pick(NEST_DEPTHS), rng.chance(0.5));
      what.push(`${k} nested`);
    } else what.push(mutateTree(rng, body));
  }
  const path = `/v2/models/text_echo/${rng.chance(0.5) ? 'generate' : 'generate_stream'}`;
  what.unshift(path);
  let bytes: Buffer = Buffer.from(toJson(body));
  if (rng.chance(0.2)) bytes = mutateBytes(rng, bytes).bytes;
  return { method: 'POST', path, headers: { 'content-type': 'application/json' }, body: bytes, what };
}

/** Repository index and load/unload of a model that does not exist, with broken bodies. */
function miscCase(rng: Rng, what: string[]): RestCase {
  const path = rng.pick(['/v2/repository/index', '/v2/repository/models/fuzz_no_such_model/load', '/v2/repository/models/fuzz_no_such_model/unload']);
  const body: Json = path.endsWith('index') ? { ready: true } : { parameters: { config: '{"max_batch_size":1}' } };
  what.push(path, mutateTree(rng, body));
  let bytes: Buffer = Buffer.from(toJson(body));
  if (rng.chance(0.3)) bytes = mutateBytes(rng, bytes).bytes;
  // With --model-control-mode none (the default) load and unload answer 503, as Triton does.
  return { method: 'POST', path, headers: { 'content-type': 'application/json' }, body: bytes, what, allow: path.endsWith('load') ? [503] : [] };
}
