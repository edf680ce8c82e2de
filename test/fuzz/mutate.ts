// Mutations for the fuzzer: on JSON trees (type swaps, hostile numbers, deep nesting, deleted and
// duplicated parts) and on bytes (bit flips, truncation, insertions, overwrites). JSON trees are plain
// values plus bigint and Raw (literal JSON text, for numbers JavaScript cannot hold and for nesting
// too deep to build as objects).

import type { Rng } from './rng.js';

/** JSON text written as is. */
export class Raw {
  constructor(readonly text: string) {}
}

export function toJson(v: unknown): string {
  if (v instanceof Raw) return v.text;
  if (typeof v === 'bigint') return v.toString();
  if (typeof v === 'number') return Number.isFinite(v) ? (Object.is(v, -0) ? '-0' : String(v)) : 'null';
  if (v === undefined) return 'null';
  if (Array.isArray(v)) return `[${v.map(toJson).join(',')}]`;
  if (v && typeof v === 'object') {
    return `{${Object.entries(v).map(([k, x]) => `${JSON.stringify(k)}:${toJson(x)}`).join(',')}}`;
  }
  return JSON.stringify(v);
}

export function clone<T>(v: T): T {
  if (Array.isArray(v)) return v.map(clone) as T;
  if (v && typeof v === 'object' && !(v instanceof Raw) && !ArrayBuffer.isView(v)) {
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, clone(x)])) as T;
  }
  return v;
}

/** Values that break parsers and validators: edges of every integer width, non-finite, odd strings. */
export function hostileValue(rng: Rng): unknown {
  switch (rng.int(5)) {
    case 0:
      return rng.pick([0, -1, 1, 1.5, -1.5, 127, 128, 255, 256, 32768, 65535, 65536, 2 ** 31 - 1, 2 ** 31, -(2 ** 31), 2 ** 32, 2 ** 53, -(2 ** 53), 1e308, -1e308, 5e-324]);
    case 1:
      return new Raw(rng.pick(['-0', '9007199254740993', '18446744073709551615', '18446744073709551616', '-9223372036854775809',
        '9223372036854775807', '1e400', '-1e400', '1E2', '0.0000000000000000000001', '123456789012345678901234567890']));
    case 2:
      return rng.pick(['', '0', '-1', 'NaN', 'Infinity', '-inf', 'true', 'null', 'é', '\u0000', '\ud800', '\uffff', '../../etc/passwd', '%00',
        'x'.repeat(rng.pick([41, 1000, 70_000])), 'FP32', 'BYTES', 'INT64']);
    case 3:
      return rng.pick([true, false, null]);
    default:
      return rng.pick<() => unknown>([() => [], () => ({}), () => [[]], () => [null], () => ({ '': '' }), () => [1, 'a', true], () => ({ a: { b: [1] } })])();
  }
}

/** `v` inside `depth` arrays (or objects), as literal text so building it costs nothing. */
export function nested(v: unknown, depth: number, objects = false): Raw {
  const inner = toJson(v);
  return objects ? new Raw('{"a":'.repeat(depth) + inner + '}'.repeat(depth)) : new Raw('['.repeat(depth) + inner + ']'.repeat(depth));
}

export const NEST_DEPTHS = [2, 63, 64, 65, 70, 200, 10_000, 100_000];

type Slot = { parent: Record<string, unknown> | unknown[]; key: string | number };

/** Every place in the tree a value sits (not descending into long numeric arrays beyond a few items). */
function slots(root: unknown): Slot[] {
  const out: Slot[] = [];
  const walk = (v: unknown) => {
    if (v instanceof Raw || !v || typeof v !== 'object' || ArrayBuffer.isView(v)) return;
    if (Array.isArray(v)) {
      const n = Math.min(v.length, 4);
      for (let i = 0; i < n; i++) {
        out.push({ parent: v, key: i });
        walk(v[i]);
      }
      if (v.length > n) out.push({ parent: v, key: v.length - 1 });
      return;
    }
    for (const k of Object.keys(v)) {
      out.push({ parent: v as Record<string, unknown>, key: k });
      walk((v as Record<string, unknown>)[k]);
    }
  };
  walk(root);
  return out;
}

/** One random structural change somewhere in the tree (in place); returns what it did. */
export function mutateTree(rng: Rng, root: Record<string, unknown>): string {
  const all = slots(root);
  if (all.length === 0) return 'none';
  const s = rng.pick(all);
  const get = () => (s.parent as Record<string | number, unknown>)[s.key];
  const set = (v: unknown) => {
    (s.parent as Record<string | number, unknown>)[s.key] = v;
  };
  const at = String(s.key);
  switch (rng.int(7)) {
    case 0:
    case 1: {
      const v = hostileValue(rng);
      set(v);
      return `set ${at}=${toJson(v).slice(0, 40)}`;
    }
    case 2:
      if (Array.isArray(s.parent)) s.parent.splice(s.key as number, 1);
      else delete s.parent[s.key as string];
      return `delete ${at}`;
    case 3: {
      const d = rng.pick(NEST_DEPTHS);
      set(nested(get(), d, rng.chance(0.2)));
      return `nest ${at} ${d}`;
    }
    case 4: {
      // Type swap: numbers become strings, strings numbers, arrays objects, objects arrays.
      const v = get();
      if (typeof v === 'number') set(String(v));
      else if (typeof v === 'string') set(Number(v) || v.length);
      else if (Array.isArray(v)) set(Object.fromEntries(v.map((x, i) => [String(i), x])));
      else if (v && typeof v === 'object') set(Object.values(v));
      else set([v]);
      return `swap ${at}`;
    }
    case 5:
      if (Array.isArray(s.parent)) {
        const n = rng.pick([1, 2, 100]);
        s.parent.splice(s.key as number, 0, ...Array.from({ length: n }, () => clone(get())));
        return `dup ${at} x${n}`;
      }
      s.parent[`${at}_${rng.int(100)}`] = hostileValue(rng);
      return `add key near ${at}`;
    default: {
      const v = get();
      if (Array.isArray(v)) {
        v.length = rng.int(v.length + 2);
        return `resize ${at} ${v.length}`;
      }
      set(null);
      return `null ${at}`;
    }
  }
}

/** A hostile shape: negative, fractional, huge, overflowing, empty or very long. */
export function hostileShape(rng: Rng): unknown[] {
  const dims = [-1, -2, 0, 1, 2, 8, 9, 16, 127, 128, 129, 2 ** 31, 2 ** 32, 2 ** 40, 2 ** 53 - 1, 2 ** 53, 1.5, -(2 ** 53),
    new Raw('9223372036854775807'), new Raw('18446744073709551615'), new Raw('-9223372036854775808'), '1', null, true];
  switch (rng.int(4)) {
    case 0:
      return [];
    case 1:
      return Array.from({ length: rng.pick([3, 64, 1000]) }, () => rng.pick([1, 2, 0]));
    default:
      return Array.from({ length: rng.range(1, 4) }, () => rng.pick(dims));
  }
}

/** One random byte-level change. */
export function mutateBytes(rng: Rng, b: Buffer): { bytes: Buffer<ArrayBufferLike>; what: string } {
  if (b.length === 0) return { bytes: rng.bytes(rng.range(1, 16)), what: 'random' };
  const at = rng.int(b.length);
  switch (rng.int(6)) {
    case 0: {
      const out = Buffer.from(b);
      const n = rng.range(1, 8);
      for (let i = 0; i < n; i++) {
        const p = rng.int(out.length);
        out[p] ^= 1 << rng.int(8);
      }
      return { bytes: out, what: `flip ${n} bits` };
    }
    case 1:
      return { bytes: b.subarray(0, at), what: `truncate at ${at}` };
    case 2: {
      const ins = rng.chance(0.5) ? rng.bytes(rng.range(1, 32)) : Buffer.from(rng.pick(['[', '{', '"', '\\', ',', '\u0000', '\xff', '[[[[[[[[', '}]', '1e999']));
      return { bytes: Buffer.concat([b.subarray(0, at), ins, b.subarray(at)]), what: `insert ${ins.length} at ${at}` };
    }
    case 3: {
      const end = Math.min(b.length, at + rng.range(1, 64));
      return { bytes: Buffer.concat([b.subarray(0, at), b.subarray(end)]), what: `delete ${at}..${end}` };
    }
    case 4: {
      const end = Math.min(b.length, at + rng.range(1, 256));
      return { bytes: Buffer.concat([b.subarray(0, end), b.subarray(at, end), b.subarray(end)]), what: `duplicate ${at}..${end}` };
    }
    default: {
      const out = Buffer.from(b);
      const n = Math.min(out.length - at, rng.range(1, 16));
      rng.bytes(n).copy(out, at);
      return { bytes: out, what: `overwrite ${n} at ${at}` };
    }
  }
}
