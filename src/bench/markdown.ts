// BENCHMARKS.md from a bench run: the brief's claims as a measured table, charts as SVG files, and
// a reading of where each claim holds and where it does not — every number in it measured in the run.

import { mkdirSync, writeFileSync } from 'node:fs';
import { writeGenerated } from './blocks.js';
import { dirname, join, relative, sep } from 'node:path';
import { buildCharts, protocolName } from './charts.js';
import { floorOf, fmtBytes, fmtMs, fmtRate } from './output.js';
import type { BenchResults, RunRecord } from './run.js';

type P = 'grpc' | 'http-json' | 'http-binary';

const pct = (x: number) => `${Math.round(x * 100)} %`;
const times = (x: number) => (Number.isFinite(x) ? `${x >= 10 ? x.toFixed(0) : x.toFixed(x >= 3 ? 1 : 2)}×` : '-');
const list = (xs: string[]) => (xs.length <= 1 ? xs.join('') : `${xs.slice(0, -1).join(', ')} and ${xs[xs.length - 1]}`);

class View {
  readonly levels: number[];
  constructor(readonly res: BenchResults) {
    this.levels = [...new Set(res.runs.map((r) => r.concurrency))].sort((a, b) => a - b);
  }
  get lo(): number {
    return this.levels[0];
  }
  get hi(): number {
    return this.levels[this.levels.length - 1];
  }
  run(sc: string, target: string, p: string, c: number): RunRecord | undefined {
    const r = this.res.runs.find((x) => x.scenario === sc && x.target === target && x.protocol === p && x.concurrency === c);
    return r && r.requests > 0 ? r : undefined;
  }
  duet(sc: string, p: P, c = this.lo): RunRecord | undefined {
    return this.run(sc, 'duet', p, c);
  }
  /** The highest concurrency at which a scenario ran over every protocol. */
  top(sc: string): number {
    for (const c of [...this.levels].reverse()) if ((['grpc', 'http-json', 'http-binary'] as P[]).every((p) => this.duet(sc, p, c))) return c;
    return this.lo;
  }
  scenarios() {
    return this.res.meta.scenarios.filter((s) => this.duet(s.name, 'grpc') && this.duet(s.name, 'http-json'));
  }
}

const total = (r: RunRecord | undefined) => (r ? (r.wireRequestBytes ?? NaN) + (r.wireResponseBytes ?? NaN) : NaN);

function sizeVerdict(reduction: number): string {
  if (!Number.isFinite(reduction)) return '-';
  if (reduction > 0.8) return `exceeded: ${pct(reduction)} smaller`;
  if (reduction >= 0.6) return `holds: ${pct(reduction)} smaller`;
  if (reduction >= 0.2) return `partly: ${pct(reduction)} smaller`;
  if (reduction >= 0) return `does not hold: ${pct(reduction)} smaller`;
  return `does not hold: gRPC ${pct(-reduction)} larger`;
}

function speedVerdict(ratio: number): string {
  if (!Number.isFinite(ratio)) return '-';
  if (ratio > 5) return `exceeded: ${times(ratio)}`;
  if (ratio >= 2) return `holds: ${times(ratio)}`;
  if (ratio >= 1.2) return `partly: ${times(ratio)}`;
  if (ratio > 1 / 1.2) return `does not hold: ${times(ratio)} (no real difference)`;
  return `does not hold: JSON faster (${times(ratio)})`;
}

function claimsTables(v: View): string[] {
  const out: string[] = [];
  out.push('#### Payload size: bytes on the wire per request and response, counted at the socket');
  out.push('');
  out.push('| scenario | tensor data | REST JSON request | gRPC request | REST binary request | REST JSON response | gRPC response | REST binary response | gRPC vs JSON, request + response (claim: 60–80 % smaller) |');
  out.push('|---|---:|---:|---:|---:|---:|---:|---:|---|');
  for (const s of v.scenarios()) {
    const [j, g, b] = (['http-json', 'grpc', 'http-binary'] as P[]).map((p) => v.duet(s.name, p));
    out.push(`| ${s.name} | ${fmtBytes(s.tensorBytes)} | ${fmtBytes(j?.wireRequestBytes)} | ${fmtBytes(g?.wireRequestBytes)} | ${fmtBytes(b?.wireRequestBytes)} | ${fmtBytes(j?.wireResponseBytes)} | ${fmtBytes(g?.wireResponseBytes)} | ${fmtBytes(b?.wireResponseBytes)} | ${sizeVerdict(1 - total(g) / total(j))} |`);
  }
  out.push('');
  out.push(`#### Latency (p50 at concurrency ${v.lo}) and throughput (at the highest concurrency)`);
  out.push('');
  out.push(`| scenario | REST JSON p50 | gRPC p50 | REST binary p50 | JSON ÷ gRPC latency (claim: 2–5×) | REST binary ÷ gRPC | concurrency | REST JSON req/s | gRPC req/s | REST binary req/s | gRPC ÷ JSON throughput |`);
  out.push('|---|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|');
  for (const s of v.scenarios()) {
    const [j, g, b] = (['http-json', 'grpc', 'http-binary'] as P[]).map((p) => v.duet(s.name, p));
    const c = v.top(s.name);
    const [jt, gt, bt] = (['http-json', 'grpc', 'http-binary'] as P[]).map((p) => v.duet(s.name, p, c));
    out.push(`| ${s.name} | ${fmtMs(j?.latencyMs.p50)} ms | ${fmtMs(g?.latencyMs.p50)} ms | ${fmtMs(b?.latencyMs.p50)} ms | ${speedVerdict(j && g ? j.latencyMs.p50 / g.latencyMs.p50 : NaN)} | ${b && g ? times(b.latencyMs.p50 / g.latencyMs.p50) : '-'} | ${c} | ${jt ? fmtRate(jt.throughput) : '-'} | ${gt ? fmtRate(gt.throughput) : '-'} | ${bt ? fmtRate(bt.throughput) : '-'} | ${jt && gt ? times(gt.throughput / jt.throughput) : '-'} |`);
  }
  return out;
}

function reading(v: View): string[] {
  const out: string[] = [];
  const sc = v.scenarios();
  const has = (n: string) => sc.some((s) => s.name === n);
  const meta = (n: string) => v.res.meta.scenarios.find((s) => s.name === n)!;
  const p50 = (n: string, target: string, p: string, c = v.lo) => v.run(n, target, p, c)?.latencyMs.p50 ?? NaN;
  const bytesPerValue = (n: string) => {
    const j = v.duet(n, 'http-json');
    return j && j.payloadRequestBytes ? j.payloadRequestBytes / (meta(n).tensorBytes / 4) : NaN;
  };
  const reqReduction = (n: string) => 1 - (v.duet(n, 'grpc')?.wireRequestBytes ?? NaN) / (v.duet(n, 'http-json')?.wireRequestBytes ?? NaN);
  const ratio = (n: string, a: P, b: P, c = v.lo) => p50(n, 'duet', a, c) / p50(n, 'duet', b, c);
  const floats = ['features', 'embedding', 'image', 'audio'].filter(has);
  const isLarge = (n: string) => meta(n).tensorBytes >= 10_000;
  const within = (x: number) => (Math.abs(x) < 0.01 ? 'less than 1 %' : pct(Math.abs(x)));

  // --- payload size
  out.push('**Payload size.**');
  if (floats.length) {
    const reds = floats.map((n) => reqReduction(n));
    const chars = floats.map(bytesPerValue).filter(Number.isFinite);
    const lo = Math.min(...reds);
    const hi = Math.max(...reds);
    out.push(`A float32 at full precision, written as JSON the way clients write floats (the shortest text that reads back as the same double, e.g. \`0.7364240288734436,\`), takes ${chars.length ? `${Math.min(...chars).toFixed(1)}–${Math.max(...chars).toFixed(1)}` : '?'} bytes against 4 in a binary tensor. So for the float scenarios (${list(floats)}) the gRPC request is ${pct(lo)}${pct(hi) !== pct(lo) ? `–${pct(hi)}` : ''} smaller than the REST JSON one: ${lo >= 0.6 ? `the brief's 60–80 % holds${hi > 0.8 ? ' (and is exceeded)' : ''}, and it holds whatever the size, from ${fmtBytes(Math.min(...floats.map((n) => meta(n).tensorBytes)))} to ${fmtBytes(Math.max(...floats.map((n) => meta(n).tensorBytes)))} of tensor data` : `short of the brief's 60–80 % for ${list(floats.filter((n) => reqReduction(n) < 0.6))}`}. It is a ratio of number formats (about ${chars.length ? Math.round(Math.min(...chars)) : '?'} bytes of text for 4 of binary, so 1 − 4/${chars.length ? Math.round(Math.min(...chars)) : '?'} ≈ ${chars.length ? pct(1 - 4 / Math.min(...chars)) : '?'}), not of protocols.`);
  }
  if (has('image-int') && has('image')) {
    const c = bytesPerValue('image-int');
    const r = reqReduction('image-int');
    out.push(`The same image as integer pixels 0..255 (still FP32 in the binary formats) is ${c.toFixed(1)} bytes per value in JSON, so gRPC's request is ${r >= 0 ? `only ${pct(r)} smaller than` : `${pct(-r)} larger than`} REST JSON's (${fmtBytes(v.duet('image-int', 'grpc')?.wireRequestBytes)} against ${fmtBytes(v.duet('image-int', 'http-json')?.wireRequestBytes)}): ${r < 0.6 ? 'the 60–80 % claim does not hold here' : 'the claim still holds, narrowly'}. JSON's size depends on the numbers in it: short integers are about as compact as 4-byte floats. (Sent as UINT8, the binary formats would carry a quarter of either.)`);
  }
  if (has('text')) {
    const [j, g, b] = (['http-json', 'grpc', 'http-binary'] as P[]).map((p) => v.duet('text', p));
    out.push(`Short text (${fmtBytes(meta('text').tensorBytes)} of tensor data) is nearly all overhead: REST JSON ${fmtBytes(total(j))} per request and response together, gRPC ${fmtBytes(total(g))} (${sizeVerdict(1 - total(g) / total(j)).replace(/^[a-z ]+: /, '')}), REST binary ${fmtBytes(total(b))}. The difference is headers: HTTP/1.1 repeats its header lines in full on every request, HTTP/2 compresses repeated headers (HPACK) to a few bytes; ${b && j && total(b) > total(j) ? 'the binary extension\'s extra header and JSON preamble make REST binary the largest of the three here' : 'the tensor itself is a few dozen bytes either way'}.`);
  }
  const bins = sc.map((s) => s.name).filter((n) => v.duet(n, 'http-binary') && v.duet(n, 'grpc'));
  if (bins.length) {
    const big = bins.filter(isLarge);
    const small = bins.filter((n) => !isLarge(n));
    const diff = (n: string) => total(v.duet(n, 'http-binary')) - total(v.duet(n, 'grpc'));
    const parts: string[] = [];
    if (big.length) parts.push(`within ${within(Math.max(...big.map((n) => diff(n) / total(v.duet(n, 'grpc')))))} of gRPC's bytes for the tensors of 10 kB or more (${list(big)})`);
    if (small.length) parts.push(`${Math.round(Math.min(...small.map(diff)))}–${Math.round(Math.max(...small.map(diff)))} bytes more per request and response on the small ones (${list(small)}), which is its HTTP/1.1 headers and JSON header`);
    out.push(`REST with binary tensors closes the size gap: it carries the same raw bytes as gRPC — ${parts.join(', and ')}.`);
  }
  out.push('');

  // --- latency
  out.push('**Latency.**');
  const lat = sc.map((s) => ({ n: s.name, r: ratio(s.name, 'http-json', 'grpc') })).filter((x) => Number.isFinite(x.r));
  if (lat.length) {
    const holds = lat.filter((x) => x.r >= 2).map((x) => x.n);
    const partly = lat.filter((x) => x.r >= 1.2 && x.r < 2).map((x) => x.n);
    const not = lat.filter((x) => x.r < 1.2).map((x) => x.n);
    const reversed = lat.filter((x) => x.r < 1 / 1.2).map((x) => x.n);
    let claim = `At concurrency ${v.lo}, REST JSON's median latency divided by gRPC's is ${lat.map((x) => `${times(x.r)} for ${x.n}`).join(', ')}. The claim of 2–5× lower latency ${holds.length ? `holds, or is exceeded, for ${list(holds)}` : 'holds for none of them'}`;
    if (partly.length) claim += `; gRPC is ahead, by less, for ${list(partly)}`;
    if (not.length) claim += `; it does not hold for ${list(not)}`;
    if (reversed.length) claim += ` — there REST JSON is ${reversed.length === not.length ? '' : `(for ${list(reversed)}) `}the faster of the two`;
    out.push(`${claim}.`);
    const small = sc.map((s) => s.name).filter((n) => !isLarge(n) && Number.isFinite(ratio(n, 'http-json', 'grpc')));
    if (small.length) {
      const ref = small[0];
      const gf = p50(ref, 'echo', 'grpc');
      const hf = p50(ref, 'echo', 'http-json');
      const bf = p50(ref, 'echo', 'http-binary');
      out.push(`Small tensors (${list(small)}) are a few kilobytes at most, cheap to write and parse as JSON; what costs is the fixed work of each request — the HTTP/1.1 or HTTP/2 exchange, the data plane and the hop to the model's worker thread, the client's own work. ${Number.isFinite(gf) && Number.isFinite(hf) ? `The echo floors measure the transports alone on this machine (${ref}, p50): a bare grpc-js server answers in ${fmtMs(gf)} ms, a bare node:http server in ${fmtMs(hf)} ms for the same JSON bytes${Number.isFinite(bf) ? ` and ${fmtMs(bf)} ms for the binary ones` : ''}. ${gf > hf * 1.2 ? 'grpc-js costs more per call than node:http, so at these sizes gRPC starts behind and its smaller payload does not make up for it.' : gf < hf / 1.2 ? 'grpc-js is the cheaper transport here, which is most of gRPC\'s lead at these sizes.' : 'The two transports cost about the same per call, so the encoding decides.'}` : ''}`);
    }
    const large = ['image', 'image-int', 'audio'].filter((n) => has(n) && Number.isFinite(ratio(n, 'http-json', 'grpc')));
    if (large.length) {
      const rows = large.map((n) => `${n}: REST JSON ${fmtMs(p50(n, 'duet', 'http-json'))} ms (its echo floor ${fmtMs(p50(n, 'echo', 'http-json'))} ms), gRPC ${fmtMs(p50(n, 'duet', 'grpc'))} ms (floor ${fmtMs(p50(n, 'echo', 'grpc'))} ms), REST binary ${fmtMs(p50(n, 'duet', 'http-binary'))} ms (floor ${fmtMs(p50(n, 'echo', 'http-binary'))} ms)`);
      const clientShare = large.map((n) => p50(n, 'echo', 'http-json') / p50(n, 'duet', 'http-json')).filter(Number.isFinite);
      out.push(`Large tensors are where JSON costs: every value is formatted as text by the client and parsed back by the server. At p50 — ${rows.join('; ')}. ${clientShare.length ? (Math.min(...clientShare) > 0.5 ? `The JSON echo floor, which sends the same bytes to a server that parses nothing, already takes ${pct(Math.min(...clientShare))}–${pct(Math.max(...clientShare))} of Duet's JSON latency: with this client most of JSON's cost is producing the text, before the server sees a byte.` : `The JSON echo floor, which sends the same bytes to a server that parses nothing, takes ${pct(Math.min(...clientShare))}–${pct(Math.max(...clientShare))} of Duet's JSON latency; the rest is mostly Duet parsing the JSON and, for the models that answer with the tensor, writing it back (the statistics extension's clock starts after decoding and stops before encoding, so that shows in "client − server" time, not in "server ms").`) : ''}`);
      const img = large.find((n) => Number.isFinite(p50(n, 'echo', 'grpc')) && Number.isFinite(p50(n, 'echo', 'http-binary')));
      if (img) {
        const gf = p50(img, 'echo', 'grpc');
        const bf = p50(img, 'echo', 'http-binary');
        const g = v.duet(img, 'grpc')!;
        const b = v.duet(img, 'http-binary')!;
        const parts: string[] = [];
        if (gf > bf * 1.5) parts.push(`The floors show grpc-js moving big messages more slowly than node:http: ${fmtBytes(meta(img).tensorBytes)} of ${img} through a grpc-js server that does nothing takes ${fmtMs(gf)} ms at p50, through node:http ${fmtMs(bf)} ms.`);
        else if (bf > gf * 1.5) parts.push(`The floors show node:http moving big bodies more slowly than grpc-js here: ${fmtMs(bf)} ms against ${fmtMs(gf)} ms at p50 for ${img}.`);
        // Means here: the statistics extension's server time is a mean.
        const gfr = v.run(img, 'echo', 'grpc', v.lo)!;
        const bfr = v.run(img, 'echo', 'http-binary', v.lo)!;
        const addG = g.latencyMs.mean - gfr.latencyMs.mean;
        const addB = b.latencyMs.mean - bfr.latencyMs.mean;
        if (g.serverMs !== null && b.serverMs !== null) {
          parts.push(`On average Duet adds ${fmtMs(addG)} ms to the gRPC floor and ${fmtMs(addB)} ms to the REST binary floor for the same tensor, of which its data plane (validation, queue, compute; statistics extension) is ${fmtMs(g.serverMs)} and ${fmtMs(b.serverMs)} ms${addG > addB * 1.5 && g.serverMs < b.serverMs * 1.5 ? ': the difference lies in the gRPC front-end\'s handling of a large message (protobuf decoding and encoding, grpc-js\'s buffering), not in the model' : addB > addG * 1.5 && b.serverMs < g.serverMs * 1.5 ? ': the difference lies in the REST front-end\'s handling of a large body, not in the model' : ''}.`);
        }
        if (parts.length) out.push(parts.join(' '));
      }
    }
  }
  const bl = bins.map((n) => ({ n, r: ratio(n, 'http-binary', 'grpc') })).filter((x) => Number.isFinite(x.r));
  if (bl.length) {
    const faster = bl.filter((x) => x.r < 1 / 1.1).map((x) => x.n);
    const same = bl.filter((x) => x.r >= 1 / 1.1 && x.r <= 1.1).map((x) => x.n);
    const slower = bl.filter((x) => x.r > 1.1).map((x) => x.n);
    out.push(`REST binary's p50 divided by gRPC's (below 1: REST binary is faster): ${bl.map((x) => `${x.n} ${times(x.r)}`).join(', ')} — ${[
      faster.length ? `faster for ${list(faster)}` : '',
      same.length ? `within 10 % for ${list(same)}` : '',
      slower.length ? `slower for ${list(slower)}` : '',
    ].filter(Boolean).join('; ')}. ${slower.length <= bl.length / 3 ? 'What the claim credits to gRPC is mostly binary tensors against JSON text, and REST with the binary extension gets it too.' : 'Here gRPC keeps an edge over REST binary beyond the encoding.'}`);
  }
  out.push('');

  // --- throughput
  const tp = sc.map((s) => {
    const c = v.top(s.name);
    const t = (['grpc', 'http-binary', 'http-json'] as P[]).map((p) => ({ p, r: v.duet(s.name, p, c)?.throughput ?? NaN }));
    const best = t.reduce((a, b) => (b.r > a.r ? b : a));
    return { n: s.name, c, t, best: best.p, gj: t[0].r / t[2].r };
  }).filter((x) => Number.isFinite(x.gj));
  if (tp.length) {
    const by = (p: P) => tp.filter((x) => x.best === p).map((x) => x.n);
    out.push('**Throughput under load.**');
    out.push(`At concurrency ${tp[0].c}, gRPC's requests per second divided by REST JSON's: ${tp.map((x) => `${x.n} ${times(x.gj)}`).join(', ')}. The most throughput came from ${[
      by('http-binary').length ? `REST binary for ${list(by('http-binary'))}` : '',
      by('grpc').length ? `gRPC for ${list(by('grpc'))}` : '',
      by('http-json').length ? `REST JSON for ${list(by('http-json'))}` : '',
    ].filter(Boolean).join(', ')}. With client and server on the same ${v.res.meta.machine.cores} cores, throughput is bounded by the CPU they share, so the protocol that spends the fewest cycles per request, on both sides, wins.`);
    out.push('');
  }

  // --- compute-bound
  const cb = ['image', 'image-int'].filter(has).map((n) => ({ n, g: v.duet(n, 'grpc'), b: v.duet(n, 'http-binary'), j: v.duet(n, 'http-json'), i: v.run(n, 'in-process', 'in-process', v.lo) }))
    .find((x) => x.g && x.b && x.g.serverComputeMs !== null);
  if (cb && cb.g && cb.b) {
    const comp = cb.g.serverComputeMs!;
    const outside = (r: RunRecord) => 1 - comp / r.latencyMs.p50;
    out.push('**Compute-bound models.**');
    out.push(`The bundled resnet_mini is a small network: the statistics extension puts its compute at ${fmtMs(comp)} ms per request${cb.i ? `, and the in-process call (no protocol) answers in ${fmtMs(cb.i.latencyMs.p50)} ms at p50` : ''}. Over gRPC its p50 is ${fmtMs(cb.g.latencyMs.p50)} ms and over REST binary ${fmtMs(cb.b.latencyMs.p50)} ms, so what lies outside the model's compute is ${pct(outside(cb.g))} and ${pct(outside(cb.b))} of the time: ${Math.max(outside(cb.g), outside(cb.b)) > 0.5 ? `at this size the protocol (chiefly moving ${fmtBytes(meta(cb.n).tensorBytes)}) still matters more than the model` : 'the model dominates and the protocol matters little'}. The protocol's cost is fixed per request while compute grows with the model, so the ratios shrink towards 1 as models get heavier: by simple arithmetic on these figures, a model computing 50 ms would see gRPC and REST binary within ${pct(Math.abs(cb.g.latencyMs.p50 - cb.b.latencyMs.p50) / (50 + Math.min(cb.g.latencyMs.p50, cb.b.latencyMs.p50) - comp))} of each other${cb.j ? `, while JSON's ${fmtMs(cb.j.latencyMs.p50 - cb.g.latencyMs.p50)} ms of float text would still be ${times((cb.j.latencyMs.p50 - comp + 50) / (cb.g.latencyMs.p50 - comp + 50))} gRPC's latency` : ''}. For JSON the protocol stops mattering only when the model is far heavier than the text is slow.`);
    out.push('');
  }

  // --- floors
  const fl = sc.flatMap((s) => (['grpc', 'http-binary', 'http-json'] as P[]).map((p) => {
    const r = v.duet(s.name, p);
    const f = r && floorOf(v.res.runs, r);
    return r && f && f.requests ? { n: s.name, p, r, f } : undefined;
  })).filter((x): x is NonNullable<typeof x> => !!x);
  if (fl.length) {
    const ratios = fl.map((x) => x.r.latencyMs.p50 / x.f.latencyMs.p50);
    const ip = sc.map((s) => ({ n: s.name, i: v.run(s.name, 'in-process', 'in-process', v.lo), g: v.duet(s.name, 'grpc'), b: v.duet(s.name, 'http-binary') })).filter((x) => x.i && x.g);
    out.push('**Floors and overheads.**');
    out.push(`Against its echo floor (the same bytes both ways through a bare node:http or grpc-js server doing no work), Duet's p50 at concurrency ${v.lo} is ${times(Math.min(...ratios))}–${times(Math.max(...ratios))} the floor's: the floor is the client and the transport; the rest is Duet decoding, validating, queueing, running the model in its worker thread and encoding.${ip.length ? ` The in-process call (dataPlane.infer, no protocol) answers at p50 in ${ip.map((x) => `${fmtMs(x.i!.latencyMs.p50)} ms (${x.n})`).join(', ')}; a protocol adds to that ${ip.map((x) => `${fmtMs(x.g!.latencyMs.p50 - x.i!.latencyMs.p50)} ms over gRPC${x.b ? ` and ${fmtMs(x.b.latencyMs.p50 - x.i!.latencyMs.p50)} ms over REST binary` : ''} (${x.n})`).join(', ')}.` : ''}`);
    out.push('');
  }

  // --- caveats
  const bound = v.res.runs.filter((r) => r.clientBound);
  const duetRuns = v.res.runs.filter((r) => r.target === 'duet');
  const busy = duetRuns.filter((r) => r.hostCpu > 0.95);
  const load = v.res.meta.machine.loadAverage;
  out.push('**What these numbers are not.**');
  out.push([
    'Client and server share one machine and talk over loopback, so bytes cost CPU time but no network time: on a real network, and more so a slow one, the payload savings above also save transfer time, which this run cannot show.',
    busy.length ? `In ${busy.length} of ${duetRuns.length} runs against Duet the machine's cores were over 95 % busy (client, server${load !== undefined && load > 0.5 ? `, and other work: the load average was ${load.toFixed(2)} when the run began` : ''}), so throughput is the machine's, not the server's alone, and the latencies carry scheduling noise.` : '',
    bound.length ? `${bound.length} run(s) were client-bound (a load-generator thread's event loop over 80 % busy: ${list([...new Set(bound.map((r) => `${r.scenario} ${r.target === 'echo' ? `${r.protocol} floor` : r.protocol} c=${r.concurrency}`))].slice(0, 6))}${bound.length > 6 ? ', …' : ''}); ${bound.every((r) => r.target === 'echo') ? 'all are echo floors, where the client\'s own encoding is the only work there is, so those floors are the client\'s limit rather than the transport\'s' : 'their figures understate what the server can do'}.` : 'No run was client-bound (every load-generator thread\'s event loop stayed under 80 % busy).',
    `Each run is short (${v.res.meta.settings.durationS} s after ${v.res.meta.settings.warmupS} s of warm-up), so p99 rests on few samples and single figures can move by tens of percent from one run to the next; the large ratios (JSON against binary for big tensors, the payload sizes) are stable, the small ones (within ±30 %) are not.`,
    'The client is this project\'s TypeScript SDK; another client (tritonclient in Python, perf_analyzer in C++) has other encoding costs. That is what `duet bench` is for: run it on your models and machines.',
  ].filter(Boolean).join(' '));
  return out;
}

function allRunsTable(v: View): string[] {
  const out: string[] = [];
  for (const s of v.res.meta.scenarios) {
    const runs = v.res.runs.filter((r) => r.scenario === s.name);
    if (!runs.length) continue;
    out.push(`##### ${s.title}`);
    out.push('');
    out.push(`${s.model} [${s.shape}], ${s.data}, ${fmtBytes(s.tensorBytes)} of tensor data.`);
    out.push('');
    out.push('| | conc | req/s | p50 ms | p90 ms | p99 ms | server ms | client − server ms | request bytes | response bytes | errors | p50 ÷ floor | client ELU |');
    out.push('|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
    for (const r of runs) {
      const f = r.target === 'duet' ? floorOf(v.res.runs, r) : undefined;
      const name = r.target === 'duet' ? protocolName(r.protocol) : r.target === 'echo' ? `↳ ${protocolName(r.protocol)} echo floor` : 'in-process call';
      out.push(`| ${name} | ${r.concurrency} | ${fmtRate(r.throughput)} | ${fmtMs(r.latencyMs.p50)} | ${fmtMs(r.latencyMs.p90)} | ${fmtMs(r.latencyMs.p99)} | ${fmtMs(r.serverMs)} | ${fmtMs(r.overheadMs)} | ${fmtBytes(r.wireRequestBytes)} | ${fmtBytes(r.wireResponseBytes)} | ${r.errors} | ${f && f.requests ? times(r.latencyMs.p50 / f.latencyMs.p50) : ''} | ${r.clientElu.toFixed(2)}${r.clientBound ? ' (client-bound)' : ''} |`);
    }
    out.push('');
  }
  return out;
}

/**
 * Write the report into `file`'s generated `scenarios` block (the prose around it stays) and its
 * charts as SVG files into `chartsDir` (referenced by relative paths); returns the chart files
 * written. `argv` is the bench command line, quoted in the report.
 */
export function writeMarkdownReport(res: BenchResults, file: string, chartsDir: string, argv: string[]): string[] {
  mkdirSync(chartsDir, { recursive: true });
  mkdirSync(dirname(file), { recursive: true });
  const charts = buildCharts(res);
  const files: string[] = [];
  const link = new Map<string, string>();
  for (const c of charts) {
    const f = join(chartsDir, `${c.name}.svg`);
    writeFileSync(f, c.svg);
    files.push(f);
    link.set(c.name, relative(dirname(file), f).split(sep).join('/'));
  }
  const v = new View(res);
  const m = res.meta;
  const img = (name: string, alt: string) => (link.has(name) ? `![${alt}](${link.get(name)})` : '');
  const out: string[] = [];
  out.push(`Measured ${m.date.slice(0, 10)} (${m.date}) on ${m.machine.cpu}, ${m.machine.cores} cores, ${m.machine.memoryGiB} GiB, ${m.machine.os}, Node ${m.machine.node}; ${m.target}, client and server on the same machine over loopback. Each run: ${m.settings.durationS} s measured after ${m.settings.warmupS} s of warm-up, closed loop at concurrency ${m.settings.concurrency.join(', ')}, load generated from worker threads (${m.settings.workers}).`);
  out.push('');
  out.push(`Command: \`duet bench ${(m.command ?? argv).join(' ')}\` — \`npm run bench:report\` builds, runs it and writes this file with its charts. To measure your own model: \`duet bench --model NAME [--shape 1,128] [--data random|pixels|FILE] [--url HOST:8000]\`.`);
  out.push('');
  out.push('The brief says gRPC gives "latency improvements of 2–5x and payload size reductions of 60–80 % versus equivalent JSON". Below, each scenario from the brief\'s use cases, over gRPC, REST with JSON tensors and REST with binary tensors (Triton\'s binary extension).');
  out.push('');
  out.push('### The claims, measured');
  out.push('');
  out.push(...claimsTables(v));
  out.push('');
  out.push('### Reading');
  out.push('');
  out.push(...reading(v).map((l) => (l ? `${l}\n` : l)));
  out.push('### Charts');
  out.push('');
  out.push(img('bytes-request', 'bytes on the wire per request, per scenario and protocol'));
  out.push('');
  out.push(img('bytes-response', 'bytes on the wire per response, per scenario and protocol'));
  out.push('');
  for (const s of m.scenarios) {
    if (!link.has(`latency-${s.name}`)) continue;
    out.push(`${img(`latency-${s.name}`, `${s.title}: p50 latency against concurrency`)} ${img(`throughput-${s.name}`, `${s.title}: throughput against concurrency`)}`);
    out.push('');
  }
  out.push('### Every run');
  out.push('');
  out.push('"server ms" is the statistics extension\'s time per request (from the data plane receiving the decoded request to its answer: validation, queue, compute); "client − server" is the mean client latency minus it — transport, HTTP/gRPC handling, encoding and decoding on both sides. Request and response bytes are per request, counted at the client\'s sockets. "p50 ÷ floor" compares with the echo floor run just below it.');
  out.push('');
  out.push(...allRunsTable(v));
  out.push('### How it is measured');
  out.push('');
  out.push([
    '- **Load**: closed loop — each of `concurrency` clients sends its next request when the last is answered — spread over worker threads (`min(concurrency, cores)` by default), each with its own client: one HTTP/2 connection per thread for gRPC, one keep-alive socket per loop for REST. A warm-up phase, then a barrier, then the measured phase; the server\'s statistics are read at the barrier and after.',
    '- **Client**: every request is encoded and every response decoded the way the SDK (`packages/client`) does it: JSON text of the values, or the binary extension\'s header plus raw bytes, or a protobuf `ModelInferRequest` with `raw_input_contents`. Latency runs from encoding the request to decoding the response.',
    '- **Percentiles**: nearest rank over every successful request of the measured phase (p99 is a latency that was observed). Errors are counted apart and left out of the latencies.',
    '- **Bytes**: every TCP socket a load-generator thread opens is seen on Node\'s `net.client.socket` diagnostics channel; its `bytesWritten`/`bytesRead` over the measured phase, divided by the requests, are the bytes per request and per response — HTTP/1.1 headers, HTTP/2 frames and HPACK headers included, TCP/IP headers not. Nothing sits in the data path, so counting costs no latency. Connection setup happens in the warm-up.',
    '- **Server time**: `GET /v2/models/{m}/stats` before and after each run; the change in `success.ns` over the change in `success.count`.',
    '- **Client-bound**: each load-generator thread reports its event-loop utilization over the run; above 0.8 the client, not the server, was the limit, and the run is flagged.',
    '- **Echo floors**: a bare `node:http` server and a bare `grpc-js` server (same HTTP/2 windows as Duet) in a child process, answering each request with the exact response Duet gave to the same request, without decoding anything — the cost of the transport and the client alone.',
    '- **In-process**: the bench process loads the same model with Duet\'s `ModelManager` and `DataPlane` and calls `dataPlane.infer` directly (scheduler, worker-thread backend and all; no sockets, no encoding).',
    '- **Data**: float values are uniform in [0, 1) at full float32 precision; `image-int` holds integers 0..255 (as FP32); text is one UTF-8 sentence. All generated from a fixed seed.',
  ].join('\n'));
  out.push('');
  if (m.notes.length) {
    out.push('Notes from the run:');
    out.push('');
    for (const n of m.notes) out.push(`- ${n}`);
    out.push('');
  }
  writeGenerated(file, [['scenarios', out.join('\n').replace(/\n{3,}/g, '\n\n')]]);
  return files;
}
