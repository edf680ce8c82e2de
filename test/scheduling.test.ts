// Scheduling behaviour, written once and run over every protocol: the bounded queue, queue
// timeouts (REJECT and DELAY, with and without the request's own `timeout`), priority levels,
// cancelled requests and gRPC deadlines, instance groups; then the statistics extension over REST
// and gRPC, and the Prometheus metrics port.
//
// The test models hold the single instance busy with a "gate": a request carrying the parameter
// `gate` waits inside the model until the test creates the file gate-<name> in the model's folder.
// So no test depends on how fast this machine is; timings are only ever compared loosely.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { HttpClient } from '../packages/client/src/node.js';
import { GrpcClient } from '../packages/client/src/grpc.js';
import { GrpcServiceClient } from '../packages/client/src/grpc-common.js';
import { GrpcWebClient } from '../packages/client/src/grpc-web.js';
import type { InferenceClient, InferOptions, InferResult } from '../packages/client/src/types.js';
import { InferenceError, STATUS_TABLE, type ErrorCode } from '../src/core/errors.js';
import { inference } from '../src/generated/proto.js';
import type { RunningServer } from '../src/server.js';
import { baseUrl, failure, PROTOCOLS, scratchRepo, speaksGrpc, startTestServer, withoutBatching, type Protocol } from './harness.js';

// A model that records what it runs (events.log in its folder), can be held at a gate or told to
// sleep, and reports for each request the order it ran in and when its execution started and ended.
const PROBE_MODEL = `
import { appendFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
let counter = 0;

export default class Probe {
  dir = '';
  initialize(args: { modelDir: string }) {
    this.dir = args.modelDir;
  }
  log(lines: string[]) {
    appendFileSync(join(this.dir, 'events.log'), lines.map((l) => l + '\\n').join(''));
  }
  async execute(requests: any[]) {
    const start = Date.now();
    const orders = requests.map(() => ++counter);
    this.log(requests.map((r) => 'start ' + (r.id ?? '')));
    let wait = 0;
    for (const r of requests) {
      const gate = r.parameters.gate;
      if (typeof gate === 'string') {
        const file = join(this.dir, 'gate-' + gate);
        const until = Date.now() + 30000;
        while (!existsSync(file) && Date.now() < until) await sleep(10);
      }
      wait = Math.max(wait, Number(r.parameters.sleep_ms ?? 0));
    }
    if (wait > 0) await sleep(wait);
    const end = Date.now();
    this.log(requests.map((r) => 'end ' + (r.id ?? '')));
    return requests.map((r, i) => {
      const x = r.inputs.X;
      const rows = x.shape[0];
      if (x.typed()[0] < 0) return Object.assign(new Error('negative input ' + x.typed()[0]), { code: 'INVALID_ARGUMENT' });
      return { outputs: [
        { name: 'Y', datatype: 'FP32', shape: x.shape, data: x.typed() },
        { name: 'ORDER', datatype: 'INT32', shape: [rows, 1], data: new Int32Array(rows).fill(orders[i]) },
        { name: 'START', datatype: 'FP64', shape: [rows, 1], data: new Float64Array(rows).fill(start) },
        { name: 'END', datatype: 'FP64', shape: [rows, 1], data: new Float64Array(rows).fill(end) },
      ] };
    });
  }
}
`;

const probeConfig = (name: string, extra: string) => `
name: "${name}"
backend: "typescript"
max_batch_size: 8
input [ { name: "X", data_type: TYPE_FP32, dims: [ 1 ] } ]
output [
  { name: "Y", data_type: TYPE_FP32, dims: [ 1 ] },
  { name: "ORDER", data_type: TYPE_INT32, dims: [ 1 ] },
  { name: "START", data_type: TYPE_FP64, dims: [ 1 ] },
  { name: "END", data_type: TYPE_FP64, dims: [ 1 ] }
]
${extra}
`;

/** Default queue timeout of `slow`, in µs. */
const SLOW_TIMEOUT_US = 2_000_000;
/** Default queue timeout of `slow_strict` (which ignores the request's own timeout), in µs. */
const STRICT_TIMEOUT_US = 800_000;
/** A request `timeout` long enough that no queued request of a test here reaches it. */
const LONG = 60_000_000;

const PROBES: Record<string, string> = {
  slow: `
dynamic_batching {
  priority_levels: 3
  default_priority_level: 2
  default_queue_policy { max_queue_size: 4, default_timeout_microseconds: ${SLOW_TIMEOUT_US}, allow_timeout_override: true }
}
instance_group [ { count: 1, kind: KIND_CPU } ]`,
  slow_strict: `
dynamic_batching {
  default_queue_policy { default_timeout_microseconds: ${STRICT_TIMEOUT_US}, allow_timeout_override: false }
}
instance_group [ { count: 1, kind: KIND_CPU } ]`,
  slow_delay: `
dynamic_batching {
  default_queue_policy { timeout_action: DELAY, default_timeout_microseconds: 200000 }
}
instance_group [ { count: 1, kind: KIND_CPU } ]`,
  pool1: 'instance_group [ { count: 1, kind: KIND_CPU } ]',
  pool2: 'instance_group [ { count: 2, kind: KIND_CPU } ]',
  flaky: 'instance_group [ { count: 1, kind: KIND_CPU } ]',
};

let server: RunningServer;
let repo: Awaited<ReturnType<typeof scratchRepo>>;
const gates = new Set<string>();

before(async () => {
  repo = await scratchRepo(['my_model']);
  const p = join(repo.dir, 'my_model', 'config.pbtxt');
  await writeFile(p, `${withoutBatching(await readFile(p, 'utf8'))}\ndynamic_batching { max_queue_delay_microseconds: 50000 }\n`);
  for (const [name, extra] of Object.entries(PROBES)) {
    await mkdir(join(repo.dir, name, '1'), { recursive: true });
    await writeFile(join(repo.dir, name, 'config.pbtxt'), probeConfig(name, extra));
    await writeFile(join(repo.dir, name, '1', 'model.ts'), PROBE_MODEL);
  }
  server = await startTestServer(repo.dir);
});

after(async () => {
  // A failed test may have left a request at its gate: open every gate so shutdown does not wait.
  await Promise.all([...gates].map((g) => release(g).catch(() => {})));
  await server.stop();
  await repo.cleanup();
});

// ---- helpers -------------------------------------------------------------------------------------

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitFor(cond: () => boolean | Promise<boolean>, what: string, timeoutMs = 15_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what} (requests pending: ${JSON.stringify(Object.fromEntries(Object.keys(PROBES).map((m) => [m, pending(m)])))})`);
    await sleep(10);
  }
}

const pending = (model: string) => server.models.get(model).scheduler.pending;

async function events(model: string): Promise<string[]> {
  return (await readFile(join(repo.dir, model, 'events.log'), 'utf8').catch(() => '')).split('\n').filter(Boolean);
}

const started = async (model: string, id: string) => (await events(model)).includes(`start ${id}`);

/** Let every request held at `gate` go on (gate names are global to the repository). */
async function release(gate: string): Promise<void> {
  for (const m of Object.keys(PROBES)) await writeFile(join(repo.dir, m, `gate-${gate}`), '');
}

/** A request to a probe model: X [rows, 1] (one row unless told), first value `x`. */
function probe(c: InferenceClient, model: string, id: string, parameters: InferOptions['parameters'] = {}, opts: { rows?: number; x?: number; signal?: AbortSignal } = {}): Promise<InferResult> {
  const rows = opts.rows ?? 1;
  const x = Float32Array.from({ length: rows }, (_, i) => (opts.x ?? 1) + i);
  return c.infer(model, [{ name: 'X', datatype: 'FP32', shape: [rows, 1], data: x }], { id, parameters, signal: opts.signal });
}

/**
 * Start a request held at a gate on `model`'s instance and wait until the model is running it.
 * (The request's promise comes back wrapped: an async function returning it would wait for it.)
 */
async function holdInstance(c: InferenceClient, model: string, id: string, gate: string): Promise<{ done: Promise<InferResult> }> {
  gates.add(gate);
  const done = probe(c, model, id, { gate });
  done.catch(() => {});
  await waitFor(() => started(model, id), `'${id}' to start on ${model}`);
  return { done };
}

/** Send a request and note how long its answer took. */
function timed<T>(p: Promise<T>): Promise<{ ok: boolean; value?: T; error?: unknown; ms: number; at: number }> {
  const t0 = performance.now();
  return p.then(
    (value) => ({ ok: true, value, ms: performance.now() - t0, at: performance.now() }),
    (error) => ({ ok: false, error, ms: performance.now() - t0, at: performance.now() }),
  );
}

const scalar = (r: InferResult, name: string) => Number(r.output(name).typed()[0]);

interface Duration { count: number; ns: number }
interface Stat {
  name: string;
  version: string;
  last_inference: number;
  inference_count: number;
  execution_count: number;
  inference_stats: Record<'success' | 'fail' | 'queue' | 'compute_input' | 'compute_infer' | 'compute_output', Duration>;
  batch_stats: { batch_size: number; compute_input: Duration; compute_infer: Duration; compute_output: Duration }[];
}

const CODE_OF_HTTP = new Map<number, ErrorCode>();
for (const [code, row] of Object.entries(STATUS_TABLE) as [ErrorCode, { http: number }][]) if (!CODE_OF_HTTP.has(row.http)) CODE_OF_HTTP.set(row.http, code);

/** The statistics extension, raw: REST GET .../stats or gRPC ModelStatistics. */
async function modelStats(c: InferenceClient, name?: string, version?: string): Promise<Stat[]> {
  if (c instanceof HttpClient) {
    const path = name === undefined ? '/v2/models/stats'
      : `/v2/models/${encodeURIComponent(name)}${version ? `/versions/${encodeURIComponent(version)}` : ''}/stats`;
    const res = await c.request('GET', path);
    const body = JSON.parse(res.text) as { model_stats?: Stat[]; error?: string };
    if (res.status !== 200) throw new InferenceError(CODE_OF_HTTP.get(res.status) ?? 'INTERNAL', body.error ?? `HTTP ${res.status}`);
    assert.ok(Array.isArray(body.model_stats), 'REST stats answer has a model_stats array');
    return body.model_stats;
  }
  assert.ok(c instanceof GrpcServiceClient);
  const r = await c.call<inference.ModelStatisticsResponse>('ModelStatistics', { name: name ?? '', version: version ?? '' });
  const obj = inference.ModelStatisticsResponse.toObject(r, { longs: Number, defaults: true, arrays: true, objects: true });
  return obj.model_stats as Stat[];
}

async function oneStat(c: InferenceClient, name: string, version?: string): Promise<Stat> {
  const all = await modelStats(c, name, version);
  assert.equal(all.length, 1, `one entry for ${name}`);
  assert.equal(all[0].name, name);
  return all[0];
}

/** The counts of a statistics entry (what must agree across protocols and with what was sent). */
const counts = (s: Stat) => ({
  inference_count: s.inference_count,
  execution_count: s.execution_count,
  ...Object.fromEntries(Object.entries(s.inference_stats).filter(([k]) => !k.startsWith('cache')).map(([k, d]) => [k, d.count])),
  batches: Object.fromEntries(s.batch_stats.map((b) => [b.batch_size, b.compute_infer.count])),
});

function delta(a: Stat, b: Stat) {
  const x = counts(a);
  const y = counts(b);
  const out: Record<string, number> = {};
  for (const k of Object.keys(y) as (keyof typeof y)[]) if (k !== 'batches') out[k] = (y[k] as number) - ((x[k] as number) ?? 0);
  return out;
}

function scrape(path = '/metrics', method = 'GET'): Promise<{ status: number; text: string; type: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port: server.metrics!.port, path, method }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (c: Buffer) => parts.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(parts).toString('utf8'), type: String(res.headers['content-type']) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

interface Sample { name: string; labels: Record<string, string>; value: number }

function samples(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split('\n')) {
    const m = /^([A-Za-z_:][\w:]*)(?:\{(.*)\})?\s+(\S+)/.exec(line);
    if (!m || line.startsWith('#')) continue;
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]] = l[2];
    out.push({ name: m[1], labels, value: Number(m[3]) });
  }
  return out;
}

function metric(text: string, name: string, labels: Record<string, string>): number | undefined {
  return samples(text).find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value;
}

// ---- behaviour over both protocols ---------------------------------------------------------------

for (const proto of PROTOCOLS) {
  describe(proto.name, () => {
    let c: InferenceClient;
    const id = (what: string) => `${proto.name}-${what}`;
    before(() => {
      c = proto.client(server);
    });
    after(() => c.close());

    test('max_queue_size: with the instance busy and the queue full, one more request fails at once with UNAVAILABLE', async () => {
      const gate = id('queue-full');
      const { done: blocker } = await holdInstance(c, 'slow', id('qf-blocker'), gate);
      const queued = [1, 2, 3, 4].map((k) => {
        const p = probe(c, 'slow', id(`qf-${k}`), { timeout: LONG }, { x: 10 * k });
        p.catch(() => {});
        return p;
      });
      await waitFor(() => pending('slow') === 5, 'four requests queued behind the busy instance');
      const extra = await timed(probe(c, 'slow', id('qf-extra'), { timeout: LONG }));
      assert.equal(extra.ok, false, 'the request beyond max_queue_size succeeded');
      const err = extra.error as InferenceError;
      assert.ok(err instanceof InferenceError);
      assert.equal(err.code, 'UNAVAILABLE');
      assert.match(err.message, /max_queue_size 4/);
      assert.match(err.message, /slow/);
      assert.equal(pending('slow'), 5, 'the rejected request did not take a place');

      await release(gate);
      const done = await Promise.all([blocker, ...queued]);
      assert.deepEqual(done.slice(1).map((r) => scalar(r, 'Y')), [10, 20, 30, 40]);
      assert.ok(!(await events('slow')).includes(`start ${id('qf-extra')}`), 'the rejected request ran');
      // The queue has room again.
      assert.equal(scalar(await probe(c, 'slow', id('qf-after'), {}, { x: 7 }), 'Y'), 7);
    });

    test('default_timeout_microseconds (REJECT): a request queued too long fails with DEADLINE_EXCEEDED; its own `timeout` overrides', async () => {
      const gate = id('timeout');
      const { done: blocker } = await holdInstance(c, 'slow', id('to-blocker'), gate);
      const byDefault = timed(probe(c, 'slow', id('to-default')));
      const shorter = timed(probe(c, 'slow', id('to-short'), { timeout: 200_000 }));
      const longer = timed(probe(c, 'slow', id('to-long'), { timeout: LONG }, { x: 5 }));
      await waitFor(() => pending('slow') === 4, 'three requests queued');

      const s = await shorter;
      assert.equal(s.ok, false, 'a 200 ms request timeout did not fail');
      assert.equal((s.error as InferenceError).code, 'DEADLINE_EXCEEDED');
      assert.match((s.error as InferenceError).message, /timed out|deadline/i);
      const d = await byDefault;
      assert.equal(d.ok, false, 'the default queue timeout did not fail the request');
      assert.equal((d.error as InferenceError).code, 'DEADLINE_EXCEEDED');
      assert.match((d.error as InferenceError).message, /slow/);
      assert.ok(d.ms >= (SLOW_TIMEOUT_US / 1000) * 0.75, `the default timeout fired after only ${d.ms.toFixed(0)} ms`);
      assert.ok(s.at < d.at, 'the shorter request timeout did not fail before the default one');

      // The request with a longer timeout of its own has now waited past the default and still runs.
      assert.equal(pending('slow'), 2, 'the timed-out requests left the queue');
      await release(gate);
      await blocker;
      const l = await longer;
      assert.ok(l.ok, `the request with a longer timeout failed: ${String(l.error)}`);
      assert.equal(scalar(l.value!, 'Y'), 5);
      const ev = await events('slow');
      assert.ok(!ev.includes(`start ${id('to-default')}`) && !ev.includes(`start ${id('to-short')}`), 'a timed-out request was executed');
    });

    test('with allow_timeout_override false the request `timeout` parameter is ignored', async () => {
      const gate = id('strict');
      const { done: blocker } = await holdInstance(c, 'slow_strict', id('st-blocker'), gate);
      const longer = timed(probe(c, 'slow_strict', id('st-long'), { timeout: LONG }));
      const shorter = timed(probe(c, 'slow_strict', id('st-short'), { timeout: 1_000 }));
      const l = await longer;
      assert.equal(l.ok, false, 'the request outlived the default timeout by asking for a longer one');
      assert.equal((l.error as InferenceError).code, 'DEADLINE_EXCEEDED');
      const s = await shorter;
      assert.equal((s.error as InferenceError).code, 'DEADLINE_EXCEEDED');
      assert.ok(s.ms >= (STRICT_TIMEOUT_US / 1000) * 0.6, `a 1 ms request timeout was honoured (failed after ${s.ms.toFixed(0)} ms)`);
      await release(gate);
      await blocker;
    });

    test('timeout_action DELAY: a request past its queue timeout still runs', async () => {
      const gate = id('delay');
      const { done: blocker } = await holdInstance(c, 'slow_delay', id('dl-blocker'), gate);
      const waiting = probe(c, 'slow_delay', id('dl-waiting'), {}, { x: 3 });
      await waitFor(() => pending('slow_delay') === 2, 'a request queued');
      await sleep(600); // three times its 200 ms timeout
      assert.equal(pending('slow_delay'), 2, 'the request left the queue');
      await release(gate);
      await blocker;
      assert.equal(scalar(await waiting, 'Y'), 3);
    });

    test('priority: a priority-1 request queued after two priority-3 ones runs first; same level runs in arrival order', async () => {
      const gate = id('priority');
      const { done: blocker } = await holdInstance(c, 'slow', id('pr-blocker'), gate);
      // Each request fills a whole batch (8 rows = max_batch_size), so each runs in its own execution.
      const send = async (what: string, priority: number, n: number) => {
        const done = probe(c, 'slow', id(what), { priority, timeout: LONG }, { rows: 8 });
        done.catch(() => {});
        await waitFor(() => pending('slow') === n, `'${what}' queued`);
        return { done };
      };
      const { done: lowA } = await send('pr-3a', 3, 2);
      const { done: lowB } = await send('pr-3b', 3, 3);
      const { done: high } = await send('pr-1', 1, 4);
      await release(gate);
      const [b, a3, b3, h] = await Promise.all([blocker, lowA, lowB, high]);
      const order = (r: InferResult) => scalar(r, 'ORDER');
      assert.ok(order(b) < order(h), 'the blocker ran after the queued requests');
      assert.ok(order(h) < order(a3) && order(h) < order(b3), `priority 1 ran at ${order(h)}, after priority 3 at ${order(a3)}, ${order(b3)}`);
      assert.ok(order(a3) < order(b3), 'two requests of one priority ran out of arrival order');
      assert.ok(scalar(h, 'START') >= scalar(b, 'END'), 'the priority-1 request overlapped the running one');
    });

    test('a priority outside 1..priority_levels is INVALID_ARGUMENT; 0 means the default level', async () => {
      const err = await failure(probe(c, 'slow', id('pr-bad'), { priority: 4 }));
      assert.equal(err.code, 'INVALID_ARGUMENT');
      assert.match(err.message, /priority/);
      assert.match(err.message, /1\.\.3/);
      assert.equal(scalar(await probe(c, 'slow', id('pr-zero'), { priority: 0 }, { x: 9 }), 'Y'), 9);
      assert.equal(scalar(await probe(c, 'slow', id('pr-one'), { priority: 1 }, { x: 8 }), 'Y'), 8);
      assert.ok(!(await events('slow')).includes(`start ${id('pr-bad')}`));
    });

    test('a request cancelled by its client while queued leaves the queue and never runs; the server keeps serving', async () => {
      const gate = id('cancel');
      const { done: blocker } = await holdInstance(c, 'slow', id('cx-blocker'), gate);
      const ac = new AbortController();
      const cancelled = probe(c, 'slow', id('cx-cancelled'), { timeout: LONG }, { signal: ac.signal });
      cancelled.catch(() => {});
      await waitFor(() => pending('slow') === 2, 'the request to cancel is queued');
      ac.abort();
      await assert.rejects(cancelled);
      await waitFor(() => pending('slow') === 1, 'the server to drop the cancelled request from its queue');
      await release(gate);
      await blocker;
      assert.equal(scalar(await probe(c, 'slow', id('cx-after'), {}, { x: 4 }), 'Y'), 4);
      const ev = await events('slow');
      assert.ok(ev.includes(`end ${id('cx-after')}`));
      assert.ok(!ev.includes(`start ${id('cx-cancelled')}`), 'the cancelled request was executed');
    });

    // gRPC-Web sends the same grpc-timeout header, so the same deadline applies.
    if (speaksGrpc(proto)) {
      test('a gRPC deadline that passes while the request is queued: DEADLINE_EXCEEDED, and it never runs', async () => {
        const gate = id('deadline');
        const { done: blocker } = await holdInstance(c, 'slow', id('dd-blocker'), gate);
        const short = proto.name === 'grpc'
          ? new GrpcClient(`127.0.0.1:${server.grpc!.port}`, { timeoutMs: 500 })
          : new GrpcWebClient(baseUrl(server), { timeoutMs: 500 });
        try {
          const err = await failure(probe(short, 'slow', id('dd-late'), { timeout: LONG }));
          assert.equal(err.code, 'DEADLINE_EXCEEDED');
          await waitFor(() => pending('slow') === 1, 'the server to drop the request whose deadline passed');
        } finally {
          await short.close();
        }
        await release(gate);
        await blocker;
        assert.equal(scalar(await probe(c, 'slow', id('dd-after'), {}, { x: 2 }), 'Y'), 2);
        assert.ok(!(await events('slow')).includes(`start ${id('dd-late')}`), 'the request past its deadline was executed');
      });
    }

    test('instance_group count 2 runs two requests at once; count 1 runs them one after the other', async () => {
      const pair = (model: string) => Promise.all([1, 2].map((k) => probe(c, model, id(`${model}-${k}`), { sleep_ms: 500 })));
      const span = (r: InferResult) => ({ start: scalar(r, 'START'), end: scalar(r, 'END') });
      const [a, b] = (await pair('pool2')).map(span);
      assert.ok(a.start < b.end && b.start < a.end, `count 2: executions did not overlap (${JSON.stringify([a, b])})`);
      const [x, y] = (await pair('pool1')).map(span).sort((p, q) => p.start - q.start);
      assert.ok(y.start >= x.end, `count 1: executions overlapped (${JSON.stringify([x, y])})`);
    });

    test('statistics count successes, model failures and validation failures', async () => {
      const before = await oneStat(c, 'flaky');
      assert.equal(before.version, '1');
      for (let k = 0; k < 4; k++) assert.equal(scalar(await probe(c, 'flaky', id(`fl-ok-${k}`), {}, { x: k + 1 }), 'Y'), k + 1);
      for (let k = 0; k < 2; k++) {
        const err = await failure(probe(c, 'flaky', id(`fl-model-${k}`), {}, { x: -1 }));
        assert.equal(err.code, 'INVALID_ARGUMENT');
        assert.match(err.message, /negative input/);
      }
      const badShape = await failure(c.infer('flaky', [{ name: 'X', datatype: 'FP32', shape: [1, 2], data: new Float32Array(2) }]));
      assert.equal(badShape.code, 'INVALID_ARGUMENT');
      const badType = await failure(c.infer('flaky', [{ name: 'X', datatype: 'INT32', shape: [1, 1], data: new Int32Array(1) }]));
      assert.equal(badType.code, 'INVALID_ARGUMENT');
      const afterStat = await oneStat(c, 'flaky');
      assert.deepEqual(delta(before, afterStat), {
        // As in Triton: every execution counts (four successes and two model failures, one request
        // each), but inferences, queue and compute stats only count successful requests.
        inference_count: 4,
        execution_count: 6,
        success: 4,
        fail: 4,
        queue: 4,
        compute_input: 4,
        compute_infer: 4,
        compute_output: 4,
      });
      assert.ok(afterStat.inference_stats.success.ns > before.inference_stats.success.ns);
      assert.ok(afterStat.inference_stats.fail.ns > before.inference_stats.fail.ns);
      assert.ok(afterStat.last_inference >= before.last_inference && afterStat.last_inference > 0);
      assert.deepEqual(afterStat.batch_stats.map((b) => b.batch_size), [1], 'every execution held one row');
      assert.ok(afterStat.batch_stats[0].compute_infer.ns > 0);
    });

    test('dynamic batching under concurrent load: execution_count < inference_count and a batch_size > 1', async () => {
      const before = await oneStat(c, 'my_model');
      await Promise.all(Array.from({ length: 32 }, async (_, k) => {
        const r = await c.infer('my_model', [{ name: 'INPUT0', datatype: 'FP32', shape: [1, 128], data: new Float32Array(128).fill(k) }]);
        assert.equal(r.output('OUTPUT0').typed()[0], 128 * k);
      }));
      await failure(c.infer('my_model', [{ name: 'INPUT0', datatype: 'FP32', shape: [1, 127], data: new Float32Array(127) }]));
      const afterStat = await oneStat(c, 'my_model');
      const d = delta(before, afterStat);
      assert.equal(d.success, 32);
      assert.equal(d.fail, 1);
      assert.equal(d.inference_count, 32);
      assert.equal(d.queue, 32);
      assert.ok(d.execution_count >= 1 && d.execution_count < 32, `32 requests took ${d.execution_count} executions`);
      assert.ok(afterStat.batch_stats.some((b) => b.batch_size > 1), `batch sizes: ${afterStat.batch_stats.map((b) => b.batch_size).join(', ')}`);
      // Per-batch-size executions add up to execution_count.
      assert.equal(afterStat.batch_stats.reduce((n, b) => n + b.compute_infer.count, 0), afterStat.execution_count);
      assert.equal(afterStat.batch_stats.reduce((n, b) => n + b.batch_size * b.compute_infer.count, 0), afterStat.inference_count);
      // A version's stats are the same entry.
      assert.deepEqual(counts(await oneStat(c, 'my_model', '1')), counts(afterStat));
    });

    test('stats of every model; an unknown model or version is NOT_FOUND', async () => {
      const all = await modelStats(c);
      const names = all.map((s) => s.name).sort();
      assert.deepEqual(names, ['flaky', 'my_model', 'pool1', 'pool2', 'slow', 'slow_delay', 'slow_strict']);
      assert.ok(all.every((s) => s.version === '1'));
      const unknown = await failure(modelStats(c, 'no_such_model'));
      assert.equal(unknown.code, 'NOT_FOUND');
      assert.match(unknown.message, /no_such_model/);
      const badVersion = await failure(modelStats(c, 'my_model', '9'));
      assert.equal(badVersion.code, 'NOT_FOUND');
    });
  });
}

// ---- across protocols ---------------------------------------------------------------------------

describe('statistics and metrics across protocols', () => {
  let rest: InferenceClient;
  let grpc: InferenceClient;
  before(() => {
    [rest, grpc] = ['http', 'grpc'].map((n) => (PROTOCOLS.find((p) => p.name === n) as Protocol).client(server));
  });
  after(async () => {
    await rest.close();
    await grpc.close();
  });

  test('REST and gRPC report the same statistics for the same model', async () => {
    const [a, b] = [await modelStats(rest), await modelStats(grpc)];
    assert.deepEqual(b.map((s) => s.name), a.map((s) => s.name));
    for (const [i, s] of a.entries()) {
      assert.deepEqual(counts(b[i]), counts(s), `counts of ${s.name}`);
      assert.deepEqual(b[i].inference_stats, s.inference_stats, `durations of ${s.name}`);
      assert.equal(b[i].last_inference, s.last_inference);
    }
    const flaky = a.find((s) => s.name === 'flaky')!;
    // Every protocol's stats test ran: 4 successes and 4 failures each.
    assert.equal(flaky.inference_stats.success.count, 4 * PROTOCOLS.length);
    assert.equal(flaky.inference_stats.fail.count, 4 * PROTOCOLS.length);
  });

  test('Prometheus: nv_inference_* per model and version agree with the statistics', async () => {
    const [stat] = await modelStats(rest, 'my_model');
    const { status, text, type } = await scrape();
    assert.equal(status, 200);
    assert.match(type, /text\/plain/);
    const m = { model: 'my_model', version: '1' };
    assert.equal(metric(text, 'nv_inference_request_success', m), stat.inference_stats.success.count);
    assert.equal(metric(text, 'nv_inference_request_failure', m), stat.inference_stats.fail.count);
    assert.equal(metric(text, 'nv_inference_count', m), stat.inference_count);
    assert.equal(metric(text, 'nv_inference_exec_count', m), stat.execution_count);
    assert.ok((metric(text, 'nv_inference_request_success', m) ?? 0) >= 64);
    assert.ok((metric(text, 'nv_inference_request_failure', m) ?? 0) >= 2);
    for (const name of ['nv_inference_queue_duration_us', 'nv_inference_compute_infer_duration_us', 'nv_inference_request_duration_us']) {
      const v = metric(text, name, m);
      assert.ok(v !== undefined && v >= 0, `${name} for my_model`);
    }
    assert.ok((metric(text, 'nv_inference_compute_infer_duration_us', m) ?? 0) > 0);
    const flaky = { model: 'flaky', version: '1' };
    assert.equal(metric(text, 'nv_inference_request_failure', flaky), 4 * PROTOCOLS.length);
    for (const s of samples(text).filter((x) => x.name.startsWith('nv_inference_'))) {
      assert.ok(s.labels.model && s.labels.version, `${s.name} lacks model/version labels`);
    }
  });

  test('Prometheus: nv_inference_pending_request_count shows waiting requests, then 0', async () => {
    const gate = 'metrics-pending';
    const { done: blocker } = await holdInstance(rest, 'slow', 'mx-blocker', gate);
    const queued = probe(grpc, 'slow', 'mx-queued', { timeout: LONG });
    queued.catch(() => {});
    await waitFor(() => pending('slow') === 2, 'a request queued');
    const during = metric((await scrape()).text, 'nv_inference_pending_request_count', { model: 'slow', version: '1' });
    assert.equal(during, 2);
    await release(gate);
    await Promise.all([blocker, queued]);
    const afterwards = (await scrape()).text;
    assert.equal(metric(afterwards, 'nv_inference_pending_request_count', { model: 'slow', version: '1' }), 0);
    assert.equal(metric(afterwards, 'nv_inference_pending_request_count', { model: 'my_model', version: '1' }), 0);
  });

  test('Prometheus: duet_requests_total per protocol, method and code; duet_request_duration_seconds histogram', async () => {
    const { text } = await scrape();
    const requests = samples(text).filter((s) => s.name === 'duet_requests_total');
    for (const protocol of ['http', 'grpc']) {
      const mine = requests.filter((s) => s.labels.protocol === protocol);
      assert.ok(mine.length > 0, `no duet_requests_total series for ${protocol}`);
      assert.ok(mine.every((s) => s.labels.method && s.labels.code), `${protocol} series without method or code`);
    }
    assert.ok((metric(text, 'duet_requests_total', { protocol: 'http', method: 'infer', code: '200' }) ?? 0) > 0);
    assert.ok((metric(text, 'duet_requests_total', { protocol: 'http', method: 'infer', code: '503' }) ?? 0) >= 1, 'the queue-full 503 is counted');
    assert.ok((metric(text, 'duet_requests_total', { protocol: 'grpc', method: 'ModelInfer', code: 'OK' }) ?? 0) > 0);
    assert.ok((metric(text, 'duet_requests_total', { protocol: 'grpc', method: 'ModelInfer', code: 'DEADLINE_EXCEEDED' }) ?? 0) >= 1);
    assert.ok((metric(text, 'duet_requests_total', { protocol: 'grpc', method: 'ModelStatistics', code: 'OK' }) ?? 0) > 0);
    assert.match(text, /^# TYPE duet_request_duration_seconds histogram$/m);
    const buckets = samples(text).filter((s) => s.name === 'duet_request_duration_seconds_bucket');
    assert.ok(buckets.some((s) => s.labels.protocol === 'http' && s.labels.le === '+Inf' && s.value > 0));
    assert.ok(buckets.some((s) => s.labels.protocol === 'grpc' && s.labels.le === '+Inf' && s.value > 0));
    assert.ok(samples(text).some((s) => s.name === 'duet_request_duration_seconds_count' && s.labels.method === 'infer'));
  });

  test('the metrics port answers 404 to anything but GET /metrics', async () => {
    for (const [path, method] of [['/', 'GET'], ['/v2/health/live', 'GET'], ['/metrics/extra', 'GET'], ['/metrics', 'POST']]) {
      const r = await scrape(path, method);
      assert.equal(r.status, 404, `${method} ${path}`);
    }
    assert.equal((await scrape('/metrics?x=1')).status, 200);
  });
});
