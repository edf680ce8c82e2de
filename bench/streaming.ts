// npm run bench:stream: time to first token and time between tokens of tiny_gpt over the gRPC
// stream (ModelStreamInfer), the Generator RPC and REST SSE, next to in-process generation (the
// model class driven directly in this process), at 1 and 64 concurrent streams.
//   node dist/bench/streaming.js [--tokens 32] [--rounds 3] [--concurrency 1,64]

import * as grpc from '@grpc/grpc-js';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { tsImport } from 'tsx/esm/api';
import { GrpcClient } from '../src/client/grpc.js';
import { HttpClient } from '../src/client/http.js';
import { ModelTensor } from '../src/backends/typescript/api.js';
import type { DecoupledModel } from '../src/backends/typescript/api.js';
import { encodeBytes } from '../src/core/tensor.js';
import { GENERATOR_SERVICE } from '../src/protocols/grpc/server.js';
import { ROOT, startChild, stopChild, table } from './lib.js';

const { values } = parseArgs({
  options: {
    tokens: { type: 'string', default: '32' },
    rounds: { type: 'string', default: '3' },
    concurrency: { type: 'string', default: '1,64' },
    model: { type: 'string', default: 'tiny_gpt' },
  },
});
const maxTokens = Number(values.tokens);
const rounds = Number(values.rounds);
const levels = values.concurrency!.split(',').map(Number);
const model = values.model!;
const PROMPT = 'This program is free software';

/** One generation: yields once per token; the runner timestamps each. */
type Generation = () => AsyncIterable<unknown>;

interface Stats { ttft: number[]; tbt: number[]; tokens: number; seconds: number }

async function measure(gen: Generation, concurrency: number): Promise<Stats> {
  const ttft: number[] = [];
  const tbt: number[] = [];
  let tokens = 0;
  const start = performance.now();
  await Promise.all(Array.from({ length: concurrency }, async () => {
    for (let r = 0; r < rounds; r++) {
      const t0 = performance.now();
      let last = t0;
      let n = 0;
      for await (const _ of gen()) {
        const now = performance.now();
        if (n === 0) ttft.push(now - t0);
        else tbt.push(now - last);
        last = now;
        n++;
      }
      tokens += n;
    }
  }));
  return { ttft, tbt, tokens, seconds: (performance.now() - start) / 1000 };
}

const pct = (xs: number[], p: number) => {
  const s = xs.slice().sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.floor(p * s.length))] : NaN;
};

async function inProcess(): Promise<Generation> {
  const versionDir = join(ROOT, 'models', model, '1');
  const mod = await tsImport(join(versionDir, 'model.ts'), import.meta.url) as { default: new () => DecoupledModel };
  const m = new mod.default();
  await m.initialize?.({ config: { name: model, max_batch_size: 0, input: [], output: [] }, modelName: model, version: '1', modelDir: join(ROOT, 'models', model), versionDir, instanceName: 'bench' });
  return () => m.stream({
    parameters: { max_tokens: maxTokens, temperature: 0 },
    inputs: { text_input: new ModelTensor('text_input', 'BYTES', [1], encodeBytes([Buffer.from(PROMPT)])) },
  }, new AbortController().signal);
}

async function main() {
  const duet = await startChild(join(ROOT, 'dist/src/cli/main.js'),
    ['serve', '--model-repository', join(ROOT, 'models'), '--http-port', '0', '--grpc-port', '0', '--metrics-port', '0', '--host', '127.0.0.1'],
    /REST \(KServe v2\) listening on http:\/\/[^:]+:(\d+)/, /gRPC .* listening on [^:]+:(\d+)/);
  const [httpPort, grpcPort] = duet.ports;
  const http = new HttpClient(`127.0.0.1:${httpPort}`, { maxSockets: 256 });
  const gc = new GrpcClient(`127.0.0.1:${grpcPort}`);
  const raw = new grpc.Client(`127.0.0.1:${grpcPort}`, grpc.credentials.createInsecure());
  const gen = GENERATOR_SERVICE.Generate;
  const body = { text_input: PROMPT, max_tokens: maxTokens, temperature: 0 };
  const targets: [string, Generation][] = [
    ['in-process (model class, no server)', await inProcess()],
    ['gRPC ModelStreamInfer', () => gc.generateStream(model, body)],
    ['gRPC Generator.Generate', async function* () {
      const call = raw.makeServerStreamRequest(gen.path, gen.requestSerialize, gen.responseDeserialize, { model, prompt: PROMPT, max_tokens: maxTokens, temperature: 0 });
      for await (const m of call) if (!(m as { final?: boolean; text?: string }).final || (m as { text?: string }).text) yield m;
    }],
    ['REST generate_stream (SSE)', () => http.generateStream(model, body)],
  ];
  const rows = [['path', 'streams', 'TTFT p50 ms', 'TTFT p99 ms', 'TBT p50 ms', 'TBT p99 ms', 'tokens/s']];
  try {
    for (const c of levels) {
      for (const [name, g] of targets) {
        await measure(g, Math.min(c, 4)); // warm-up
        const s = await measure(g, c);
        rows.push([name, String(c), pct(s.ttft, 0.5).toFixed(2), pct(s.ttft, 0.99).toFixed(2), pct(s.tbt, 0.5).toFixed(2), pct(s.tbt, 0.99).toFixed(2), (s.tokens / s.seconds).toFixed(0)]);
      }
    }
  } finally {
    raw.close();
    await gc.close();
    await http.close();
    await stopChild(duet.child);
  }
  process.stdout.write(`\n${model}: ${maxTokens} tokens greedy from "${PROMPT}", ${rounds} generations per stream, 127.0.0.1 (${new Date().toISOString()})\n\n`);
  process.stdout.write(table(rows) + '\n');
}

main().then(() => process.exit(0), (e) => {
  process.stderr.write(`${(e as Error).stack}\n`);
  process.exit(1);
});
