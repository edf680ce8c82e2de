// The results of `duet bench` as a terminal table, results.json and results.csv.

import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { BenchResults, RunRecord } from './run.js';

export function fmtBytes(n: number | null | undefined): string {
  if (n === null || n === undefined || !Number.isFinite(n)) return '-';
  if (n < 1000) return `${Math.round(n)} B`;
  if (n < 1e6) return `${(n / 1e3).toFixed(n < 1e4 ? 2 : 1)} kB`;
  return `${(n / 1e6).toFixed(2)} MB`;
}

export function fmtMs(n: number | null | undefined): string {
  if (n === null || n === undefined || !Number.isFinite(n)) return '-';
  return n < 1 ? n.toFixed(3) : n < 100 ? n.toFixed(2) : n.toFixed(0);
}

export function fmtRate(n: number): string {
  return !Number.isFinite(n) ? '-' : n < 100 ? n.toFixed(1) : n.toFixed(0);
}

export function label(r: RunRecord): string {
  return r.target === 'duet' ? r.protocol : r.target === 'echo' ? `  ${r.protocol} floor` : 'in-process';
}

/** The echo floor measured for the same scenario, protocol and concurrency. */
export function floorOf(runs: RunRecord[], r: RunRecord): RunRecord | undefined {
  return runs.find((x) => x.target === 'echo' && x.scenario === r.scenario && x.protocol === r.protocol && x.concurrency === r.concurrency);
}

export function textTable(rows: string[][]): string {
  const w = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  return rows.map((r) => r.map((c, i) => (i === 0 ? c.padEnd(w[i]) : c.padStart(w[i]))).join('  ')).join('\n');
}

/** One table per scenario: each protocol at each concurrency, its floor under it, then the in-process call. */
export function terminalReport(res: BenchResults): string {
  const out: string[] = [];
  for (const sc of res.meta.scenarios) {
    const runs = res.runs.filter((r) => r.scenario === sc.name);
    if (!runs.length) continue;
    out.push(`\n${sc.title}  —  ${sc.model} [${sc.shape}], ${sc.data}, ${fmtBytes(sc.tensorBytes)} of tensor data`);
    const rows = [['', 'conc', 'req/s', 'p50 ms', 'p90 ms', 'p99 ms', 'server ms', 'client-server', 'req bytes', 'resp bytes', 'errors', 'p50 vs floor', 'note']];
    for (const r of runs) {
      const floor = r.target === 'duet' ? floorOf(res.runs, r) : undefined;
      const notes = [r.clientBound ? `client-bound (ELU ${r.clientElu.toFixed(2)})` : '', r.errors && r.errorSamples[0] ? r.errorSamples[0].slice(0, 60) : ''].filter(Boolean).join('; ');
      rows.push([
        label(r), String(r.concurrency), fmtRate(r.throughput), fmtMs(r.latencyMs.p50), fmtMs(r.latencyMs.p90), fmtMs(r.latencyMs.p99),
        fmtMs(r.serverMs), fmtMs(r.overheadMs), fmtBytes(r.wireRequestBytes), fmtBytes(r.wireResponseBytes), String(r.errors),
        floor && floor.latencyMs.p50 > 0 ? `${(r.latencyMs.p50 / floor.latencyMs.p50).toFixed(2)}x` : '', notes,
      ]);
    }
    out.push(textTable(rows));
  }
  const bound = res.runs.filter((r) => r.clientBound).length;
  out.push('');
  out.push('req/resp bytes: per request, counted at the client\'s sockets (HTTP headers and HTTP/2 framing included).');
  out.push('server ms: the statistics extension\'s time per request (data plane in to out); client-server: mean latency minus it.');
  if (bound) out.push(`${bound} run(s) were client-bound: a load-generator thread's event loop was over 80 % busy, so those figures understate the server (try --workers, or a second machine).`);
  for (const n of res.meta.notes) out.push(`note: ${n}`);
  return out.join('\n') + '\n';
}

/** The CSV columns, in order. */
export const CSV_COLUMNS = [
  'scenario', 'model', 'shape', 'data', 'tensor_bytes', 'target', 'protocol', 'concurrency', 'workers', 'seconds',
  'requests', 'errors', 'throughput_rps', 'latency_mean_ms', 'latency_p50_ms', 'latency_p90_ms', 'latency_p99_ms',
  'latency_min_ms', 'latency_max_ms', 'server_ms', 'server_queue_ms', 'server_compute_ms', 'client_minus_server_ms',
  'wire_request_bytes', 'wire_response_bytes', 'payload_request_bytes', 'payload_response_bytes',
  'client_elu', 'client_bound', 'host_cpu', 'server_cpu_cores', 'error_sample',
] as const;

function csvCell(v: unknown): string {
  if (v === null || v === undefined || (typeof v === 'number' && !Number.isFinite(v))) return '';
  const s = typeof v === 'number' ? String(Math.round(v * 1e6) / 1e6) : String(v);
  return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export function toCsv(runs: RunRecord[]): string {
  const lines = [CSV_COLUMNS.join(',')];
  for (const r of runs) {
    const row: unknown[] = [
      r.scenario, r.model, r.shape, r.data, r.tensorBytes, r.target, r.protocol, r.concurrency, r.workers, r.seconds,
      r.requests, r.errors, r.throughput, r.latencyMs.mean, r.latencyMs.p50, r.latencyMs.p90, r.latencyMs.p99,
      r.latencyMs.min, r.latencyMs.max, r.serverMs, r.serverQueueMs, r.serverComputeMs, r.overheadMs,
      r.wireRequestBytes, r.wireResponseBytes, r.payloadRequestBytes, r.payloadResponseBytes,
      r.clientElu, r.clientBound, r.hostCpu, r.serverCpu, r.errorSamples[0] ?? '',
    ];
    lines.push(row.map(csvCell).join(','));
  }
  return lines.join('\n') + '\n';
}

/** results.json, results.csv (and report.html when given) under `dir`; returns the paths. */
export function writeResults(dir: string, res: BenchResults, html?: string): string[] {
  mkdirSync(dir, { recursive: true });
  const files = [join(dir, 'results.json'), join(dir, 'results.csv')];
  writeFileSync(files[0], JSON.stringify(res, (_k, v) => (typeof v === 'number' && !Number.isFinite(v) ? null : v), 2) + '\n');
  writeFileSync(files[1], toCsv(res.runs));
  if (html !== undefined) {
    files.push(join(dir, 'report.html'));
    writeFileSync(files[2], html);
  }
  return files;
}
