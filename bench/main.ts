// npm run bench: what each protocol costs on this machine, with its floor measured in the same run.
//   - my_model over REST (JSON, binary) and gRPC at each concurrency, next to bare echo servers
//     (node:http; grpc-js on the same proto) sent the same bytes;
//   - a 1x3x224x224 FP32 image to resnet_mini over gRPC and REST binary.
// Ratios matter; absolute numbers depend on the machine.
//   node dist/bench/main.js [--seconds 5] [--concurrency 1,64]

import * as grpc from '@grpc/grpc-js';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { INFERENCE_SERVICE } from '../src/protocols/grpc/server.js';
import { httpCaller, ROOT, runLoad, startChild, stopChild, table, type HttpCall } from './lib.js';

const { values } = parseArgs({ options: { seconds: { type: 'string', default: '5' }, concurrency: { type: 'string', default: '1,64' } } });
const seconds = Number(values.seconds);
const levels = values.concurrency!.split(',').map(Number);

function restCalls(model: string, shape: number[], data: Float32Array): { json: HttpCall; binary: HttpCall } {
  const path = `/v2/models/${model}/infer`;
  const json = Buffer.from(JSON.stringify({ inputs: [{ name: 'INPUT0', datatype: 'FP32', shape, data: Array.from(data) }] }));
  const head = Buffer.from(JSON.stringify({
    inputs: [{ name: 'INPUT0', datatype: 'FP32', shape, parameters: { binary_data_size: data.byteLength } }],
    parameters: { binary_data_output: true },
  }));
  return {
    json: { path, headers: { 'content-type': 'application/json' }, body: json },
    binary: { path, headers: { 'inference-header-content-length': head.length }, body: Buffer.concat([head, Buffer.from(data.buffer)]) },
  };
}

function grpcCaller(port: number, model: string, shape: number[], data: Float32Array) {
  const client = new grpc.Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure(), {
    'grpc.max_receive_message_length': 2 ** 31 - 1, 'grpc.max_send_message_length': 2 ** 31 - 1,
    'grpc-node.flow_control_window': 8 * 1024 * 1024,
  });
  const def = INFERENCE_SERVICE.ModelInfer;
  // Serialise once, as a client sending the same tensor would; the transport is what is measured.
  const bytes = def.requestSerialize({
    model_name: model, inputs: [{ name: 'INPUT0', datatype: 'FP32', shape }], raw_input_contents: [new Uint8Array(data.buffer)],
  });
  const passthrough = (b: Buffer) => b;
  const once = () => new Promise<boolean>((resolve) => {
    client.makeUnaryRequest(def.path, passthrough, (b: Buffer) => def.responseDeserialize(b), bytes, (err) => resolve(!err));
  });
  return { once, close: () => client.close() };
}

const features = Float32Array.from({ length: 128 }, (_, i) => Math.fround(Math.sin(i) * 10));
const image = Float32Array.from({ length: 3 * 224 * 224 }, (_, i) => ((i * 7919) % 255) / 255);

async function main() {
  const echoHttp = await startChild(join(ROOT, 'dist/bench/echo-http.js'), [], /echo listening on port (\d+)/);
  const echoGrpc = await startChild(join(ROOT, 'dist/bench/echo-grpc.js'), [], /grpc echo listening on port (\d+)/);
  const echoGrpcWide = await startChild(join(ROOT, 'dist/bench/echo-grpc.js'), ['--window', String(8 * 1024 * 1024)], /grpc echo listening on port (\d+)/);
  const duet = await startChild(join(ROOT, 'dist/src/cli/main.js'),
    ['serve', '--model-repository', join(ROOT, 'models'), '--http-port', '0', '--grpc-port', '0', '--metrics-port', '0', '--host', '127.0.0.1'],
    /REST \(KServe v2\) listening on http:\/\/[^:]+:(\d+)/, /gRPC .* listening on [^:]+:(\d+)/);
  const grpcPort = duet.ports[1];
  // my_model again with dynamic batching on, to measure what batching buys under load.
  const batchedRepo = mkdtempSync(join(tmpdir(), 'duet-bench-'));
  cpSync(join(ROOT, 'models', 'my_model'), join(batchedRepo, 'my_model'), { recursive: true });
  const cfgPath = join(batchedRepo, 'my_model', 'config.pbtxt');
  writeFileSync(cfgPath, `${readFileSync(cfgPath, 'utf8')}\ndynamic_batching { max_queue_delay_microseconds: 0 }\n`);
  const batched = await startChild(join(ROOT, 'dist/src/cli/main.js'),
    ['serve', '--model-repository', batchedRepo, '--http-port', '0', '--grpc-port', '0', '--metrics-port', '0', '--host', '127.0.0.1'],
    /REST \(KServe v2\) listening on http:\/\/[^:]+:(\d+)/, /gRPC .* listening on [^:]+:(\d+)/);
  // The same server with grpc-js's default 64 KiB HTTP/2 windows, to measure what --grpc-window buys.
  const narrow = await startChild(join(ROOT, 'dist/src/cli/main.js'),
    ['serve', '--model-repository', join(ROOT, 'models'), '--http-port', '0', '--grpc-port', '0', '--metrics-port', '0', '--host', '127.0.0.1', '--grpc-window', '65535'],
    /gRPC .* listening on [^:]+:(\d+)/);
  const rows = [['target', 'conc', 'req/s', 'p50 ms', 'p99 ms', 'errors', 'vs floor']];
  const row = (name: string, c: number, r: Awaited<ReturnType<typeof runLoad>>, floor?: number) =>
    rows.push([name, String(c), r.rps.toFixed(0), r.p50ms.toFixed(3), r.p99ms.toFixed(3), String(r.errors), floor ? (r.rps / floor).toFixed(2) : '1.00']);
  const measure = async (caller: { once: () => Promise<boolean>; close: () => void }, c: number, secs = seconds) => {
    try {
      return await runLoad(caller.once, c, secs);
    } finally {
      caller.close();
    }
  };
  try {
    const small = restCalls('my_model', [1, 128], features);
    for (const c of levels) {
      const hJson = await measure(httpCaller(echoHttp.port, small.json, c), c);
      row('node:http echo, my_model JSON body', c, hJson);
      row('duet REST JSON, my_model', c, await measure(httpCaller(duet.port, small.json, c), c), hJson.rps);
      row('duet REST JSON, my_model, dynamic batching', c, await measure(httpCaller(batched.ports[0], small.json, c), c), hJson.rps);
      const hBin = await measure(httpCaller(echoHttp.port, small.binary, c), c);
      row('node:http echo, my_model binary body', c, hBin);
      row('duet REST binary, my_model', c, await measure(httpCaller(duet.port, small.binary, c), c), hBin.rps);
      row('duet REST binary, my_model, dynamic batching', c, await measure(httpCaller(batched.ports[0], small.binary, c), c), hBin.rps);
      const g = await measure(grpcCaller(echoGrpc.port, 'my_model', [1, 128], features), c);
      row('grpc-js echo, my_model', c, g);
      row('duet gRPC, my_model', c, await measure(grpcCaller(grpcPort, 'my_model', [1, 128], features), c), g.rps);
      row('duet gRPC, my_model, dynamic batching', c, await measure(grpcCaller(batched.ports[1], 'my_model', [1, 128], features), c), g.rps);
    }
    const big = restCalls('resnet_mini', [1, 3, 224, 224], image);
    for (const c of [1, 8]) {
      const hb = await measure(httpCaller(echoHttp.port, big.binary, c), c);
      row('node:http echo, 602 KB binary body', c, hb);
      row('duet REST binary, resnet_mini 1x3x224x224', c, await measure(httpCaller(duet.port, big.binary, c), c), hb.rps);
      const gb = await measure(grpcCaller(echoGrpc.port, 'resnet_mini', [1, 3, 224, 224], image), c);
      row('grpc-js echo, 602 KB tensor, 64 KiB windows', c, gb);
      row('duet gRPC, resnet_mini, --grpc-window 65535', c, await measure(grpcCaller(narrow.port, 'resnet_mini', [1, 3, 224, 224], image), c), gb.rps);
      const gw = await measure(grpcCaller(echoGrpcWide.port, 'resnet_mini', [1, 3, 224, 224], image), c);
      row('grpc-js echo, 602 KB tensor, 8 MiB windows', c, gw);
      row('duet gRPC, resnet_mini 1x3x224x224 (default)', c, await measure(grpcCaller(grpcPort, 'resnet_mini', [1, 3, 224, 224], image), c), gw.rps);
    }
  } finally {
    await Promise.all([duet, batched, narrow, echoHttp, echoGrpc, echoGrpcWide].map((p) => stopChild(p.child)));
    rmSync(batchedRepo, { recursive: true, force: true });
  }
  process.stdout.write(`\nclosed loop on 127.0.0.1, ${seconds}s per row after 0.5s warm-up (${new Date().toISOString()})\n`);
  process.stdout.write('"vs floor" = req/s divided by the echo server row above it, measured in the same run\n\n');
  process.stdout.write(table(rows) + '\n');
}

main().catch((e) => {
  process.stderr.write(`${(e as Error).stack}\n`);
  process.exit(1);
});
