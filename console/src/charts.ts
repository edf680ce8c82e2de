// Request rate and mean latency per model, from the server's own statistics: each poll of
// /v2/models/stats is compared with the one before (requests finished, and the time they took).
// Only models that served a request since the page opened get a line.

import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';
import type { ModelStats } from './api.js';
import { html } from './util.js';

/** Points kept per line: two minutes at one poll a second. */
const KEEP = 120;
const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#17becf', '#8c564b', '#e377c2', '#7f7f7f', '#bcbd22'];

interface Line {
  rate: (number | null)[];
  latency: (number | null)[];
}

export interface History {
  /** Seconds (wall clock) of each point. */
  times: number[];
  models: Map<string, Line>;
  last?: { at: number; stats: Map<string, { count: number; ns: number }> };
}

const keyOf = (s: ModelStats) => `${s.name} v${s.version}`;

/** The history with one more poll: per model, requests per second and mean latency since the last poll. */
export function pushSample(h: History, at: number, stats: ModelStats[]): History {
  const now = new Map(stats.map((s) => [keyOf(s), {
    count: s.inference_stats.success.count + s.inference_stats.fail.count,
    ns: s.inference_stats.success.ns + s.inference_stats.fail.ns,
  }]));
  if (!h.last) return { ...h, last: { at, stats: now } };
  const dt = (at - h.last.at) / 1000;
  const times = [...h.times, Date.now() / 1000].slice(-KEEP);
  const models = new Map<string, Line>();
  const names = new Set([...h.models.keys(), ...[...now].filter(([k, v]) => v.count > (h.last!.stats.get(k)?.count ?? 0)).map(([k]) => k)]);
  for (const name of names) {
    const before = h.last.stats.get(name);
    const after = now.get(name);
    const n = after && before ? after.count - before.count : 0;
    const line = h.models.get(name) ?? { rate: new Array<null>(h.times.length).fill(null), latency: new Array<null>(h.times.length).fill(null) };
    models.set(name, {
      rate: [...line.rate, dt > 0 ? n / dt : null].slice(-KEEP),
      latency: [...line.latency, n > 0 ? (after!.ns - before!.ns) / n / 1e6 : null].slice(-KEEP),
    });
  }
  return { times, models, last: { at, stats: now } };
}

function Chart({ id, title, unit, history, pick }: { id: string; title: string; unit: string; history: History; pick: (l: Line) => (number | null)[] }) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<{ u: uPlot; names: string } | undefined>(undefined);
  const names = [...history.models.keys()];
  const data = [history.times, ...names.map((n) => pick(history.models.get(n)!))] as uPlot.AlignedData;

  useEffect(() => {
    const el = box.current!;
    const key = names.join('\n');
    if (!plot.current || plot.current.names !== key) {
      plot.current?.u.destroy();
      const opts: uPlot.Options = {
        width: Math.max(300, el.clientWidth), height: 220,
        // Rates and latencies from zero up, so a small change does not look like a big one.
        scales: { x: { time: true }, y: { range: (_u: uPlot, _min: number, max: number) => [0, max > 0 ? max * 1.1 : 1] } },
        series: [{}, ...names.map((n, i) => ({ label: n, stroke: COLORS[i % COLORS.length], width: 2, spanGaps: false, value: (_u: uPlot, v: number | null) => (v == null ? '' : `${v.toFixed(2)} ${unit}`) }))],
        axes: [{}, { label: unit, size: 60 }],
      };
      plot.current = { u: new uPlot(opts, data, el), names: key };
    } else {
      plot.current.u.setData(data);
    }
  });
  useEffect(() => {
    const resize = () => plot.current?.u.setSize({ width: Math.max(300, box.current!.clientWidth), height: 220 });
    window.addEventListener('resize', resize);
    return () => {
      window.removeEventListener('resize', resize);
      plot.current?.u.destroy();
      plot.current = undefined;
    };
  }, []);
  return html`<figure class="chart"><figcaption>${title}</figcaption><div id=${id} ref=${box}></div></figure>`;
}

export function ChartsPanel({ history }: { history: History }) {
  return html`<section id="panel-charts" class="panel">
    <h2>Traffic</h2>
    <p class="hint">From the server's statistics (<code>/v2/models/stats</code>, polled every second); a line per model that served a request since this page opened.</p>
    <div class="charts">
      <${Chart} id="chart-rate" title="Requests per second" unit="req/s" history=${history} pick=${(l: Line) => l.rate} />
      <${Chart} id="chart-latency" title="Mean latency" unit="ms" history=${history} pick=${(l: Line) => l.latency} />
    </div>
  </section>`;
}
