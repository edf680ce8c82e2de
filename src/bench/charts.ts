// The charts of a bench run (shared by report.html and BENCHMARKS.md): latency and throughput
// against concurrency per scenario, and bytes on the wire per request and response.

import type { Protocol } from './payload.js';
import type { BenchResults, RunRecord } from './run.js';
import { barChart, COLORS, lineChart, type Series } from './svg.js';

export interface Chart {
  /** File name stem, e.g. latency-image. */
  name: string;
  title: string;
  svg: string;
}

const PROTOCOL_ORDER: Protocol[] = ['grpc', 'http-binary', 'http-json'];
const NAMES: Record<string, string> = { grpc: 'gRPC', 'http-binary': 'REST binary', 'http-json': 'REST JSON', 'in-process': 'in-process' };

export const protocolName = (p: string) => NAMES[p] ?? p;

function protocolsIn(runs: RunRecord[]): Protocol[] {
  return PROTOCOL_ORDER.filter((p) => runs.some((r) => r.protocol === p));
}

export function buildCharts(res: BenchResults): Chart[] {
  const charts: Chart[] = [];
  const levels = [...new Set(res.runs.map((r) => r.concurrency))].sort((a, b) => a - b);
  const cats = levels.map(String);
  for (const sc of res.meta.scenarios) {
    const runs = res.runs.filter((r) => r.scenario === sc.name);
    if (!runs.length) continue;
    const at = (target: string, protocol: string, f: (r: RunRecord) => number) =>
      levels.map((c) => {
        const r = runs.find((x) => x.target === target && x.protocol === protocol && x.concurrency === c);
        return r && r.requests > 0 ? f(r) : null;
      });
    const series = (f: (r: RunRecord) => number, floors: boolean): Series[] => {
      const out: Series[] = [];
      for (const p of protocolsIn(runs)) out.push({ name: NAMES[p], color: COLORS[p], values: at('duet', p, f) });
      if (floors) for (const p of protocolsIn(runs)) {
        const v = at('echo', p, f);
        if (v.some((x) => x !== null)) out.push({ name: `${NAMES[p]} floor`, color: COLORS[p], dashed: true, values: v });
      }
      const ip = at('in-process', 'in-process', f);
      if (ip.some((x) => x !== null)) out.push({ name: 'in-process', color: COLORS['in-process'], values: ip });
      return out;
    };
    const sub = `${sc.model} [${sc.shape}], ${sc.data}; dashed: echo floors (same bytes, no work)`;
    charts.push({
      name: `latency-${sc.name}`,
      title: `${sc.title}: median latency`,
      svg: lineChart({ title: `${sc.title}: p50 latency`, subtitle: sub, xLabel: 'concurrency (closed-loop clients)', yLabel: 'p50 latency (ms, log scale)', unit: 'ms', categories: cats, series: series((r) => r.latencyMs.p50, true), log: true }),
    });
    charts.push({
      name: `throughput-${sc.name}`,
      title: `${sc.title}: throughput`,
      svg: lineChart({ title: `${sc.title}: throughput`, subtitle: `${sc.model} [${sc.shape}], ${sc.data}`, xLabel: 'concurrency (closed-loop clients)', yLabel: 'requests per second', categories: cats, series: series((r) => r.throughput, false) }),
    });
  }
  // Bytes per request and response: the same for every concurrency, so the lowest level's run.
  const scen = res.meta.scenarios.filter((s) => res.runs.some((r) => r.scenario === s.name && r.target === 'duet'));
  const bytes = (f: (r: RunRecord) => number | null): Series[] => protocolsIn(res.runs).map((p) => ({
    name: NAMES[p],
    color: COLORS[p],
    values: scen.map((s) => {
      const r = res.runs.filter((x) => x.scenario === s.name && x.target === 'duet' && x.protocol === p).sort((a, b) => a.concurrency - b.concurrency)[0];
      return r ? f(r) : null;
    }),
  }));
  if (scen.length) {
    charts.push({
      name: 'bytes-request',
      title: 'Bytes on the wire per request',
      svg: barChart({ title: 'Bytes on the wire per request', subtitle: 'counted at the client\'s sockets: HTTP headers and HTTP/2 framing included', xLabel: 'scenario', yLabel: 'bytes per request (log scale)', unit: 'B', categories: scen.map((s) => s.name), series: bytes((r) => r.wireRequestBytes), log: true }),
    });
    charts.push({
      name: 'bytes-response',
      title: 'Bytes on the wire per response',
      svg: barChart({ title: 'Bytes on the wire per response', subtitle: 'counted at the client\'s sockets: HTTP headers and HTTP/2 framing included', xLabel: 'scenario', yLabel: 'bytes per response (log scale)', unit: 'B', categories: scen.map((s) => s.name), series: bytes((r) => r.wireResponseBytes), log: true }),
    });
  }
  return charts;
}
