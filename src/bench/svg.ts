// Hand-written SVG charts for the bench reports: self-contained (no scripts, no fonts, no network),
// so they render inline in report.html and as images in BENCHMARKS.md.

export interface Series {
  name: string;
  color: string;
  dashed?: boolean;
  values: (number | null)[];
}

export const COLORS: Record<string, string> = {
  grpc: '#1f6fb4',
  'http-binary': '#2a9d3a',
  'http-json': '#d1452f',
  'in-process': '#555555',
};

const W = 680;
const H = 380;
const M = { left: 72, right: 170, top: 44, bottom: 56 };

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

export function fmtTick(v: number, unit = ''): string {
  if (unit === 'B') {
    if (v >= 1e6) return `${+(v / 1e6).toPrecision(3)} MB`;
    if (v >= 1e3) return `${+(v / 1e3).toPrecision(3)} kB`;
    return `${+v.toPrecision(3)} B`;
  }
  const s = Math.abs(v) >= 1000 ? `${+(v / 1000).toPrecision(3)}k` : `${+v.toPrecision(3)}`;
  return unit ? `${s} ${unit}` : s;
}

/** Ticks at 1, 2, 5 × 10^k within [lo, hi] (log axes); powers of ten only when the range is wide. */
export function logTicks(lo: number, hi: number): number[] {
  const out: number[] = [];
  const wide = hi / lo > 1e4;
  for (let e = Math.floor(Math.log10(lo)); e <= Math.ceil(Math.log10(hi)); e++) {
    for (const m of wide ? [1] : [1, 2, 5]) {
      const v = m * 10 ** e;
      if (v >= lo * 0.999 && v <= hi * 1.001) out.push(v);
    }
  }
  return out;
}

/** Round ticks covering [0, hi] (linear axes). */
export function linearTicks(hi: number): number[] {
  if (!(hi > 0)) return [0, 1];
  const raw = hi / 5;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw)!;
  const out: number[] = [];
  for (let v = 0; v <= hi + step * 0.999; v += step) out.push(+v.toPrecision(12));
  return out;
}

/** The largest 1, 2 or 5 × 10^k at or below v. */
function down125(v: number): number {
  const p = 10 ** Math.floor(Math.log10(v));
  return [5, 2, 1].map((m) => m * p).find((x) => x <= v * (1 + 1e-9)) ?? p;
}

/** The smallest 1, 2 or 5 × 10^k at or above v. */
function up125(v: number): number {
  const p = 10 ** Math.floor(Math.log10(v));
  return [1, 2, 5, 10].map((m) => m * p).find((x) => x >= v * (1 - 1e-9)) ?? 10 * p;
}

interface Axis {
  ticks: number[];
  pos(v: number): number;
}

function yAxis(values: number[], log: boolean): Axis {
  const top = M.top;
  const bottom = H - M.bottom;
  const pos = (frac: number) => bottom - frac * (bottom - top);
  const finite = values.filter((v) => Number.isFinite(v) && (!log || v > 0));
  if (!finite.length) return { ticks: [0, 1], pos: (v) => pos(v) };
  if (log) {
    const lo = down125(Math.min(...finite));
    let hi = up125(Math.max(...finite));
    if (hi <= lo) hi = up125(lo * 1.5);
    const l0 = Math.log10(lo);
    const l1 = Math.log10(hi);
    return { ticks: logTicks(lo, hi), pos: (v) => pos((Math.log10(v) - l0) / (l1 - l0)) };
  }
  const ticks = linearTicks(Math.max(...finite) * 1.05);
  const hi = ticks[ticks.length - 1];
  return { ticks, pos: (v) => pos(v / hi) };
}

function frame(title: string, subtitle: string | undefined, yLabel: string, xLabel: string): string[] {
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" font-family="Helvetica, Arial, sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="#ffffff"/>`,
    `<text x="${M.left}" y="20" font-size="14" font-weight="bold" fill="#222">${esc(title)}</text>`,
    subtitle ? `<text x="${M.left}" y="36" font-size="11" fill="#666">${esc(subtitle)}</text>` : '',
    `<text transform="translate(16 ${(M.top + H - M.bottom) / 2}) rotate(-90)" text-anchor="middle" fill="#333">${esc(yLabel)}</text>`,
    `<text x="${(M.left + W - M.right) / 2}" y="${H - 12}" text-anchor="middle" fill="#333">${esc(xLabel)}</text>`,
  ];
}

function yGrid(axis: Axis, unit: string): string[] {
  const out: string[] = [];
  for (const t of axis.ticks) {
    const y = axis.pos(t).toFixed(1);
    out.push(`<line x1="${M.left}" x2="${W - M.right}" y1="${y}" y2="${y}" stroke="#e4e4e4"/>`);
    out.push(`<text x="${M.left - 6}" y="${y}" dy="4" text-anchor="end" fill="#444">${esc(fmtTick(t, unit))}</text>`);
  }
  out.push(`<line x1="${M.left}" x2="${M.left}" y1="${M.top}" y2="${H - M.bottom}" stroke="#888"/>`);
  out.push(`<line x1="${M.left}" x2="${W - M.right}" y1="${H - M.bottom}" y2="${H - M.bottom}" stroke="#888"/>`);
  return out;
}

function legend(series: Series[], kind: 'line' | 'bar'): string[] {
  const out: string[] = [];
  const x = W - M.right + 14;
  series.forEach((s, i) => {
    const y = M.top + 8 + i * 20;
    if (kind === 'line') {
      out.push(`<line x1="${x}" x2="${x + 22}" y1="${y}" y2="${y}" stroke="${s.color}" stroke-width="2"${s.dashed ? ' stroke-dasharray="5 4"' : ''}/>`);
      if (!s.dashed) out.push(`<circle cx="${x + 11}" cy="${y}" r="3" fill="${s.color}"/>`);
    } else out.push(`<rect x="${x + 4}" y="${y - 6}" width="14" height="12" fill="${s.color}"${s.dashed ? ' fill-opacity="0.45"' : ''}/>`);
    out.push(`<text x="${x + 28}" y="${y}" dy="4" fill="#333">${esc(s.name)}</text>`);
  });
  return out;
}

/** Values against evenly spaced categories (e.g. concurrency levels), one line per series. */
export function lineChart(o: { title: string; subtitle?: string; xLabel: string; yLabel: string; unit?: string; categories: string[]; series: Series[]; log?: boolean }): string {
  const all = o.series.flatMap((s) => s.values.filter((v): v is number => v !== null));
  const axis = yAxis(all, o.log ?? false);
  const n = o.categories.length;
  const x = (i: number) => M.left + 24 + (n <= 1 ? 0.5 : i / (n - 1)) * (W - M.right - M.left - 48);
  const out = frame(o.title, o.subtitle, o.yLabel, o.xLabel);
  out.push(...yGrid(axis, o.unit ?? ''));
  o.categories.forEach((c, i) => out.push(`<text x="${x(i).toFixed(1)}" y="${H - M.bottom + 18}" text-anchor="middle" fill="#444">${esc(c)}</text>`));
  for (const s of o.series) {
    const pts = s.values.map((v, i) => (v === null || !Number.isFinite(v) || ((o.log ?? false) && v <= 0) ? null : [x(i), axis.pos(v)] as const));
    let d = '';
    let pen = false;
    for (const p of pts) {
      if (!p) {
        pen = false;
        continue;
      }
      d += `${pen ? 'L' : 'M'}${p[0].toFixed(1)} ${p[1].toFixed(1)}`;
      pen = true;
    }
    if (d) out.push(`<path d="${d}" fill="none" stroke="${s.color}" stroke-width="2"${s.dashed ? ' stroke-dasharray="5 4" stroke-opacity="0.8"' : ''}/>`);
    if (!s.dashed) for (const p of pts) if (p) out.push(`<circle cx="${p[0].toFixed(1)}" cy="${p[1].toFixed(1)}" r="3" fill="${s.color}"/>`);
  }
  out.push(...legend(o.series, 'line'));
  out.push('</svg>');
  return out.filter(Boolean).join('\n') + '\n';
}

/** Grouped bars: one group per category, one bar per series, a value label on each bar. */
export function barChart(o: { title: string; subtitle?: string; xLabel: string; yLabel: string; unit?: string; categories: string[]; series: Series[]; log?: boolean }): string {
  const log = o.log ?? false;
  const all = o.series.flatMap((s) => s.values.filter((v): v is number => v !== null));
  const axis = yAxis(all, log);
  const n = o.categories.length;
  const plotW = W - M.right - M.left;
  const groupW = plotW / Math.max(1, n);
  const barW = Math.min(28, (groupW * 0.8) / Math.max(1, o.series.length));
  const out = frame(o.title, o.subtitle, o.yLabel, o.xLabel);
  out.push(...yGrid(axis, o.unit ?? ''));
  const base = H - M.bottom;
  o.categories.forEach((c, i) => {
    const gx = M.left + i * groupW + groupW / 2;
    out.push(`<text x="${gx.toFixed(1)}" y="${base + 18}" text-anchor="middle" fill="#444">${esc(c)}</text>`);
    const x0 = gx - (barW * o.series.length) / 2;
    o.series.forEach((s, j) => {
      const v = s.values[i];
      if (v === null || v === undefined || !Number.isFinite(v) || (log && v <= 0)) return;
      const y = Math.min(base, axis.pos(v));
      const x = x0 + j * barW;
      out.push(`<rect x="${x.toFixed(1)}" y="${y.toFixed(1)}" width="${(barW - 2).toFixed(1)}" height="${(base - y).toFixed(1)}" fill="${s.color}"${s.dashed ? ' fill-opacity="0.45"' : ''}><title>${esc(`${s.name}, ${c}: ${fmtTick(v, o.unit ?? '')}`)}</title></rect>`);
    });
  });
  out.push(...legend(o.series, 'bar'));
  out.push('</svg>');
  return out.filter(Boolean).join('\n') + '\n';
}
