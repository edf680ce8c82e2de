// The model config's datatype tables, and where each step lives: config-parse.ts reads a file by the
// schema, config-defaults.ts fills Triton's defaults, config-validate.ts checks, config-json.ts prints
// the JSON form REST /config returns.

import type { ConfigDataType } from '../core/model-config.js';

export { parseModelConfig } from './config-parse.js';
export { applyDefaults } from './config-defaults.js';
export { validateModelConfig } from './config-validate.js';
export { configJson } from './config-json.js';

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
