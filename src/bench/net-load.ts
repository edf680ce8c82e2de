// The hol and fanout suites: open-loop load from the bench's main thread (open-loop.ts).
// hol: fast my_model requests at a fixed rate while slow ones (a model that sleeps, or the 602 KB
// resnet_mini image) are kept in flight on the same client: one gRPC connection, one HTTP/1.1
// keep-alive connection, or a pool of them. fanout: many connections (or streams) each sending
// rarely, with the server's memory per connection and CPU per request.

import http from 'node:http';
import { performance } from 'node:perf_hooks';
import { GrpcClient } from '../../packages/client/src/grpc.js';
import { grpcCall, mixed, paced, restCall, streamCall, type Call, type RequestSpec } from './open-loop.js';
import { inputsFor, type Servers } from './net-run.js';
import { fitsNofile, nofileLimits, rssKiB, type FanoutRun, type HolRun, type NetOptions } from './net-setup.js';
import { serverCpu, usPerRequest } from './procstat.js';
import { summarize } from './stats.js';
import { capture, startDuet, startEcho, type ChildServer, type EchoServer } from './target.js';
import type { CannedResponse } from './echo.js';

export const HOL_SLOW = ['none', 'sleep', 'image'] as const;

export function holModes(pool: number) {
  return [
    { id: 'grpc-1', label: 'gRPC, one connection' },
    { id: 'http-1', label: 'HTTP/1.1, one keep-alive connection' },
    { id: 'http-pool', label: `HTTP/1.1, a pool of ${pool} keep-alive connections` },
  ];
}

/** A client for one hol mode: its fast and slow calls share it. */
function holClient(mode: string, s: Servers, pool: number): { call: (spec: RequestSpec) => Call; close(): void } {
  if (mode === 'grpc-1') {
    const client = new GrpcClient(s.duet.grpcUrl, { timeoutMs: 60_000 });
    return { call: (spec) => grpcCall(client, spec), close: () => void client.close() };
  }
  const agent = new http.Agent({ keepAlive: true, maxSockets: mode === 'http-1' ? 1 : pool });
  return { call: (spec) => restCall(s.duet.httpUrl, agent, spec), close: () => agent.destroy() };
}

export async function runHol(s: Servers, opts: NetOptions, notes: string[], log: (l: string) => void): Promise<HolRun[]> {
  const fast: RequestSpec = { model: 'my_model', inputs: await inputsFor(s.duet, 'my_model', [1, 128]) };
  const slowSpecs: Record<string, RequestSpec> = {
    sleep: { model: 'sleep', inputs: await inputsFor(s.duet, 'sleep', [1, 128]) },
    image: { model: 'resnet_mini', inputs: await inputsFor(s.duet, 'resnet_mini', [1, 3, 224, 224]) },
  };
  const interval = 1000 / opts.holRate;
  const runs: HolRun[] = [];
  for (const mode of holModes(opts.holPool)) {
    const client = holClient(mode.id, s, opts.holPool);
    try {
      const fastCall = client.call(fast);
      log(`hol ${mode.label}: warm-up`);
      await mixed(fastCall, interval, Object.values(slowSpecs).map((sp) => client.call(sp)), Math.max(0.3, opts.warmupS));
      for (let round = 1; round <= opts.rounds; round++) {
        for (const slow of HOL_SLOW) {
          log(`hol ${mode.label}, slow: ${slow}, round ${round}`);
          const bg = slow === 'none' ? [] : [client.call(slowSpecs[slow])];
          const r = await mixed(fastCall, interval, bg, opts.seconds);
          const f = summarize(r.fast.latencies);
          const sl = summarize(r.slow.latencies);
          const errors = r.fast.errors + r.slow.errors;
          if (errors) notes.push(`hol ${mode.label} ${slow} round ${round}: ${errors} errors (${[...r.fast.errorSamples, ...r.slow.errorSamples].join('; ')})`);
          runs.push({ mode: mode.id, slow, round, fastP50Ms: f.p50, fastP99Ms: f.p99, fastCount: f.count, slowP50Ms: sl.p50, slowCount: sl.count, errors });
        }
      }
    } finally {
      client.close();
    }
  }
  return runs;
}

export const FANOUT_KINDS = [
  { id: 'rest', label: 'REST JSON, a connection each', floor: 'node:http echo' },
  { id: 'grpc-conns', label: 'gRPC, a connection each', floor: 'node:http2 gRPC echo' },
  { id: 'grpc-streams', label: 'gRPC, a stream each over 4 connections', floor: undefined },
] as const;

const STREAM_CONNECTIONS = 4;

interface Fleet {
  calls: Call[];
  connections: number;
  close(): Promise<void>;
}

/** `size` clients of one kind against `url`, not yet connected (the first call of each connects). */
function fleet(kind: string, url: string, size: number, spec: RequestSpec): Fleet {
  if (kind === 'rest') {
    const agents = Array.from({ length: size }, () => new http.Agent({ keepAlive: true, maxSockets: 1 }));
    return {
      // REST JSON, the common client; an agent of one socket per client is a connection each.
      calls: agents.map((a) => restCall(url, a, spec, 60_000, false)),
      connections: size,
      close: async () => agents.forEach((a) => a.destroy()),
    };
  }
  const clients = Array.from({ length: kind === 'grpc-conns' ? size : STREAM_CONNECTIONS }, () => new GrpcClient(url, { timeoutMs: 60_000 }));
  if (kind === 'grpc-conns') return { calls: clients.map((c) => grpcCall(c, spec)), connections: size, close: async () => void (await Promise.all(clients.map((c) => c.close()))) };
  const streams = Array.from({ length: size }, (_, i) => streamCall(clients[i % clients.length], spec));
  return {
    calls: streams.map((x) => x.call),
    connections: clients.length,
    close: async () => {
      for (const x of streams) x.stream.cancel();
      await Promise.all(clients.map((c) => c.close()));
    },
  };
}

/** Open every connection with its first request, `batch` at a time. */
async function ramp(calls: Call[], batch = 200): Promise<{ errors: number; samples: string[] }> {
  let errors = 0;
  const samples: string[] = [];
  for (let i = 0; i < calls.length; i += batch) {
    await Promise.all(calls.slice(i, i + batch).map((c) => c().catch((e: Error) => {
      errors++;
      if (samples.length < 3 && !samples.includes(e.message)) samples.push(e.message);
    })));
  }
  return { errors, samples };
}

const settle = () => new Promise((r) => setTimeout(r, 300));

export async function runFanout(repo: string, opts: NetOptions, notes: string[], log: (l: string) => void): Promise<FanoutRun[]> {
  const runs: FanoutRun[] = [];
  const limits = nofileLimits();
  // The request, and Duet's answers to it for the echo floors to give back byte for byte.
  const first = await startDuet(repo, ['my_model'], { metrics: false });
  let prep: Prep;
  try {
    const inputs = await inputsFor(first, 'my_model', [1, 128]);
    const spec = { model: 'my_model', inputs };
    prep = { spec, canned: { ...await capture('http-json', first, 'my_model', undefined, inputs), ...await capture('grpc', first, 'my_model', undefined, inputs) } };
  } finally {
    await first.stop();
  }
  for (const size of opts.fanoutSizes) {
    if (!fitsNofile(size, limits)) {
      notes.push(`fanout ${size}: not run, the open-files soft limit is ${limits?.soft} (raise it with ulimit -n before duet bench; the hard limit is ${limits?.hard})`);
      continue;
    }
    for (const kind of FANOUT_KINDS) {
      for (const target of [kind.floor, 'duet'].filter((t): t is string => t !== undefined)) {
        // A fresh server per run: memory measured from the same starting point every time.
        const server: ChildServer = target === 'duet' ? await startDuet(repo, ['my_model'], { metrics: false }) : await startEcho();
        try {
          if (target !== 'duet') await (server as EchoServer).setCanned(prep.canned);
          runs.push(await fanoutOne(server, kind, target, size, prep.spec, opts, notes, log));
        } finally {
          await server.stop();
        }
      }
    }
  }
  return runs;
}

interface Prep {
  spec: RequestSpec;
  canned: CannedResponse;
}

async function fanoutOne(server: ChildServer, kind: (typeof FANOUT_KINDS)[number], target: string, size: number, spec: RequestSpec, opts: NetOptions, notes: string[], log: (l: string) => void): Promise<FanoutRun> {
  const grpc = kind.id !== 'rest';
  const url = grpc ? (target === 'duet' ? server.grpcUrl : (server as EchoServer).h2Url) : server.httpUrl;
  const f = fleet(kind.id, url, size, spec);
  try {
    log(`fanout ${kind.label}, ${size}: ${target}, opening`);
    await settle();
    const rssBefore = rssKiB(server.pid);
    const opened = await ramp(f.calls);
    await settle();
    const rssOpen = rssKiB(server.pid);
    log(`fanout ${kind.label}, ${size}: ${target}, measuring`);
    const cpu0 = serverCpu(server.pid);
    const elu0 = performance.eventLoopUtilization();
    const interval = (size / opts.fanoutRate) * 1000;
    const r = await paced(f.calls, interval, opts.seconds);
    const elu = performance.eventLoopUtilization(elu0).utilization;
    const cpu1 = serverCpu(server.pid);
    const lat = summarize(r.latencies);
    const errors = opened.errors + r.errors;
    const samples = [...new Set([...opened.samples, ...r.errorSamples])].slice(0, 3);
    if (errors) notes.push(`fanout ${kind.label} ${size} ${target}: ${errors} errors (${samples.join('; ')})`);
    return {
      kind: kind.id, target, size, connections: f.connections, rssBeforeKiB: rssBefore, rssOpenKiB: rssOpen,
      rssPerConnKiB: (rssOpen - rssBefore) / size, requests: lat.count, errors, errorSamples: samples, rps: lat.count / r.seconds,
      p50Ms: lat.p50, p99Ms: lat.p99, serverAllUs: usPerRequest(cpu0?.all, cpu1?.all, lat.count), clientElu: elu,
    };
  } finally {
    await f.close();
  }
}
