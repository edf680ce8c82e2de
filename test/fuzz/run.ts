// The fuzz loop: case i of seed S is always the same request, so any failure reproduces with
// `npm run fuzz -- --seed S --case i`. Cases run in batches; after each batch a normal request must
// still succeed over both protocols and the server's RSS is sampled.

import http from 'node:http';
import http2 from 'node:http2';
import { inference } from '../../src/generated/proto.js';
import { grpcCall, INFER_PATH, SERVER_FAULTS, STREAM_PATH, frame, type GrpcOutcome } from './h2.js';
import { framing, inferMessage, otherMessage } from './grpc-cases.js';
import { parityRequest, toProto, toRest } from './parity-cases.js';
import { restCase } from './rest-cases.js';
import { STATUS_TABLE } from '../../src/core/errors.js';
import { Rng } from './rng.js';

export interface FuzzTarget {
  /** host:port of the REST listener. */
  http: string;
  /** host:port of the gRPC listener; gRPC cases are skipped without it. */
  grpc?: string;
}

export interface FuzzOptions {
  seed: number;
  count: number;
  target: FuzzTarget;
  /** Run only this case (to reproduce one failure). */
  only?: number;
  concurrency?: number;
  batchSize?: number;
  /** The server's RSS in bytes, when it runs in this process. */
  rss?: () => number;
  /** Fail when the server's RSS grows by more than this over the run. */
  maxRssGrowthBytes?: number;
  timeoutMs?: number;
  /** Also break the framing of ModelStreamInfer streams (default true). */
  breakStreamFraming?: boolean;
  log?: (line: string) => void;
}

export interface Failure {
  index: number;
  kind: string;
  what: string[];
  got: string;
}

export interface FuzzReport {
  seed: number;
  cases: number;
  kinds: Record<string, number>;
  outcomes: Record<string, number>;
  failures: Failure[];
  rss: { start: number; peak: number; end: number };
  ms: number;
}

type Kind = 'rest' | 'grpc' | 'stream' | 'grpc-other' | 'parity';

function kindOf(rng: Rng, withGrpc: boolean): Kind {
  if (!withGrpc) return 'rest';
  const r = rng.float();
  return r < 0.5 ? 'rest' : r < 0.75 ? 'grpc' : r < 0.85 ? 'stream' : r < 0.9 ? 'grpc-other' : 'parity';
}

const OK_CODE = 0;

export async function runFuzz(opts: FuzzOptions): Promise<FuzzReport> {
  const t0 = performance.now();
  const log = opts.log ?? (() => {});
  const concurrency = opts.concurrency ?? 8;
  const batchSize = opts.batchSize ?? 250;
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const [host, port] = splitHostPort(opts.target.http);
  const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
  const kinds: Record<string, number> = {};
  const outcomes: Record<string, number> = {};
  const failures: Failure[] = [];
  const count = (m: Record<string, number>, k: string) => { m[k] = (m[k] ?? 0) + 1; };
  const sample = () => opts.rss?.() ?? 0;
  let session: http2.ClientHttp2Session | undefined;
  const newSession = () => {
    session?.close();
    session = opts.target.grpc ? http2.connect(`http://${opts.target.grpc}`) : undefined;
    session?.on('error', () => {});
  };

  const rest = (method: string, path: string, headers: Record<string, string>, body: Buffer, signal?: AbortSignal) =>
    new Promise<{ status: number; body: Buffer }>((resolve, reject) => {
      const req = http.request({ host, port, method, path, agent, signal, timeout: timeoutMs, headers: { ...headers, 'content-length': body.length } }, (res) => {
        const parts: Buffer[] = [];
        res.on('data', (c: Buffer) => parts.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(parts) }));
        res.on('error', reject);
      });
      req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
      req.on('error', reject);
      req.end(body);
    });

  /** Run case i; returns a failure description, or undefined when the server behaved. */
  async function runCase(i: number): Promise<void> {
    const rng = new Rng(opts.seed, i);
    const kind = kindOf(rng, !!opts.target.grpc);
    count(kinds, kind);
    const fail = (what: string[], got: string) => void failures.push({ index: i, kind, what, got });
    if (kind === 'rest') {
      const c = restCase(rng);
      const cancel = rng.chance(0.02);
      try {
        const r = await rest(c.method, c.path, c.headers, c.body, cancel ? AbortSignal.timeout(rng.range(0, 3)) : undefined);
        count(outcomes, `http ${r.status}`);
        const problem = restProblem(r.status, r.body, c.allow);
        if (problem) fail(c.what, problem);
      } catch (e) {
        if (cancel) return count(outcomes, 'http cancelled');
        fail(c.what, `request failed: ${(e as Error).message}`);
      }
      return;
    }
    const s = session!;
    if (kind === 'grpc') {
      const m = inferMessage(rng);
      const f = framing(rng, [m.bytes]);
      if (f.what) m.what.push(f.what);
      const cancel = rng.chance(0.03);
      const r = await grpcCall(s, INFER_PATH, f.frames, { headers: f.headers, timeoutMs, cancelAfterMs: cancel ? rng.range(0, 3) : undefined });
      if (cancel) return count(outcomes, 'grpc cancelled');
      count(outcomes, `grpc ${r.status}`);
      const problem = grpcProblem(r);
      if (problem) fail(m.what, problem);
      return;
    }
    if (kind === 'grpc-other') {
      const { path, message } = otherMessage(rng);
      const r = await grpcCall(s, path, frame(message.bytes), { timeoutMs });
      count(outcomes, `grpc ${r.status}`);
      const problem = grpcProblem(r);
      if (problem) fail(message.what, problem);
      return;
    }
    if (kind === 'parity') {
      const { req, what } = parityRequest(rng);
      const h = toRest(req);
      let r: { status: number; body: Buffer };
      try {
        r = await rest('POST', h.path, h.headers, h.body);
      } catch (e) {
        fail(what, `REST request failed: ${(e as Error).message}`);
        return;
      }
      const g = await grpcCall(s, INFER_PATH, frame(toProto(req)), { timeoutMs });
      count(outcomes, `parity ${r.status}/${g.status}`);
      const problem = restProblem(r.status, r.body) ?? grpcProblem(g) ?? parityProblem(r.status, r.body, g);
      if (problem) fail(what, problem);
      return;
    }
    // ModelStreamInfer: several broken requests on one stream, each answered, the stream ends OK.
    const msgs = Array.from({ length: rng.range(1, 5) }, () => inferMessage(rng));
    const what = msgs.map((m, k) => `#${k}: ${m.what.join('; ')}`);
    const f = framing(rng, msgs.map((m) => m.bytes));
    if (!f.wellFormed && opts.breakStreamFraming === false) return count(outcomes, 'stream skipped');
    if (f.what) what.push(f.what);
    const r = await grpcCall(s, STREAM_PATH, f.frames, { headers: f.headers, timeoutMs });
    count(outcomes, `stream ${r.status}`);
    // Broken framing may end the stream early with a clean error; well-framed streams answer every request.
    const problem = grpcProblem(r) ?? (f.wellFormed ? streamProblem(r, msgs.length) : undefined);
    if (problem) fail(what, problem);
  }

  /** A normal request over each protocol must succeed between batches. */
  async function sanity(after: number): Promise<void> {
    const body = Buffer.from(JSON.stringify({ inputs: [{ name: 'INPUT0', datatype: 'FP32', shape: [1, 128], data: new Array(128).fill(2) }] }));
    try {
      const r = await rest('POST', '/v2/models/my_model/infer', { 'content-type': 'application/json' }, body);
      const out = r.status === 200 ? (JSON.parse(r.body.toString()) as { outputs: { data: number[] }[] }).outputs[0].data[0] : undefined;
      if (out !== 256) failures.push({ index: after, kind: 'sanity', what: ['REST my_model infer after the batch'], got: `${r.status} ${r.body.toString().slice(0, 200)}` });
    } catch (e) {
      failures.push({ index: after, kind: 'sanity', what: ['REST my_model infer after the batch'], got: (e as Error).message });
    }
    if (!session) return;
    const req = inference.ModelInferRequest.encode({
      model_name: 'my_model', inputs: [{ name: 'INPUT0', datatype: 'FP32', shape: [1, 128] }],
      raw_input_contents: [Buffer.from(new Float32Array(128).fill(2).buffer)],
    }).finish();
    const g = await grpcCall(session, INFER_PATH, frame(req), { timeoutMs });
    const res = g.status === OK_CODE && g.messages[0] ? inference.ModelInferResponse.decode(g.messages[0]) : undefined;
    const raw = res?.raw_output_contents[0];
    const v = raw ? Buffer.from(raw).readFloatLE(0) : undefined;
    if (v !== 256) failures.push({ index: after, kind: 'sanity', what: ['gRPC my_model infer after the batch'], got: `status ${g.status} ${g.message} ${g.streamError ?? ''}` });
  }

  newSession();
  await sanity(-1);
  const rss = { start: sample(), peak: 0, end: 0 };
  rss.peak = rss.start;
  const indexes = opts.only !== undefined ? [opts.only] : Array.from({ length: opts.count }, (_, i) => i);
  for (let b = 0; b < indexes.length; b += batchSize) {
    const batch = indexes.slice(b, b + batchSize);
    let next = 0;
    await Promise.all(Array.from({ length: Math.min(concurrency, batch.length) }, async () => {
      while (next < batch.length) await runCase(batch[next++]);
    }));
    await sanity(batch[batch.length - 1]);
    rss.peak = Math.max(rss.peak, sample());
    log(`fuzz: ${Math.min(b + batchSize, indexes.length)}/${indexes.length} cases, ${failures.length} failures, rss ${mb(sample())} MB`);
    newSession();
  }
  session?.close();
  agent.destroy();
  rss.end = sample();
  rss.peak = Math.max(rss.peak, rss.end);
  if (opts.rss && opts.maxRssGrowthBytes !== undefined && rss.peak - rss.start > opts.maxRssGrowthBytes) {
    failures.push({ index: -1, kind: 'memory', what: [`RSS bound ${mb(opts.maxRssGrowthBytes)} MB`], got: `RSS grew from ${mb(rss.start)} MB to a peak of ${mb(rss.peak)} MB` });
  }
  return { seed: opts.seed, cases: indexes.length, kinds, outcomes, failures, rss, ms: Math.round(performance.now() - t0) };
}

/** What is wrong with a REST answer to malformed input, if anything. */
function restProblem(status: number, body: Buffer, allow: number[] = []): string | undefined {
  const text = body.toString('utf8');
  if (status >= 500 && status !== 501 && !allow.includes(status)) return `HTTP ${status}: ${text.slice(0, 300)}`;
  if (status >= 400) {
    let err: unknown;
    try {
      err = (JSON.parse(text) as { error?: unknown }).error;
    } catch {
      return `HTTP ${status} without a JSON error body: ${text.slice(0, 200)}`;
    }
    if (typeof err !== 'string' || err === '') return `HTTP ${status} without an error message: ${text.slice(0, 200)}`;
  }
  // An SSE stream may end in an error frame; that error must not be a server fault either.
  const m = /event: error\ndata: (.*)\n/.exec(text);
  if (m && /"code":"(INTERNAL|UNKNOWN)"/.test(m[1])) return `SSE error frame: ${m[1].slice(0, 300)}`;
  return undefined;
}

/** The same request must get the same code (by the error table) and the same message on both protocols. */
function parityProblem(status: number, body: Buffer, g: GrpcOutcome): string | undefined {
  if (status === 200 || g.status === OK_CODE) {
    return status === 200 && g.status === OK_CODE ? undefined : `REST ${status} but gRPC ${g.status} (${g.message || body.toString().slice(0, 200)})`;
  }
  const codes = Object.values(STATUS_TABLE).filter((row) => row.http === status).map((row) => row.grpc);
  const restMessage = (JSON.parse(body.toString()) as { error: string }).error;
  if (!codes.includes(g.status)) return `REST ${status} but gRPC ${g.status}: REST says ${JSON.stringify(restMessage)}, gRPC says ${JSON.stringify(g.message)}`;
  if (restMessage !== g.message) return `messages differ: REST ${JSON.stringify(restMessage)}, gRPC ${JSON.stringify(g.message)}`;
  return undefined;
}

function grpcProblem(r: GrpcOutcome): string | undefined {
  if (r.streamError) return `stream failed: ${r.streamError}`;
  if (Number.isNaN(r.status)) return `no grpc-status (HTTP ${r.httpStatus})`;
  if (SERVER_FAULTS.has(r.status)) return `grpc-status ${r.status}: ${r.message.slice(0, 300)}`;
  if (r.status !== OK_CODE && r.message === '') return `grpc-status ${r.status} without a message`;
  return undefined;
}

/** Each request on a stream gets one answer (these models are not decoupled); none is a server fault. */
function streamProblem(r: GrpcOutcome, sent: number): string | undefined {
  if (r.status !== OK_CODE) return `stream ended with grpc-status ${r.status}: ${r.message}`;
  if (r.messages.length !== sent) return `${sent} requests but ${r.messages.length} responses`;
  for (const b of r.messages) {
    const m = inference.ModelStreamInferResponse.decode(b);
    const code = m.infer_response?.parameters?.error_code?.string_param;
    if (m.error_message && (code === 'INTERNAL' || code === undefined)) return `stream error (${code ?? 'no code'}): ${m.error_message.slice(0, 300)}`;
  }
  return undefined;
}

function splitHostPort(s: string): [string, number] {
  const u = new URL(s.includes('://') ? s : `http://${s}`);
  return [u.hostname.replace(/^\[|\]$/g, ''), Number(u.port || 80)];
}

const mb = (b: number) => Math.round(b / 1048576);

/** The report as lines of text, with what to run to reproduce each failure. */
export function describeReport(r: FuzzReport): string[] {
  const lines = [
    `fuzz seed ${r.seed}: ${r.cases} cases in ${(r.ms / 1000).toFixed(1)} s (${Object.entries(r.kinds).map(([k, n]) => `${k} ${n}`).join(', ')})`,
    `outcomes: ${Object.entries(r.outcomes).sort().map(([k, n]) => `${k}: ${n}`).join(', ')}`,
    `server RSS: ${mb(r.rss.start)} MB at start, ${mb(r.rss.peak)} MB peak, ${mb(r.rss.end)} MB at end`,
  ];
  for (const f of r.failures.slice(0, 30)) {
    lines.push(`FAIL case ${f.index} (${f.kind}): ${f.got}`, `  input: ${f.what.join(' | ')}`,
      f.index >= 0 ? `  reproduce: npm run fuzz -- --seed ${r.seed} --case ${f.index}` : '');
  }
  if (r.failures.length > 30) lines.push(`... and ${r.failures.length - 30} more failures`);
  return lines.filter((l) => l !== '');
}
