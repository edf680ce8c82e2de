// The two sources a model config is read from, behind one view: text-format messages (config.pbtxt)
// and JSON objects (config.json, load overrides), so one converter reads both.

import type { TextMessage, TextValue } from './pbtxt.js';

// --- Source views: the same converter reads text-format messages and JSON objects ---

export interface View {
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

export function isView(x: unknown): x is View {
  return x instanceof TextView || x instanceof JsonView;
}

export function setOwn(obj: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
}

export function plainText(values: TextValue[]): unknown {
  const one = (v: TextValue): unknown => {
    if (typeof v !== 'object') return v;
    const o: Record<string, unknown> = {};
    for (const k of Object.keys(v)) setOwn(o, k, plainText(v[k]!));
    return o;
  };
  // Without a schema, repetition is the only sign that a field is a list.
  return values.length === 1 ? one(values[0]!) : values.map(one);
}

export class TextView implements View {
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

export function isObject(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

export function camel(field: string): string {
  return field.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}

export class JsonView implements View {
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

export function last<T>(a: T[]): T | undefined {
  return a.length > 0 ? a[a.length - 1] : undefined;
}

export function show(x: unknown): string {
  if (typeof x === 'string') return `'${x}'`;
  if (isView(x)) return 'a message';
  if (typeof x === 'number' || typeof x === 'boolean') return String(x);
  const text = JSON.stringify(x) ?? String(x);
  return text.length > 100 ? `${text.slice(0, 100)}…` : text;
}

