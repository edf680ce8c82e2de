// What `duet bench` measures against: a Duet it starts itself (a child process on ports 0 loading
// just the models it needs) or one already running (--url); the echo
// floors; and the server's own view of each run from the statistics extension.

import { spawn, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { GrpcClient } from '../../packages/client/src/grpc.js';
import type { InferenceError } from '../../packages/client/src/errors.js';
import { INFERENCE_SERVICE } from '../protocols/grpc/server.js';
import { encodeHttp, grpcRequest, modelPath, type BenchInput, type InputSpec, type Protocol } from './payload.js';
import type { CannedResponse } from './echo.js';
import { SERVE_NODE_FLAGS } from '../core/node-flags.js';

/** The project root, three levels above this file in the build output (dist/src/bench/). */
export const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
export const BUNDLED_MODELS = join(ROOT, 'models');
const CLI = fileURLToPath(new URL('../cli/main.js', import.meta.url));
const ECHO = fileURLToPath(new URL('./echo.js', import.meta.url));

export interface Endpoints {
  httpUrl: string;
  grpcUrl: string;
}

export interface ChildServer extends Endpoints {
  pid: number;
  stop(): Promise<void>;
}

/** Spawn `node script args` and wait for a stdout line matching `ready`; its groups are the ports. */
export function startChild(script: string, args: string[], ready: RegExp, what: string, nodeArgs: readonly string[] = []): Promise<{ child: ChildProcess; match: RegExpExecArray }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...nodeArgs, script, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${what} did not start within 120 s:\n${out}`));
    }, 120_000);
    const onData = (d: Buffer) => {
      out += d.toString();
      const m = ready.exec(out);
      if (m) {
        clearTimeout(timer);
        child.stdout!.off('data', onData);
        child.stderr!.off('data', onData);
        child.stdout!.resume();
        child.stderr!.resume();
        child.off('exit', onExit);
        resolve({ child, match: m });
      }
    };
    const onExit = (code: number | null) => {
      clearTimeout(timer);
      reject(new Error(`${what} exited (${code}) before it was ready:\n${out}`));
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.on('exit', onExit);
  });
}

export function stopper(child: ChildProcess): () => Promise<void> {
  return () => new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

/**
 * Start `duet serve` over `repo` loading just `models` (explicit model control), in place: a model
 * written in TypeScript resolves its packages from where it lives.
 */
export async function startDuet(repo: string, models: string[], opts: { metrics?: boolean; cli?: string } = {}): Promise<ChildServer & { metricsUrl?: string }> {
  const { child, match } = await startChild(opts.cli ?? CLI,
    ['serve', '--model-repository', repo, '--model-control-mode', 'explicit', ...[...new Set(models)].flatMap((m) => ['--load-model', m]),
      '--host', '127.0.0.1', '--http-port', '0', '--grpc-port', '0', `--metrics-port=${opts.metrics ? '0' : '-1'}`],
    opts.metrics
      ? /REST \(KServe v2\) listening on http:\/\/[^\s]+:(\d+)[\s\S]*Prometheus metrics at http:\/\/[^\s]+:(\d+)\/metrics[\s\S]*gRPC .* listening on [^\s]+:(\d+)/
      : /REST \(KServe v2\) listening on http:\/\/[^\s]+:(\d+)[\s\S]*gRPC .* listening on [^\s]+:(\d+)/,
    'duet serve', SERVE_NODE_FLAGS);
  return {
    httpUrl: `127.0.0.1:${match[1]}`,
    grpcUrl: `127.0.0.1:${match[opts.metrics ? 3 : 2]}`,
    metricsUrl: opts.metrics ? `127.0.0.1:${match[2]}` : undefined,
    pid: child.pid!,
    stop: stopper(child),
  };
}

export interface EchoServer extends ChildServer {
  /** The bare node:http2 gRPC floor (same process as the others). */
  h2Url: string;
  /** The node:http and node:http2 floors with a worker-thread hop per request. */
  httpHopUrl: string;
  h2HopUrl: string;
  setCanned(c: CannedResponse): Promise<void>;
}

export async function startEcho(): Promise<EchoServer> {
  const { child, match } = await startChild(ECHO, [], /duet bench echo http=(\d+) grpc=(\d+) h2=(\d+) httphop=(\d+) h2hop=(\d+)/, 'echo server');
  const httpUrl = `127.0.0.1:${match[1]}`;
  return {
    httpUrl,
    grpcUrl: `127.0.0.1:${match[2]}`,
    h2Url: `127.0.0.1:${match[3]}`,
    httpHopUrl: `127.0.0.1:${match[4]}`,
    h2HopUrl: `127.0.0.1:${match[5]}`,
    pid: child.pid!,
    stop: stopper(child),
    setCanned: async (c) => {
      const r = await request(httpUrl, 'POST', '/__bench/canned', Buffer.from(JSON.stringify(c)));
      if (r.status !== 204) throw new Error(`echo server: canned response refused (${r.status}): ${r.body.toString('utf8')}`);
    },
  };
}

/** `host:port` (or a URL) for REST; the gRPC address defaults to the same host on 8001. */
export function endpointsFrom(url: string, grpcUrl?: string): Endpoints {
  const u = new URL(url.includes('://') ? url : `http://${url}`);
  return { httpUrl: `${u.hostname}:${u.port || 80}`, grpcUrl: grpcUrl?.replace(/^grpc:\/\//, '') ?? `${u.hostname}:8001` };
}

interface RawResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

export function request(hostPort: string, method: string, path: string, body?: Uint8Array | Uint8Array[], headers: http.OutgoingHttpHeaders = {}): Promise<RawResponse> {
  const u = new URL(`http://${hostPort}`);
  const chunks = body === undefined ? [] : Array.isArray(body) ? body : [body];
  return new Promise((resolve, reject) => {
    const req = http.request({
      host: u.hostname.replace(/^\[|\]$/g, ''), port: Number(u.port || 80), method, path, agent: false,
      headers: { ...(body !== undefined ? { 'content-length': chunks.reduce((n, c) => n + c.byteLength, 0) } : {}), ...headers },
    }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (c: Buffer) => parts.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(parts) }));
      res.on('error', reject);
    });
    req.setTimeout(60_000, () => req.destroy(new Error(`${method} ${path}: no answer in 60 s`)));
    req.on('error', reject);
    for (const c of chunks) req.write(c);
    req.end();
  });
}

function errorText(r: RawResponse): string {
  const t = r.body.toString('utf8');
  try {
    return (JSON.parse(t) as { error?: string }).error ?? t;
  } catch {
    return t;
  }
}

export interface ModelInfo {
  inputs: InputSpec[];
  maxBatchSize: number;
}

/** Inputs of a model, from REST metadata and config. */
export async function modelInfo(ep: Endpoints, model: string, version?: string): Promise<ModelInfo> {
  const r = await request(ep.httpUrl, 'GET', modelPath(model, version));
  if (r.status !== 200) throw new Error(`model '${model}': ${errorText(r)} (HTTP ${r.status} from ${ep.httpUrl})`);
  const meta = JSON.parse(r.body.toString('utf8')) as { inputs: InputSpec[] };
  const c = await request(ep.httpUrl, 'GET', `${modelPath(model, version)}/config`);
  const cfg = c.status === 200 ? (JSON.parse(c.body.toString('utf8')) as { max_batch_size?: number }) : {};
  return { inputs: meta.inputs, maxBatchSize: Number(cfg.max_batch_size ?? 0) };
}

/** Cumulative counters of the statistics extension for one model (all its versions). */
export interface StatsSnapshot {
  successCount: number;
  successNs: number;
  queueNs: number;
  computeNs: number;
  computeCount: number;
}

/** The statistics extension over REST; undefined when the server does not answer it. */
export async function readStats(ep: Endpoints, model: string, version?: string): Promise<StatsSnapshot | undefined> {
  try {
    const r = await request(ep.httpUrl, 'GET', `${modelPath(model, version)}/stats`);
    if (r.status !== 200) return undefined;
    type D = { count?: number; ns?: number };
    const j = JSON.parse(r.body.toString('utf8')) as { model_stats?: { inference_stats?: Record<string, D> }[] };
    const s: StatsSnapshot = { successCount: 0, successNs: 0, queueNs: 0, computeNs: 0, computeCount: 0 };
    for (const m of j.model_stats ?? []) {
      const i = m.inference_stats ?? {};
      s.successCount += Number(i.success?.count ?? 0);
      s.successNs += Number(i.success?.ns ?? 0);
      s.queueNs += Number(i.queue?.ns ?? 0);
      for (const k of ['compute_input', 'compute_infer', 'compute_output']) s.computeNs += Number(i[k]?.ns ?? 0);
      s.computeCount += Number(i.compute_infer?.count ?? 0);
    }
    return s;
  } catch {
    return undefined;
  }
}

/** Server time per request over a run, in ms: total (arrival at the data plane to its answer), queue, compute. */
export function serverTime(before: StatsSnapshot | undefined, after: StatsSnapshot | undefined): { totalMs: number; queueMs: number; computeMs: number; count: number } | undefined {
  if (!before || !after) return undefined;
  const n = after.successCount - before.successCount;
  if (n <= 0) return undefined;
  const cn = after.computeCount - before.computeCount;
  return {
    totalMs: (after.successNs - before.successNs) / n / 1e6,
    queueMs: (after.queueNs - before.queueNs) / n / 1e6,
    computeMs: cn > 0 ? (after.computeNs - before.computeNs) / cn / 1e6 : NaN,
    count: n,
  };
}

/**
 * One real request to Duet, keeping its exact response so an echo floor can answer the same bytes.
 * Throws with the server's message when the request fails.
 */
export async function capture(protocol: Protocol, ep: Endpoints, model: string, version: string | undefined, inputs: BenchInput[]): Promise<CannedResponse> {
  if (protocol === 'grpc') {
    const client = new GrpcClient(ep.grpcUrl, { timeoutMs: 120_000 });
    try {
      const bytes = await client.unary('ModelInfer', INFERENCE_SERVICE.ModelInfer.requestSerialize(grpcRequest(model, version, inputs)));
      return { grpc: Buffer.from(bytes).toString('base64') };
    } catch (e) {
      throw new Error(`${(e as InferenceError).code}: ${(e as Error).message}`);
    } finally {
      await client.close();
    }
  }
  const r = encodeHttp(model, version, inputs, protocol === 'http-binary');
  const res = await request(ep.httpUrl, 'POST', r.path, r.chunks, r.headers);
  if (res.status !== 200) throw new Error(`HTTP ${res.status}: ${errorText(res)}`);
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(res.headers)) {
    if (['date', 'connection', 'keep-alive', 'transfer-encoding', 'content-length'].includes(k) || v === undefined) continue;
    headers[k] = Array.isArray(v) ? v.join(', ') : v;
  }
  return { http: { status: res.status, headers, body: res.body.toString('base64') } };
}
