// The mistakes in a complete config (after defaults and auto-complete) that Triton would reject.

import type { ModelConfig, ModelInputConfig, ModelOutputConfig } from '../core/model-config.js';
import { CONFIG_TO_KSERVE } from './config.js';
import { MODEL_CONFIG } from './schema.js';

const KINDS = Object.keys(MODEL_CONFIG.lookupEnum('ModelInstanceGroup.Kind').values);
const FORMATS = Object.keys(MODEL_CONFIG.lookupEnum('ModelInput.Format').values);

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
    if (!Object.hasOwn(CONFIG_TO_KSERVE, io.data_type)) {
      fail(`${where}: ${['TYPE_BF16', 'TYPE_INVALID'].includes(io.data_type) ? 'unsupported' : 'unknown'} data_type '${io.data_type}'`);
    }
    if (!Array.isArray(io.dims) || !io.dims.every(isDim)) {
      fail(`${where}: dims must be integers >= -1, found ${JSON.stringify(io.dims)}`);
    }
    if ('format' in io && io.format !== undefined && !FORMATS.includes(io.format)) {
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
    if (!KINDS.includes(g.kind)) fail(`instance_group[${i}]: unknown kind '${g.kind}'`);
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
  if (vp && !('latest' in vp) && !('all' in vp) && !('specific' in vp)) fail('version_policy: must set one of latest, all, specific');
  // The proto default is 0, with which Triton loads nothing.
  if (vp && 'latest' in vp && !(vp.latest.num_versions >= 1)) {
    fail(`version_policy: latest.num_versions must be >= 1, found ${vp.latest.num_versions ?? 0}`);
  }
  if (vp && 'specific' in vp && vp.specific.versions.length === 0) {
    fail('version_policy: specific.versions lists no versions');
  }
}
