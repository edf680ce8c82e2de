// The connections, hol, fanout and link suites as tables (terminal and Markdown), SVG charts, and the
// rows they add to the claims table: each claim of the brief with a verdict drawn from the numbers.

import { textTable } from './output.js';
import { CONNECTION_LEVELS, CONNECTION_MODES, NET_SCENARIOS, PROTOCOL_NAMES } from './net-run.js';
import { FANOUT_KINDS, HOL_SLOW, holModes } from './net-load.js';
import type { NetResults, NetSuiteName } from './net-setup.js';
import { barChart, COLORS, type Series } from './svg.js';
import { median, type RowSummary } from './suites.js';

const num = (x: number | null | undefined, d = 0) => (x === null || x === undefined || !Number.isFinite(x) ? '-' : x.toFixed(d));
const ms = (x: number) => (!Number.isFinite(x) ? '-' : x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2));
const kib = (x: number) => (!Number.isFinite(x) ? '-' : x.toFixed(1));

export interface Table {
  head: string[];
  rows: string[][];
}

/** Text columns (the first `left`) align left, numbers right. */
function mdTable(t: Table, left = 1): string[] {
  return [`| ${t.head.join(' | ')} |`, `|${t.head.map((_, i) => (i < left ? '---' : '---:')).join('|')}|`, ...t.rows.map((r) => `| ${r.join(' | ')} |`)];
}

function connSummary(res: NetResults, row: string, target: string): RowSummary | undefined {
  return res.connections?.summaries.find((s) => s.row === row && s.target === target);
}

export function connectionsTable(res: NetResults): Table {
  const head = ['scenario, connection, load', 'target', 'req/s', '× floor', 'p50 ms', 'p99 ms', 'server µs/req (all threads)', 'main µs/req', 'client ELU', 'errors'];
  const rows: string[][] = [];
  for (const sc of NET_SCENARIOS) for (const mode of CONNECTION_MODES) for (const c of CONNECTION_LEVELS) {
    const id = `${sc.name}-${mode.id}-c${c}`;
    for (const s of res.connections?.summaries.filter((x) => x.row === id).sort((a, b) => (a.target === 'duet' ? 1 : 0) - (b.target === 'duet' ? 1 : 0)) ?? []) {
      rows.push([s.label, s.target, num(s.rps), num(s.ratio, 2), ms(s.p50us / 1000), ms(s.p99us / 1000), num(s.serverAllUs), num(s.serverMainUs), num(s.clientCpu, 2), String(s.errors)]);
    }
  }
  return { head, rows };
}

function holMedian(res: NetResults, mode: string, slow: string, f: (r: NonNullable<NetResults['hol']>[number]) => number): number {
  return median((res.hol ?? []).filter((r) => r.mode === mode && r.slow === slow).map(f));
}

export function holTable(res: NetResults): Table {
  const head = ['connection', 'slow requests alongside', 'fast p50 ms', 'fast p99 ms', 'fast requests', 'slow p50 ms', 'slow requests', 'errors'];
  const rows: string[][] = [];
  for (const m of holModes(res.meta.settings.holPool)) for (const slow of HOL_SLOW) {
    if (!(res.hol ?? []).some((r) => r.mode === m.id && r.slow === slow)) continue;
    const med = (f: Parameters<typeof holMedian>[3]) => holMedian(res, m.id, slow, f);
    rows.push([m.label, slowName(res, slow), ms(med((r) => r.fastP50Ms)), ms(med((r) => r.fastP99Ms)), num(med((r) => r.fastCount)), ms(med((r) => r.slowP50Ms)), num(med((r) => r.slowCount)), num(med((r) => r.errors))]);
  }
  return { head, rows };
}

const slowName = (res: NetResults, slow: string) => (slow === 'none' ? 'none (fast alone)' : slow === 'sleep' ? `a model sleeping ${res.meta.settings.slowMs} ms` : 'resnet_mini, 602 KB image');

export function fanoutTable(res: NetResults): Table {
  const head = ['clients', 'size', 'target', 'server RSS at start MiB', 'with all open MiB', 'KiB per client', 'req/s', 'p50 ms', 'p99 ms', 'server µs/req', 'client ELU', 'errors'];
  const rows = (res.fanout ?? []).map((r) => [FANOUT_KINDS.find((k) => k.id === r.kind)?.label ?? r.kind, String(r.size), r.target, num(r.rssBeforeKiB / 1024, 1), num(r.rssOpenKiB / 1024, 1), kib(r.rssPerConnKiB), num(r.rps), ms(r.p50Ms), ms(r.p99Ms), num(r.serverAllUs), num(r.clientElu, 2), String(r.errors)]);
  return { head, rows };
}

/** Per scenario, link and protocol, the medians over rounds. */
export function linkRows(res: NetResults): { scenario: string; link: string; protocol: string; p50Ms: number; p99Ms: number; upBytes: number; downBytes: number; transferMs: number; share: number }[] {
  const out = [];
  const runs = res.link ?? [];
  for (const key of [...new Set(runs.map((r) => `${r.scenario}\u0000${r.link}\u0000${r.protocol}`))]) {
    const [scenario, link, protocol] = key.split('\u0000');
    const mine = runs.filter((r) => r.scenario === scenario && r.link === link && r.protocol === protocol);
    const med = (f: (r: (typeof mine)[number]) => number) => median(mine.map(f));
    const p50Ms = med((r) => r.p50Ms);
    const transfer = med((r) => r.transferMs);
    out.push({ scenario, link, protocol, p50Ms, p99Ms: med((r) => r.p99Ms), upBytes: med((r) => r.upBytes), downBytes: med((r) => r.downBytes), transferMs: transfer, share: transfer / p50Ms });
  }
  return out;
}

const bytes = (n: number) => (!Number.isFinite(n) ? '-' : n >= 1e6 ? `${(n / 1e6).toFixed(2)} MB` : n >= 1e3 ? `${(n / 1e3).toFixed(1)} kB` : `${n.toFixed(0)} B`);

export function linkTable(res: NetResults): Table {
  const head = ['scenario', 'link', 'protocol', 'bytes up + down', 'p50 ms', 'p99 ms', 'link time ms', 'share of p50 on the link', '÷ gRPC p50'];
  const rows = linkRows(res);
  return {
    head,
    rows: rows.map((r) => {
      const g = rows.find((x) => x.scenario === r.scenario && x.link === r.link && x.protocol === 'grpc');
      return [r.scenario, r.link, PROTOCOL_NAMES[r.protocol as keyof typeof PROTOCOL_NAMES] ?? r.protocol, `${bytes(r.upBytes)} + ${bytes(r.downBytes)}`, ms(r.p50Ms), ms(r.p99Ms), ms(r.transferMs),
        Number.isFinite(r.share) ? `${Math.round(Math.min(r.share, 9.99) * 100)} %` : '-', g ? `${(r.p50Ms / g.p50Ms).toFixed(2)}×` : '-'];
    }),
  };
}

/** One claim of the brief, with what the numbers say. */
export interface ClaimRow {
  claim: string;
  verdict: string;
  numbers: string;
}

const pct = (x: number) => `${Math.round(x * 100)} %`;

/** Fast requests beside slow ones were not held up: p50 within twice, or 2 ms of, their p50 alone. */
export function unblocked(p50Beside: number, p50Alone: number): boolean {
  return p50Beside <= Math.max(2 * p50Alone, p50Alone + 2);
}

export function netClaims(res: NetResults): ClaimRow[] {
  const out: ClaimRow[] = [];
  if (res.connections) {
    const at = (mode: string, c: number, sc = 'features') => connSummary(res, `${sc}-${mode}-c${c}`, 'duet');
    const close = at('rest-close', 1);
    const keep = at('rest-keepalive', 1);
    const grpc = at('grpc', 1);
    const close16 = at('rest-close', 16);
    const keep16 = at('rest-keepalive', 16);
    if (close && keep && grpc) {
      const extra = close.p50us - keep.p50us;
      const cpu = (close.serverAllUs ?? NaN) - (keep.serverAllUs ?? NaN);
      out.push({
        claim: 'REST "opens a new TCP connection" per request; gRPC keeps one',
        verdict: extra > 0 && cpu > 0 ? 'holds only for a client without keep-alive' : 'does not hold here',
        numbers: `features c=1 p50: new connection ${ms(close.p50us / 1000)} ms, keep-alive ${ms(keep.p50us / 1000)} ms, gRPC ${ms(grpc.p50us / 1000)} ms; server CPU ${num(close.serverAllUs)} / ${num(keep.serverAllUs)} / ${num(grpc.serverAllUs)} µs per request`
          + (close16 && keep16 ? `; c=16 req/s ${num(close16.rps)} / ${num(keep16.rps)} (new / keep-alive)` : ''),
      });
    }
  }
  if (res.hol?.length) {
    const p50 = (mode: string, slow: string) => holMedian(res, mode, slow, (r) => r.fastP50Ms);
    const p99 = (mode: string, slow: string) => holMedian(res, mode, slow, (r) => r.fastP99Ms);
    const alone = p50('grpc-1', 'none');
    const g = p50('grpc-1', 'sleep');
    const gi = p50('grpc-1', 'image');
    const h = p50('http-1', 'sleep');
    const pool = p50('http-pool', 'sleep');
    const work = unblocked(g, alone);
    const big = unblocked(gi, alone) || !Number.isFinite(gi);
    const http1 = !unblocked(h, p50('http-1', 'none')) ? `; one HTTP/1.1 connection blocks${unblocked(pool, p50('http-pool', 'none')) ? `, a pool of ${res.meta.settings.holPool} does not` : ''}` : '';
    out.push({
      claim: 'one multiplexed HTTP/2 connection "handles concurrent calls without head-of-line blocking"',
      verdict: (work ? (big ? 'holds' : 'holds for slow work, not beside a large message on the same connection') : 'does not hold here') + http1,
      numbers: `fast p50 (p99) alone on gRPC's one connection ${ms(alone)} (${ms(p99('grpc-1', 'none'))}) ms; beside a ${res.meta.settings.slowMs} ms request: gRPC ${ms(g)} (${ms(p99('grpc-1', 'sleep'))}) ms, HTTP/1.1 one connection ${ms(h)} (${ms(p99('http-1', 'sleep'))}) ms, pool of ${res.meta.settings.holPool} ${ms(pool)} (${ms(p99('http-pool', 'sleep'))}) ms; beside the 602 KB image: gRPC ${ms(gi)} ms, HTTP/1.1 one connection ${ms(p50('http-1', 'image'))} ms, pool ${ms(p50('http-pool', 'image'))} ms`,
    });
  }
  if (res.fanout?.length) {
    const biggest = Math.max(...res.fanout.filter((r) => r.target === 'duet').map((r) => r.size));
    const at = (kind: string) => res.fanout!.find((r) => r.kind === kind && r.size === biggest && r.target === 'duet');
    const rest = at('rest');
    const conns = at('grpc-conns');
    const streams = at('grpc-streams');
    if (rest && conns && streams) {
      const x = (a: number) => `${(a / rest.rssPerConnKiB).toFixed(1)}×`;
      const less = Math.min(conns.rssPerConnKiB, streams.rssPerConnKiB) < 0.8 * rest.rssPerConnKiB;
      out.push({
        claim: 'gRPC suits "high fan-out deployments where connection overhead matters"',
        verdict: less ? (streams.rssPerConnKiB < conns.rssPerConnKiB ? 'holds when the clients share a few connections as streams' : 'holds') : `does not hold on memory: per client a gRPC connection costs ${x(conns.rssPerConnKiB)} and a gRPC stream ${x(streams.rssPerConnKiB)} a REST keep-alive connection's`,
        numbers: `${biggest} clients: server memory per client ${kib(rest.rssPerConnKiB)} KiB (REST connections), ${kib(conns.rssPerConnKiB)} KiB (gRPC connections), ${kib(streams.rssPerConnKiB)} KiB (gRPC streams over 4 connections); CPU ${num(rest.serverAllUs)} / ${num(conns.serverAllUs)} / ${num(streams.serverAllUs)} µs per request; p99 ${ms(rest.p99Ms)} / ${ms(conns.p99Ms)} / ${ms(streams.p99Ms)} ms`,
      });
    }
  }
  if (res.link?.length) {
    const rows = linkRows(res);
    const find = (sc: string, link: string, p: string) => rows.find((r) => r.scenario === sc && r.link === link && r.protocol === p);
    const slowest = res.meta.settings.links.at(-1)?.name;
    const parts: string[] = [];
    let holds = false;
    for (const sc of ['features', 'image']) {
      for (const link of res.meta.settings.links.map((l) => l.name)) {
        const j = find(sc, link, 'http-json');
        const g = find(sc, link, 'grpc');
        const b = find(sc, link, 'http-binary');
        if (!j || !g) continue;
        const saved = j.p50Ms - g.p50Ms;
        if (link === slowest) parts.push(`${sc} on ${link}: REST JSON ${ms(j.p50Ms)} ms, gRPC ${ms(g.p50Ms)} ms, REST binary ${b ? ms(b.p50Ms) : '-'} ms (JSON's link time ${pct(Math.min(j.share, 1))} of its p50)`);
        if (saved > 0.2 * j.p50Ms) holds = true;
      }
    }
    out.push({
      claim: 'a 60–80 % smaller payload makes calls faster',
      verdict: holds ? 'holds when the payload is large against the link\'s rate; for small tensors latency dominates and it does not' : 'does not hold on these links',
      numbers: parts.join('; '),
    });
  }
  return out;
}

function claimsMarkdown(rows: ClaimRow[]): string[] {
  return mdTable({ head: ['claim (brief)', 'verdict', 'numbers'], rows: rows.map((r) => [r.claim, r.verdict, r.numbers]) }, 3);
}

/** The SVG charts of the suites that ran, by file stem. */
export function netCharts(res: NetResults): { name: string; alt: string; svg: string }[] {
  const out: { name: string; alt: string; svg: string }[] = [];
  const palette = ['#d1452f', '#2a9d3a', '#1f6fb4'];
  if (res.connections) {
    const cats = NET_SCENARIOS.flatMap((sc) => CONNECTION_LEVELS.map((c) => `${sc.name} c=${c}`));
    const series: Series[] = CONNECTION_MODES.map((m, i) => ({
      name: m.label, color: palette[i],
      values: NET_SCENARIOS.flatMap((sc) => CONNECTION_LEVELS.map((c) => connSummary(res, `${sc.name}-${m.id}-c${c}`, 'duet')?.serverAllUs ?? null)),
    }));
    out.push({ name: 'connections-cpu', alt: 'server CPU per request: new REST connection per request, REST keep-alive, gRPC one connection', svg: barChart({ title: 'Server CPU per request by connection handling', subtitle: 'whole Duet process, /proc; features = REST JSON, image = REST binary', xLabel: 'scenario and concurrency', yLabel: 'µs of CPU per request (log scale)', unit: 'µs', categories: cats, series, log: true }) });
    const p50: Series[] = CONNECTION_MODES.map((m, i) => ({
      name: m.label, color: palette[i],
      values: NET_SCENARIOS.flatMap((sc) => CONNECTION_LEVELS.map((c) => { const s = connSummary(res, `${sc.name}-${m.id}-c${c}`, 'duet'); return s ? s.p50us / 1000 : null; })),
    }));
    out.push({ name: 'connections-p50', alt: 'p50 latency: new REST connection per request, REST keep-alive, gRPC one connection', svg: barChart({ title: 'p50 latency by connection handling', subtitle: 'closed loop, client and server on one machine', xLabel: 'scenario and concurrency', yLabel: 'p50 ms (log scale)', unit: 'ms', categories: cats, series: p50, log: true }) });
  }
  if (res.hol?.length) {
    const modes = holModes(res.meta.settings.holPool);
    const series: Series[] = HOL_SLOW.map((slow, i) => ({ name: slowName(res, slow), color: ['#555555', '#d1452f', '#1f6fb4'][i], values: modes.map((m) => { const v = holMedian(res, m.id, slow, (r) => r.fastP99Ms); return Number.isFinite(v) ? v : null; }) }));
    out.push({ name: 'hol-p99', alt: 'fast requests\' p99 beside slow ones, per connection arrangement', svg: barChart({ title: 'Fast requests\' p99 with slow requests on the same client', subtitle: `my_model every ${num(1000 / res.meta.settings.holRate)} ms (open loop); bars: what runs alongside`, xLabel: 'connection', yLabel: 'fast p99 ms (log scale)', unit: 'ms', categories: modes.map((m) => m.label.replace('HTTP/1.1, ', 'HTTP/1.1 ').replace(' keep-alive connection', '')), series, log: true }) });
  }
  if (res.fanout?.length) {
    const sizes = [...new Set(res.fanout.map((r) => r.size))].sort((a, b) => a - b);
    const series: Series[] = FANOUT_KINDS.map((k, i) => ({ name: k.label, color: palette[i], values: sizes.map((n) => res.fanout!.find((r) => r.kind === k.id && r.size === n && r.target === 'duet')?.rssPerConnKiB ?? null) }));
    out.push({ name: 'fanout-memory', alt: 'Duet\'s memory per open client', svg: barChart({ title: 'Server memory per open client', subtitle: 'Duet RSS with every client open minus before, per client', xLabel: 'open clients', yLabel: 'KiB per client', unit: 'KiB', categories: sizes.map(String), series }) });
  }
  if (res.link?.length) {
    const rows = linkRows(res);
    const links = [...new Set(rows.map((r) => r.link))];
    for (const sc of NET_SCENARIOS) {
      const series: Series[] = (['http-json', 'http-binary', 'grpc'] as const).map((p) => ({ name: PROTOCOL_NAMES[p], color: COLORS[p], values: links.map((l) => rows.find((r) => r.scenario === sc.name && r.link === l && r.protocol === p)?.p50Ms ?? null) }));
      out.push({ name: `link-${sc.name}`, alt: `${sc.name}: p50 per protocol over each emulated link`, svg: barChart({ title: `${sc.name}: p50 over an emulated link`, subtitle: 'one request at a time through link-proxy (latency each way, rate cap)', xLabel: 'link', yLabel: 'p50 ms (log scale)', unit: 'ms', categories: links, series, log: true }) });
    }
  }
  return out;
}

function runLine(res: NetResults): string {
  const m = res.meta;
  return `Measured ${m.date} ('duet' is ${m.build}) on ${m.machine.cpu}, ${m.machine.cores} cores, Node ${m.machine.node} (load average ${m.machine.loadAverage ?? '-'} at the start); `
    + `${m.settings.seconds} s per run, ${m.settings.rounds} rounds; open files ${m.nofile ? `${m.nofile.soft} (hard ${m.nofile.hard})` : '-'}. Command: \`duet bench ${(m.command ?? []).join(' ')}\`.`;
}

const INTRO: Record<NetSuiteName, (res: NetResults) => string> = {
  connections: () => 'Closed loop from the bench\'s worker-thread client (its latency includes connecting); each row against its echo floor (node:http or node:http2, same bytes, same connection handling) in interleaved rounds. features: my_model over REST JSON; image: resnet_mini over REST binary.',
  hol: (res) => `Fast my_model requests every ${num(1000 / res.meta.settings.holRate)} ms (open loop: each is sent on schedule, whether or not the last was answered), and alongside them one slow request kept in flight on the same client: the \`sleep\` model (${res.meta.settings.slowMs} ms, no CPU) or resnet_mini with its 602 KB image. REST here is REST binary. Latency counts from the moment a request is handed to the client, so waiting for a busy connection is in it.`,
  fanout: (res) => `Open clients sending my_model requests on a schedule (all together ${res.meta.settings.fanoutRate} req/s, spread evenly), after every client has connected with a first request. Memory is Duet's RSS with all open minus before (a fresh server per run). Floors: node:http and node:http2 echo servers (same bytes); the streams rows have none.`,
  link: () => 'Client and Duet talk through link-proxy (src/bench/link-proxy.ts): each direction delayed by the latency and capped by a token bucket at the rate; HTTP/1.1 and HTTP/2 bytes pass through untouched. An emulation in user space: the TCP handshake is not delayed and timers are millisecond-grained. One request at a time, keep-alive. "link time" is what the link alone costs: both latencies plus request and response bytes (counted at the client\'s socket) at the rate.',
};

export function netMarkdown(res: NetResults, suite: NetSuiteName, chartsRel: string): string | undefined {
  const table = suite === 'connections' ? (res.connections ? connectionsTable(res) : undefined)
    : suite === 'hol' ? (res.hol?.length ? holTable(res) : undefined)
      : suite === 'fanout' ? (res.fanout?.length ? fanoutTable(res) : undefined)
        : res.link?.length ? linkTable(res) : undefined;
  if (!table) return undefined;
  const out = [INTRO[suite](res), '', ...mdTable(table), ''];
  for (const c of netCharts(res).filter((x) => x.name.startsWith(suite))) out.push(`![${c.alt}](${chartsRel}/${c.name}.svg)`, '');
  out.push(runLine(res));
  const notes = res.meta.notes.filter((n) => n.startsWith(suite));
  if (notes.length) out.push('', ...notes.map((n) => `- note: ${n}`));
  return out.join('\n');
}

/** The claims block: rows for the suites that ran. */
export function netClaimsMarkdown(res: NetResults): string | undefined {
  const rows = netClaims(res);
  return rows.length ? [...claimsMarkdown(rows), '', runLine(res)].join('\n') : undefined;
}

export function netTerminalReport(res: NetResults): string {
  const out: string[] = [];
  const tables: [string, Table | undefined][] = [
    ['connections', res.connections ? connectionsTable(res) : undefined],
    ['hol', res.hol?.length ? holTable(res) : undefined],
    ['fanout', res.fanout?.length ? fanoutTable(res) : undefined],
    ['link', res.link?.length ? linkTable(res) : undefined],
  ];
  for (const [name, t] of tables) if (t) out.push(`\n${name}`, textTable([t.head, ...t.rows]));
  const claims = netClaims(res);
  if (claims.length) out.push('\nclaims', textTable([['claim', 'verdict', 'numbers'], ...claims.map((c) => [c.claim, c.verdict, c.numbers])]));
  for (const n of res.meta.notes) out.push(`note: ${n}`);
  return out.join('\n') + '\n';
}
