// One broken request sent over both protocols: REST with the binary extension and gRPC with
// raw_input_contents carry the same model, shapes, datatypes, bytes and parameters, so the server
// must answer both the same way: the same code (by the error table) and the same message.

import Long from 'long';
import { DATATYPES } from '../../src/core/datatypes.js';
import { inference } from '../../src/generated/proto.js';
import { mutateBytes } from './mutate.js';
import type { Rng } from './rng.js';

type Scalar = number | bigint | string | boolean;
interface Tensor { name: string; datatype: string; shape: (number | bigint)[]; data: Buffer; parameters?: Record<string, Scalar> }
export interface NeutralRequest {
  model: string;
  version?: string;
  inputs: Tensor[];
  outputs?: { name: string; parameters?: Record<string, Scalar> }[];
  parameters: Record<string, Scalar>;
}

const f32 = (n: number) => Buffer.from(new Float32Array(n).fill(1).buffer);
const i32 = (n: number) => Buffer.from(new Int32Array(n).fill(3).buffer);
const strings = (els: string[]) => Buffer.concat(els.flatMap((s) => {
  const h = Buffer.alloc(4);
  h.writeUInt32LE(Buffer.byteLength(s));
  return [h, Buffer.from(s)];
}));

const SEEDS: (() => NeutralRequest)[] = [
  () => ({ model: 'my_model', inputs: [{ name: 'INPUT0', datatype: 'FP32', shape: [1, 128], data: f32(128) }], outputs: [{ name: 'OUTPUT0' }], parameters: {} }),
  () => ({ model: 'simple', inputs: ['INPUT0', 'INPUT1'].map((name) => ({ name, datatype: 'INT32', shape: [1, 16], data: i32(16) })), parameters: {} }),
  () => ({ model: 'simple_string', inputs: ['INPUT0', 'INPUT1'].map((name) => ({ name, datatype: 'BYTES', shape: [1, 16], data: strings(Array.from({ length: 16 }, (_, i) => String(i))) })), parameters: {} }),
  () => ({ model: 'identity_int64', inputs: [{ name: 'INPUT0', datatype: 'INT64', shape: [1, 2], data: Buffer.alloc(16) }], parameters: {} }),
  () => ({ model: 'identity_bytes', inputs: [{ name: 'INPUT0', datatype: 'BYTES', shape: [1, 1], data: strings(['x']) }], parameters: {} }),
  () => ({ model: 'identity_fp16', inputs: [{ name: 'INPUT0', datatype: 'FP16', shape: [2], data: Buffer.alloc(4) }], parameters: {} }),
];

const DIMS: (number | bigint)[] = [-1, -7, 0, 1, 2, 8, 9, 16, 127, 128, 2 ** 31, 2 ** 32, 2 ** 53 - 1, 2 ** 53, -(2 ** 53), 2n ** 60n, 2n ** 63n - 1n, -(2n ** 63n)];
const PARAMS = ['priority', 'timeout', 'classification', 'sequence_id', 'x'];
const SCALARS: Scalar[] = [true, false, 0, 1, -1, 3, 1.5, -0.5, 2 ** 31, 2 ** 53 - 1, 2n ** 63n - 1n, 2n ** 64n - 1n, -(2n ** 63n), '', '1', 'abc', '-5'];

export function parityRequest(rng: Rng): { req: NeutralRequest; what: string[] } {
  const req = rng.pick(SEEDS)();
  const what = [req.model];
  const n = rng.range(1, 2);
  for (let i = 0; i < n; i++) {
    const t = req.inputs.length ? rng.pick(req.inputs) : undefined;
    switch (rng.int(9)) {
      case 0:
        if (t) t.shape = Array.from({ length: rng.range(0, 3) }, () => rng.pick(DIMS));
        what.push(`shape [${t?.shape.join(',')}]`);
        break;
      case 1:
        if (t) t.datatype = rng.chance(0.7) ? rng.pick(DATATYPES) : rng.pick(['fp32', 'FP8', '', 'STRING']);
        what.push(`datatype ${t?.datatype}`);
        break;
      case 2:
        if (t) {
          const m = mutateBytes(rng, t.data);
          t.data = m.bytes;
          what.push(`data ${m.what}`);
        }
        break;
      case 3:
        if (t) t.name = rng.pick(['INPUT9', 'input0', 'INPUT1', 'OUTPUT0', 'é']);
        what.push(`name ${t?.name}`);
        break;
      case 4:
        if (rng.chance(0.5) && t) req.inputs.push({ ...t });
        else req.inputs.pop();
        what.push(`${req.inputs.length} inputs`);
        break;
      case 5: {
        const k = rng.pick(PARAMS);
        let v = rng.pick(SCALARS);
        // A valid queue timeout of a few µs times out or not depending on whether the instance is busy at that
        // moment: not a parity question. Invalid values (negative, strings, bools) still are.
        if (k === 'timeout' && (typeof v === 'number' || typeof v === 'bigint') && v > 0 && v < 1_000_000) v = 2 ** 31;
        const holder = rng.chance(0.6) ? req.parameters : (req.outputs?.[0] ?? t);
        if (holder) {
          if (holder === req.parameters) req.parameters[k] = v;
          else (holder as { parameters?: Record<string, Scalar> }).parameters = { [k]: v };
        }
        what.push(`parameter ${k}=${String(v)}`);
        break;
      }
      case 6:
        req.outputs = rng.pick([[{ name: 'OUTPUT0' }, { name: 'OUTPUT0' }], [{ name: 'nope' }], [{ name: 'OUTPUT0', parameters: { classification: rng.pick(SCALARS) } }]]);
        what.push(`outputs ${JSON.stringify(req.outputs, (_k, v) => (typeof v === 'bigint' ? String(v) : v))}`);
        break;
      case 7:
        req.model = rng.pick(['no_such_model', 'text_echo', 'identity_bool', 'my model']);
        what.push(`model ${req.model}`);
        break;
      default:
        req.version = rng.pick(['2', '0', '-1', 'x', '99999999999999999999']);
        what.push(`version ${req.version}`);
    }
  }
  return { req, what };
}

const jsonScalar = (v: Scalar) => (typeof v === 'bigint' ? v.toString() : JSON.stringify(v));
const jsonParams = (p: Record<string, Scalar>) => `{${Object.entries(p).map(([k, v]) => `${JSON.stringify(k)}:${jsonScalar(v)}`).join(',')}}`;

/** The request as a binary-extension REST call. */
export function toRest(r: NeutralRequest): { path: string; headers: Record<string, string>; body: Buffer } {
  const inputs = r.inputs.map((t) => `{"name":${JSON.stringify(t.name)},"datatype":${JSON.stringify(t.datatype)},"shape":[${t.shape.join(',')}],` +
    `"parameters":${jsonParams({ ...t.parameters, binary_data_size: t.data.length })}}`);
  let json = `{"inputs":[${inputs.join(',')}],"parameters":${jsonParams(r.parameters)}`;
  if (r.outputs) json += `,"outputs":[${r.outputs.map((o) => `{"name":${JSON.stringify(o.name)},"parameters":${jsonParams(o.parameters ?? {})}}`).join(',')}]`;
  const head = Buffer.from(json + '}');
  const version = r.version ? `/versions/${encodeURIComponent(r.version)}` : '';
  return {
    path: `/v2/models/${encodeURIComponent(r.model)}${version}/infer`,
    headers: { 'content-type': 'application/octet-stream', 'inference-header-content-length': String(head.length) },
    body: Buffer.concat([head, ...r.inputs.map((t) => t.data)]),
  };
}

function protoParam(v: Scalar): inference.IInferParameter {
  if (typeof v === 'boolean') return { bool_param: v };
  if (typeof v === 'string') return { string_param: v };
  if (typeof v === 'bigint') return v < 0n || v < 2n ** 63n ? { int64_param: Long.fromString(v.toString()) } : { uint64_param: Long.fromString(v.toString(), true) };
  return Number.isInteger(v) ? { int64_param: Long.fromNumber(v) } : { double_param: v };
}
const protoParams = (p: Record<string, Scalar> | undefined) => Object.fromEntries(Object.entries(p ?? {}).map(([k, v]) => [k, protoParam(v)]));

/** The request as a ModelInferRequest with raw_input_contents. */
export function toProto(r: NeutralRequest): Buffer {
  return Buffer.from(inference.ModelInferRequest.encode({
    model_name: r.model,
    model_version: r.version ?? '',
    inputs: r.inputs.map((t) => ({ name: t.name, datatype: t.datatype, shape: t.shape.map((d) => Long.fromString(d.toString())), parameters: protoParams(t.parameters) })),
    outputs: r.outputs?.map((o) => ({ name: o.name, parameters: protoParams(o.parameters) })) ?? [],
    parameters: protoParams(r.parameters),
    raw_input_contents: r.inputs.map((t) => t.data),
  }).finish());
}
