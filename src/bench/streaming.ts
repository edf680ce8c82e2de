// The streaming suite of `duet bench`: tiny_gpt generating over gRPC ModelStreamInfer and REST SSE
// (generate_stream) against the same model class driven in this process. Time to first token and
// per-token time at one stream against in-process; at 64 concurrent streams the longest gap between
// two tokens of any stream (a stall shows there) and the server main thread's CPU per token.
// gRPC and SSE are driven by bare node:http2 and node:http clients (stream-client.ts) so the server's
// figures are not the client's; the SDK's grpc-js and fetch clients run as rows of their own, to show
// what their callers see. The floors: the same bare clients against bare node:http2 and node:http
// servers answering Duet's first token message (or SSE event) at once (one round trip, no model, no
// thread): what any server on that transport adds to TTFT; and the same servers answering after a
// worker-thread hop whose worker spins as long as the in-process first token took (Duet's shape with no
// other work): what a server that computes off its main thread for that long adds, sleeps and wake-ups
// included.
// Each path is warmed first with short generations for --stream-warmup seconds: V8 optimizes code run
// once per generation (the request's decoding, admission, the post to the worker) only after a few
// thousand generations, and until then the first token costs ~2 ms more (see BENCHMARKS.md).

import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { tsImport } from 'tsx/esm/api';
import { GrpcJsClient } from './grpc-js-client.js';
import { BareSseClient, BareStreamClient } from './stream-client.js';
import { HttpClient } from '../../packages/client/src/node.js';
import { ModelTensor, type DecoupledModel } from '../backends/typescript/api.js';
import { encodeBytes } from '../core/tensor.js';
import { serverCpu, usPerRequest } from './procstat.js';
import { summarize, type LatencySummary } from './stats.js';
import type { ChildServer, EchoServer } from './target.js';
import { inference } from '../generated/proto.js';

export const STREAM_MODEL = 'tiny_gpt';
const PROMPT = 'This program is free software';

export type StreamPath = 'in-process' | 'node:http2 floor (one message)' | 'node:http floor (one SSE event)'
  | 'node:http2 + worker hop, busy as in-process' | 'node:http + worker hop, busy as in-process' | 'gRPC ModelStreamInfer'
  | 'gRPC ModelStreamInfer, grpc-js client' | 'REST SSE generate_stream' | 'REST SSE generate_stream, fetch client';
const FLOOR: StreamPath = 'node:http2 floor (one message)';
const SSE_FLOOR: StreamPath = 'node:http floor (one SSE event)';
const BUSY_FLOOR: StreamPath = 'node:http2 + worker hop, busy as in-process';
const SSE_BUSY_FLOOR: StreamPath = 'node:http + worker hop, busy as in-process';
const isFloor = (p: StreamPath) => p === FLOOR || p === SSE_FLOOR || p === BUSY_FLOOR || p === SSE_BUSY_FLOOR;

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

/** One generation of `tokens` tokens: yields once per token. */
type Generation = (tokens: number) => AsyncIterable<unknown>;

/** Generations of a few tokens, `streams` at a time, for `seconds`. */
async function warmUp(gen: Generation, seconds: number, streams = 4): Promise<void> {
  const until = performance.now() + seconds * 1000;
  await Promise.all(Array.from({ length: streams }, async () => {
    do {
      for await (const _ of gen(2));
    } while (performance.now() < until);
  }));
}

async function measure(path: StreamPath, gen: Generation, tokensPerGen: number, streams: number, generations: number, pid: number | undefined): Promise<StreamRun> {
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
      for await (const _ of gen(tokensPerGen)) {
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

async function inProcess(repo: string): Promise<{ gen: Generation; close: () => Promise<void> }> {
  const modelDir = join(repo, STREAM_MODEL);
  const versionDir = join(modelDir, '1');
  const mod = await tsImport(join(versionDir, 'model.ts'), import.meta.url) as { default: new () => DecoupledModel };
  const m = new mod.default();
  await m.initialize?.({ config: { name: STREAM_MODEL, max_batch_size: 0, input: [], output: [] }, modelName: STREAM_MODEL, version: '1', modelDir, versionDir, instanceName: 'bench' });
  return {
    gen: (tokens) => m.stream({
      parameters: { max_tokens: tokens, temperature: 0 },
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
  /** Seconds of short generations per path before it is measured. */
  warmupS: number;
  /**
   * The echo server whose floors answer with Duet's first token message or event (floor rows at one
   * stream): at once, and after a worker hop whose worker is busy as long as the in-process first token.
   */
  echo?: Pick<EchoServer, 'h2Url' | 'httpUrl' | 'h2HopUrl' | 'httpHopUrl' | 'setCanned'>;
  log?: (line: string) => void;
}

/** Each path at 1 stream and at 64, in-process first; a short warm-up of each before. */
export async function runStreamingSuite(opts: StreamingOptions): Promise<StreamingResults> {
  const log = opts.log ?? (() => {});
  const http = new HttpClient(opts.duet.httpUrl);
  const grpc = new GrpcJsClient(opts.duet.grpcUrl);
  const bare = new BareStreamClient(opts.duet.grpcUrl);
  const bareSse = new BareSseClient(opts.duet.httpUrl);
  const local = await inProcess(opts.repo);
  const body = (tokens: number) => ({ text_input: PROMPT, max_tokens: tokens, temperature: 0 });
  const floors = opts.echo ? await floorClients(opts.echo, bare, bareSse, opts.tokens) : undefined;
  const paths: [StreamPath, Generation, number | undefined][] = [
    ['in-process', local.gen, undefined],
    ...(floors ? [[FLOOR, floors.grpc, undefined], [SSE_FLOOR, floors.sse, undefined], [BUSY_FLOOR, floors.grpcHop, undefined],
      [SSE_BUSY_FLOOR, floors.sseHop, undefined]] as [StreamPath, Generation, undefined][] : []),
    ['gRPC ModelStreamInfer', (n) => bare.generate(STREAM_MODEL, PROMPT, { max_tokens: n, temperature: 0 }), opts.duet.pid],
    ['gRPC ModelStreamInfer, grpc-js client', (n) => grpc.generateStream(STREAM_MODEL, body(n)), opts.duet.pid],
    ['REST SSE generate_stream', (n) => bareSse.generate(STREAM_MODEL, body(n)), opts.duet.pid],
    ['REST SSE generate_stream, fetch client', (n) => http.generateStream(STREAM_MODEL, body(n)), opts.duet.pid],
  ];
  const runs: StreamRun[] = [];
  try {
    for (const [path, gen] of paths) {
      log(`streaming: warming up ${path} for ${opts.warmupS} s`);
      await warmUp(gen, opts.warmupS);
    }
    for (const streams of [1, 64]) {
      for (const [path, gen, pid] of paths) {
        if (isFloor(path) && streams > 1) continue;
        log(`streaming: ${path}, ${streams} stream(s)`);
        const run = await measure(path, gen, opts.tokens, streams, streams === 1 ? opts.generations : 1, pid);
        runs.push(run);
        // The busy floors' worker computes as long as the model's first token took in this process, then
        // streams as many messages as it gave, each after as long as its mean time between tokens.
        if (path === 'in-process' && streams === 1) {
          await opts.echo?.setCanned({
            thinkUs: Math.round(run.ttft.p50 * 1000),
            tokens: Math.max(1, Math.round(run.tokens / run.generations)),
            tokenUs: Math.round(run.tbt.mean * 1000),
          });
        }
      }
    }
  } finally {
    await opts.echo?.setCanned({ thinkUs: 0, tokens: 1, tokenUs: 0 });
    await Promise.all([grpc.close(), bare.close(), bareSse.close(), http.close(), local.close(), floors?.close()]);
  }
  return { model: STREAM_MODEL, maxTokens: opts.tokens, runs };
}

/**
 * The floors' clients: the echo's node:http2 server answers with the first message of one generation
 * Duet streamed over gRPC, its node:http server with the first event of one it streamed over SSE.
 */
async function floorClients(echo: NonNullable<StreamingOptions['echo']>, grpcDuet: BareStreamClient, sseDuet: BareSseClient, tokens: number): Promise<{ grpc: Generation; sse: Generation; grpcHop: Generation; sseHop: Generation; close: () => Promise<void> }> {
  let first: inference.ModelInferResponse | undefined;
  for await (const m of grpcDuet.generate(STREAM_MODEL, PROMPT, { max_tokens: tokens, temperature: 0 })) first ??= m;
  let event: Record<string, unknown> | undefined;
  for await (const e of sseDuet.generate(STREAM_MODEL, { text_input: PROMPT, max_tokens: tokens, temperature: 0 })) event ??= e;
  const msg = inference.ModelStreamInferResponse.encode({ infer_response: first }).finish();
  const sse = Buffer.from(`data: ${JSON.stringify(event)}\n\n`);
  await echo.setCanned({
    grpc: Buffer.from(msg).toString('base64'),
    http: { status: 200, headers: { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache' }, body: sse.toString('base64') },
  });
  const grpc = new BareStreamClient(echo.h2Url);
  const http = new BareSseClient(echo.httpUrl);
  const grpcHop = new BareStreamClient(echo.h2HopUrl);
  const httpHop = new BareSseClient(echo.httpHopUrl);
  return {
    grpc: (n) => grpc.generate(STREAM_MODEL, PROMPT, { max_tokens: n, temperature: 0 }),
    sse: (n) => http.generate(STREAM_MODEL, { text_input: PROMPT, max_tokens: n, temperature: 0 }),
    grpcHop: (n) => grpcHop.generate(STREAM_MODEL, PROMPT, { max_tokens: n, temperature: 0 }),
    sseHop: (n) => httpHop.generate(STREAM_MODEL, { text_input: PROMPT, max_tokens: n, temperature: 0 }),
    close: async () => {
      await Promise.all([grpc.close(), http.close(), grpcHop.close(), httpHop.close()]);
    },
  };
}

/**
 * The streaming figures from a run, at one stream: TTFT over in-process (ms); the transport
 * floor's own round trip, and what its busy hop floor adds over in-process (NaN without floor rows);
 * per-token overhead (µs).
 */
export function streamingOverheads(res: StreamingResults): {
  path: StreamPath; ttftOverMs: number; ttftFloorMs: number; ttftBusyFloorOverMs: number; perTokenOverUs: number; perTokenBusyFloorOverUs: number;
}[] {
  const one = (path: StreamPath) => res.runs.find((r) => r.path === path && r.streams === 1);
  const base = one('in-process');
  return res.runs.filter((r) => r.path !== 'in-process' && !isFloor(r.path) && r.streams === 1).map((r) => {
    // Each row's floors are its transport's: node:http2 for gRPC, node:http for SSE.
    const grpc = r.path.startsWith('gRPC');
    const floor = one(grpc ? FLOOR : SSE_FLOOR);
    const busy = one(grpc ? BUSY_FLOOR : SSE_BUSY_FLOOR);
    return {
      path: r.path,
      ttftOverMs: base ? r.ttft.p50 - base.ttft.p50 : NaN,
      ttftFloorMs: floor ? floor.ttft.p50 : NaN,
      ttftBusyFloorOverMs: base && busy ? busy.ttft.p50 - base.ttft.p50 : NaN,
      perTokenOverUs: base ? (r.tbt.mean - base.tbt.mean) * 1000 : NaN,
      perTokenBusyFloorOverUs: base && busy && busy.tbt.count > 0 ? (busy.tbt.mean - base.tbt.mean) * 1000 : NaN,
    };
  });
}
