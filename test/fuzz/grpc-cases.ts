// Mutated gRPC requests: ModelInferRequest messages broken field by field (shapes, datatypes, raw
// and typed contents, parameters of every type, names) and then, sometimes, byte by byte; plus
// random protobuf field soup and small messages for the other methods.

import Long from 'long';
import { DATATYPES } from '../../src/core/datatypes.js';
import { duet, grpc as g, inference, PredictRequest } from '../../src/generated/proto.js';
import { gzipSync } from 'node:zlib';
import { frame } from './h2.js';
import { mutateBytes } from './mutate.js';
import type { Rng } from './rng.js';

type Req = inference.IModelInferRequest;
type Param = inference.IInferParameter;

const f32 = (n: number) => Buffer.from(Float32Array.from({ length: n }, (_, i) => i / 4).buffer);
const i32 = (n: number) => Buffer.from(Int32Array.from({ length: n }, (_, i) => i).buffer);
const strings = (els: string[]) => Buffer.concat(els.flatMap((s) => {
  const v = Buffer.from(s);
  const h = Buffer.alloc(4);
  h.writeUInt32LE(v.length);
  return [h, v];
}));

/** Valid requests (raw and typed contents) for the models the fuzz repository serves. */
export const GRPC_SEEDS: (() => Req)[] = [
  () => ({ model_name: 'my_model', id: 'f', inputs: [{ name: 'INPUT0', datatype: 'FP32', shape: [1, 128] }], outputs: [{ name: 'OUTPUT0' }], raw_input_contents: [f32(128)] }),
  () => ({ model_name: 'simple', inputs: ['INPUT0', 'INPUT1'].map((name) => ({ name, datatype: 'INT32', shape: [1, 16] })), raw_input_contents: [i32(16), i32(16)] }),
  () => ({ model_name: 'simple', inputs: ['INPUT0', 'INPUT1'].map((name) => ({ name, datatype: 'INT32', shape: [1, 16], contents: { int_contents: Array.from({ length: 16 }, (_, i) => i) } })) }),
  () => ({ model_name: 'simple_string', inputs: ['INPUT0', 'INPUT1'].map((name) => ({ name, datatype: 'BYTES', shape: [1, 16], contents: { bytes_contents: Array.from({ length: 16 }, (_, i) => Buffer.from(String(i))) } })) }),
  () => ({ model_name: 'simple_string', inputs: ['INPUT0', 'INPUT1'].map((name) => ({ name, datatype: 'BYTES', shape: [1, 16] })), raw_input_contents: [0, 1].map(() => strings(Array.from({ length: 16 }, (_, i) => String(i)))) }),
  () => ({ model_name: 'identity_int64', inputs: [{ name: 'INPUT0', datatype: 'INT64', shape: [1, 2], contents: { int64_contents: [Long.fromString('9007199254740993'), Long.fromNumber(-5)] } }] }),
  () => ({ model_name: 'identity_uint64', inputs: [{ name: 'INPUT0', datatype: 'UINT64', shape: [1, 1], contents: { uint64_contents: [Long.MAX_UNSIGNED_VALUE] } }] }),
  () => ({ model_name: 'identity_fp16', inputs: [{ name: 'INPUT0', datatype: 'FP16', shape: [1, 2] }], raw_input_contents: [Buffer.from([0, 0x3e, 0, 0xc0])] }),
  () => ({ model_name: 'identity_bool', inputs: [{ name: 'INPUT0', datatype: 'BOOL', shape: [1, 2], contents: { bool_contents: [true, false] } }] }),
  () => ({ model_name: 'text_echo', inputs: [{ name: 'text_input', datatype: 'BYTES', shape: [1] }], raw_input_contents: [strings(['hi'])] }),
];

const LONGS = [
  Long.fromNumber(-1), Long.fromNumber(0), Long.fromNumber(1), Long.fromNumber(9), Long.fromNumber(128), Long.fromNumber(2 ** 31),
  Long.fromNumber(2 ** 32), Long.fromNumber(2 ** 53), Long.fromString('9007199254740993'), Long.MAX_VALUE, Long.MIN_VALUE,
];

function hostileParam(rng: Rng): Param {
  switch (rng.int(5)) {
    case 0: return { bool_param: rng.chance(0.5) };
    case 1: return { int64_param: rng.pick(LONGS) };
    case 2: return { uint64_param: rng.pick([Long.UZERO, Long.MAX_UNSIGNED_VALUE, Long.fromNumber(5, true)]) };
    case 3: return { double_param: rng.pick([NaN, Infinity, -Infinity, -0, 0.5, 1e308, -1, 3]) };
    default: return { string_param: rng.pick(['', '1', '-1', 'abc', 'x'.repeat(10_000), '\u0000', '[[[[', 'NaN']) };
  }
}

const PARAM_NAMES = ['priority', 'timeout', 'classification', 'binary_data_size', 'binary_data', 'sequence_id', 'sequence_start',
  'triton_enable_empty_final_response', 'max_tokens', 'x'];

function hostileString(rng: Rng): string {
  return rng.pick(['', 'INPUT0', 'INPUT1', 'OUTPUT0', 'no_such', 'é\u0000', 'x'.repeat(5000), '../../x', 'my_model', 'FP32', 'fp32', ' ', '%2F']);
}

/** One field-level change; returns what it did. */
function mutateRequest(rng: Rng, m: Req): string {
  const inputs = m.inputs ?? [];
  const t = inputs.length ? rng.pick(inputs) : undefined;
  switch (rng.int(10)) {
    case 0: {
      const dims = rng.chance(0.1) ? Array.from({ length: rng.pick([0, 64, 1000]) }, () => Long.fromNumber(1)) : Array.from({ length: rng.range(0, 4) }, () => rng.pick(LONGS));
      if (t) t.shape = dims;
      return `shape=[${dims.join(',')}]`.slice(0, 80);
    }
    case 1:
      if (t) t.datatype = rng.chance(0.5) ? rng.pick(DATATYPES) : hostileString(rng);
      return `datatype=${t?.datatype}`;
    case 2:
      if (t) t.name = hostileString(rng);
      return `input name=${t?.name?.slice(0, 20)}`;
    case 3: {
      const raw = m.raw_input_contents ?? (m.raw_input_contents = []);
      const op = rng.int(4);
      if (op === 0 && raw.length) raw.pop();
      else if (op === 1) raw.push(rng.bytes(rng.range(0, 64)));
      else if (raw.length) {
        const i = rng.int(raw.length);
        raw[i] = mutateBytes(rng, Buffer.from(raw[i])).bytes;
      } else raw.push(Buffer.alloc(0));
      return `raw contents op ${op}`;
    }
    case 4: {
      if (!t) return 'no input';
      const c: inference.IInferTensorContents = {};
      switch (rng.int(6)) {
        case 0: c.int_contents = [2 ** 31 - 1, -(2 ** 31), 0, 255, 256]; break;
        case 1: c.uint_contents = [2 ** 32 - 1, 0]; break;
        case 2: c.int64_contents = [Long.MAX_VALUE, Long.MIN_VALUE]; break;
        case 3: c.fp32_contents = [NaN, Infinity, -0]; break;
        case 4: c.bytes_contents = [Buffer.alloc(0), rng.bytes(20)]; break;
        default: c.bool_contents = Array.from({ length: rng.pick([0, 1, 16, 129]) }, () => true);
      }
      t.contents = c;
      return `contents ${Object.keys(c)[0]}`;
    }
    case 5: {
      const where = rng.pick(['request', 'input', 'output']);
      const holder = where === 'request' ? m : where === 'input' ? t : m.outputs?.[0];
      if (!holder) return 'no holder';
      const k = rng.pick(PARAM_NAMES);
      holder.parameters = { ...holder.parameters, [k]: hostileParam(rng) };
      return `${where} parameter ${k}=${JSON.stringify(holder.parameters[k])}`.slice(0, 80);
    }
    case 6:
      m.model_name = rng.chance(0.5) ? rng.pick(['', 'no_such_model', 'my_model', 'simple', 'text_echo']) : hostileString(rng);
      return `model_name=${m.model_name?.slice(0, 20)}`;
    case 7:
      m.model_version = rng.pick(['1', '2', '-1', '0', 'x', '99999999999999999999', '', '1.0']);
      return `model_version=${m.model_version}`;
    case 8:
      m.outputs = rng.pick([[], [{ name: 'nope' }], [{ name: 'OUTPUT0' }, { name: 'OUTPUT0' }], [{ name: 'OUTPUT0', parameters: { classification: hostileParam(rng) } }], [{ name: '' }]]);
      return `outputs=${m.outputs.map((o) => o.name).join(',')}`;
    default:
      if (inputs.length && rng.chance(0.5)) inputs.push({ ...inputs[0] });
      else inputs.splice(0, 1);
      return `inputs ${inputs.length}`;
  }
}

/** Random protobuf fields: any number, any wire type, lengths that may run past the end. */
function fieldSoup(rng: Rng): Buffer {
  const parts: number[] = [];
  const n = rng.range(1, 12);
  for (let i = 0; i < n; i++) {
    const field = rng.pick([1, 2, 3, 4, 5, 6, 7, 8, 15, 16, 100, 536870911]);
    const wire = rng.pick([0, 1, 2, 2, 2, 3, 4, 5, 6, 7]);
    let key = field * 8 + wire;
    while (key > 0x7f) {
      parts.push((key & 0x7f) | 0x80);
      key = Math.floor(key / 128);
    }
    parts.push(key);
    const len = rng.pick([0, 1, 5, 127, 128, 300, 0x7fffffff]);
    let l = len;
    while (l > 0x7f) {
      parts.push((l & 0x7f) | 0x80);
      l = Math.floor(l / 128);
    }
    parts.push(l);
    for (let j = 0; j < Math.min(len, rng.range(0, 8)); j++) parts.push(rng.int(256));
  }
  return Buffer.from(parts);
}

export interface GrpcMessage {
  bytes: Buffer;
  what: string[];
}

/** A ModelInferRequest, mutated. */
export function inferMessage(rng: Rng): GrpcMessage {
  if (rng.chance(0.05)) return { bytes: fieldSoup(rng), what: ['field soup'] };
  const m = rng.pick(GRPC_SEEDS)();
  const what = [String(m.model_name)];
  const n = rng.range(rng.chance(0.1) ? 0 : 1, 3);
  for (let i = 0; i < n; i++) what.push(mutateRequest(rng, m));
  let bytes: Buffer = Buffer.from(inference.ModelInferRequest.encode(m).finish());
  if (rng.chance(0.25)) {
    const b = mutateBytes(rng, bytes);
    bytes = b.bytes;
    what.push(`bytes: ${b.what}`);
  }
  return { bytes, what };
}

/** Another method (inference metadata and repository calls, Predictor, Generator, Health) with a small, possibly broken request. */
export function otherMessage(rng: Rng): { path: string; message: GrpcMessage } {
  const I = inference;
  const name = rng.pick(['my_model', 'no_such', '', 'x'.repeat(300), 'text_echo']);
  const version = rng.pick(['', '1', '-1', 'x']);
  const svc = (m: string) => `/inference.GRPCInferenceService/${m}`;
  const [path, bytes] = rng.pick<[string, () => Uint8Array]>([
    [svc('ModelReady'), () => I.ModelReadyRequest.encode({ name, version }).finish()],
    [svc('ModelMetadata'), () => I.ModelMetadataRequest.encode({ name, version }).finish()],
    [svc('ModelConfig'), () => I.ModelConfigRequest.encode({ name, version }).finish()],
    [svc('ModelStatistics'), () => I.ModelStatisticsRequest.encode({ name, version }).finish()],
    [svc('RepositoryIndex'), () => I.RepositoryIndexRequest.encode({ ready: rng.chance(0.5) }).finish()],
    [svc('ServerMetadata'), () => new Uint8Array(0)],
    ['/Predictor/Predict', () => PredictRequest.encode({ features: Array.from({ length: rng.pick([0, 1, 127, 128, 129]) }, () => rng.pick([1, NaN, -Infinity, 1e38])) }).finish()],
    ['/duet.Generator/Generate', () => duet.GenerateRequest.encode({
      model: rng.pick(['text_echo', 'my_model', 'no_such', '']), prompt: rng.pick(['', 'hi', '\u0000', 'x'.repeat(5000)]),
      max_tokens: rng.pick([undefined, 0, 1, 2 ** 32 - 1]), temperature: rng.pick([undefined, -1, NaN, 0.5]), top_k: rng.pick([undefined, 0, 2 ** 32 - 1]),
      seed: rng.pick([undefined, Long.MAX_UNSIGNED_VALUE, Long.UZERO]), stop: rng.pick([[], [''], ['x'.repeat(1000)]]),
    }).finish()],
    ['/grpc.health.v1.Health/Check', () => g.health.v1.HealthCheckRequest.encode({ service: rng.pick(['', 'inference.GRPCInferenceService', 'nope', 'x'.repeat(1000)]) }).finish()],
  ]);
  let b: Buffer = Buffer.from(bytes());
  const what = [path, `name=${name.slice(0, 20)} version=${version}`];
  if (rng.chance(0.4)) {
    const m = mutateBytes(rng, b);
    b = m.bytes;
    what.push(m.what);
  }
  return { path, message: { bytes: b, what } };
}

export interface Framing {
  frames: Buffer[];
  headers: Record<string, string>;
  what: string;
  /** False when the framing itself is broken: the call may then end with any clean non-OK status. */
  wellFormed: boolean;
}

/** How the messages go on the wire: usually as they should, sometimes cut, mislabelled or badly compressed. */
export function framing(rng: Rng, payloads: Buffer[]): Framing {
  const ok = (): Framing => ({ frames: payloads.map((p) => frame(p)), headers: {}, what: '', wellFormed: true });
  if (!rng.chance(0.15)) return ok();
  const i = rng.int(payloads.length);
  const frames = payloads.map((p) => frame(p));
  const p = payloads[i];
  switch (rng.int(7)) {
    case 0:
      frames[i] = frame(mutateBytes(rng, gzipSync(p)).bytes, { compressed: true });
      return { frames, headers: { 'grpc-encoding': 'gzip' }, what: `frame ${i}: corrupt gzip`, wellFormed: false };
    case 1:
      frames[i] = frame(gzipSync(p), { compressed: true });
      return { frames, headers: { 'grpc-encoding': 'gzip' }, what: `frame ${i}: gzip`, wellFormed: true };
    case 2:
      frames[i] = frame(p, { compressed: true });
      return { frames, headers: rng.chance(0.5) ? {} : { 'grpc-encoding': rng.pick(['br', 'snappy', 'identity', '']) }, what: `frame ${i}: compressed flag, no usable encoding`, wellFormed: false };
    case 3:
      frames[i] = frame(p, { declaredLength: p.length + rng.pick([1, 100, 2 ** 31]) });
      return { frames: frames.slice(0, i + 1), headers: {}, what: `frame ${i}: length prefix longer than the message`, wellFormed: false };
    case 4:
      frames[i] = frames[i].subarray(0, rng.int(frames[i].length));
      return { frames: frames.slice(0, i + 1), headers: {}, what: `frame ${i}: cut at ${frames[i].length}`, wellFormed: false };
    case 5: {
      const flag = Buffer.from(frames[i]);
      flag[0] = rng.pick([2, 0x80, 0xff]);
      frames[i] = flag;
      return { frames, headers: {}, what: `frame ${i}: flag byte ${flag[0]}`, wellFormed: false };
    }
    default:
      return { frames: [...frames, rng.bytes(rng.range(1, 4))], headers: {}, what: 'trailing bytes', wellFormed: false };
  }
}
