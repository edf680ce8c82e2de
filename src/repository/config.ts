// Turns config.pbtxt / config.json text into a typed ModelConfig, fills Triton's
// defaults, and checks the config for mistakes Triton would reject.

import type {
  ConfigDataType,
  DynamicBatchingConfig,
  InstanceGroupConfig,
  ModelConfig,
  ModelInputConfig,
  ModelOutputConfig,
  QueuePolicyConfig,
  VersionPolicyConfig,
} from '../core/model-config.js';
import { checkNesting } from '../core/json-safe.js';
import { parseTextProto, type TextMessage, type TextValue } from './pbtxt.js';
import { JsonView, TextView, isObject, isView, last, setOwn, show, type View } from './config-views.js';

export type KServeDataType =
  | 'BOOL' | 'UINT8' | 'UINT16' | 'UINT32' | 'UINT64'
  | 'INT8' | 'INT16' | 'INT32' | 'INT64'
  | 'FP16' | 'FP32' | 'FP64' | 'BYTES';

// Null prototypes so lookups with wire strings like "constructor" come back undefined.
function frozenTable<K extends string, V>(entries: Array<[K, V]>): Readonly<Record<K, V>> {
  const t = Object.create(null) as Record<K, V>;
  for (const [k, v] of entries) t[k] = v;
  return Object.freeze(t);
}

const TYPE_PAIRS: Array<[ConfigDataType, KServeDataType]> = [
  ['TYPE_BOOL', 'BOOL'], ['TYPE_UINT8', 'UINT8'], ['TYPE_UINT16', 'UINT16'],
  ['TYPE_UINT32', 'UINT32'], ['TYPE_UINT64', 'UINT64'], ['TYPE_INT8', 'INT8'],
  ['TYPE_INT16', 'INT16'], ['TYPE_INT32', 'INT32'], ['TYPE_INT64', 'INT64'],
  ['TYPE_FP16', 'FP16'], ['TYPE_FP32', 'FP32'], ['TYPE_FP64', 'FP64'], ['TYPE_STRING', 'BYTES'],
];

export const CONFIG_TO_KSERVE: Readonly<Record<ConfigDataType, KServeDataType>> = frozenTable(TYPE_PAIRS);

/** Undefined for anything that is not a KServe datatype this server supports. */
export const KSERVE_TO_CONFIG: Readonly<Record<string, ConfigDataType | undefined>> = frozenTable(
  TYPE_PAIRS.map(([c, k]): [string, ConfigDataType] => [k, c]),
);

// Enum names indexed by their proto number; protobuf also accepts the number itself.
// null marks numbers that exist in Triton's proto but that Duet does not accept.
const DATA_TYPES: readonly (ConfigDataType | null)[] = [
  null, 'TYPE_BOOL', 'TYPE_UINT8', 'TYPE_UINT16', 'TYPE_UINT32', 'TYPE_UINT64', 'TYPE_INT8',
  'TYPE_INT16', 'TYPE_INT32', 'TYPE_INT64', 'TYPE_FP16', 'TYPE_FP32', 'TYPE_FP64', 'TYPE_STRING',
];
const UNSUPPORTED_DATA_TYPES = new Set(['TYPE_INVALID', 'TYPE_BF16']);
export const KINDS = ['KIND_AUTO', 'KIND_GPU', 'KIND_CPU', 'KIND_MODEL'] as const;
export const FORMATS = ['FORMAT_NONE', 'FORMAT_NCHW', 'FORMAT_NHWC'] as const;
const TIMEOUT_ACTIONS = ['REJECT', 'DELAY'] as const;

type IntKind = 'int32' | 'uint32' | 'int64' | 'uint64';
const INT_RANGE: Record<IntKind, [number, number]> = {
  int32: [-(2 ** 31), 2 ** 31 - 1],
  uint32: [0, 2 ** 32 - 1],
  // 64-bit fields are held as JS numbers, so only the exactly representable part is allowed.
  int64: [-Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER],
  uint64: [0, Number.MAX_SAFE_INTEGER],
};

// --- Conversion ---

const TOP_FIELDS = new Set([
  'name', 'platform', 'backend', 'version_policy', 'max_batch_size', 'input', 'output',
  'instance_group', 'dynamic_batching', 'parameters', 'model_transaction_policy', 'default_model_filename',
]);
const INPUT_FIELDS = new Set([
  'name', 'data_type', 'format', 'dims', 'reshape', 'is_shape_tensor', 'allow_ragged_batch', 'optional',
]);
const OUTPUT_FIELDS = new Set(['name', 'data_type', 'dims', 'reshape', 'label_filename', 'is_shape_tensor']);
const GROUP_FIELDS = new Set(['name', 'kind', 'count', 'gpus']);
const BATCHING_FIELDS = new Set([
  'preferred_batch_size', 'max_queue_delay_microseconds', 'preserve_ordering', 'priority_levels',
  'default_priority_level', 'default_queue_policy', 'priority_queue_policy',
]);
const QUEUE_FIELDS = new Set(['timeout_action', 'default_timeout_microseconds', 'allow_timeout_override', 'max_queue_size']);

class Converter {
  constructor(private readonly file: string) {}

  fail(where: string, msg: string): never {
    throw new Error(`${this.file}: ${where ? `${where}: ` : ''}${msg}`);
  }

  private one(v: View, field: string): unknown {
    return last(v.all(field));
  }

  str(v: View, field: string, where: string): string | undefined {
    const x = this.one(v, field);
    if (x === undefined || typeof x === 'string') return x;
    this.fail(where, `${field}: expected a string, found ${show(x)}`);
  }

  toInt(x: unknown, field: string, where: string, kind: IntKind): number {
    let n: number;
    if (typeof x === 'number') {
      n = x;
    } else if (typeof x === 'string' && /^\s*[+-]?[0-9]+\s*$/.test(x)) {
      // JSON writes int64 as strings; pbtxt keeps integers past 2^53 as strings too.
      const big = BigInt(x.trim());
      if (big > BigInt(Number.MAX_SAFE_INTEGER) || big < -BigInt(Number.MAX_SAFE_INTEGER)) {
        this.fail(where, `${field}: ${x.trim()} is too large (limit is ${Number.MAX_SAFE_INTEGER})`);
      }
      n = Number(big);
    } else {
      this.fail(where, `${field}: expected an integer, found ${show(x)}`);
    }
    if (!Number.isInteger(n)) this.fail(where, `${field}: expected an integer, found ${show(x)}`);
    const [lo, hi] = INT_RANGE[kind];
    if (n < lo || n > hi) {
      this.fail(where, lo === 0 && n < 0
        ? `${field}: expected a non-negative integer, found ${n}`
        : `${field}: ${n} is out of range for ${kind}`);
    }
    return n;
  }

  int(v: View, field: string, where: string, kind: IntKind): number | undefined {
    const x = this.one(v, field);
    return x === undefined ? undefined : this.toInt(x, field, where, kind);
  }

  ints(v: View, field: string, where: string, kind: IntKind): number[] {
    return v.all(field).map((x) => this.toInt(x, field, where, kind));
  }

  dims(v: View, field: string, where: string): number[] {
    const out = this.ints(v, field, where, 'int64');
    const bad = out.find((d) => d < -1);
    if (bad !== undefined) this.fail(where, `${field} must be integers >= -1, found ${bad}`);
    return out;
  }

  bool(v: View, field: string, where: string): boolean | undefined {
    const x = this.one(v, field);
    if (x === undefined || typeof x === 'boolean') return x;
    // Text format accepts 0 and 1 for bools.
    if (x === 0 || x === 1) return x === 1;
    this.fail(where, `${field}: expected true or false, found ${show(x)}`);
  }

  enumeration<T extends string>(v: View, field: string, where: string, names: readonly (T | null)[]): T | undefined {
    const x = this.one(v, field);
    if (x === undefined) return undefined;
    if (typeof x === 'string' && (names as readonly (string | null)[]).includes(x)) return x as T;
    if (typeof x === 'number' && Number.isInteger(x) && names[x]) return names[x];
    if (field === 'data_type' && typeof x === 'string' && UNSUPPORTED_DATA_TYPES.has(x)) {
      this.fail(where, `unsupported data_type '${x}'`);
    }
    this.fail(where, `unknown ${field} ${typeof x === 'string' ? `'${x}'` : show(x)}`);
  }

  message(v: View, field: string, where: string): View | undefined {
    const x = this.one(v, field);
    if (x === undefined || isView(x)) return x;
    this.fail(where, `${field}: expected a message { ... }, found ${show(x)}`);
  }

  messages(v: View, field: string, where: string): View[] {
    return v.all(field).map((x) => {
      if (!isView(x)) this.fail(where, `${field}: expected a message { ... }, found ${show(x)}`);
      return x;
    });
  }

  /** Copies fields this module does not model, so nothing the user wrote is dropped. */
  private keepUnknown(v: View, known: Set<string>, out: Record<string, unknown>): void {
    for (const k of v.keys()) {
      if (!known.has(v.canonical(k)) && v.has(k)) setOwn(out, k, v.plain(k));
    }
  }

  private reshape(v: View, where: string): { shape: number[] } | undefined {
    const r = this.message(v, 'reshape', where);
    return r && { shape: this.dims(r, 'shape', `${where}: reshape`) };
  }

  private ioName(v: View, kind: string, index: number): [string | undefined, string] {
    const name = this.str(v, 'name', `${kind} #${index + 1}`);
    return [name, name === undefined ? `${kind} #${index + 1}` : `${kind} '${name}'`];
  }

  input(v: View, index: number): ModelInputConfig {
    const [name, where] = this.ioName(v, 'input', index);
    const out: Record<string, unknown> = {};
    if (name !== undefined) out.name = name;
    const dt = this.enumeration(v, 'data_type', where, DATA_TYPES);
    if (dt !== undefined) out.data_type = dt;
    const format = this.enumeration(v, 'format', where, FORMATS);
    if (format !== undefined) out.format = format;
    out.dims = this.dims(v, 'dims', where);
    const reshape = this.reshape(v, where);
    if (reshape) out.reshape = reshape;
    for (const f of ['is_shape_tensor', 'allow_ragged_batch', 'optional']) {
      const b = this.bool(v, f, where);
      if (b !== undefined) out[f] = b;
    }
    this.keepUnknown(v, INPUT_FIELDS, out);
    // data_type may still be missing here; validateModelConfig reports that after auto-complete.
    return out as unknown as ModelInputConfig;
  }

  output(v: View, index: number): ModelOutputConfig {
    const [name, where] = this.ioName(v, 'output', index);
    const out: Record<string, unknown> = {};
    if (name !== undefined) out.name = name;
    const dt = this.enumeration(v, 'data_type', where, DATA_TYPES);
    if (dt !== undefined) out.data_type = dt;
    out.dims = this.dims(v, 'dims', where);
    const reshape = this.reshape(v, where);
    if (reshape) out.reshape = reshape;
    const label = this.str(v, 'label_filename', where);
    if (label !== undefined) out.label_filename = label;
    const shapeTensor = this.bool(v, 'is_shape_tensor', where);
    if (shapeTensor !== undefined) out.is_shape_tensor = shapeTensor;
    this.keepUnknown(v, OUTPUT_FIELDS, out);
    return out as unknown as ModelOutputConfig;
  }

  instanceGroup(v: View, index: number): InstanceGroupConfig {
    const where = `instance_group[${index}]`;
    const out: Record<string, unknown> = {};
    const name = this.str(v, 'name', where);
    if (name !== undefined) out.name = name;
    const kind = this.enumeration(v, 'kind', where, KINDS);
    if (kind !== undefined) out.kind = kind;
    const count = this.int(v, 'count', where, 'int32');
    if (count !== undefined) out.count = count;
    if (v.has('gpus')) out.gpus = this.ints(v, 'gpus', where, 'int32');
    this.keepUnknown(v, GROUP_FIELDS, out);
    // kind and count may be missing; applyDefaults fills them.
    return out as unknown as InstanceGroupConfig;
  }

  queuePolicy(v: View, where: string): QueuePolicyConfig {
    const out: QueuePolicyConfig = {};
    const action = this.enumeration(v, 'timeout_action', where, TIMEOUT_ACTIONS);
    if (action !== undefined) out.timeout_action = action;
    const timeout = this.int(v, 'default_timeout_microseconds', where, 'uint64');
    if (timeout !== undefined) out.default_timeout_microseconds = timeout;
    const override = this.bool(v, 'allow_timeout_override', where);
    if (override !== undefined) out.allow_timeout_override = override;
    const size = this.int(v, 'max_queue_size', where, 'uint32');
    if (size !== undefined) out.max_queue_size = size;
    this.keepUnknown(v, QUEUE_FIELDS, out as Record<string, unknown>);
    return out;
  }

  dynamicBatching(v: View): DynamicBatchingConfig {
    const where = 'dynamic_batching';
    const out: DynamicBatchingConfig = {};
    if (v.has('preferred_batch_size')) out.preferred_batch_size = this.ints(v, 'preferred_batch_size', where, 'int32');
    const delay = this.int(v, 'max_queue_delay_microseconds', where, 'uint64');
    if (delay !== undefined) out.max_queue_delay_microseconds = delay;
    const ordering = this.bool(v, 'preserve_ordering', where);
    if (ordering !== undefined) out.preserve_ordering = ordering;
    const levels = this.int(v, 'priority_levels', where, 'uint64');
    if (levels !== undefined) out.priority_levels = levels;
    const defLevel = this.int(v, 'default_priority_level', where, 'uint64');
    if (defLevel !== undefined) out.default_priority_level = defLevel;
    const dq = this.message(v, 'default_queue_policy', where);
    if (dq) out.default_queue_policy = this.queuePolicy(dq, `${where}: default_queue_policy`);
    if (v.has('priority_queue_policy')) {
      const pwhere = `${where}: priority_queue_policy`;
      const policies: Record<string, QueuePolicyConfig> = {};
      for (const [k, val] of v.mapEntries('priority_queue_policy', (m) => this.fail(pwhere, m))) {
        const level = String(this.toInt(k, 'key', pwhere, 'uint64'));
        if (val !== undefined && !isView(val)) this.fail(pwhere, `value for level ${level}: expected a message { ... }, found ${show(val)}`);
        setOwn(policies, level, val ? this.queuePolicy(val, `${pwhere}[${level}]`) : {});
      }
      out.priority_queue_policy = policies;
    }
    this.keepUnknown(v, BATCHING_FIELDS, out as Record<string, unknown>);
    return out;
  }

  versionPolicy(v: View): VersionPolicyConfig {
    const where = 'version_policy';
    const set = (['latest', 'all', 'specific'] as const).filter((k) => v.has(k));
    if (set.length !== 1) {
      this.fail(where, set.length === 0
        ? 'must set one of latest, all, specific'
        : `set only one of latest, all, specific (found ${set.join(' and ')})`);
    }
    const policy = this.message(v, set[0]!, where)!;
    switch (set[0]!) {
      case 'latest':
        // Proto default is 0, which validateModelConfig rejects, as Triton loads nothing then.
        return { latest: { num_versions: this.int(policy, 'num_versions', `${where}: latest`, 'uint32') ?? 0 } };
      case 'all':
        return { all: {} };
      case 'specific':
        return { specific: { versions: this.ints(policy, 'versions', `${where}: specific`, 'int64') } };
    }
  }

  parameters(v: View): Record<string, { string_value: string }> {
    const where = 'parameters';
    const out: Record<string, { string_value: string }> = {};
    for (const [k, val] of v.mapEntries('parameters', (m) => this.fail(where, m))) {
      if (typeof k !== 'string') this.fail(where, `key: expected a string, found ${show(k)}`);
      if (val !== undefined && !isView(val)) {
        this.fail(where, `value for '${k}': expected a message { string_value: ... }, found ${show(val)}`);
      }
      setOwn(out, k, { string_value: (val && this.str(val, 'string_value', `${where}['${k}']`)) ?? '' });
    }
    return out;
  }

  model(v: View): ModelConfig {
    const out: Record<string, unknown> = {};
    for (const f of ['name', 'platform', 'backend']) {
      const s = this.str(v, f, '');
      if (s !== undefined) out[f] = s;
    }
    const vp = this.message(v, 'version_policy', '');
    if (vp) out.version_policy = this.versionPolicy(vp);
    const mbs = this.int(v, 'max_batch_size', '', 'int32');
    if (mbs !== undefined) out.max_batch_size = mbs;
    out.input = this.messages(v, 'input', '').map((m, i) => this.input(m, i));
    out.output = this.messages(v, 'output', '').map((m, i) => this.output(m, i));
    const db = this.message(v, 'dynamic_batching', '');
    if (db) out.dynamic_batching = this.dynamicBatching(db);
    if (v.has('instance_group')) {
      out.instance_group = this.messages(v, 'instance_group', '').map((m, i) => this.instanceGroup(m, i));
    }
    const dmf = this.str(v, 'default_model_filename', '');
    if (dmf !== undefined) out.default_model_filename = dmf;
    if (v.has('parameters')) out.parameters = this.parameters(v);
    const mtp = this.message(v, 'model_transaction_policy', '');
    if (mtp) {
      const policy: Record<string, unknown> = {
        decoupled: this.bool(mtp, 'decoupled', 'model_transaction_policy') ?? false,
      };
      this.keepUnknown(mtp, new Set(['decoupled']), policy);
      out.model_transaction_policy = policy;
    }
    this.keepUnknown(v, TOP_FIELDS, out);
    return out as ModelConfig;
  }
}

/**
 * Parses a model config into ModelConfig shape. Fields the user did not write stay
 * absent (name, max_batch_size, instance_group, version_policy, ...) so auto-complete
 * can tell them apart; call applyDefaults before use. input, output and dims are
 * always arrays, as in protobuf an absent repeated field is an empty one.
 */
export function parseModelConfig(text: string, format: 'pbtxt' | 'json', fileName: string): ModelConfig {
  const conv: Converter = new Converter(fileName);
  if (format === 'pbtxt') return conv.model(new TextView(parseTextProto(text, fileName)));
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (e) {
    conv.fail('', `invalid JSON: ${(e as Error).message}`);
  }
  if (!isObject(data)) conv.fail('', `expected a JSON object at the top level, found ${show(data)}`);
  // Unknown fields are kept and later copied and serialized, which recurses: bound the depth first.
  try {
    checkNesting(data, 'the config', 32);
  } catch (e) {
    conv.fail('', (e as Error).message);
  }
  return conv.model(new JsonView(data));
}
