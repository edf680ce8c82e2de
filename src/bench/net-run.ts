// `duet bench --suite connections,hol,fanout,link`: what the transport suite's keep-alive clients on
// loopback do not show. connections: a new TCP connection per REST request against keep-alive and
// against gRPC's one connection; link: each protocol through an emulated slow link (link-proxy.ts).
// hol and fanout (net-load.ts) drive open-loop load. Each starts its own Duet (ports 0) over a
// throwaway repository and the echo floors.

import { mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { WorkerPool } from './load.js';
import { startLinkProxy, transferMs, type LinkProxy, type LinkSpec } from './link-proxy.js';
import { runFanout, runHol } from './net-load.js';
import { benchRepository, nofileLimits, type LinkRun, type NetOptions, type NetResults } from './net-setup.js';
import { makeInputs, resolveShapes, type BenchInput, type Protocol } from './payload.js';
import { serverCpu, usPerRequest, type ServerCpu } from './procstat.js';
import { machineInfo } from './run.js';
import { buildLabel } from './suite-run.js';
import { clientBound, roundOrder, summarize, type SuiteRun } from './suites.js';
import { ROOT, capture, modelInfo, readStats, serverTime, startDuet, startEcho, type ChildServer, type EchoServer } from './target.js';

/** The brief's features and image scenarios; REST sends the image in binary (as JSON it only measures JSON parsing). */
export const NET_SCENARIOS = [
  { name: 'features', model: 'my_model', shape: [1, 128], rest: 'http-json' as Protocol },
  { name: 'image', model: 'resnet_mini', shape: [1, 3, 224, 224], rest: 'http-binary' as Protocol },
];

export const CONNECTION_MODES = [
  { id: 'rest-close', label: 'REST, new connection per request', grpc: false, keepAlive: false },
  { id: 'rest-keepalive', label: 'REST, keep-alive', grpc: false, keepAlive: true },
  { id: 'grpc', label: 'gRPC, one connection', grpc: true, keepAlive: true },
];
export const CONNECTION_LEVELS = [1, 16];

export const PROTOCOL_NAMES: Record<Protocol, string> = { grpc: 'gRPC', 'http-json': 'REST JSON', 'http-binary': 'REST binary' };

/** A Duet and the echo floors for one suite, over the bench repository. */
export interface Servers {
  duet: ChildServer;
  echo: EchoServer;
  repo: string;
}

export async function inputsFor(duet: ChildServer, model: string, shape: number[]): Promise<BenchInput[]> {
  const info = await modelInfo(duet, model);
  return makeInputs(resolveShapes(info.inputs, new Map([['', shape]]), model), { kind: 'random' });
}

export async function runNet(opts: NetOptions): Promise<NetResults> {
  const log = opts.log ?? (() => {});
  const notes: string[] = [];
  const dir = mkdtempSync(join(tmpdir(), 'duet-bench-net-'));
  const res: NetResults = {
    meta: {
      date: new Date().toISOString(), machine: machineInfo(), build: buildLabel(ROOT), command: opts.command,
      settings: { seconds: opts.seconds, warmupS: opts.warmupS, rounds: opts.rounds, fanoutSizes: opts.fanoutSizes, fanoutRate: opts.fanoutRate, holPool: opts.holPool, slowMs: opts.slowMs, holRate: opts.holRate, links: opts.links },
      nofile: nofileLimits(), notes,
    },
  };
  const pool = new WorkerPool();
  try {
    const repo = benchRepository(dir, opts.modelRepository, opts.slowMs);
    for (const suite of opts.suites) {
      if (suite === 'fanout') {
        // Fresh servers per run there, so each run's memory starts from the same state.
        res.fanout = await runFanout(repo, opts, notes, log);
        continue;
      }
      log(`${suite}: starting duet serve and the echo floors`);
      const models = suite === 'hol' ? ['my_model', 'sleep', 'resnet_mini'] : ['my_model', 'resnet_mini'];
      const duet = await startDuet(repo, models, { metrics: false });
      const echo = await startEcho();
      try {
        const s: Servers = { duet, echo, repo };
        if (suite === 'connections') res.connections = await runConnections(pool, s, opts, notes, log);
        else if (suite === 'hol') res.hol = await runHol(s, opts, notes, log);
        else res.link = await runLink(pool, s, opts, notes, log);
      } finally {
        await Promise.all([duet.stop(), echo.stop()]);
      }
    }
  } finally {
    await pool.close();
    rmSync(dir, { recursive: true, force: true });
  }
  return res;
}

interface Measured {
  requests: number;
  errors: number;
  errorSamples: string[];
  seconds: number;
  rps: number;
  p50Ms: number;
  p99Ms: number;
  clientElu: number;
  upBytes: number;
  downBytes: number;
  cpu0?: ServerCpu;
  cpu1?: ServerCpu;
}

/** One closed-loop run from the worker-thread generator, the server's CPU read around the measured window. */
async function closedLoop(pool: WorkerPool, o: {
  protocol: Protocol; url: string; model: string; inputs: BenchInput[]; concurrency: number; seconds: number; warmupS: number; keepAlive: boolean; pid?: number;
}): Promise<Measured> {
  let cpu0: ServerCpu | undefined;
  const l = await pool.run({
    protocol: o.protocol, httpUrl: o.url, grpcUrl: o.url, model: o.model, inputs: o.inputs, concurrency: o.concurrency,
    durationS: o.seconds, warmupS: o.warmupS, encode: 'once', keepAlive: o.keepAlive,
    // gRPC: every loop on one thread's one connection; REST: a socket per loop over the cores.
    workers: o.protocol === 'grpc' ? 1 : Math.min(o.concurrency, availableParallelism()),
  }, { beforeMeasure: async () => void (cpu0 = serverCpu(o.pid)) });
  const cpu1 = serverCpu(o.pid);
  return {
    requests: l.requests, errors: l.errors, errorSamples: l.errorSamples, seconds: l.seconds, rps: l.throughput,
    p50Ms: l.latency.p50, p99Ms: l.latency.p99, clientElu: l.clientElu,
    upBytes: l.wire?.requestBytes ?? NaN, downBytes: l.wire?.responseBytes ?? NaN, cpu0, cpu1,
  };
}

async function runConnections(pool: WorkerPool, s: Servers, opts: NetOptions, notes: string[], log: (l: string) => void): Promise<NonNullable<NetResults['connections']>> {
  const runs: SuiteRun[] = [];
  const floorOf = new Map<string, string>();
  for (const sc of NET_SCENARIOS) {
    const inputs = await inputsFor(s.duet, sc.model, sc.shape);
    for (const mode of CONNECTION_MODES) {
      const protocol: Protocol = mode.grpc ? 'grpc' : sc.rest;
      await s.echo.setCanned(await capture(protocol, s.duet, sc.model, undefined, inputs));
      const floor = mode.grpc ? 'node:http2 gRPC echo' : 'node:http echo';
      const targets = [
        { name: floor, url: mode.grpc ? s.echo.h2Url : s.echo.httpUrl, pid: s.echo.pid, duet: false },
        { name: 'duet', url: mode.grpc ? s.duet.grpcUrl : s.duet.httpUrl, pid: s.duet.pid, duet: true },
      ];
      for (const c of CONNECTION_LEVELS) {
        const row = `${sc.name}-${mode.id}-c${c}`;
        const label = `${sc.name}: ${mode.label}${mode.grpc ? '' : ` (${PROTOCOL_NAMES[sc.rest]})`}, c=${c}`;
        floorOf.set(row, floor);
        const one = async (t: (typeof targets)[number], seconds: number, round: number) => {
          const st0 = t.duet ? await readStats(s.duet, sc.model) : undefined;
          const m = await closedLoop(pool, { protocol, url: t.url, model: sc.model, inputs, concurrency: c, seconds, warmupS: 0, keepAlive: mode.keepAlive, pid: t.pid });
          const st = t.duet ? serverTime(st0, await readStats(s.duet, sc.model)) : undefined;
          const clientCpu = m.clientElu;
          const r: SuiteRun = {
            suite: 'connections', row, label, target: t.name, generator: 'duet-client', protocol, connections: mode.grpc ? 1 : c, streams: mode.grpc ? c : 1,
            round, seconds: m.seconds, requests: m.requests, errors: m.errors, rps: m.rps, p50us: m.p50Ms * 1000, p99us: m.p99Ms * 1000,
            clientCpu, clientBound: clientBound(clientCpu),
            serverMainUs: usPerRequest(m.cpu0?.main, m.cpu1?.main, m.requests), serverAllUs: usPerRequest(m.cpu0?.all, m.cpu1?.all, m.requests),
            serverElu: null, computeUs: st && Number.isFinite(st.computeMs) ? st.computeMs * 1000 : null,
          };
          if (m.errors) notes.push(`connections ${label} ${t.name} round ${round}: ${m.errors} errors (${m.errorSamples.join('; ')})`);
          return r;
        };
        log(`connections ${label}: warm-up`);
        for (const t of targets) if (opts.warmupS > 0) await one(t, opts.warmupS, 0);
        for (let round = 1; round <= opts.rounds; round++) {
          for (const t of roundOrder(targets, round)) {
            log(`connections ${label}: ${t.name}, round ${round}`);
            runs.push(await one(t, opts.seconds, round));
          }
        }
      }
    }
  }
  return { runs, summaries: summarize(runs, (_s, row) => floorOf.get(row)) };
}

/** The direct loopback (no proxy), then each emulated link. */
const LOOPBACK: LinkSpec = { name: 'loopback (no link)', latencyMs: 0, rateBps: Infinity };

async function runLink(pool: WorkerPool, s: Servers, opts: NetOptions, notes: string[], log: (l: string) => void): Promise<LinkRun[]> {
  const runs: LinkRun[] = [];
  const protocols: Protocol[] = ['http-json', 'http-binary', 'grpc'];
  for (const sc of NET_SCENARIOS) {
    const inputs = await inputsFor(s.duet, sc.model, sc.shape);
    for (const link of [LOOPBACK, ...opts.links]) {
      for (let round = 1; round <= opts.rounds; round++) {
        for (const protocol of roundOrder(protocols, round)) {
          const target = protocol === 'grpc' ? s.duet.grpcUrl : s.duet.httpUrl;
          let proxy: LinkProxy | undefined;
          try {
            proxy = link === LOOPBACK ? undefined : await startLinkProxy(target, link);
            log(`link ${sc.name} ${link.name} ${PROTOCOL_NAMES[protocol]}, round ${round}`);
            // One request at a time: each call's latency is its own, with no queueing behind another.
            const m = await closedLoop(pool, { protocol, url: proxy?.address ?? target, model: sc.model, inputs, concurrency: 1, seconds: opts.seconds, warmupS: Math.min(opts.warmupS, 0.3), keepAlive: true });
            if (m.errors) notes.push(`link ${sc.name} ${link.name} ${PROTOCOL_NAMES[protocol]} round ${round}: ${m.errors} errors (${m.errorSamples.join('; ')})`);
            if (proxy && proxy.stats.early) notes.push(`link ${link.name}: ${proxy.stats.early} chunks delivered early (emulation fault)`);
            runs.push({
              scenario: sc.name, link: link.name, latencyMs: link.latencyMs, rateBps: Number.isFinite(link.rateBps) ? link.rateBps : null, protocol, round,
              requests: m.requests, errors: m.errors, p50Ms: m.p50Ms, p99Ms: m.p99Ms, upBytes: m.upBytes, downBytes: m.downBytes,
              transferMs: transferMs(link, m.upBytes, m.downBytes),
            });
          } finally {
            await proxy?.close();
          }
        }
      }
    }
  }
  return runs;
}
