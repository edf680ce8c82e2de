// The suites of `duet bench --suite`: what each measures, how a list is parsed, and the arithmetic
// that turns a round of runs into a row of the report (ratio to the floor, p50 difference, flags).
// No I/O here, so all of it is unit-tested.

import type { Protocol } from './payload.js';

// connections, hol, fanout and link: net-run.ts.
export const SUITES = ['transport', 'image', 'streaming', 'scenarios', 'connections', 'hol', 'fanout', 'link'] as const;
export type SuiteName = (typeof SUITES)[number];

/** `--suite a,b` (or `all`); absent: the brief scenarios, as `duet bench` always ran. */
export function parseSuites(arg: string | undefined): SuiteName[] {
  if (arg === undefined) return ['scenarios'];
  const names = arg.split(',').map((s) => s.trim()).filter(Boolean);
  if (names.length === 0) throw new Error(`--suite needs one or more of ${SUITES.join(', ')} (or all), got '${arg}'`);
  if (names.includes('all')) {
    if (names.length > 1) throw new Error(`--suite all takes no other names, got '${arg}'`);
    return [...SUITES];
  }
  const out: SuiteName[] = [];
  for (const n of names) {
    if (!(SUITES as readonly string[]).includes(n)) throw new Error(`--suite: unknown suite '${n}'; the suites are ${SUITES.join(', ')} (or all)`);
    if (out.includes(n as SuiteName)) throw new Error(`--suite: '${n}' is given twice`);
    out.push(n as SuiteName);
  }
  return out;
}

export type LoadGeneratorChoice = 'auto' | 'native' | 'duet-client';

export function parseGeneratorChoice(arg: string | undefined): LoadGeneratorChoice {
  const v = arg ?? 'auto';
  if (v !== 'auto' && v !== 'native' && v !== 'duet-client') throw new Error(`--load-generator must be auto, native or duet-client, got '${v}'`);
  return v;
}

/** A floor: a server answering the bytes Duet answers, doing nothing else. */
export type FloorKind = 'node:http echo' | 'node:http2 gRPC echo' | 'grpc-js echo' | 'node:http + worker hop' | 'node:http2 + worker hop';

/** One row of a transport-style suite: a protocol at a load shape, against its floors (the first is the one ratios use). */
export interface RowSpec {
  id: string;
  label: string;
  protocol: Protocol;
  connections: number;
  /** Concurrent requests per connection (HTTP/2 streams; 1 for HTTP/1.1). */
  streams: number;
  floors: FloorKind[];
}

export interface PayloadSuite {
  name: 'transport' | 'image';
  title: string;
  model: string;
  shape: number[];
  rows: RowSpec[];
}

const REST_FLOOR: FloorKind[] = ['node:http echo', 'node:http + worker hop'];
const GRPC_FLOORS: FloorKind[] = ['node:http2 gRPC echo', 'node:http2 + worker hop', 'grpc-js echo'];

function row(protocol: Protocol, connections: number, streams = 1): RowSpec {
  const name = protocol === 'grpc' ? 'gRPC' : protocol === 'http-json' ? 'REST JSON' : 'REST binary';
  const load = streams > 1 ? `${connections}×${streams}` : `c=${connections}`;
  return { id: `${protocol}-${connections}x${streams}`, label: `${name} ${load}`, protocol, connections, streams, floors: protocol === 'grpc' ? GRPC_FLOORS : REST_FLOOR };
}

export const PAYLOAD_SUITES: Record<'transport' | 'image', PayloadSuite> = {
  transport: {
    name: 'transport',
    title: 'my_model: 128 FP32 in, their sum out',
    model: 'my_model',
    shape: [1, 128],
    rows: [row('http-json', 1), row('http-json', 64), row('http-binary', 1), row('http-binary', 64), row('grpc', 1), row('grpc', 4, 16)],
  },
  image: {
    name: 'image',
    title: 'resnet_mini: a 1×3×224×224 FP32 image (602 KB) in',
    model: 'resnet_mini',
    shape: [1, 3, 224, 224],
    rows: [row('http-binary', 1), row('http-binary', 8), row('grpc', 1), row('grpc', 8)],
  },
};

/** A client using more than this share of a core (or event loop) was the limit, not the server. */
export const CLIENT_BOUND = 0.8;

/** One measured run of one target for one row in one round. */
export interface SuiteRun {
  suite: string;
  row: string;
  label: string;
  /** 'duet', a floor, or `duet@REV` for another build given with --compare. */
  target: string;
  generator: 'wrk' | 'h2load' | 'duet-client';
  protocol: Protocol;
  connections: number;
  streams: number;
  round: number;
  seconds: number;
  requests: number;
  errors: number;
  rps: number;
  p50us: number;
  p99us: number;
  /** Cores the load generator used (native: its process CPU over the run; duet-client: its busiest thread's ELU). */
  clientCpu: number | null;
  clientBound: boolean;
  /** The server's main thread, µs of CPU per answered request. */
  serverMainUs: number | null;
  /** The whole server process (all threads), µs of CPU per answered request. */
  serverAllUs: number | null;
  /** The server main thread's event-loop utilization over the run (Duet's metrics port), when known. */
  serverElu: number | null;
  /** Duet's compute time per request from its statistics extension (the model in its worker), µs. */
  computeUs: number | null;
}

export function clientBound(clientCpu: number | null): boolean {
  return clientCpu !== null && clientCpu > CLIENT_BOUND;
}

export function median(xs: number[]): number {
  const s = xs.filter(Number.isFinite).sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** A Duet (or secondary floor) row summarised over the rounds, against the primary floor of each round. */
export interface RowSummary {
  suite: string;
  row: string;
  label: string;
  target: SuiteRun['target'];
  generator: SuiteRun['generator'];
  rounds: number;
  rps: number;
  p50us: number;
  p99us: number;
  /** Median over rounds of rps ÷ the floor's rps in the same round; ratios' range. */
  ratio: number;
  ratioMin: number;
  ratioMax: number;
  /** Median over rounds of p50 − the floor's p50 in the same round, µs. */
  p50DiffUs: number;
  serverMainUs: number;
  serverAllUs: number;
  serverElu: number;
  computeUs: number;
  clientCpu: number;
  /** Any round client-bound, or with errors. */
  clientBound: boolean;
  errors: number;
}

/** Summaries of every target of every row: ratios against the row's primary floor (a floor against itself is 1). */
export function summarize(runs: SuiteRun[], floorOf: (suite: string, row: string) => string | undefined): RowSummary[] {
  const keys = [...new Set(runs.map((r) => `${r.suite}\u0000${r.row}\u0000${r.target}`))];
  return keys.map((k) => {
    const [suite, rowId, target] = k.split('\u0000');
    const mine = runs.filter((r) => r.suite === suite && r.row === rowId && r.target === target);
    const floorName = floorOf(suite, rowId);
    const ratios: number[] = [];
    const diffs: number[] = [];
    for (const r of mine) {
      const f = runs.find((x) => x.suite === suite && x.row === rowId && x.target === floorName && x.round === r.round);
      if (f && f.rps > 0) ratios.push(r.rps / f.rps);
      if (f) diffs.push(r.p50us - f.p50us);
    }
    const med = (f: (r: SuiteRun) => number | null) => median(mine.map((r) => f(r) ?? NaN));
    const first = mine[0];
    return {
      suite, row: rowId, label: first.label, target: first.target, generator: first.generator, rounds: mine.length,
      rps: med((r) => r.rps), p50us: med((r) => r.p50us), p99us: med((r) => r.p99us),
      ratio: median(ratios), ratioMin: ratios.length ? Math.min(...ratios) : NaN, ratioMax: ratios.length ? Math.max(...ratios) : NaN,
      p50DiffUs: median(diffs),
      serverMainUs: med((r) => r.serverMainUs), serverAllUs: med((r) => r.serverAllUs), serverElu: med((r) => r.serverElu), computeUs: med((r) => r.computeUs),
      clientCpu: med((r) => r.clientCpu),
      clientBound: mine.some((r) => r.clientBound),
      errors: mine.reduce((n, r) => n + r.errors, 0),
    };
  });
}

/** The order of targets in a round: floors and Duet alternate direction round by round (A B, B A), so drift hits both alike. */
export function roundOrder<T>(targets: T[], round: number): T[] {
  return round % 2 === 1 ? [...targets] : [...targets].reverse();
}
