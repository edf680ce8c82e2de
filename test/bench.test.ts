// The bench tool itself (duet bench), on short runs: percentiles, bytes counted at the socket
// against what was really sent, errors counted, and the files it writes.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { percentile, summarize } from '../src/bench/stats.js';
import { WorkerPool } from '../src/bench/load.js';
import { encodeHttp, fileInputs, fitShape, grpcRequest, makeInputs, parseShapes, resolveShapes, type BenchInput } from '../src/bench/payload.js';
import { runBench, type BenchResults } from '../src/bench/run.js';
import { CSV_COLUMNS, writeResults } from '../src/bench/output.js';
import { htmlReport } from '../src/bench/html.js';
import { writeMarkdownReport } from '../src/bench/markdown.js';
import { INFERENCE_SERVICE } from '../src/protocols/grpc/server.js';
import type { RunningServer } from '../src/server.js';
import { MODELS, scratchRepo, startTestServer } from './harness.js';

const CLI = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));

describe('percentiles', () => {
  test('nearest rank on known arrays', () => {
    const ten = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
    assert.equal(percentile(ten, 50), 5);
    assert.equal(percentile(ten, 90), 9);
    assert.equal(percentile(ten, 99), 10);
    assert.equal(percentile(ten, 100), 10);
    assert.equal(percentile(ten, 10), 1);
    assert.equal(percentile(ten, 11), 2);
    // The textbook example of the nearest-rank method.
    const five = [15, 20, 35, 40, 50];
    assert.equal(percentile(five, 5), 15);
    assert.equal(percentile(five, 30), 20);
    assert.equal(percentile(five, 40), 20);
    assert.equal(percentile(five, 50), 35);
    assert.equal(percentile(five, 100), 50);
    const hundred = Array.from({ length: 100 }, (_, i) => i + 1);
    assert.equal(percentile(hundred, 50), 50);
    assert.equal(percentile(hundred, 90), 90);
    assert.equal(percentile(hundred, 99), 99);
    const thousand = Array.from({ length: 1000 }, (_, i) => i + 1);
    assert.equal(percentile(thousand, 99), 990);
    assert.equal(percentile([7], 99), 7);
    assert.ok(Number.isNaN(percentile([], 50)));
    assert.throws(() => percentile(ten, 0), RangeError);
  });

  test('summarize sorts, and reports mean, min and max', () => {
    const s = summarize([9, 1, 5, 3, 7, 2, 8, 4, 10, 6]);
    assert.deepEqual(s, { count: 10, mean: 5.5, min: 1, p50: 5, p90: 9, p99: 10, max: 10 });
    const e = summarize([]);
    assert.equal(e.count, 0);
    assert.ok(Number.isNaN(e.p50));
  });
});

describe('payloads', () => {
  test('shapes, generated values and files', () => {
    assert.deepEqual([...parseShapes('1,128')], [['', [1, 128]]]);
    assert.deepEqual([...parseShapes('A:1,4;B:2x3')], [['A', [1, 4]], ['B', [2, 3]]]);
    assert.throws(() => parseShapes('1,-2'), /--shape/);
    assert.deepEqual(resolveShapes([{ name: 'X', datatype: 'FP32', shape: [-1, 3, 224, 224] }], new Map(), 'm')[0].shape, [1, 3, 224, 224]);
    assert.throws(() => resolveShapes([{ name: 'X', datatype: 'FP32', shape: [-1, -1] }], new Map(), 'm'), /--shape X:1,16/);
    assert.deepEqual(fitShape([1, -1], 1000, 'f'), [1, 1000]);
    assert.throws(() => fitShape([1, 128], 1000, 'f'), /1000 values do not fit/);
    const [px] = makeInputs([{ name: 'X', datatype: 'FP32', shape: [1, 1000] }], { kind: 'pixels' });
    const values = new Float32Array(px.raw.buffer, px.raw.byteOffset, 1000);
    assert.ok(values.every((x) => Number.isInteger(x) && x >= 0 && x <= 255));
    const [rnd] = makeInputs([{ name: 'X', datatype: 'FP32', shape: [1, 1000] }], { kind: 'random' });
    assert.equal(rnd.raw.byteLength, 4000);
    assert.ok(new Float32Array(rnd.raw.buffer, rnd.raw.byteOffset, 1000).some((x) => !Number.isInteger(x)));
    const dir = mkdtempSync(join(tmpdir(), 'duet-bench-data-'));
    try {
      writeFileSync(join(dir, 'a.json'), JSON.stringify({ INPUT0: [[1, 2], [3, 4]] }));
      const [j] = fileInputs([{ name: 'INPUT0', datatype: 'INT32', shape: [1, -1] }], join(dir, 'a.json'));
      assert.deepEqual(j.shape, [1, 4]);
      assert.deepEqual([...new Int32Array(j.raw.buffer, j.raw.byteOffset, 4)], [1, 2, 3, 4]);
      writeFileSync(join(dir, 'a.bin'), Buffer.from(new Float32Array([0.5, 1.5, 2.5]).buffer));
      const [b] = fileInputs([{ name: 'INPUT0', datatype: 'FP32', shape: [1, -1] }], join(dir, 'a.bin'));
      assert.deepEqual(b.shape, [1, 3]);
      assert.deepEqual([...new Float32Array(b.raw.buffer, b.raw.byteOffset, 3)], [0.5, 1.5, 2.5]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('against a running Duet', () => {
  let server: RunningServer;
  let cleanup: () => Promise<void>;
  const pool = new WorkerPool();
  let features: BenchInput[];
  before(async () => {
    const repo = await scratchRepo(['my_model', 'identity_bytes']);
    cleanup = repo.cleanup;
    server = await startTestServer(repo.dir);
    features = makeInputs(resolveShapes([{ name: 'INPUT0', datatype: 'FP32', shape: [-1, 128] }], new Map(), 'my_model'), { kind: 'random' });
  });
  after(async () => {
    await pool.close();
    await server.stop();
    await cleanup();
  });
  const http_ = () => `127.0.0.1:${server.http.port}`;
  const grpc_ = () => `127.0.0.1:${server.grpc!.port}`;

  test('REST binary: the body is the payload exactly, the wire adds only the HTTP header', async () => {
    const r = await pool.run({ protocol: 'http-binary', httpUrl: http_(), model: 'my_model', inputs: features, concurrency: 2, durationS: 0.5, warmupS: 0.1 });
    assert.equal(r.errors, 0);
    assert.ok(r.requests > 0);
    const body = encodeHttp('my_model', undefined, features, true);
    const header = JSON.stringify({ inputs: [{ name: 'INPUT0', datatype: 'FP32', shape: [1, 128], parameters: { binary_data_size: 512 } }], parameters: { binary_data_output: true } });
    assert.equal(body.bodyBytes, Buffer.byteLength(header) + 512);
    assert.equal(r.payload!.requestBytes, body.bodyBytes);
    // Every request is the same, so the bytes per request are a whole number: body plus the request line and headers.
    const overhead = r.wire!.requestBytes - body.bodyBytes;
    assert.ok(Number.isInteger(r.wire!.requestBytes), `wire bytes per request ${r.wire!.requestBytes}`);
    assert.ok(overhead > 100 && overhead < 300, `HTTP request line and headers: ${overhead} bytes`);
    // The response: its body as the server sent it (checked against one request made here), plus headers.
    const res = await fetch(`http://${http_()}${body.path}`, { method: 'POST', headers: body.headers as Record<string, string>, body: Buffer.concat(body.chunks) });
    const sent = Buffer.from(await res.arrayBuffer());
    assert.equal(r.payload!.responseBytes, sent.byteLength);
    assert.equal(sent.byteLength, Number(res.headers.get('inference-header-content-length')) + 4);
    assert.ok(r.wire!.responseBytes - sent.byteLength > 50 && r.wire!.responseBytes - sent.byteLength < 300);
  });

  test('REST JSON and gRPC: message bytes are what the encoders make', async () => {
    const json = await pool.run({ protocol: 'http-json', httpUrl: http_(), model: 'my_model', inputs: features, concurrency: 1, durationS: 0.3, warmupS: 0 });
    assert.equal(json.errors, 0);
    assert.equal(json.payload!.requestBytes, encodeHttp('my_model', undefined, features, false).bodyBytes);
    assert.ok(json.payload!.requestBytes > 128 * 8, 'full-precision floats take far more than 4 bytes each in JSON');
    const g = await pool.run({ protocol: 'grpc', grpcUrl: grpc_(), model: 'my_model', inputs: features, concurrency: 2, durationS: 0.3, warmupS: 0.1 });
    assert.equal(g.errors, 0);
    assert.ok(g.requests > 0);
    const message = INFERENCE_SERVICE.ModelInfer.requestSerialize(grpcRequest('my_model', undefined, features));
    assert.equal(g.payload!.requestBytes, message.byteLength);
    // gRPC adds a 5-byte message prefix, HTTP/2 frame headers and the (HPACK-compressed) call headers.
    const overhead = g.wire!.requestBytes - message.byteLength;
    assert.ok(overhead > 5 + 9 && overhead < 200, `gRPC framing: ${overhead} bytes`);
  });

  test('errors are counted (an unknown model), over REST and gRPC', async () => {
    for (const protocol of ['http-binary', 'http-json', 'grpc'] as const) {
      const r = await pool.run({ protocol, httpUrl: http_(), grpcUrl: grpc_(), model: 'no_such_model', inputs: features, concurrency: 2, durationS: 0.3, warmupS: 0 });
      assert.equal(r.requests, 0, protocol);
      assert.ok(r.errors > 0, protocol);
      assert.ok(r.errorSamples.some((e) => e.includes('no_such_model')), `${protocol}: ${r.errorSamples.join(' | ')}`);
      assert.ok(Number.isNaN(r.latency.p50));
    }
    // A bad shape is an error too, while good requests on the same run would not be.
    const bad = features.map((i) => ({ ...i, shape: [1, 64] }));
    const r = await pool.run({ protocol: 'grpc', grpcUrl: grpc_(), model: 'my_model', inputs: bad, concurrency: 1, durationS: 0.2, warmupS: 0 });
    assert.ok(r.errors > 0 && r.requests === 0);
    assert.match(r.errorSamples[0], /INVALID_ARGUMENT/);
  });

  test('runBench: server time from the statistics extension, the echo floor carries the same bytes; JSON, CSV, HTML and Markdown', async () => {
    const res = await runBench({
      scenarios: [{ name: 'text', title: 'short text', model: 'identity_bytes', shapes: parseShapes('1,1'), data: { kind: 'text', value: 'hello bench' } }],
      protocols: ['http-binary', 'grpc'],
      concurrency: [1],
      durationS: 0.3,
      warmupS: 0.1,
      endpoints: { httpUrl: http_(), grpcUrl: grpc_() },
      modelRepository: MODELS,
      baselines: { echo: true, inProcess: true },
    });
    assert.equal(res.meta.notes.length, 0, res.meta.notes.join('\n'));
    const duet = res.runs.filter((r) => r.target === 'duet');
    assert.equal(duet.length, 2);
    for (const r of duet) {
      assert.equal(r.errors, 0);
      assert.ok(r.serverMs !== null && r.serverMs > 0 && r.serverMs < r.latencyMs.mean, `server ${r.serverMs} ms, client ${r.latencyMs.mean} ms`);
      assert.ok(r.overheadMs !== null && r.overheadMs > 0);
      const floor = res.runs.find((x) => x.target === 'echo' && x.protocol === r.protocol)!;
      assert.ok(floor && floor.errors === 0 && floor.requests > 0, `${r.protocol} floor`);
      assert.equal(floor.payloadRequestBytes, r.payloadRequestBytes);
      assert.equal(floor.payloadResponseBytes, r.payloadResponseBytes);
      // HTTP/1.1 exchanges are byte-identical; over HTTP/2 the client also sends the odd WINDOW_UPDATE or PING ack.
      if (r.protocol === 'grpc') assert.ok(Math.abs(floor.wireRequestBytes! - r.wireRequestBytes!) < 0.05 * r.wireRequestBytes!);
      else assert.equal(floor.wireRequestBytes, r.wireRequestBytes);
    }
    const inproc = res.runs.find((r) => r.target === 'in-process')!;
    assert.ok(inproc.requests > 0 && inproc.errors === 0 && inproc.wireRequestBytes === null);

    const dir = mkdtempSync(join(tmpdir(), 'duet-bench-test-'));
    try {
      const files = writeResults(dir, res, htmlReport(res));
      assert.deepEqual(files.map((f) => f.slice(dir.length + 1)), ['results.json', 'results.csv', 'report.html']);
      const back = JSON.parse(readFileSync(join(dir, 'results.json'), 'utf8')) as BenchResults;
      assert.equal(back.runs.length, res.runs.length);
      const csv = readFileSync(join(dir, 'results.csv'), 'utf8').trim().split('\n');
      assert.equal(csv[0], CSV_COLUMNS.join(','));
      for (const col of ['protocol', 'concurrency', 'throughput_rps', 'latency_p50_ms', 'latency_p90_ms', 'latency_p99_ms', 'server_ms', 'wire_request_bytes', 'wire_response_bytes', 'errors']) {
        assert.ok(CSV_COLUMNS.includes(col as (typeof CSV_COLUMNS)[number]), col);
      }
      assert.equal(csv.length, res.runs.length + 1);
      const row = Object.fromEntries(csv[0].split(',').map((k, i) => [k, csv[1].split(',')[i]]));
      assert.equal(row.target, 'duet');
      assert.equal(Number(row.requests), res.runs[0].requests);
      const html = readFileSync(join(dir, 'report.html'), 'utf8');
      assert.ok(html.includes('<svg') && !/(src|href)="https?:/.test(html), 'inline charts, no external assets');
      const md = join(dir, 'BENCHMARKS.md');
      const charts = writeMarkdownReport(res, md, join(dir, 'charts'), ['--scenarios', 'text']);
      assert.ok(charts.length > 0 && charts.every((f) => existsSync(f) && readFileSync(f, 'utf8').startsWith('<svg')));
      const text = readFileSync(md, 'utf8');
      assert.match(text, /charts\/bytes-request\.svg/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('duet bench CLI against --url writes its files', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'duet-bench-cli-'));
    try {
      const child = spawn(process.execPath, [CLI, 'bench', '--model', 'my_model', '--protocol', 'http-json,grpc', '--concurrency', '1,2', '--duration', '0.2',
        '--warmup', '0', '--url', http_(), '--grpc-url', grpc_(), '--baselines', 'none', '--out', dir, '--quiet'], { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      child.stdout!.on('data', (d: Buffer) => (out += d));
      child.stderr!.on('data', (d: Buffer) => (out += d));
      const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
      assert.equal(code, 0, out);
      assert.match(out, /http-json\s+2\s/);
      assert.match(out, /grpc\s+1\s/);
      const res = JSON.parse(readFileSync(join(dir, 'results.json'), 'utf8')) as BenchResults;
      assert.equal(res.runs.length, 4);
      assert.ok(res.runs.every((r) => r.errors === 0 && r.requests > 0));
      assert.ok(existsSync(join(dir, 'report.html')) && existsSync(join(dir, 'results.csv')));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('bytes at the socket against a server that counts them too', () => {
  test('the client counts exactly the bytes the server reads and writes', async () => {
    const answer = Buffer.from('{"model_name":"m","model_version":"1","outputs":[]}');
    const sockets = new Set<Socket>();
    let bodies = 0;
    const server = http.createServer((req, res) => {
      let n = 0;
      req.on('data', (c: Buffer) => (n += c.byteLength));
      req.on('end', () => {
        bodies += n;
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': answer.byteLength });
        res.end(answer);
      });
    });
    server.on('connection', (s: Socket) => sockets.add(s));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as { port: number }).port;
    const pool = new WorkerPool();
    try {
      const inputs = makeInputs([{ name: 'INPUT0', datatype: 'FP32', shape: [1, 300] }], { kind: 'random' });
      const r = await pool.run({ protocol: 'http-json', httpUrl: `127.0.0.1:${port}`, model: 'm', inputs, concurrency: 3, workers: 2, durationS: 0.4, warmupS: 0 });
      assert.equal(r.errors, 0);
      const n = r.requests;
      let read = 0;
      let written = 0;
      for (const s of sockets) {
        read += s.bytesRead;
        written += s.bytesWritten;
      }
      assert.equal(Math.round(r.wire!.requestBytes * n), read);
      assert.equal(Math.round(r.wire!.responseBytes * n), written);
      assert.equal(Math.round(r.payload!.requestBytes * n), bodies);
      assert.equal(r.payload!.responseBytes, answer.byteLength);
      assert.equal(r.workers, 2);
    } finally {
      await pool.close();
      server.closeAllConnections();
      server.close();
    }
  });
});
