// OpenTelemetry tracing: off by default; when on, each inference is a server span continuing the
// caller's traceparent, with decode, queue, compute and encode spans inside, over both protocols.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import * as grpc from '@grpc/grpc-js';
import { InMemorySpanExporter, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { HttpClient } from '../packages/client/src/node.js';
import { INFERENCE_SERVICE } from '../src/protocols/grpc/server.js';
import { startServer, type RunningServer } from '../src/server.js';
import { PROTOCOLS, scratchRepo } from './harness.js';

const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const PARENT_ID = '00f067aa0ba902b7';
const traceparent = `00-${TRACE_ID}-${PARENT_ID}-01`;

const myModelJson = JSON.stringify({ inputs: [{ name: 'INPUT0', datatype: 'FP32', shape: [1, 128], data: new Array(128).fill(1) }] });

function waitFor<T>(fn: () => T | undefined, ms = 5000): Promise<T> {
  const until = Date.now() + ms;
  return new Promise((resolve, reject) => {
    const tick = () => {
      const v = fn();
      if (v !== undefined) return resolve(v);
      if (Date.now() > until) return reject(new Error('timed out waiting'));
      setTimeout(tick, 20);
    };
    tick();
  });
}

describe('tracing to an in-memory exporter', () => {
  const exporter = new InMemorySpanExporter();
  let server: RunningServer;
  let repo: Awaited<ReturnType<typeof scratchRepo>>;
  before(async () => {
    repo = await scratchRepo(['my_model', 'text_repeat']);
    server = await startServer({ modelRepository: repo.dir, host: '127.0.0.1', httpPort: 0, grpcPort: 0, metricsPort: 0, tracing: { exporter } });
  });
  after(async () => {
    await server.stop();
    await repo.cleanup();
  });

  function checkTree(root: ReadableSpan, spans: ReadableSpan[]) {
    assert.equal(root.spanContext().traceId, TRACE_ID, 'the request continues the caller trace');
    assert.equal(root.parentSpanContext?.spanId, PARENT_ID, 'its parent is the caller span');
    const children = spans.filter((s) => s.parentSpanContext?.spanId === root.spanContext().spanId);
    assert.deepEqual(children.map((s) => s.name).sort(), ['compute', 'decode', 'encode', 'queue']);
    const at = (name: string) => children.find((s) => s.name === name)!;
    const ms = (t: [number, number]) => t[0] * 1000 + t[1] / 1e6;
    assert.ok(ms(at('decode').endTime) <= ms(at('queue').startTime) + 1, 'decode before queue');
    assert.ok(ms(at('queue').endTime) <= ms(at('compute').startTime) + 1, 'queue before compute');
    assert.ok(ms(at('compute').endTime) <= ms(at('encode').startTime) + 1, 'compute before encode');
    for (const c of children) assert.equal(c.spanContext().traceId, TRACE_ID);
  }

  test('REST infer: a server span under the incoming traceparent, with its four stages', async () => {
    exporter.reset();
    const c = new HttpClient(`127.0.0.1:${server.http.port}`);
    const res = await c.request('POST', '/v2/models/my_model/infer', Buffer.from(myModelJson), { 'content-type': 'application/json', traceparent });
    assert.equal(res.status, 200);
    await c.close();
    const root = await waitFor(() => exporter.getFinishedSpans().find((s) => s.name === 'POST infer'));
    checkTree(root, exporter.getFinishedSpans());
  });

  test('gRPC ModelInfer: the same spans from traceparent metadata', async () => {
    exporter.reset();
    const client = new grpc.Client(`127.0.0.1:${server.grpc!.port}`, grpc.credentials.createInsecure());
    const def = INFERENCE_SERVICE.ModelInfer;
    const md = new grpc.Metadata();
    md.set('traceparent', traceparent);
    await new Promise<void>((resolve, reject) => client.makeUnaryRequest(def.path, def.requestSerialize, def.responseDeserialize, {
      model_name: 'my_model', inputs: [{ name: 'INPUT0', datatype: 'FP32', shape: [1, 128] }], raw_input_contents: [new Uint8Array(512)],
    }, md, (err) => (err ? reject(err) : resolve())));
    client.close();
    const root = await waitFor(() => exporter.getFinishedSpans().find((s) => s.name === 'ModelInfer'));
    checkTree(root, exporter.getFinishedSpans());
  });

  test('a failed request ends its span with an error status', async () => {
    exporter.reset();
    const c = new HttpClient(`127.0.0.1:${server.http.port}`);
    const res = await c.request('POST', '/v2/models/my_model/infer', Buffer.from('{"inputs":[]}'), { traceparent });
    assert.equal(res.status, 400);
    await c.close();
    const root = await waitFor(() => exporter.getFinishedSpans().find((s) => s.name === 'POST infer'));
    assert.equal(root.status.code, 2, 'ERROR');
  });

  for (const proto of PROTOCOLS) {
    test(`${proto.name}: a stream request is traced too, with its queue (until the first response) and compute stages`, async () => {
      exporter.reset();
      const c = proto.client(server, { headers: { traceparent } });
      const all = [];
      for await (const r of c.generateStream('text_repeat', { text_input: 'x', count: 2 })) all.push(r);
      assert.equal(all.length, 2);
      await c.close();
      const isStream = (s: ReadableSpan) => s.parentSpanContext?.spanId === PARENT_ID && ['ModelStreamInfer', 'Generate'].includes(String(s.attributes['rpc.method']));
      const root = await waitFor(() => exporter.getFinishedSpans().find(isStream));
      assert.equal(root.spanContext().traceId, TRACE_ID);
      assert.equal(root.attributes['duet.model'], 'text_repeat');
      const children = exporter.getFinishedSpans().filter((s) => s.parentSpanContext?.spanId === root.spanContext().spanId).map((s) => s.name);
      for (const stage of ['queue', 'compute']) assert.ok(children.includes(stage), `no ${stage} stage: ${children.join(', ')}`);
    });
  }

  test('a request without traceparent starts a new trace', async () => {
    exporter.reset();
    const c = new HttpClient(`127.0.0.1:${server.http.port}`);
    await c.request('POST', '/v2/models/my_model/infer', Buffer.from(myModelJson));
    await c.close();
    const root = await waitFor(() => exporter.getFinishedSpans().find((s) => s.name === 'POST infer'));
    assert.notEqual(root.spanContext().traceId, TRACE_ID);
    assert.equal(root.parentSpanContext, undefined);
  });
});

describe('tracing over OTLP/HTTP', () => {
  test('spans reach a collector at --trace-otlp-endpoint; none are sent with tracing off', async () => {
    const bodies: string[] = [];
    const collector = http.createServer((req, res) => {
      const parts: Buffer[] = [];
      req.on('data', (c: Buffer) => parts.push(c));
      req.on('end', () => {
        bodies.push(`${req.url} ${Buffer.concat(parts).toString('utf8')}`);
        res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      });
    });
    await new Promise<void>((r) => collector.listen(0, '127.0.0.1', r));
    const port = (collector.address() as { port: number }).port;
    const repo = await scratchRepo(['my_model']);
    try {
      for (const on of [false, true]) {
        const server = await startServer({
          modelRepository: repo.dir, host: '127.0.0.1', httpPort: 0, grpcPort: null, metricsPort: null,
          tracing: on ? { otlpEndpoint: `http://127.0.0.1:${port}/v1/traces` } : undefined,
        });
        const c = new HttpClient(`127.0.0.1:${server.http.port}`);
        const res = await c.request('POST', '/v2/models/my_model/infer', Buffer.from(myModelJson), { traceparent });
        assert.equal(res.status, 200);
        await c.close();
        await server.stop(); // flushes the batch processor
        if (!on) assert.equal(bodies.length, 0, 'tracing is off by default');
      }
      assert.ok(bodies.length >= 1, 'the collector got an export');
      assert.ok(bodies.some((b) => b.startsWith('/v1/traces ') && b.includes('compute') && b.includes('POST infer')), bodies.join('\n').slice(0, 500));
    } finally {
      collector.close();
      await repo.cleanup();
    }
  });
});
