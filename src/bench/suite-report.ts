// The suites' results as terminal tables and as Markdown blocks for BENCHMARKS.md.

import { textTable } from './output.js';
import { streamingOverheads, type StreamingResults } from './streaming.js';
import { PAYLOAD_SUITES, CLIENT_BOUND, type RowSummary } from './suites.js';
import type { SuiteResults } from './suite-run.js';

const num = (x: number | null | undefined, d = 0) => (x === null || x === undefined || !Number.isFinite(x) ? '-' : x.toFixed(d));
const signed = (x: number, d = 0) => (Number.isFinite(x) ? `${x >= 0 ? '+' : ''}${x.toFixed(d)}` : '-');

function flags(s: RowSummary): string {
  return [s.clientBound ? 'client-bound' : '', s.errors ? `${s.errors} errors` : ''].filter(Boolean).join(', ');
}

const HEAD = ['row', 'target', 'generator', 'req/s', '× floor', 'range', 'p50 µs', 'p50 − floor µs', 'p99 µs', 'main µs/req', 'all µs/req', 'main ELU', 'model µs', 'client CPU', 'flags'];

function cells(s: RowSummary): string[] {
  return [
    s.label, s.target, s.generator, num(s.rps), num(s.ratio, 2), Number.isFinite(s.ratioMin) ? `${s.ratioMin.toFixed(2)}–${s.ratioMax.toFixed(2)}` : '-',
    num(s.p50us), s.target !== 'node:http echo' && s.target !== 'node:http2 gRPC echo' ? signed(s.p50DiffUs) : '', num(s.p99us),
    num(s.serverMainUs), num(s.serverAllUs), num(s.serverElu, 2), num(s.computeUs), num(s.clientCpu, 2), flags(s),
  ];
}

/** The summaries of one suite in row order, floors first. */
function ordered(res: SuiteResults, suite: 'transport' | 'image'): RowSummary[] {
  const out: RowSummary[] = [];
  for (const row of PAYLOAD_SUITES[suite].rows) {
    const mine = res.summaries.filter((x) => x.suite === suite && x.row === row.id);
    // Floors first, then other builds (--compare), then this Duet.
    const rank = (t: string) => (row.floors.includes(t as never) ? row.floors.indexOf(t as never) : t === 'duet' ? 99 : 50);
    out.push(...mine.sort((a, b) => rank(a.target) - rank(b.target)));
  }
  return out;
}

const STREAM_HEAD = ['path', 'streams', 'TTFT p50 ms', 'TTFT p99 ms', 'per token p50 ms', 'per token mean ms', 'per token p99 ms', 'max gap ms', 'tokens/s', 'main µs/token', 'client ELU'];

/** The floors within a path's TTFT overhead, when the run had floor rows. */
function floorPart(o: { path: string; ttftOverMs: number; ttftFloorMs: number; ttftBusyFloorOverMs: number }): string {
  const floor = o.path.startsWith('gRPC') ? 'node:http2' : 'node:http';
  const bare = Number.isFinite(o.ttftFloorMs) ? `, of which ${num(o.ttftFloorMs, 2)} ms is the ${floor} floor's round trip (${signed(o.ttftOverMs - o.ttftFloorMs, 2)} ms beyond it)` : '';
  const busy = Number.isFinite(o.ttftBusyFloorOverMs)
    ? `; ${floor} with a worker hop busy as long adds ${signed(o.ttftBusyFloorOverMs, 2)} ms (${signed(o.ttftOverMs - o.ttftBusyFloorOverMs, 2)} ms beyond it)` : '';
  return bare + busy;
}

/** What the busy floor's own stream of tokens takes per token over in-process, when it streamed them. */
function tokenFloorPart(o: { path: string; perTokenOverUs: number; perTokenBusyFloorOverUs: number }): string {
  if (!Number.isFinite(o.perTokenBusyFloorOverUs)) return '';
  const floor = o.path.startsWith('gRPC') ? 'node:http2' : 'node:http';
  return `; the busy ${floor} floor streaming as many tokens takes ${signed(o.perTokenBusyFloorOverUs)} µs (${signed(o.perTokenOverUs - o.perTokenBusyFloorOverUs)} µs beyond it)`;
}

function streamCells(r: StreamingResults['runs'][number]): string[] {
  return [r.path, String(r.streams), num(r.ttft.p50, 2), num(r.ttft.p99, 2), num(r.tbt.p50, 3), num(r.tbt.mean, 3), num(r.tbt.p99, 2), num(r.maxGapMs, 1),
    num(r.tokensPerSecond), num(r.serverMainUsPerToken), num(r.clientElu, 2)];
}

export function suitesTerminalReport(res: SuiteResults): string {
  const out: string[] = [];
  for (const suite of ['transport', 'image'] as const) {
    const rows = ordered(res, suite);
    if (!rows.length) continue;
    out.push(`\n${suite}: ${PAYLOAD_SUITES[suite].title}`);
    out.push(textTable([HEAD, ...rows.map(cells)]));
  }
  if (res.streaming) {
    out.push(`\nstreaming: ${res.streaming.model}, ${res.streaming.maxTokens} tokens greedy`);
    out.push(textTable([STREAM_HEAD, ...res.streaming.runs.map(streamCells)]));
    for (const o of streamingOverheads(res.streaming)) {
      out.push(`${o.path}: first token ${signed(o.ttftOverMs, 2)} ms over in-process (p50)${floorPart(o)}, per token ${signed(o.perTokenOverUs)} µs (mean)${tokenFloorPart(o)}`);
    }
  }
  out.push('');
  out.push(`× floor: req/s over the first floor of the row in the same round (median over ${res.meta.settings.rounds} rounds, range shown); main/all µs/req: the server's main thread / whole process CPU per answered request (/proc); main ELU: Duet's main event-loop utilization (metrics port); model µs: Duet's compute time per request (statistics extension).`);
  out.push(`client CPU: cores the load generator used (wrk, h2load) or its busiest thread's event-loop utilization (duet-client); over ${CLIENT_BOUND} a row is flagged client-bound.`);
  for (const n of res.meta.notes) out.push(`note: ${n}`);
  return out.join('\n') + '\n';
}

function mdTable(head: string[], rows: string[][]): string[] {
  return [`| ${head.join(' | ')} |`, `|${head.map((_, i) => (i < 3 ? '---' : '---:')).join('|')}|`, ...rows.map((r) => `| ${r.join(' | ')} |`)];
}

function runLine(res: SuiteResults, suite: 'transport' | 'image' | 'streaming'): string {
  const m = res.meta;
  const gens = Object.entries(m.generators).map(([p, g]) => `${p}: ${g}`).join(', ');
  const how = suite === 'streaming'
    ? `${m.settings.generations ?? '?'} generations per path at one stream and one per stream at 64, after ${m.settings.streamWarmupS ?? '?'} s of warm-up per path. `
    : `${m.settings.seconds} s per run, ${m.settings.rounds} interleaved rounds after ${m.settings.warmupS} s of warm-up per target; load generators ${gens || '-'}. `;
  return `Measured ${m.date} ('duet' is ${m.build ?? 'this build'}) on ${m.machine.cpu}, ${m.machine.cores} cores, Node ${m.machine.node} (load average ${m.machine.loadAverage ?? '-'} at the start); `
    + how + `Command: \`duet bench ${(m.command ?? []).join(' ')}\`.`;
}

/** Markdown for one suite's generated block. */
export function suiteMarkdown(res: SuiteResults, suite: 'transport' | 'image' | 'streaming'): string | undefined {
  const out: string[] = [];
  if (suite === 'streaming') {
    if (!res.streaming) return undefined;
    out.push(`\`${res.streaming.model}\`, ${res.streaming.maxTokens} tokens greedy per generation; client in the bench process.`);
    out.push('');
    out.push(...mdTable(STREAM_HEAD, res.streaming.runs.map(streamCells)));
    out.push('');
    for (const o of streamingOverheads(res.streaming)) out.push(`- ${o.path}: first token ${signed(o.ttftOverMs, 2)} ms over in-process (p50; target ≤ 1 ms)${floorPart(o)}, per token ${signed(o.perTokenOverUs)} µs over in-process (mean; target < 50 µs)${tokenFloorPart(o)}.`);
  } else {
    const rows = ordered(res, suite);
    if (!rows.length) return undefined;
    out.push(`${PAYLOAD_SUITES[suite].title}.`);
    out.push('');
    out.push(...mdTable(HEAD, rows.map(cells)));
  }
  out.push('');
  out.push(runLine(res, suite));
  if (res.meta.notes.length) {
    out.push('');
    for (const n of res.meta.notes) out.push(`- note: ${n}`);
  }
  return out.join('\n');
}
