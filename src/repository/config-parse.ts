// Reads config.pbtxt / config.json text by walking the model config schema (schema.ts): repeated fields
// are lists even with one element, maps are maps, enums are names, 64-bit integers are exact numbers,
// and a field the schema does not have is an error naming its line and path.

import type { ModelConfig } from '../core/model-config.js';
import { checkNesting } from '../core/json-safe.js';
import { linesOf, parseTextProto, type TextMessage } from './pbtxt.js';
import { enumOf, fieldByName, isMap, messageOf, MODEL_CONFIG, protobuf, type Field } from './schema.js';

export function setOwn(obj: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
}

export function isObject(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

export function show(x: unknown): string {
  if (typeof x === 'string') return `'${x}'`;
  if (typeof x === 'number' || typeof x === 'boolean') return String(x);
  if (isObject(x)) return 'a message';
  const text = JSON.stringify(x) ?? String(x);
  return text.length > 100 ? `${text.slice(0, 100)}…` : text;
}

const MAX = BigInt(Number.MAX_SAFE_INTEGER);
// 64-bit fields are held as JS numbers, so only their exactly representable part is allowed.
const INT_RANGE: Record<string, [bigint, bigint, string]> = {
  int32: [-(2n ** 31n), 2n ** 31n - 1n, 'int32'], sint32: [-(2n ** 31n), 2n ** 31n - 1n, 'int32'],
  sfixed32: [-(2n ** 31n), 2n ** 31n - 1n, 'int32'], uint32: [0n, 2n ** 32n - 1n, 'uint32'], fixed32: [0n, 2n ** 32n - 1n, 'uint32'],
  int64: [-MAX, MAX, 'int64'], sint64: [-MAX, MAX, 'int64'], sfixed64: [-MAX, MAX, 'int64'],
  uint64: [0n, MAX, 'uint64'], fixed64: [0n, MAX, 'uint64'],
};

// Fields that are lists in the result even when absent, as code reading a config relies on them.
const ALWAYS_LISTS = new Set(['ModelConfig.input', 'ModelConfig.output', 'ModelInput.dims', 'ModelOutput.dims']);

/** The field path without list indices or map keys, as in "instance_group.kindd". */
const namePath = (path: string, key: string) => (path ? `${path.replace(/\[[^\]]*\]/g, '')}.${key}` : key);

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const cur = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = cur;
    }
  }
  return row[b.length]!;
}

interface Written {
  values: unknown[];
  /** Line of each value (pbtxt), 0 when unknown (JSON). */
  lines: number[];
  line: number;
}

class Reader {
  constructor(private readonly file: string, private readonly json: boolean) {}

  fail(line: number, path: string, msg: string): never {
    throw new Error(`${line > 0 ? `${this.file}:${line}` : this.file}: ${path ? `${path}: ` : ''}${msg}`);
  }

  private unknownField(type: protobuf.Type, key: string, path: string, line: number): never {
    const near = type.fieldsArray.map((f) => f.name).find((n) => editDistance(n, key) <= 2);
    this.fail(line, '', `unknown field '${namePath(path, key)}' in ${type.name}${near ? ` (did you mean '${near}'?)` : ''}`);
  }

  message(type: protobuf.Type, src: Record<string, unknown>, path: string, line: number): Record<string, unknown> {
    const found = new Map<Field, Written>();
    for (const key of Object.keys(src)) {
      const at = this.json ? 0 : linesOf(src as TextMessage, key).name || line;
      const f = fieldByName(type, key, this.json);
      if (!f) this.unknownField(type, key, path, at);
      if (found.has(f)) this.fail(at, namePath(path, f.name), 'given twice (as its proto name and its JSON name)');
      const raw = src[key];
      if (this.json) {
        if (raw === null || raw === undefined) continue;
        found.set(f, { values: [raw], lines: [0], line: 0 });
      } else {
        found.set(f, { values: raw as unknown[], lines: linesOf(src as TextMessage, key).values, line: at });
      }
    }
    const out: Record<string, unknown> = {};
    const oneofs = new Map<string, string>();
    for (const f of type.fieldsArray) {
      const w = found.get(f);
      const fpath = path ? `${path}.${f.name}` : f.name;
      if (!w) {
        if (ALWAYS_LISTS.has(`${type.name}.${f.name}`)) setOwn(out, f.name, []);
        continue;
      }
      if (f.partOf) {
        const other = oneofs.get(f.partOf.name);
        if (other) this.fail(w.line, path, `set only one of ${f.partOf.oneof.join(', ')} (found ${other} and ${f.name})`);
        oneofs.set(f.partOf.name, f.name);
      }
      setOwn(out, f.name, this.field(f, w, fpath));
    }
    return out;
  }

  private field(f: Field, w: Written, path: string): unknown {
    if (isMap(f)) return this.map(f, w, path);
    if (f.repeated) {
      if (this.json) {
        const list = w.values[0];
        if (!Array.isArray(list)) this.fail(0, path, `expected a JSON array (a repeated field), found ${show(list)}`);
        return list.map((v, i) => this.value(f, v, `${path}[${i}]`, 0));
      }
      return w.values.map((v, i) => this.value(f, v, `${path}[${i}]`, w.lines[i] ?? w.line));
    }
    // Text format: a singular field written twice keeps the last value.
    const i = w.values.length - 1;
    if (i < 0) this.fail(w.line, path, 'expected a value, found an empty list (the field is not repeated)');
    return this.value(f, w.values[i], path, w.lines[i] ?? w.line);
  }

  private map(f: protobuf.MapField, w: Written, path: string): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    const entries: Array<[unknown, unknown, number]> = [];
    if (this.json) {
      const obj = w.values[0];
      if (!isObject(obj)) this.fail(0, path, `expected a JSON object mapping keys to values, found ${show(obj)}`);
      for (const [k, v] of Object.entries(obj)) entries.push([k, v, 0]);
    } else {
      w.values.forEach((e, i) => {
        const line = w.lines[i] ?? w.line;
        if (!isObject(e)) this.fail(line, path, `expected a map entry { key: ... value: ... }, found ${show(e)}`);
        for (const k of Object.keys(e)) {
          if (k !== 'key' && k !== 'value') this.fail(linesOf(e as TextMessage, k).name || line, path, `unexpected field '${k}' in map entry (only key and value are allowed)`);
        }
        const key = (e.key as unknown[] | undefined)?.at(-1);
        if (key === undefined) this.fail(line, path, 'map entry has no key');
        entries.push([key, (e.value as unknown[] | undefined)?.at(-1), line]);
      });
    }
    for (const [k, v, line] of entries) {
      const key = f.keyType === 'string'
        ? (typeof k === 'string' ? k : this.fail(line, path, `key: expected a string, found ${show(k)}`))
        : f.keyType === 'bool' ? String(this.scalar('bool', k, `${path} key`, line)) : String(this.scalar(f.keyType, k, `${path} key`, line));
      const vpath = f.keyType === 'string' ? `${path}['${key}']` : `${path}[${key}]`;
      const type = messageOf(f);
      setOwn(out, key, v === undefined && type ? {} : v === undefined ? undefined : this.value(f, v, vpath, line));
    }
    return out;
  }

  private value(f: Field, v: unknown, path: string, line: number): unknown {
    const type = messageOf(f);
    if (type) {
      if (!isObject(v)) this.fail(line, path, `expected a message ${this.json ? '(a JSON object)' : '{ ... }'}, found ${show(v)}`);
      return this.message(type, v, path, line);
    }
    const e = enumOf(f);
    if (e) return this.enumValue(e, v, path, line);
    return this.scalar(f.type, v, path, line);
  }

  private enumValue(e: protobuf.Enum, v: unknown, path: string, line: number): string {
    if (typeof v === 'string') {
      if (Object.hasOwn(e.values, v)) return v;
      // Triton parses JSON configs with case-insensitive enum names.
      const name = this.json ? Object.keys(e.values).find((n) => n.toLowerCase() === v.toLowerCase()) : undefined;
      if (name) return name;
    } else if (typeof v === 'number' && Number.isInteger(v) && Object.hasOwn(e.valuesById, v)) {
      return e.valuesById[v]!;
    }
    this.fail(line, path, `unknown ${e.name} ${show(v)} (expected one of ${Object.keys(e.values).join(', ')})`);
  }

  scalar(kind: string, v: unknown, path: string, line: number): string | number | boolean {
    switch (kind) {
      case 'string':
      case 'bytes':
        if (typeof v === 'string') return v;
        this.fail(line, path, `expected a string, found ${show(v)}`);
      case 'bool':
        if (typeof v === 'boolean') return v;
        // Text format accepts 0 and 1 for bools.
        if (!this.json && (v === 0 || v === 1)) return v === 1;
        this.fail(line, path, `expected true or false, found ${show(v)}`);
      case 'float':
      case 'double':
        if (typeof v === 'number') return v;
        if (this.json && typeof v === 'string' && /^(NaN|-?Infinity|[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?)$/.test(v)) return Number(v);
        this.fail(line, path, `expected a number, found ${show(v)}`);
      default:
        return this.integer(kind, v, path, line);
    }
  }

  private integer(kind: string, v: unknown, path: string, line: number): number {
    const range = INT_RANGE[kind];
    if (!range) this.fail(line, path, `unsupported field type ${kind}`);
    let n: bigint;
    // JSON writes 64-bit integers as strings; pbtxt keeps integers past 2^53 as strings too.
    if (typeof v === 'number' && Number.isInteger(v)) n = BigInt(v);
    else if (typeof v === 'string' && /^\s*[+-]?[0-9]+\s*$/.test(v)) n = BigInt(v.trim());
    else this.fail(line, path, `expected an integer, found ${show(v)}`);
    const [lo, hi, name] = range;
    if (n > MAX || n < -MAX) this.fail(line, path, `${n} is too large (limit is ${MAX})`);
    if (lo === 0n && n < 0n) this.fail(line, path, `expected a non-negative integer, found ${n}`);
    if (n < lo || n > hi) this.fail(line, path, `${n} is out of range for ${name}`);
    return Number(n);
  }
}

/**
 * Parses a model config into ModelConfig shape, fields in the schema's order. Fields the user did not
 * write stay absent (name, max_batch_size, instance_group, version_policy, ...) so auto-complete can
 * tell them apart; call applyDefaults before use. input, output and their dims are always arrays, as
 * in protobuf an absent repeated field is an empty one.
 */
export function parseModelConfig(text: string, format: 'pbtxt' | 'json', fileName: string): ModelConfig {
  const reader = new Reader(fileName, format === 'json');
  if (format === 'pbtxt') return reader.message(MODEL_CONFIG, parseTextProto(text, fileName), '', 0) as ModelConfig;
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (e) {
    reader.fail(0, '', `invalid JSON: ${(e as Error).message}`);
  }
  if (!isObject(data)) reader.fail(0, '', `expected a JSON object at the top level, found ${show(data)}`);
  // The walk recurses with the data: bound the depth first.
  try {
    checkNesting(data, 'the config', 32);
  } catch (e) {
    reader.fail(0, '', (e as Error).message);
  }
  return reader.message(MODEL_CONFIG, data as Record<string, unknown>, '', 0) as ModelConfig;
}
