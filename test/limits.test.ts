// Bounded memory and stalled peers on REST: the in-flight byte budget (429), the body limit after
// decompression (413, a gzip bomb), the request timeout for a body that stops arriving (408), and
// large JSON bodies parsed off the main thread while the server goes on answering.
// (gRPC's side of the same limits lives in its transport; see GrpcServerOptions.budget.)

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { gzipSync } from 'node:zlib';
import { GrpcClient } from '../packages/client/src/grpc.js';
import { HttpClient, HttpResponse } from '../packages/client/src/node.js';
import { InferenceError } from '../src/core/errors.js';
import { decodeInferRequest } from '../src/protocols/http/codec.js';
import { startServer, type RunningServer, type ServerOptions } from '../src/server.js';
import { baseUrl, scratchRepo } from './harness.js';

const MiB = 1024 * 1024;

async function serve(models: string[], opts: Partial<ServerOptions>) {
  const repo = await scratchRepo(models);
  const server = await startServer({ modelRepository: repo.dir, host: '127.0.0.1', httpPort: 0, grpcPort: null, metricsPort: null, ...opts });
  const client = new HttpClient(baseUrl(server));
  return {
    server, client,
    async stop() {
      await client.close();
      await server.stop();
      await repo.cleanup();
    },
  };
}

/** An identity_fp32 JSON request for `n` floats, answered in binary. */
function fp32Body(n: number, value = '0.25'): Buffer {
  const data = new Array<string>(n).fill(value).join(',');
  return Buffer.from(`{"inputs":[{"name":"INPUT0","datatype":"FP32","shape":[1,${n}],"data":[${data}]}],"parameters":{"binary_data_output":true}}`);
}

function errorOf(res: HttpResponse, status: number): string {
  const text = res.text;
  assert.equal(res.status, status, text);
  return (JSON.parse(text) as { error: string }).error;
}

/** Wait until the budget is empty again (responses release it as their sockets finish). */
async function budgetDrains(server: RunningServer, what: string): Promise<void> {
  const until = Date.now() + 3000;
  while (server.budget.used !== 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 10));
  assert.equal(server.budget.used, 0, `${server.budget.used} bytes still held after ${what}`);
}

interface RawExchange {
  socket: net.Socket;
  /** Everything the server sent, once it closed the connection. */
  closed: Promise<{ text: string; at: number }>;
}

/** A raw connection that sends `head` (and later whatever the test writes); resolves when the server closes it. */
function raw(port: number, head: string): RawExchange {
  const socket = net.connect(port, '127.0.0.1');
  socket.write(head);
  const parts: Buffer[] = [];
  socket.on('data', (d: Buffer) => parts.push(d));
  const closed = new Promise<{ text: string; at: number }>((resolve) => {
    socket.on('error', () => {});
    socket.on('close', () => resolve({ text: Buffer.concat(parts).toString('utf8'), at: performance.now() }));
  });
  return { socket, closed };
}

const post = (path: string, headers: Record<string, string | number>) =>
  `POST ${path} HTTP/1.1\r\nHost: x\r\n${Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join('')}\r\n`;

describe('in-flight byte budget', () => {
  let s: Awaited<ReturnType<typeof serve>>;
  before(async () => {
    s = await serve(['identity_fp32', 'my_model'], { maxInflightBytes: 64 * 1024, maxBodyBytes: 200_000, requestTimeoutMs: 5000 });
  });
  after(() => s.stop());
  const infer = (b: Uint8Array, headers: http.OutgoingHttpHeaders = {}) =>
    s.client.request('POST', '/v2/models/identity_fp32/infer', b, { 'content-type': 'application/json', ...headers });

  test('a body larger than the whole budget is 429 at once, naming the sizes and the flag', async () => {
    const b = fp32Body(20_000);
    const t0 = performance.now();
    const msg = errorOf(await infer(b), 429);
    assert.ok(performance.now() - t0 < 900, 'it waited instead of refusing at once');
    assert.match(msg, new RegExp(`${b.byteLength} bytes.*budget of ${64 * 1024} bytes.*--max-inflight-bytes`));
    await budgetDrains(s.server, 'a refused body');
  });

  test('the SDK sees 429 and 413 as RESOURCE_EXHAUSTED, as gRPC reports both', async () => {
    const input = (n: number) => [{ name: 'INPUT0', datatype: 'FP32' as const, shape: [1, n], data: new Float32Array(n) }];
    await assert.rejects(s.client.infer('identity_fp32', input(20_000)), (e: unknown) =>
      e instanceof InferenceError && e.code === 'RESOURCE_EXHAUSTED' && /--max-inflight-bytes/.test(e.message));
    await assert.rejects(s.client.infer('identity_fp32', input(60_000)), (e: unknown) =>
      e instanceof InferenceError && e.code === 'RESOURCE_EXHAUSTED' && /--http-max-body/.test(e.message));
    await budgetDrains(s.server, 'refused bodies');
  });

  test('a body that does not fit waits for room, then is 429 if none appears', async () => {
    // A stalled upload holds 40 KiB of the 64.
    const holder = raw(s.server.http.port, post('/v2/models/identity_fp32/infer', { 'content-length': 40 * 1024 }) + '{"inp');
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(s.server.budget.used, 40 * 1024);
    const t0 = performance.now();
    const msg = errorOf(await infer(fp32Body(6000)), 429);
    const waited = performance.now() - t0;
    assert.ok(waited >= 900, `refused after ${waited} ms, without waiting`);
    assert.match(msg, /server busy: request needs \d+ bytes but 40960 of the 65536-byte in-flight budget \(--max-inflight-bytes\)/);
    // Once the holder goes, a waiting request gets in.
    const waiting = infer(fp32Body(6000));
    setTimeout(() => holder.socket.destroy(), 200);
    assert.equal((await waiting).status, 200);
    await budgetDrains(s.server, 'a waiting request');
  });

  test('used returns to 0 after successes, errors and aborts', async () => {
    assert.equal((await infer(fp32Body(1000))).status, 200);
    await budgetDrains(s.server, 'a success');
    errorOf(await infer(Buffer.from('{"inputs": [nope')), 400);
    await budgetDrains(s.server, 'bad JSON');
    errorOf(await infer(gzipSync(fp32Body(1000)).subarray(0, 50), { 'content-encoding': 'gzip' }), 400);
    await budgetDrains(s.server, 'bad gzip');
    errorOf(await infer(gzipSync(fp32Body(40_000)), { 'content-encoding': 'gzip' }), 429);
    await budgetDrains(s.server, 'decompressed output over the budget');
    // A chunked upload abandoned halfway.
    const half = raw(s.server.http.port, post('/v2/models/identity_fp32/infer', { 'transfer-encoding': 'chunked' }) + '3e8\r\n' + 'x'.repeat(1000) + '\r\n');
    await new Promise((r) => setTimeout(r, 100));
    assert.ok(s.server.budget.used >= 1000);
    half.socket.destroy();
    await budgetDrains(s.server, 'a client that left mid-body');
    // A client that leaves while its request is being answered.
    const ac = new AbortController();
    const gone = s.client.request('POST', '/v2/models/identity_fp32/infer', fp32Body(5000), {}, ac.signal).catch(() => undefined);
    setTimeout(() => ac.abort(), 1);
    await gone;
    await budgetDrains(s.server, 'a client that left mid-request');
  });

  test('the budget is a Prometheus gauge', async () => {
    const m = await serve(['my_model'], { metricsPort: 0, maxInflightBytes: 123_456 });
    try {
      const text = await (await fetch(`http://127.0.0.1:${m.server.metrics!.port}/metrics`)).text();
      assert.match(text, /^duet_inflight_bytes 0$/m);
      assert.match(text, /^duet_inflight_bytes_limit 123456$/m);
    } finally {
      await m.stop();
    }
  });
});

describe('body limit and request timeout', () => {
  let s: Awaited<ReturnType<typeof serve>>;
  before(async () => {
    s = await serve(['identity_fp32'], { requestTimeoutMs: 400 });
  });
  after(() => s.stop());

  test('a gzip bomb (1 MB inflating to 1 GiB) is 413 quickly, without inflating past the limit', async (t) => {
    // gzip members concatenate: 1024 copies of 1 MiB of zeros.
    const member = gzipSync(Buffer.alloc(MiB));
    const bomb = Buffer.concat(new Array<Buffer>(1024).fill(member));
    assert.ok(bomb.byteLength < 1.1 * MiB);
    const before = process.memoryUsage().rss;
    let peak = before;
    const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 5);
    const t0 = performance.now();
    const res = await s.client.request('POST', '/v2/models/identity_fp32/infer', bomb, { 'content-encoding': 'gzip' });
    const took = performance.now() - t0;
    clearInterval(sampler);
    assert.match(errorOf(res, 413), /decompressed request body exceeds the limit of 67108864 bytes \(--http-max-body\)/);
    const grew = (Math.max(peak, process.memoryUsage().rss) - before) / MiB;
    t.diagnostic(`gzip bomb: 413 after ${took.toFixed(0)} ms, RSS grew ${grew.toFixed(0)} MiB`);
    assert.ok(took < 5000, `took ${took} ms`);
    assert.ok(grew < 64 + 64, `RSS grew ${grew} MiB for a 64 MiB limit`);
    await budgetDrains(s.server, 'a gzip bomb');
  });

  test('a chunked upload that stalls is answered 408 and closed after the timeout', async () => {
    const t0 = performance.now();
    const x = raw(s.server.http.port, post('/v2/models/identity_fp32/infer', { 'transfer-encoding': 'chunked' }) + '5\r\n{"inp\r\n');
    const { text, at } = await x.closed;
    const after = at - t0;
    assert.match(text, /^HTTP\/1\.1 408 /);
    assert.match(text, /request body stalled: no bytes arrived for 0.4 s \(--request-timeout\)/);
    assert.ok(after >= 350 && after < 2500, `closed after ${after} ms`);
    await budgetDrains(s.server, 'a stalled upload');
  });

  test('a declared-length body that stalls is dropped the same way', async () => {
    const x = raw(s.server.http.port, post('/v2/models/identity_fp32/infer', { 'content-length': 1000 }) + '{"inputs"');
    assert.match((await x.closed).text, /^HTTP\/1\.1 408 [^]*--request-timeout/);
    await budgetDrains(s.server, 'a stalled upload');
  });

  test('a slow upload that keeps sending is not dropped', async () => {
    const b = fp32Body(10);
    const res = await new Promise<HttpResponse>((resolve, reject) => {
      const req = http.request({ host: '127.0.0.1', port: s.server.http.port, method: 'POST', path: '/v2/models/identity_fp32/infer' }, (r) => {
        const parts: Buffer[] = [];
        r.on('data', (d: Buffer) => parts.push(d));
        r.on('end', () => resolve(new HttpResponse(r.statusCode ?? 0, r.headers as Record<string, string>, Buffer.concat(parts))));
      });
      req.on('error', reject);
      let off = 0;
      const tick = setInterval(() => {
        req.write(b.subarray(off, off + 16));
        off += 16;
        if (off >= b.byteLength) {
          clearInterval(tick);
          req.end();
        }
      }, 150);
    });
    assert.equal(res.status, 200, res.text);
  });
});

describe('gRPC shares the limits', () => {
  test('a gRPC message larger than the budget is RESOURCE_EXHAUSTED naming the flag, and the budget drains', async () => {
    const repo = await scratchRepo(['identity_fp32']);
    const server = await startServer({ modelRepository: repo.dir, host: '127.0.0.1', httpPort: 0, grpcPort: 0, metricsPort: null, maxInflightBytes: 64 * 1024 });
    const client = new GrpcClient(`127.0.0.1:${server.grpc!.port}`);
    try {
      const input = (n: number) => [{ name: 'INPUT0', datatype: 'FP32' as const, shape: [1, n], data: new Float32Array(n) }];
      await assert.rejects(client.infer('identity_fp32', input(20_000)), (e: unknown) =>
        e instanceof InferenceError && e.code === 'RESOURCE_EXHAUSTED' && /--max-inflight-bytes/.test(e.message));
      assert.equal((await client.infer('identity_fp32', input(1000))).outputs.length, 1);
      await budgetDrains(server, 'gRPC calls');
    } finally {
      client.close();
      await server.stop();
      await repo.cleanup();
    }
  });

  test('an idle ModelStreamInfer stream outlives the request timeout', async () => {
    const repo = await scratchRepo(['my_model']);
    const server = await startServer({ modelRepository: repo.dir, host: '127.0.0.1', httpPort: 0, grpcPort: 0, metricsPort: null, requestTimeoutMs: 200 });
    const client = new GrpcClient(`127.0.0.1:${server.grpc!.port}`);
    try {
      const stream = client.openStream();
      await new Promise((r) => setTimeout(r, 600));
      stream.send('my_model', [{ name: 'INPUT0', datatype: 'FP32', shape: [1, 128], data: new Float32Array(128).fill(1) }]);
      const it = stream.responses[Symbol.asyncIterator]();
      const first = await it.next();
      assert.ok(!first.done && !first.value.error, String(!first.done && first.value.error));
      stream.end();
    } finally {
      client.close();
      await server.stop();
      await repo.cleanup();
    }
  });
});

describe('large JSON bodies are parsed off the main thread', () => {
  let s: Awaited<ReturnType<typeof serve>>;
  before(async () => {
    s = await serve(['identity_fp32'], { maxInflightBytes: 1024 * MiB });
  });
  after(() => s.stop());

  test('a large body with bad JSON or a bad element gets the same 400 as on the main thread', async () => {
    const good = fp32Body(400_000);
    assert.ok(good.byteLength > 1.5 * MiB);
    const cases = [
      Buffer.concat([good.subarray(0, good.byteLength - 10), Buffer.from('oops')]),
      Buffer.from(good.toString().replace('0.25,0.25', '0.25,"x"')),
    ];
    for (const b of cases) {
      let expected = '';
      try {
        decodeInferRequest(b, undefined, 'identity_fp32');
      } catch (e) {
        expected = (e as Error).message;
      }
      assert.ok(expected);
      const res = await s.client.request('POST', '/v2/models/identity_fp32/infer', b, { 'content-type': 'application/json' });
      assert.equal(errorOf(res, 400), expected);
    }
  });

  test('four ~60 MB JSON requests at once: health answers and the event loop stays free', { timeout: 180_000 }, async (t) => {
    const n = 6_500_000;
    const body = fp32Body(n, '0.123456');
    assert.ok(body.byteLength > 55e6 && body.byteLength < 64 * MiB, String(body.byteLength));
    const port = s.server.http.port;
    const send = () => new Promise<{ status: number; first: number; ms: number }>((resolve, reject) => {
      const t0 = performance.now();
      const req = http.request({ host: '127.0.0.1', port, method: 'POST', path: '/v2/models/identity_fp32/infer', agent: false, headers: { 'content-length': body.byteLength } }, (r) => {
        const parts: Buffer[] = [];
        r.on('data', (d: Buffer) => parts.push(d));
        r.on('end', () => {
          const all = Buffer.concat(parts);
          const head = Number(r.headers['inference-header-content-length']);
          resolve({ status: r.statusCode ?? 0, first: head > 0 ? all.readFloatLE(head) : NaN, ms: performance.now() - t0 });
        });
      });
      req.on('error', reject);
      req.end(body);
    });
    let peak = process.memoryUsage().rss;
    const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 20);
    const delay = monitorEventLoopDelay({ resolution: 10 });
    let running = true;
    let answered = 0;
    let slowest = 0;
    const health = (async () => {
      while (running) {
        const t = performance.now();
        assert.equal((await s.client.request('GET', '/v2/health/live')).status, 200);
        if (running) {
          answered++;
          slowest = Math.max(slowest, performance.now() - t);
        }
        await new Promise((r) => setTimeout(r, 50));
      }
    })();
    delay.enable();
    const t0 = performance.now();
    const results = await Promise.all([send(), send(), send(), send()]);
    const total = performance.now() - t0;
    delay.disable();
    running = false;
    await health;
    clearInterval(sampler);
    for (const r of results) {
      assert.equal(r.status, 200);
      assert.equal(r.first, Math.fround(0.123456));
    }
    const stall = delay.max / 1e6;
    t.diagnostic(`4 x ${(body.byteLength / 1e6).toFixed(1)} MB JSON: ${total.toFixed(0)} ms in all, longest event-loop stall ${stall.toFixed(0)} ms, ` +
      `health answered ${answered} times (slowest ${slowest.toFixed(0)} ms), peak RSS ${(peak / MiB).toFixed(0)} MiB`);
    // Parsed on the main thread, the loop stalls for a whole parse: a quarter or more of the total.
    assert.ok(stall < total / 10, `longest stall ${stall} ms of ${total} ms`);
    assert.ok(answered >= 5, `health answered only ${answered} times in ${total} ms`);
    await budgetDrains(s.server, 'large bodies');
  });
});
