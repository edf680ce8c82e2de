// The server main thread's event-loop utilization between two scrapes of Duet's metrics port
// (duet_main_event_loop_seconds{state="active"|"idle"}, read at scrape, off the request path).

import { request } from './target.js';

export interface EluSample {
  activeSeconds: number;
  /** Active + idle. */
  seconds: number;
}

/** The two series from a Prometheus text exposition; undefined when absent. */
export function parseElu(text: string): EluSample | undefined {
  const get = (state: string) => {
    const m = new RegExp(`^duet_main_event_loop_seconds\\{state="${state}"\\} ([0-9.eE+-]+)$`, 'm').exec(text);
    return m ? Number(m[1]) : NaN;
  };
  const active = get('active');
  const idle = get('idle');
  return Number.isFinite(active) && Number.isFinite(idle) ? { activeSeconds: active, seconds: active + idle } : undefined;
}

export async function scrapeElu(hostPort: string): Promise<EluSample | undefined> {
  try {
    const r = await request(hostPort, 'GET', '/metrics');
    return r.status === 200 ? parseElu(r.body.toString('utf8')) : undefined;
  } catch {
    return undefined;
  }
}

/** Utilization between two samples, or null. */
export function eluBetween(a: EluSample | undefined, b: EluSample | undefined): number | null {
  return a && b && b.seconds > a.seconds ? (b.activeSeconds - a.activeSeconds) / (b.seconds - a.seconds) : null;
}
