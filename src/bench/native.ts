// Native load generators for `duet bench` suites: wrk (REST, a Lua script POSTing a prepared body)
// and h2load (gRPC, a prepared length-prefixed message and the gRPC headers). Each runs through a
// shell that reports, after the generator exits, the CPU its waited-for child used (/proc/$$/stat
// cutime + cstime), so a client-bound run can be flagged. The parsers are pure and unit-tested.

import { spawn, spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CLK_TCK, parseStat } from './procstat.js';
import { percentile } from './stats.js';

export type Generator = 'wrk' | 'h2load' | 'duet-client';

/** What one load-generator run measured; latencies in µs. */
export interface NativeResult {
  requests: number;
  errors: number;
  seconds: number;
  rps: number;
  p50us: number;
  p99us: number;
  /** CPU seconds the generator process used (all its threads). */
  clientCpuSeconds: number | null;
}

const found = new Map<string, boolean>();

/** Whether a program is on the PATH (checked once). */
export function haveTool(name: string): boolean {
  let ok = found.get(name);
  if (ok === undefined) {
    ok = spawnSync('sh', ['-c', `command -v ${name}`], { stdio: 'ignore' }).status === 0;
    found.set(name, ok);
  }
  return ok;
}

const WRK_MARK = 'DUET_WRK';
const STAT_MARK = 'DUET_CHILD_STAT';

/** A wrk script POSTing the file's bytes with the given headers, printing one machine-readable line at the end. */
export function wrkScript(bodyFile: string, headers: Record<string, string>): string {
  const lua = (s: string) => JSON.stringify(s); // a JSON string is a valid Lua string literal for these values
  return [
    `local f = assert(io.open(${lua(bodyFile)}, "rb"))`,
    'wrk.method = "POST"',
    'wrk.body = f:read("*all")',
    'f:close()',
    ...Object.entries(headers).map(([k, v]) => `wrk.headers[${lua(k)}] = ${lua(v)}`),
    'function done(summary, latency, requests)',
    '  local e = summary.errors',
    `  io.write(string.format("${WRK_MARK} %d %d %d %d %d\\n", summary.requests, summary.duration,`,
    '    e.status + e.connect + e.read + e.write + e.timeout, latency:percentile(50), latency:percentile(99)))',
    'end',
    '',
  ].join('\n');
}

/** The line the wrk script prints: requests, duration µs, errors, p50 µs, p99 µs. Errors are counted inside requests. */
export function parseWrkOutput(out: string): Omit<NativeResult, 'clientCpuSeconds'> {
  const m = new RegExp(`${WRK_MARK} (\\d+) (\\d+) (\\d+) (\\d+) (\\d+)`).exec(out);
  if (!m) throw new Error(`wrk printed no result line:\n${out.slice(-500)}`);
  const [total, durUs, errors, p50us, p99us] = m.slice(1).map(Number);
  const seconds = durUs / 1e6;
  const requests = Math.max(0, total - errors);
  return { requests, errors, seconds, rps: seconds > 0 ? requests / seconds : NaN, p50us, p99us };
}

/** h2load's summary: "finished in 3.00s, 11038.00 req/s" and the requests line. */
export function parseH2loadSummary(out: string): { succeeded: number; failed: number; errored: number; rps: number } {
  const fin = /finished in [\d.]+\w+, ([\d.]+) req\/s/.exec(out);
  const req = /requests: \d+ total, \d+ started, \d+ done, (\d+) succeeded, (\d+) failed, (\d+) errored/.exec(out);
  if (!fin || !req) throw new Error(`h2load printed no summary:\n${out.slice(-500)}`);
  return { rps: Number(fin[1]), succeeded: Number(req[1]), failed: Number(req[2]), errored: Number(req[3]) };
}

/** h2load's --log-file: one request a line, tab-separated start µs, status, duration µs. Sorted durations. */
export function parseH2loadLog(text: string): Float64Array {
  const lines = text.split('\n').filter((l) => l.trim() !== '');
  const out = new Float64Array(lines.length);
  lines.forEach((l, i) => {
    const d = Number(l.split('\t')[2]);
    if (!Number.isFinite(d)) throw new Error(`h2load log line ${i + 1} has no duration: '${l}'`);
    out[i] = d;
  });
  return out.sort();
}

/** The CPU seconds the shell wrapper reports for its waited-for child; null when absent. */
export function parseChildCpu(stderr: string): number | null {
  const m = new RegExp(`${STAT_MARK} (.*)`).exec(stderr);
  if (!m) return null;
  const s = parseStat(m[1]);
  return (s.cutime + s.cstime) / CLK_TCK;
}

/** A gRPC message with its 5-byte length prefix, as h2load sends it as the request body. */
export function grpcFrame(message: Uint8Array): Buffer {
  const out = Buffer.alloc(5 + message.byteLength);
  out.writeUInt32BE(message.byteLength, 1);
  out.set(message, 5);
  return out;
}

/** Run a program under a shell that prints its CPU use afterwards; resolves with stdout, stderr and that CPU. */
function runMeasured(cmd: string, args: string[], timeoutMs: number): Promise<{ stdout: string; stderr: string; code: number | null; cpu: number | null }> {
  return new Promise((resolve, reject) => {
    const script = `"$@"; s=$?; read -r l < /proc/$$/stat; echo "${STAT_MARK} $l" >&2; exit $s`;
    const child = spawn('sh', ['-c', script, 'sh', cmd, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ stdout, stderr, code, cpu: parseChildCpu(stderr) });
    });
  });
}

export interface NativeRun {
  /** host:port */
  target: string;
  connections: number;
  /** Concurrent streams per connection (h2load -m); 1 for wrk. */
  streams: number;
  seconds: number;
}

/** wrk -t1 POSTing `body` to http://target/path; a fresh Lua script in `dir`. */
export async function runWrk(dir: string, run: NativeRun, path: string, body: Uint8Array, headers: Record<string, string>): Promise<NativeResult> {
  const bodyFile = join(dir, 'wrk-body.bin');
  const luaFile = join(dir, 'wrk-post.lua');
  writeFileSync(bodyFile, body);
  writeFileSync(luaFile, wrkScript(bodyFile, headers));
  // wrk takes whole seconds only.
  const dur = `${Math.max(1, Math.round(run.seconds))}s`;
  const r = await runMeasured('wrk', ['-t1', `-c${run.connections}`, `-d${dur}`, '--timeout', '30s', '-s', luaFile, `http://${run.target}${path}`], run.seconds * 1000 + 60_000);
  if (r.code !== 0) throw new Error(`wrk exited with ${r.code}: ${r.stderr.slice(-500)}`);
  return { ...parseWrkOutput(r.stdout), clientCpuSeconds: r.cpu };
}

/** h2load -t1 sending the framed gRPC message to http://target/path for `seconds`. */
export async function runH2load(dir: string, run: NativeRun, path: string, framed: Uint8Array): Promise<NativeResult> {
  const bodyFile = join(dir, 'h2load-body.grpc');
  const log = join(dir, 'h2load.log');
  writeFileSync(bodyFile, framed);
  writeFileSync(log, '');
  const dur = `${Math.max(1, Math.round(run.seconds * 1000))}ms`;
  const r = await runMeasured('h2load', ['-t1', '-c', String(run.connections), '-m', String(run.streams), '-D', dur,
    '-H', 'content-type: application/grpc', '-H', 'te: trailers', '-d', bodyFile, `--log-file=${log}`, `http://${run.target}${path}`],
  run.seconds * 1000 + 60_000);
  if (r.code !== 0) throw new Error(`h2load exited with ${r.code}: ${(r.stdout + r.stderr).slice(-500)}`);
  const s = parseH2loadSummary(r.stdout);
  const lat = parseH2loadLog(readFileSync(log, 'utf8'));
  return {
    requests: s.succeeded, errors: s.failed + s.errored, seconds: run.seconds, rps: s.rps,
    p50us: percentile(lat, 50), p99us: percentile(lat, 99), clientCpuSeconds: r.cpu,
  };
}
