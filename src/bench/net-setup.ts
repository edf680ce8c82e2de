// What the connections, hol, fanout and link suites share: their names and options, the model
// repository they serve (the bundled my_model and resnet_mini, plus a model that only sleeps), the
// result types, and the file-descriptor limit the fan-out sizes must fit in.

import { cpSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { LinkSpec } from './link-proxy.js';
import type { MachineInfo } from './run.js';
import type { RowSummary, SuiteRun } from './suites.js';

export const NET_SUITES = ['connections', 'hol', 'fanout', 'link'] as const;
export type NetSuiteName = (typeof NET_SUITES)[number];

export const isNetSuite = (s: string): s is NetSuiteName => (NET_SUITES as readonly string[]).includes(s);

export interface NetOptions {
  suites: NetSuiteName[];
  /** Measured seconds per run, warm-up seconds per target and row, interleaved rounds. */
  seconds: number;
  warmupS: number;
  rounds: number;
  /** Where my_model and resnet_mini come from. */
  modelRepository: string;
  /** fanout: open connections (or streams) per run, and the request rate they share. */
  fanoutSizes: number[];
  fanoutRate: number;
  /** hol: HTTP/1.1 connections in the pool, the sleeping model's time, the fast requests' rate. */
  holPool: number;
  slowMs: number;
  holRate: number;
  links: LinkSpec[];
  log?: (line: string) => void;
  command?: string[];
}

export interface HolRun {
  mode: string;
  /** 'none' (fast requests alone), 'sleep' or 'image'. */
  slow: string;
  round: number;
  fastP50Ms: number;
  fastP99Ms: number;
  fastCount: number;
  slowP50Ms: number;
  slowCount: number;
  errors: number;
}

export interface FanoutRun {
  kind: string;
  target: string;
  size: number;
  /** Connections the client held open (streams for the streams kind). */
  connections: number;
  /** Server RSS before opening them and with all open, KiB. */
  rssBeforeKiB: number;
  rssOpenKiB: number;
  rssPerConnKiB: number;
  requests: number;
  errors: number;
  errorSamples: string[];
  rps: number;
  p50Ms: number;
  p99Ms: number;
  /** Whole server process CPU per answered request, µs. */
  serverAllUs: number | null;
  clientElu: number;
}

export interface LinkRun {
  scenario: string;
  link: string;
  latencyMs: number;
  rateBps: number | null;
  protocol: string;
  round: number;
  requests: number;
  errors: number;
  p50Ms: number;
  p99Ms: number;
  /** Per request at the client's sockets. */
  upBytes: number;
  downBytes: number;
  /** Both latencies and both directions' bytes at the link's rate, ms. */
  transferMs: number;
}

export interface NetResults {
  meta: {
    date: string;
    machine: MachineInfo;
    build: string;
    command?: string[];
    settings: Omit<NetOptions, 'suites' | 'log' | 'command' | 'modelRepository'>;
    /** Open files: the soft and hard limits the bench ran under. */
    nofile: { soft: number; hard: number } | null;
    notes: string[];
  };
  connections?: { runs: SuiteRun[]; summaries: RowSummary[] };
  hol?: HolRun[];
  fanout?: FanoutRun[];
  link?: LinkRun[];
}

/** The model that only sleeps: the slow request of the hol suite, costing no CPU. Same input as my_model. */
const SLEEP_CONFIG = `name: "sleep"
backend: "typescript"
max_batch_size: 0
input [ { name: "INPUT0" data_type: TYPE_FP32 dims: [ 1, 128 ] } ]
output [ { name: "OUTPUT0" data_type: TYPE_FP32 dims: [ 1, 1 ] } ]
instance_group [ { count: 1, kind: KIND_CPU } ]
`;

const sleepModel = (ms: number) => `// Answers after ${ms} ms of sleep, using no CPU: a slow request that does not load the machine.
export default class Sleep {
  initialize() {}
  async execute(requests) {
    await new Promise((r) => setTimeout(r, ${ms}));
    return requests.map(() => ({ outputs: [{ name: 'OUTPUT0', datatype: 'FP32', shape: [1, 1], data: new Float32Array(1) }] }));
  }
  finalize() {}
}
`;

/** A throwaway repository in `dir`: my_model and resnet_mini copied from `from`, and `sleep`. */
export function benchRepository(dir: string, from: string, slowMs: number): string {
  const repo = join(dir, 'models');
  for (const m of ['my_model', 'resnet_mini']) cpSync(join(from, m), join(repo, m), { recursive: true });
  mkdirSync(join(repo, 'sleep', '1'), { recursive: true });
  writeFileSync(join(repo, 'sleep', 'config.pbtxt'), SLEEP_CONFIG);
  writeFileSync(join(repo, 'sleep', '1', 'model.mjs'), sleepModel(slowMs));
  return repo;
}

/** The open-files limits of this process (children inherit them); null off Linux. */
export function nofileLimits(): { soft: number; hard: number } | null {
  try {
    const line = readFileSync('/proc/self/limits', 'utf8').split('\n').find((l) => l.startsWith('Max open files'));
    const m = line && /Max open files\s+(\d+|unlimited)\s+(\d+|unlimited)/.exec(line);
    if (!m) return null;
    const n = (s: string) => (s === 'unlimited' ? Infinity : Number(s));
    return { soft: n(m[1]), hard: n(m[2]) };
  } catch {
    return null;
  }
}

/** Whether `size` connections fit: the client holds one descriptor per connection, plus headroom for the rest. */
export function fitsNofile(size: number, limits: { soft: number } | null): boolean {
  return limits === null || size + 256 <= limits.soft;
}

/** A process's resident memory, KiB (VmRSS); NaN when unknown. */
export function rssKiB(pid: number | undefined): number {
  if (pid === undefined) return NaN;
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : NaN;
  } catch {
    return NaN;
  }
}
