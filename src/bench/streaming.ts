// The streaming suite of `duet bench`: tiny_gpt generating over gRPC ModelStreamInfer and REST SSE
// (generate_stream) against the same model class driven in this process. Time to first token and
// per-token time at one stream against in-process; at 64 concurrent streams the longest gap between
// two tokens of any stream (a stall shows there) and the server main thread's CPU per token.
// gRPC is driven by a bare node:http2 client (stream-client.ts) so the server's figures are not the
// client's; the SDK's grpc-js client runs as a row of its own, to show what a grpc-js caller sees.
// The floor: the same bare client against a bare node:http2 server answering Duet's first token
// message at once (one round trip, no model, no thread): what any server on node:http2 adds to TTFT.

import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { tsImport } from 'tsx/esm/api';
import { GrpcJsClient } from './grpc-js-client.js';
import { BareStreamClient } from './stream-client.js';
import { HttpClient } from '../../packages/client/src/node.js';
import { ModelTensor, type DecoupledModel } from '../backends/typescript/api.js';
import { encodeBytes } from '../core/tensor.js';
import { serverCpu, usPerRequest } from './procstat.js';
import { summarize, type LatencySummary } from './stats.js';
import type { ChildServer, EchoServer } from './target.js';
import { inference } from '../generated/proto.js';

export const STREAM_MODEL = 'tiny_gpt';
const PROMPT = 'This program is free software';

export type StreamPath = 'in-process' | 'node:http2 floor (one message)' | 'gRPC ModelStreamInfer' | 'gRPC ModelStreamInfer, grpc-js client' | 'REST SSE generate_stream';
const FLOOR: StreamPath = 'node:http2 floor (one message)';

export interface StreamRun {
  path: StreamPath;
  streams: number;
  generations: number;
  tokens: number;
  seconds: number;
  /** ms */
  ttft: LatencySummary;
  /** Time between tokens, ms. */
  tbt: LatencySummary;
  /** The longest gap between two tokens of one stream (or before its first), ms. */
  maxGapMs: number;
  tokensPerSecond: number;
  /** The server main thread's CPU per token, µs (not for in-process). */
  serverMainUsPerToken: number | null;
  /** The bench process's event-loop utilization over the run (client-bound above 0.8). */
  clientElu: number;
}

export interface StreamingResults {
  model: string;
  maxTokens: number;
  runs: StreamRun[];
}

/** One generation: yields once per token. */
type Generation = () => AsyncIterable<unknown>;

async function measure(path: StreamPath, gen: Generation, streams: number, generations: number, pid: number | undefined): Promise<StreamRun> {
  const ttft: number[] = [];
  const tbt: number[] = [];
  let maxGap = 0;
  let tokens = 0;
  const cpu0 = serverCpu(pid);
  const elu0 = performance.eventLoopUtilization();
  const start = performance.now();
  await Promise.all(Array.from({ length: streams }, async () => {
    for (let g = 0; g < generations; g++) {
      const t0 = performance.now();
      let last = t0;
      let n = 0;
      for await (const _ of gen()) {
        const now = performance.now();
        if (n === 0) ttft.push(now - t0);
        else tbt.push(now - last);
        if (now - last > maxGap) maxGap = now - last;
        last = now;
        n++;
      }
      tokens += n;
    }
  }));
  const seconds = (performance.now() - start) / 1000;
  const cpu1 = serverCpu(pid);
  return {
    path, streams, generations, tokens, seconds, ttft: summarize(ttft), tbt: summarize(tbt), maxGapMs: maxGap,
    tokensPerSecond: tokens / seconds, serverMainUsPerToken: usPerRequest(cpu0?.main, cpu1?.main, tokens),
    clientElu: performance.eventLoopUtilization(elu0).utilization,
  };
}

async function inProcess(repo: string, maxTokens: number): Promise<{ gen: Generation; close: () => Promise<void> }> {
  const modelDir = join(repo, STREAM_MODEL);
  const versionDir = join(modelDir, '1');
  const mod = await tsImport(join(versionDir, 'model.ts'), import.meta.url) as { default: new () => DecoupledModel };
  const m = new mod.default();
  await m.initialize?.({ config: { name: STREAM_MODEL, max_batch_size: 0, input: [], output: [] }, modelName: STREAM_MODEL, version: '1', modelDir, versionDir, instanceName: 'bench' });
  return {
    gen: () => m.stream({
      parameters: { max_tokens: maxTokens, temperature: 0 },
      inputs: { text_input: new ModelTensor('text_input', 'BYTES', [1], encodeBytes([Buffer.from(PROMPT)])) },
    }, new AbortController().signal),
    close: async () => {
      await m.finalize?.();
    },
  };
}

export interface StreamingOptions {
  duet: ChildServer;
  repo: string;
  tokens: number;
  /** Generations per stream at one stream (64 streams run one each). */
  generations: number;
  /** The echo server whose node:http2 floor answers with Duet's first token message (then a floor row at one stream). */
  echo?: Pick<EchoServer, 'h2Url' | 'setCanned'>;
  log?: (line: string) => void;
}

/** Each path at 1 stream and at 64, in-process first; a short warm-up of each before. */
export async function runStreamingSuite(opts: StreamingOptions): Promise<StreamingResults> {
  const log = opts.log ?? (() => {});
  const http = new HttpClient(opts.duet.httpUrl);
  const grpc = new GrpcJsClient(opts.duet.grpcUrl);
  const bare = new BareStreamClient(opts.duet.grpcUrl);
  const local = await inProcess(opts.repo, opts.tokens);
  const body = { text_input: PROMPT, max_tokens: opts.tokens, temperature: 0 };
  const floor = opts.echo ? await floorClient(opts.echo, bare, opts.tokens) : undefined;
  const paths: [StreamPath, Generation, number | undefined][] = [
    ['in-process', local.gen, undefined],
    ...(floor ? [[FLOOR, floor.gen, undefined] as [StreamPath, Generation, undefined]] : []),
    ['gRPC ModelStreamInfer', () => bare.generate(STREAM_MODEL, PROMPT, { max_tokens: opts.tokens, temperature: 0 }), opts.duet.pid],
    ['gRPC ModelStreamInfer, grpc-js client', () => grpc.generateStream(STREAM_MODEL, body), opts.duet.pid],
    ['REST SSE generate_stream', () => http.generateStream(STREAM_MODEL, body), opts.duet.pid],
  ];
  const runs: StreamRun[] = [];
  try {
    for (const [path, gen] of paths) await measure(path, gen, 4, 1, undefined);
    for (const streams of [1, 64]) {
      for (const [path, gen, pid] of paths) {
        if (path === FLOOR && streams > 1) continue;
        log(`streaming: ${path}, ${streams} stream(s)`);
        runs.push(await measure(path, gen, streams, streams === 1 ? opts.generations : 1, pid));
      }
    }
  } finally {
    await Promise.all([grpc.close(), bare.close(), http.close(), local.close(), floor?.client.close()]);
  }
  return { model: STREAM_MODEL, maxTokens: opts.tokens, runs };
}

/** The floor's client, the echo answering with the first message of one generation Duet streamed. */
async function floorClient(echo: NonNullable<StreamingOptions['echo']>, duet: BareStreamClient, tokens: number): Promise<{ gen: Generation; client: BareStreamClient }> {
  let first: inference.ModelInferResponse | undefined;
  for await (const m of duet.generate(STREAM_MODEL, PROMPT, { max_tokens: tokens, temperature: 0 })) first ??= m;
  const msg = inference.ModelStreamInferResponse.encode({ infer_response: first }).finish();
  await echo.setCanned({ grpc: Buffer.from(msg).toString('base64') });
  const client = new BareStreamClient(echo.h2Url);
  return { gen: () => client.generate(STREAM_MODEL, PROMPT, { max_tokens: tokens, temperature: 0 }), client };
}

/**
 * The streaming figures from a run, at one stream: TTFT over in-process (ms) and the node:http2
 * floor's own round trip (NaN without a floor row); per-token overhead (µs).
 */
export function streamingOverheads(res: StreamingResults): { path: StreamPath; ttftOverMs: number; ttftFloorMs: number; perTokenOverUs: number }[] {
  const base = res.runs.find((r) => r.path === 'in-process' && r.streams === 1);
  const floor = res.runs.find((r) => r.path === FLOOR);
  return res.runs.filter((r) => r.path !== 'in-process' && r.path !== FLOOR && r.streams === 1).map((r) => ({
    path: r.path,
    ttftOverMs: base ? r.ttft.p50 - base.ttft.p50 : NaN,
    // The floor is node:http2's: it bounds the gRPC rows (SSE runs on node:http).
    ttftFloorMs: floor && r.path.startsWith('gRPC') ? floor.ttft.p50 : NaN,
    perTokenOverUs: base ? (r.tbt.mean - base.tbt.mean) * 1000 : NaN,
  }));
}
