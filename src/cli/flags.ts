// A command's flags as one table: each flag's name, value, default, environment variable, help and
// check, written once. The same table parses argv, reads DUET_* variables and a config file, and
// writes --help.

import { delimiter } from 'node:path';

/** Where a value came from, as error messages name it. */
export type Source = 'the command line' | `environment variable ${string}` | `config file ${string}`;

/** A value that does not pass its flag's check; the message names the flag and where the value came from. */
export class FlagError extends Error {}

export interface Flag<T> {
  /** What --help shows after the flag (e.g. 'N', 'FILE'); absent: a switch that takes no value. */
  readonly arg?: string;
  /** One or more lines of help text. */
  readonly help: string;
  /** The default as --help shows it; absent: none shown. */
  readonly shown?: string;
  /** Repeatable; in a DUET_* variable the values are joined by `separator`. */
  readonly separator?: string;
  /** Never echoed in a message (keys, passwords). */
  readonly secret?: boolean;
  /** The raw value (undefined: not given anywhere) to the flag's value; throws Error(reason) when it does not fit. */
  readonly parse: (raw: string | string[] | undefined) => T;
}

export type FlagTable = Record<string, Flag<unknown>>;
export type FlagValues<T extends FlagTable> = { [K in keyof T]: ReturnType<T[K]['parse']> };

const got = (v: string) => `got '${v}'`;

/** A string, or `dflt` when not given. */
export function text(arg: string, help: string, o: { dflt?: string; shown?: string; secret?: boolean } = {}): Flag<string | undefined> {
  return { arg, help, shown: o.shown ?? o.dflt, secret: o.secret, parse: (raw) => (raw as string | undefined) ?? o.dflt };
}

/** A string, but only from `values` (compared lower-cased). */
export function choice<const V extends string>(values: readonly V[], help: string, dflt: V): Flag<V> {
  return {
    arg: values.join('|'), help, shown: dflt,
    parse: (raw) => {
      if (raw === undefined) return dflt;
      const v = (raw as string).toLowerCase() as V;
      if (!values.includes(v)) throw new Error(`must be one of ${values.join(', ')}, ${got(raw as string)}`);
      return v;
    },
  };
}

/** A whole number from min to max. */
export function int<D extends number | undefined>(arg: string, help: string, dflt: D, o: { min?: number; max?: number; shown?: string } = {}): Flag<number | D> {
  const min = o.min ?? 0;
  return {
    arg, help, shown: o.shown ?? (dflt === undefined ? undefined : String(dflt)),
    parse: (raw) => {
      if (raw === undefined) return dflt;
      const n = Number(raw);
      if ((raw as string).trim() === '' || !Number.isInteger(n) || n < min || (o.max !== undefined && n > o.max)) {
        throw new Error(o.max !== undefined ? `must be from ${min} to ${o.max}, ${got(raw as string)}`
          : min === 0 ? `must be a non-negative integer, ${got(raw as string)}` : `must be at least ${min}, ${got(raw as string)}`);
      }
      return n;
    },
  };
}

/** A number above zero (a zero budget or timeout would refuse or drop everything). */
export function positive<D extends number | undefined>(arg: string, help: string, dflt: D, shown?: string): Flag<number | D> {
  return {
    arg, help, shown: shown ?? (dflt === undefined ? undefined : String(dflt)),
    parse: (raw) => {
      if (raw === undefined) return dflt;
      const n = Number(raw);
      if ((raw as string).trim() === '' || !Number.isFinite(n) || n <= 0) throw new Error(`must be a positive number, ${got(raw as string)}`);
      return n;
    },
  };
}

/** A port: 0 picks a free one; 'off' (or -1) turns the listener off (null). */
export function port(help: string, dflt: number): Flag<number | null> {
  const n = int('N', help, dflt, { max: 65535 });
  return { ...n, parse: (raw) => (raw === 'off' || raw === '-1' ? null : n.parse(raw)) };
}

/** A duration in seconds (fractions allowed), as milliseconds. */
export function seconds(arg: string, help: string, dfltMs: number): Flag<number> {
  return {
    arg, help, shown: String(dfltMs / 1000),
    parse: (raw) => {
      if (raw === undefined) return dfltMs;
      const n = Number(raw);
      if ((raw as string).trim() === '' || !Number.isFinite(n) || n < 0) throw new Error(`must be a non-negative number of seconds, ${got(raw as string)}`);
      return Math.round(n * 1000);
    },
  };
}

/** true/false (also 1/0, on/off, yes/no); `arg` absent makes it a switch (--flag alone means true). */
export function bool(help: string, dflt: boolean, arg?: string): Flag<boolean> {
  return {
    arg, help, shown: arg ? String(dflt) : undefined,
    parse: (raw) => {
      if (raw === undefined) return dflt;
      const s = (raw as string).toLowerCase();
      if (s === 'true' || s === '1' || s === 'on' || s === 'yes') return true;
      if (s === 'false' || s === '0' || s === 'off' || s === 'no') return false;
      throw new Error(`must be true or false, ${got(raw as string)}`);
    },
  };
}

/** Repeatable; `separator` joins values in the environment variable (default ','). */
export function list(arg: string, help: string, separator = ','): Flag<string[]> {
  return { arg, help, separator, parse: (raw) => (raw as string[] | undefined) ?? [] };
}

/** Repeatable paths, joined in the environment by the platform's path-list separator (':' here). */
export const paths = (arg: string, help: string) => list(arg, help, delimiter);

/** --flag-name -> DUET_FLAG_NAME. */
export const envName = (flag: string) => `DUET_${flag.toUpperCase().replace(/-/g, '_')}`;

/** node:util parseArgs options for the table. */
export function parseArgsOptions(table: FlagTable) {
  const options: Record<string, { type: 'string' | 'boolean'; multiple?: boolean; short?: string }> = {};
  for (const [name, f] of Object.entries(table)) options[name] = { type: f.arg ? 'string' : 'boolean', ...(f.separator ? { multiple: true } : {}) };
  return options;
}

/** Help lines for the table: the flag and its argument, the text, the default and the variable. */
export function helpText(table: FlagTable, sections: Record<string, readonly string[]>): string {
  const col = 27;
  let out = '';
  for (const [title, names] of Object.entries(sections)) {
    out += `\n${title}:\n`;
    for (const name of names) {
      const f = table[name];
      const head = `  --${name}${f.arg ? ` ${f.arg}` : ''}`;
      const notes = [f.shown !== undefined ? `default ${f.shown}` : '', envName(name) + (f.separator ? `, '${f.separator}'-separated` : '')].filter(Boolean).join('; ');
      const lines = [...f.help.split('\n'), `(${notes})`];
      out += head.length < col ? `${head.padEnd(col)}${lines[0]}\n` : `${head}\n${' '.repeat(col)}${lines[0]}\n`;
      for (const l of lines.slice(1)) out += `${' '.repeat(col)}${l}\n`;
    }
  }
  return out;
}

/** A config file's contents and its name, for messages. */
export interface ConfigFile {
  path: string;
  data: unknown;
}

/** Names of DUET_* variables that are not flags: read by Duet's own test tools. */
const NOT_FLAGS = new Set(['DUET_FUZZ_SEED', 'DUET_FUZZ_COUNT']);

export interface Resolved<T extends FlagTable> {
  values: FlagValues<T>;
  /** Where each flag that was given came from. */
  sources: Partial<Record<keyof T & string, Source>>;
}

/**
 * One value per flag, from the command line, else its DUET_* variable, else the config file, else its
 * default; a repeatable flag takes its whole list from the first of those that has it. Unknown DUET_*
 * variables and unknown file keys are errors, as is a value that fails its flag's check.
 */
export function resolve<T extends FlagTable>(table: T, argv: Record<string, string | boolean | (string | boolean)[] | undefined>,
  env: NodeJS.ProcessEnv, file?: ConfigFile, skipEnv: readonly string[] = []): Resolved<T> {
  const known = new Map(Object.keys(table).map((n) => [envName(n), n]));
  const unknownEnv = Object.keys(env).filter((k) => k.startsWith('DUET_') && !known.has(k) && !NOT_FLAGS.has(k) && !skipEnv.includes(k));
  if (unknownEnv.length) throw new FlagError(`unknown environment variable${unknownEnv.length > 1 ? 's' : ''} ${unknownEnv.join(', ')} (DUET_* variables name flags of duet serve; see duet serve --help)`);
  const fromFile = file ? fileValues(table, file) : {};
  const values: Record<string, unknown> = {};
  const sources: Record<string, Source> = {};
  for (const [name, f] of Object.entries(table)) {
    let raw: string | string[] | undefined;
    let source: Source | undefined;
    const a = argv[name];
    const e = env[envName(name)];
    if (a !== undefined && a !== false) {
      raw = a === true ? 'true' : Array.isArray(a) ? a.map(String) : a;
      source = 'the command line';
    } else if (e !== undefined) {
      raw = f.separator ? e.split(f.separator).map((s) => s.trim()).filter(Boolean) : e;
      source = `environment variable ${envName(name)}`;
    } else if (name in fromFile) {
      raw = fromFile[name];
      source = `config file ${file!.path}`;
    }
    try {
      values[name] = f.parse(raw);
    } catch (err) {
      const msg = (err as Error).message;
      throw new FlagError(`--${name} ${f.secret ? msg.replace(/, got '.*'$/s, '') : msg}${source && source !== 'the command line' ? ` (from ${source})` : ''}`);
    }
    if (source) sources[name] = source;
  }
  return { values: values as FlagValues<T>, sources: sources as Resolved<T>['sources'] };
}

/** The file's keys as raw flag values: scalars become strings, lists only for repeatable flags. */
function fileValues(table: FlagTable, file: ConfigFile): Record<string, string | string[]> {
  const where = `config file ${file.path}`;
  const d = file.data;
  if (d === null || d === undefined) return {};
  if (typeof d !== 'object' || Array.isArray(d)) throw new FlagError(`${where}: must be a mapping of flag names to values, got ${Array.isArray(d) ? 'a list' : typeof d}`);
  const entries = Object.entries(d as Record<string, unknown>);
  const unknown = entries.map(([k]) => k).filter((k) => !Object.hasOwn(table, k));
  if (unknown.length) throw new FlagError(`${where}: unknown key${unknown.length > 1 ? 's' : ''} ${unknown.map((k) => `'${k}'`).join(', ')} (keys are duet serve flag names without the dashes, e.g. 'http-port')`);
  const out: Record<string, string | string[]> = {};
  const scalar = (k: string, v: unknown): string => {
    if (typeof v === 'string') return v;
    if (typeof v === 'number' || typeof v === 'boolean') return String(v);
    throw new FlagError(`--${k} (from ${where}) must be a ${table[k].arg ? 'string, number or boolean' : 'boolean'}, got ${v === null ? 'null' : Array.isArray(v) ? 'a list' : typeof v}`);
  };
  for (const [k, v] of entries) {
    const f = table[k];
    if (f.separator) out[k] = Array.isArray(v) ? v.map((x) => scalar(k, x)) : [scalar(k, v)];
    else out[k] = scalar(k, v);
  }
  return out;
}
