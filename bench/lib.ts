// Shared pieces of the benchmark scripts: child-process servers and a closed-loop load generator.

import { spawn, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** Start a node script as a child and wait for the lines announcing its ports (one pattern each). */
export function startChild(script: string, args: string[], ...portPatterns: RegExp[]): Promise<{ child: ChildProcess; port: number; ports: number[] }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [script, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    const timer = setTimeout(() => reject(new Error(`${script} did not start: ${out}`)), 60_000);
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const ms = portPatterns.map((p) => p.exec(out));
      if (ms.every((m) => m)) {
        clearTimeout(timer);
        child.stdout!.removeAllListeners('data');
        child.stdout!.resume();
        const ports = ms.map((m) => Number(m![1]));
        resolve({ child, port: ports[0], ports });
      }
    });
    child.on('exit', (code) => reject(new Error(`${script} exited with ${code}: ${out}`)));
  });
}

export function stopChild(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
  });
}

export interface LoadResult {
  requests: number;
  errors: number;
  seconds: number;
  rps: number;
  p50ms: number;
  p99ms: number;
}

export interface HttpCall {
  path: string;
  headers: http.OutgoingHttpHeaders;
  body: Buffer;
}

/** A caller of one HTTP request shape over keep-alive connections; resolves true on 200. */
export function httpCaller(port: number, call: HttpCall, concurrency: number): { once: () => Promise<boolean>; close: () => void } {
  const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
  const once = () => new Promise<boolean>((resolve) => {
    const req = http.request({ host: '127.0.0.1', port, method: 'POST', path: call.path, agent, headers: { ...call.headers, 'content-length': call.body.length } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode === 200));
    });
    req.on('error', () => resolve(false));
    req.end(call.body);
  });
  return { once, close: () => agent.destroy() };
}

/** Closed loop: `concurrency` callers, each sending its next request when the last one answers. */
export async function runLoad(once: () => Promise<boolean>, concurrency: number, seconds: number, warmupSeconds = 0.5): Promise<LoadResult> {
  const loop = async (until: number, lat: number[] | undefined, counts: { ok: number; err: number }) => {
    while (performance.now() < until) {
      const t0 = performance.now();
      const ok = await once();
      if (ok) counts.ok++;
      else counts.err++;
      lat?.push(performance.now() - t0);
    }
  };
  const warm = { ok: 0, err: 0 };
  await Promise.all(Array.from({ length: concurrency }, () => loop(performance.now() + warmupSeconds * 1000, undefined, warm)));
  const lat: number[] = [];
  const counts = { ok: 0, err: 0 };
  const start = performance.now();
  await Promise.all(Array.from({ length: concurrency }, () => loop(start + seconds * 1000, lat, counts)));
  const elapsed = (performance.now() - start) / 1000;
  lat.sort((a, b) => a - b);
  const pct = (p: number) => (lat.length ? lat[Math.min(lat.length - 1, Math.floor(p * lat.length))] : NaN);
  return { requests: counts.ok, errors: counts.err, seconds: elapsed, rps: counts.ok / elapsed, p50ms: pct(0.5), p99ms: pct(0.99) };
}

export function table(rows: string[][]): string {
  const w = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  return rows.map((r) => r.map((c, i) => (i === 0 ? c.padEnd(w[i]) : c.padStart(w[i]))).join('  ')).join('\n');
}
