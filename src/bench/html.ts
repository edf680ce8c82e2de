// report.html: one self-contained page (inline SVG and CSS, no scripts, no network) with the
// charts and every run's figures.

import { buildCharts, protocolName } from './charts.js';
import { floorOf, fmtBytes, fmtMs, fmtRate } from './output.js';
import type { BenchResults, RunRecord } from './run.js';

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

function runLabel(r: RunRecord): string {
  return r.target === 'duet' ? protocolName(r.protocol) : r.target === 'echo' ? `${protocolName(r.protocol)} echo floor` : 'in-process';
}

export function htmlReport(res: BenchResults): string {
  const m = res.meta;
  const charts = buildCharts(res);
  const parts: string[] = [];
  parts.push(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>duet bench ${esc(m.date)}</title>
<style>
body{font-family:Helvetica,Arial,sans-serif;margin:24px auto;max-width:1400px;color:#222;padding:0 16px}
h1{font-size:22px}h2{font-size:18px;margin-top:32px;border-bottom:1px solid #ddd;padding-bottom:4px}
table{border-collapse:collapse;font-size:12px;margin:8px 0 16px}th,td{padding:3px 8px;text-align:right;border-bottom:1px solid #eee}
th{background:#f4f4f4}td:first-child,th:first-child{text-align:left}tr.floor td{color:#777}tr.inproc td{color:#555;font-style:italic}
.charts{display:flex;flex-wrap:wrap;gap:12px}.charts svg{border:1px solid #eee;max-width:100%;height:auto}
.meta{font-size:13px;color:#444}.warn{color:#a33}
</style></head><body>
<h1>duet bench</h1>
<p class="meta">${esc(m.date)} · ${esc(m.machine.cpu)}, ${m.machine.cores} cores, ${m.machine.memoryGiB} GiB · ${esc(m.machine.os)} · Node ${esc(m.machine.node)}<br>
target: ${esc(m.target)} · ${m.settings.durationS} s measured after ${m.settings.warmupS} s warm-up per run ·
concurrency ${m.settings.concurrency.join(', ')} · load-generator threads: ${esc(m.settings.workers)} · requests encoded ${m.settings.encode === 'each' ? 'for every call, as the SDK does' : 'once and resent'}</p>
<p class="meta">Latency is measured by the client from encoding the request to decoding the response. Server time comes from the statistics
extension (data plane in to out: validation, queue, compute). Bytes are counted at the client's sockets, HTTP headers and HTTP/2 framing included.
Echo floors answer the same bytes from a bare node:http or grpc-js server doing no work; the in-process call is dataPlane.infer with no protocol.</p>`);
  for (const n of m.notes) parts.push(`<p class="warn">note: ${esc(n)}</p>`);
  const bound = res.runs.filter((r) => r.clientBound);
  if (bound.length) parts.push(`<p class="warn">${bound.length} run(s) were client-bound (a load-generator thread's event loop over 80 % busy): their figures understate the server.</p>`);
  parts.push('<h2>Bytes on the wire</h2><div class="charts">');
  for (const c of charts.filter((c) => c.name.startsWith('bytes-'))) parts.push(c.svg);
  parts.push('</div>');
  for (const sc of m.scenarios) {
    const runs = res.runs.filter((r) => r.scenario === sc.name);
    if (!runs.length) continue;
    parts.push(`<h2>${esc(sc.title)}</h2><p class="meta">${esc(sc.model)} [${esc(sc.shape)}], ${esc(sc.data)}, ${fmtBytes(sc.tensorBytes)} of tensor data</p><div class="charts">`);
    for (const c of charts.filter((c) => c.name.endsWith(`-${sc.name}`) && !c.name.startsWith('bytes-'))) parts.push(c.svg);
    parts.push('</div><table><tr><th></th><th>conc</th><th>req/s</th><th>p50 ms</th><th>p90 ms</th><th>p99 ms</th><th>server ms</th><th>queue ms</th><th>client − server ms</th><th>request bytes</th><th>response bytes</th><th>request body</th><th>response body</th><th>errors</th><th>p50 vs floor</th><th>client ELU</th><th>host CPU</th><th>server cores</th></tr>');
    for (const r of runs) {
      const floor = r.target === 'duet' ? floorOf(res.runs, r) : undefined;
      const cls = r.target === 'echo' ? ' class="floor"' : r.target === 'in-process' ? ' class="inproc"' : '';
      const err = r.errors ? ` title="${esc(r.errorSamples.join(' | '))}"` : '';
      parts.push(`<tr${cls}><td>${esc(runLabel(r))}</td><td>${r.concurrency}</td><td>${fmtRate(r.throughput)}</td><td>${fmtMs(r.latencyMs.p50)}</td><td>${fmtMs(r.latencyMs.p90)}</td><td>${fmtMs(r.latencyMs.p99)}</td>`
        + `<td>${fmtMs(r.serverMs)}</td><td>${fmtMs(r.serverQueueMs)}</td><td>${fmtMs(r.overheadMs)}</td><td>${fmtBytes(r.wireRequestBytes)}</td><td>${fmtBytes(r.wireResponseBytes)}</td>`
        + `<td>${fmtBytes(r.payloadRequestBytes)}</td><td>${fmtBytes(r.payloadResponseBytes)}</td><td${err}>${r.errors}</td>`
        + `<td>${floor && floor.latencyMs.p50 > 0 ? `${(r.latencyMs.p50 / floor.latencyMs.p50).toFixed(2)}×` : ''}</td>`
        + `<td${r.clientBound ? ' class="warn"' : ''}>${r.clientElu.toFixed(2)}</td><td>${Number.isFinite(r.hostCpu) ? `${Math.round(r.hostCpu * 100)} %` : '-'}</td><td>${r.serverCpu === null ? '-' : r.serverCpu.toFixed(2)}</td></tr>`);
    }
    parts.push('</table>');
  }
  parts.push('</body></html>\n');
  return parts.join('\n');
}
