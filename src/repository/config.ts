// Turns config.pbtxt / config.json text into a typed ModelConfig, fills Triton's
// defaults, and checks the config for mistakes Triton would reject.

import { availableParallelism } from 'node:os';
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
const KINDS = ['KIND_AUTO', 'KIND_GPU', 'KIND_CPU', 'KIND_MODEL'] as const;
const FORMATS = ['FORMAT_NONE', 'FORMAT_NCHW', 'FORMAT_NHWC'] as const;
const TIMEOUT_ACTIONS = ['REJECT', 'DELAY'] as const;

type IntKind = 'int32' | 'uint32' | 'int64' | 'uint64';
const INT_RANGE: Record<IntKind, [number, number]> = {
  int32: [-(2 ** 31), 2 ** 31 - 1],
  uint32: [0, 2 ** 32 - 1],
  // 64-bit fields are held as JS numbers, so only the exactly representable part is allowed.
  int64: [-Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER],
  uint64: [0, Number.MAX_SAFE_INTEGER],
};

// --- Source views: the same converter reads text-format messages and JSON objects ---

interface View {
  /** Field names as written. */
  keys(): string[];
  /** A written key in the proto's snake_case spelling. */
  canonical(key: string): string;
  has(field: string): boolean;
  /** Every value of a field (a View for nested messages). */
  all(field: string): unknown[];
  /** Map fields: pbtxt writes repeated {key value} entries, JSON writes an object. */
  mapEntries(field: string, fail: (msg: string) => never): Array<[unknown, unknown]>;
  /** The field as plain JSON-like data, for fields this module does not model. */
  plain(key: string): unknown;
}

function isView(x: unknown): x is View {
  return x instanceof TextView || x instanceof JsonView;
}

function setOwn(obj: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
}

function plainText(values: TextValue[]): unknown {
  const one = (v: TextValue): unknown => {
    if (typeof v !== 'object') return v;
    const o: Record<string, unknown> = {};
    for (const k of Object.keys(v)) setOwn(o, k, plainText(v[k]!));
    return o;
  };
  // Without a schema, repetition is the only sign that a field is a list.
  return values.length === 1 ? one(values[0]!) : values.map(one);
}

class TextView implements View {
  constructor(private readonly m: TextMessage) {}
  keys(): string[] {
    return Object.keys(this.m);
  }
  canonical(key: string): string {
    return key;
  }
  has(field: string): boolean {
    return Object.hasOwn(this.m, field);
  }
  all(field: string): unknown[] {
    if (!this.has(field)) return [];
    return this.m[field]!.map((v) => (typeof v === 'object' ? new TextView(v) : v));
  }
  mapEntries(field: string, fail: (msg: string) => never): Array<[unknown, unknown]> {
    return this.all(field).map((e) => {
      if (!(e instanceof TextView)) fail(`expected a map entry { key: ... value: ... }, found ${show(e)}`);
      for (const k of e.keys()) {
        if (k !== 'key' && k !== 'value') fail(`unexpected field '${k}' in map entry (only key and value are allowed)`);
      }
      const key = last(e.all('key'));
      if (key === undefined) fail('map entry has no key');
      return [key, last(e.all('value'))];
    });
  }
  plain(key: string): unknown {
    return plainText(this.m[key] ?? []);
  }
}

function isObject(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

function camel(field: string): string {
  return field.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}

class JsonView implements View {
  constructor(private readonly o: Record<string, unknown>) {}
  private lookup(field: string): unknown {
    if (Object.hasOwn(this.o, field)) return this.o[field];
    // Protobuf's JSON parser also takes lowerCamelCase names.
    const c = camel(field);
    return c !== field && Object.hasOwn(this.o, c) ? this.o[c] : undefined;
  }
  keys(): string[] {
    return Object.keys(this.o);
  }
  canonical(key: string): string {
    return key.replace(/[A-Z]/g, (c) => '_' + c.toLowerCase());
  }
  has(field: string): boolean {
    const v = this.lookup(field);
    return v !== undefined && v !== null;
  }
  all(field: string): unknown[] {
    const v = this.lookup(field);
    if (v === undefined || v === null) return [];
    const items = Array.isArray(v) ? v.filter((x) => x !== null) : [v];
    return items.map((x) => (isObject(x) ? new JsonView(x) : x));
  }
  mapEntries(field: string, fail: (msg: string) => never): Array<[unknown, unknown]> {
    const v = this.lookup(field);
    if (v === undefined || v === null) return [];
    if (!isObject(v)) fail(`expected an object mapping keys to values, found ${show(v)}`);
    return Object.entries(v).map(([k, x]) => [k, isObject(x) ? new JsonView(x) : x]);
  }
  plain(key: string): unknown {
    return this.o[key];
  }
}

function last<T>(a: T[]): T | undefined {
  return a.length > 0 ? a[a.length - 1] : undefined;
}

function show(x: unknown): string {
  if (typeof x === 'string') return `'${x}'`;
  if (isView(x)) return 'a message';
  if (typeof x === 'number' || typeof x === 'boolean') return String(x);
  const text = JSON.stringify(x) ?? String(x);
  return text.length > 100 ? `${text.slice(0, 100)}…` : text;
}

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

// Key order of model_config.proto, so /config output reads like Triton's.
const TOP_ORDER = [
  'name', 'platform', 'backend', 'version_policy', 'max_batch_size', 'input', 'output',
  'dynamic_batching', 'instance_group', 'default_model_filename', 'parameters', 'model_transaction_policy',
];

function ordered<T extends object>(obj: T, first: readonly string[]): T {
  const out: Record<string, unknown> = {};
  const src = obj as Record<string, unknown>;
  for (const k of first) if (Object.hasOwn(src, k)) setOwn(out, k, src[k]);
  for (const k of Object.keys(src)) if (!Object.hasOwn(out, k)) setOwn(out, k, src[k]);
  return out as T;
}

/**
 * Instances when a config does not say: on CPU, half the cores (at least one), since each instance
 * runs its own thread and the event loop needs a core for the protocols; one per GPU group.
 */
export function defaultInstanceCount(kind: string): number {
  return kind === 'KIND_CPU' || kind === 'KIND_AUTO' ? Math.max(1, Math.floor(availableParallelism() / 2)) : 1;
}

/**
 * Returns a copy with Triton's defaults filled in; `cfg` itself is not changed. A default instance
 * count stays within `maxInstances` (the server's cap), so a model that names no count still loads.
 */
export function applyDefaults(cfg: ModelConfig, modelName: string, maxInstances = Infinity): ModelConfig {
  const count = (kind: string) => Math.max(1, Math.min(defaultInstanceCount(kind), maxInstances));
  const out = structuredClone(cfg);
  if (!out.name) out.name = modelName;
  out.version_policy ??= { latest: { num_versions: 1 } };
  out.max_batch_size ??= 0;
  // Triton reports FORMAT_NONE for inputs that set no format.
  out.input = (out.input ?? []).map((input) =>
    ordered({ ...input, format: input.format ?? 'FORMAT_NONE', dims: input.dims ?? [] }, ['name', 'data_type', 'format', 'dims']));
  out.output = (out.output ?? []).map((output) => ({ ...output, dims: output.dims ?? [] }));
  if (!out.instance_group || out.instance_group.length === 0) {
    out.instance_group = [{ kind: 'KIND_CPU', count: count('KIND_CPU') }];
  } else {
    out.instance_group = out.instance_group.map((g) => ({ ...g, kind: g.kind ?? 'KIND_CPU', count: g.count ?? count(g.kind ?? 'KIND_CPU') }));
  }
  return ordered(out, TOP_ORDER);
}

function isDim(d: unknown): d is number {
  return Number.isInteger(d) && (d as number) >= -1;
}

function elementCount(shape: number[]): number | undefined {
  return shape.includes(-1) ? undefined : shape.reduce((a, b) => a * b, 1);
}

function checkIo(fail: (msg: string) => never, kind: 'input' | 'output', list: unknown): void {
  if (!Array.isArray(list) || list.length === 0) {
    fail(`no ${kind}s (the config must list at least one ${kind})`);
  }
  const seen = new Set<string>();
  list.forEach((io: ModelInputConfig | ModelOutputConfig, i) => {
    if (typeof io.name !== 'string' || io.name === '') fail(`${kind} #${i + 1} has no name`);
    const where = `${kind} '${io.name}'`;
    if (seen.has(io.name)) fail(`duplicate ${kind} name '${io.name}'`);
    seen.add(io.name);
    if (io.data_type === undefined) fail(`${where}: missing data_type`);
    if (!Object.hasOwn(CONFIG_TO_KSERVE, io.data_type)) fail(`${where}: unknown data_type '${io.data_type}'`);
    if (!Array.isArray(io.dims) || !io.dims.every(isDim)) {
      fail(`${where}: dims must be integers >= -1, found ${JSON.stringify(io.dims)}`);
    }
    if ('format' in io && io.format !== undefined && !(FORMATS as readonly string[]).includes(io.format)) {
      fail(`${where}: unknown format '${io.format}'`);
    }
    if (io.reshape !== undefined) {
      const shape = io.reshape.shape;
      if (!Array.isArray(shape) || !shape.every(isDim)) {
        fail(`${where}: reshape shape must be integers >= -1, found ${JSON.stringify(shape)}`);
      }
      const from = elementCount(io.dims);
      const to = elementCount(shape);
      if (from !== undefined && to !== undefined && from !== to) {
        fail(`${where}: reshape shape [${shape.join(',')}] has ${to} elements but dims [${io.dims.join(',')}] has ${from}`);
      }
    }
  });
}

/**
 * Throws on the first problem found. Expects a config that went through
 * applyDefaults and auto-complete; it does not compare the name to the directory.
 */
export function validateModelConfig(cfg: ModelConfig): void {
  const fail: (msg: string) => never = (msg) => {
    throw new Error(`model '${cfg.name}': ${msg}`);
  };
  const mbs = cfg.max_batch_size;
  if (!Number.isInteger(mbs) || mbs < 0) fail(`max_batch_size must be an integer >= 0, found ${mbs}`);
  checkIo(fail, 'input', cfg.input);
  checkIo(fail, 'output', cfg.output);

  cfg.instance_group?.forEach((g, i) => {
    if (!(KINDS as readonly string[]).includes(g.kind)) fail(`instance_group[${i}]: unknown kind '${g.kind}'`);
    if (!Number.isInteger(g.count) || g.count < 1) fail(`instance_group[${i}]: count must be >= 1, found ${g.count}`);
  });

  const db = cfg.dynamic_batching;
  if (db) {
    if (mbs === 0) fail('dynamic_batching needs max_batch_size > 0 (the model does not batch)');
    for (const size of db.preferred_batch_size ?? []) {
      if (size < 1) fail(`dynamic_batching: preferred_batch_size ${size} must be >= 1`);
      if (size > mbs) fail(`dynamic_batching: preferred_batch_size ${size} is larger than max_batch_size ${mbs}`);
    }
    const levels = db.priority_levels ?? 0;
    if (levels > 0) {
      const def = db.default_priority_level ?? 0;
      if (def < 1 || def > levels) {
        fail(`dynamic_batching: default_priority_level ${def} must be in [1, ${levels}] when priority_levels is set`);
      }
    }
    for (const key of Object.keys(db.priority_queue_policy ?? {})) {
      const level = Number(key);
      if (!Number.isInteger(level) || level < 1 || level > levels) {
        fail(`dynamic_batching: priority_queue_policy level ${key} is outside [1, priority_levels=${levels}]`);
      }
    }
  }

  const vp = cfg.version_policy;
  if (vp && 'latest' in vp && !(vp.latest.num_versions >= 1)) {
    fail(`version_policy: latest.num_versions must be >= 1, found ${vp.latest.num_versions}`);
  }
  if (vp && 'specific' in vp && vp.specific.versions.length === 0) {
    fail('version_policy: specific.versions lists no versions');
  }
}
