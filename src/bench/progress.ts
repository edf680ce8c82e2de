// The progress line of `duet bench` on stderr: a bar with an estimate of the time left on a
// terminal, one line per finished run otherwise (CI logs, pipes).

import type { RunRecord } from './run.js';

export interface Progress {
  start(total: number, secondsPerRun: number): void;
  begin(label: string): void;
  phase(p: 'warmup' | 'measure'): void;
  end(r: RunRecord): void;
  skip(n: number): void;
  finish(): void;
}

export function fmtDuration(s: number): string {
  if (!Number.isFinite(s) || s < 0) return '?';
  const m = Math.floor(s / 60);
  return m ? `${m}m${String(Math.round(s % 60)).padStart(2, '0')}s` : `${Math.round(s)}s`;
}

export function runSummary(r: RunRecord): string {
  const what = r.target === 'duet' ? r.protocol : r.target === 'echo' ? `${r.protocol} echo floor` : 'in-process';
  const bound = r.clientBound ? ' (client-bound)' : '';
  return `${r.scenario} ${what} c=${r.concurrency}: ${r.throughput.toFixed(1)} req/s, p50 ${r.latencyMs.p50.toFixed(3)} ms, p99 ${r.latencyMs.p99.toFixed(3)} ms, ${r.errors} errors${bound}`;
}

export class ConsoleProgress implements Progress {
  private total = 0;
  private done = 0;
  private perRun = 1;
  private started = 0;
  private label = '';
  private phaseName = '';
  private timer: NodeJS.Timeout | undefined;
  private readonly tty: boolean;

  constructor(private readonly out: NodeJS.WriteStream = process.stderr) {
    this.tty = Boolean(out.isTTY);
  }

  start(total: number, secondsPerRun: number): void {
    this.total = total;
    this.perRun = secondsPerRun;
    this.started = performance.now();
    if (this.tty) {
      this.timer = setInterval(() => this.draw(), 250);
      this.timer.unref();
    }
  }

  begin(label: string): void {
    this.label = label;
    this.phaseName = '';
    this.draw();
  }

  phase(p: 'warmup' | 'measure'): void {
    this.phaseName = p;
    this.draw();
  }

  end(r: RunRecord): void {
    this.done++;
    if (this.tty) {
      if (r.errors || r.clientBound) this.line(runSummary(r));
      this.draw();
    } else this.out.write(`[${this.done}/${this.total}] ${runSummary(r)}\n`);
  }

  skip(n: number): void {
    this.total -= n;
    this.draw();
  }

  finish(): void {
    if (this.timer) clearInterval(this.timer);
    if (this.tty) this.out.write('\r\x1b[2K');
  }

  private line(s: string): void {
    this.out.write(`\r\x1b[2K${s}\n`);
  }

  private draw(): void {
    if (!this.tty || !this.total) return;
    const elapsed = (performance.now() - this.started) / 1000;
    const rate = this.done ? elapsed / this.done : this.perRun;
    const left = (this.total - this.done) * rate;
    const width = 24;
    const filled = Math.round((this.done / this.total) * width);
    const bar = '█'.repeat(filled) + '░'.repeat(width - filled);
    const cols = this.out.columns || 100;
    const text = `[${bar}] ${this.done}/${this.total}  ${fmtDuration(elapsed)} elapsed, ~${fmtDuration(left)} left  ${this.label}${this.phaseName ? ` (${this.phaseName})` : ''}`;
    this.out.write(`\r\x1b[2K${text.slice(0, cols - 1)}`);
  }
}
