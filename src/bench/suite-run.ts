// `duet bench --suite transport,image,streaming`: one Duet and one echo-floor process, each row's
// floors and Duet measured in interleaved rounds with a native load generator where installed
// (wrk for REST, h2load for gRPC) or the bench's own worker-thread client, the server's main-thread
// CPU per request read from /proc around each measured window.

import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { INFERENCE_SERVICE } from '../protocols/grpc/server.js';
import { WorkerPool } from './load.js';
import { haveTool, grpcFrame, runH2load, runWrk, type NativeResult } from './native.js';
import { encodeHttp, grpcRequest, makeInputs, resolveShapes, type BenchInput, type Protocol } from './payload.js';
import { serverCpu, usPerRequest } from './procstat.js';
import { machineInfo, type MachineInfo } from './run.js';
import { runStreamingSuite, type StreamingResults } from './streaming.js';
import {
  PAYLOAD_SUITES, clientBound, roundOrder, summarize, type FloorKind, type LoadGeneratorChoice, type PayloadSuite,
  type RowSpec, type RowSummary, type SuiteRun,
} from './suites.js';
import { ROOT, capture, modelInfo, readStats, serverTime, startDuet, startEcho, type ChildServer, type EchoServer } from './target.js';
import type { CannedResponse } from './echo.js';
import { eluBetween, scrapeElu, type EluSample } from './elu.js';

export interface SuiteOptions {
  suites: ('transport' | 'image' | 'streaming')[];
  /** Measured seconds of each run. */
  seconds: number;
  /** Unmeasured seconds each target gets once per row before the rounds. */
  warmupS: number;
  rounds: number;
  generator: LoadGeneratorChoice;
  modelRepository: string;
  /** Streaming: tokens per generation and generations per stream. */
  tokens: number;
  generations: number;
  /** Streaming: warm-up seconds per path. */
  streamWarmupS: number;
  /** Other built Duet checkouts measured in the same rounds (each with its own models/). */
  compare?: string[];
  log?: (line: string) => void;
  command?: string[];
}

export interface SuiteResults {
  meta: {
    date: string;
    machine: MachineInfo;
    command?: string[];
    /** This build as duet@REV (the rows named 'duet'). */
    build: string;
    settings: { seconds: number; warmupS: number; rounds: number; generator: LoadGeneratorChoice; generations?: number; streamWarmupS?: number };
    /** Which program generated load for each protocol. */
    generators: Partial<Record<Protocol, SuiteRun['generator']>>;
    notes: string[];
  };
  runs: SuiteRun[];
  summaries: RowSummary[];
  streaming?: StreamingResults;
}

const MODELS: Record<SuiteOptions['suites'][number], string> = { transport: 'my_model', image: 'resnet_mini', streaming: 'tiny_gpt' };

/** Which generator a protocol gets under a choice; throws when `native` is asked for and missing. */
export function pickGenerator(protocol: Protocol, choice: LoadGeneratorChoice, have: (tool: string) => boolean = haveTool): SuiteRun['generator'] {
  if (choice === 'duet-client') return 'duet-client';
  const tool = protocol === 'grpc' ? 'h2load' : 'wrk';
  if (have(tool)) return tool;
  if (choice === 'native') throw new Error(`--load-generator native: '${tool}' is not installed (Debian: ${tool === 'wrk' ? 'wrk' : 'nghttp2-client'})`);
  return 'duet-client';
}

/** A Duet started for the suites: this build, or another one (--compare) named duet@REV. */
type Duet = ChildServer & { metricsUrl?: string; name: string };

interface Target {
  name: string;
  duet: boolean;
  url: string;
  /** The REST address of the same server (statistics). */
  httpUrl: string;
  pid: number | undefined;
  /** Duet's metrics address, for its event-loop utilization. */
  metricsUrl?: string;
}

function targetsOf(row: RowSpec, duets: Duet[], echo: EchoServer): Target[] {
  const floor = (f: FloorKind): Target => ({
    name: f, duet: false, pid: echo.pid, httpUrl: echo.httpUrl,
    url: ({
      'node:http echo': echo.httpUrl,
      'node:http + worker hop': echo.httpHopUrl,
      'node:http2 gRPC echo': echo.h2Url,
      'node:http2 + worker hop': echo.h2HopUrl,
      'grpc-js echo': echo.grpcUrl,
    } satisfies Record<FloorKind, string>)[f],
  });
  return [...row.floors.map(floor), ...duets.map((d) => ({
    name: d.name, duet: true, url: row.protocol === 'grpc' ? d.grpcUrl : d.httpUrl, httpUrl: d.httpUrl, pid: d.pid, metricsUrl: d.metricsUrl,
  }))];
}

/** duet@REV for a built checkout: its commit, or its folder's name. */
export function buildLabel(dir: string): string {
  const git = spawnSync('git', ['-C', dir, 'rev-parse', '--short', 'HEAD'], { encoding: 'utf8' });
  const name = git.status === 0 ? git.stdout.trim() : basename(resolve(dir)).replace(/^duet-/, '');
  return `duet@${name}`;
}

interface Prepared {
  suite: PayloadSuite;
  inputs: BenchInput[];
  canned: Partial<Record<Protocol, CannedResponse>>;
}

export async function runSuites(opts: SuiteOptions): Promise<SuiteResults> {
  const log = opts.log ?? (() => {});
  const notes: string[] = [];
  const runs: SuiteRun[] = [];
  const generators: SuiteResults['meta']['generators'] = {};
  const date = new Date().toISOString();
  const machine = machineInfo();
  const dir = mkdtempSync(join(tmpdir(), 'duet-bench-suite-'));
  const pool = new WorkerPool();
  let duet: Duet | undefined;
  const others: Duet[] = [];
  let echo: EchoServer | undefined;
  let streaming: StreamingResults | undefined;
  try {
    const models = opts.suites.map((s) => MODELS[s]);
    log(`starting duet serve over ${models.join(', ')} and the echo floors`);
    duet = { ...await startDuet(opts.modelRepository, models, { metrics: true }), name: 'duet' };
    for (const dir of opts.compare ?? []) {
      const cli = join(dir, 'dist/src/cli/main.js');
      if (!existsSync(cli)) throw new Error(`--compare ${dir}: no ${cli} (build that checkout first)`);
      log(`starting ${buildLabel(dir)} from ${dir}`);
      others.push({ ...await startDuet(join(dir, 'models'), models, { metrics: true, cli }), name: buildLabel(dir) });
    }
    echo = await startEcho();
    for (const name of opts.suites) {
      if (name === 'streaming') {
        streaming = await runStreamingSuite({ duet, repo: opts.modelRepository, tokens: opts.tokens, generations: opts.generations, warmupS: opts.streamWarmupS, echo, log });
        continue;
      }
      const suite = PAYLOAD_SUITES[name];
      const p = await prepare(suite, duet);
      for (const row of suite.rows) {
        const generator = pickGenerator(row.protocol, opts.generator);
        generators[row.protocol] = generator;
        const canned = p.canned[row.protocol];
        if (!canned) {
          notes.push(`${suite.name} ${row.label}: Duet's first request failed; row skipped`);
          continue;
        }
        await echo.setCanned(canned);
        const targets = targetsOf(row, [...others, duet], echo);
        const measure = (t: Target, seconds: number, round: number) => measureOne(pool, dir, suite, p.inputs, row, t, generator, seconds, round);
        log(`${suite.name} ${row.label}: warm-up`);
        for (const t of targets) await measure(t, opts.warmupS, 0);
        for (let round = 1; round <= opts.rounds; round++) {
          for (const t of roundOrder(targets, round)) {
            log(`${suite.name} ${row.label}: ${t.name}, round ${round} (${generator})`);
            try {
              runs.push(await measure(t, opts.seconds, round));
            } catch (e) {
              const msg = `${suite.name} ${row.label} ${t.name} round ${round}: ${(e as Error).message}`;
              notes.push(msg);
              log(msg);
            }
          }
        }
      }
    }
  } finally {
    await pool.close();
    await Promise.all([duet?.stop(), echo?.stop(), ...others.map((d) => d.stop())]);
    rmSync(dir, { recursive: true, force: true });
  }
  const floorOf = (suite: string, rowId: string) => PAYLOAD_SUITES[suite as 'transport' | 'image']?.rows.find((r) => r.id === rowId)?.floors[0];
  return {
    meta: { date, machine, command: opts.command, build: buildLabel(ROOT), settings: { seconds: opts.seconds, warmupS: opts.warmupS, rounds: opts.rounds, generator: opts.generator, generations: opts.generations, streamWarmupS: opts.streamWarmupS }, generators, notes },
    runs,
    summaries: summarize(runs, floorOf),
    streaming,
  };
}

async function prepare(suite: PayloadSuite, duet: ChildServer): Promise<Prepared> {
  const info = await modelInfo(duet, suite.model);
  const inputs = makeInputs(resolveShapes(info.inputs, new Map([['', suite.shape]]), suite.model), { kind: 'random' });
  const canned: Prepared['canned'] = {};
  for (const protocol of new Set(suite.rows.map((r) => r.protocol))) canned[protocol] = await capture(protocol, duet, suite.model, undefined, inputs);
  return { suite, inputs, canned };
}

async function measureOne(
  pool: WorkerPool, dir: string, suite: PayloadSuite, inputs: BenchInput[], row: RowSpec, t: Target,
  generator: SuiteRun['generator'], seconds: number, round: number,
): Promise<SuiteRun> {
  let cpu0 = serverCpu(t.pid);
  let elu0: EluSample | undefined;
  const duet = t.duet ? { httpUrl: t.httpUrl, grpcUrl: t.url } : undefined;
  let stats0 = duet ? await readStats(duet, suite.model) : undefined;
  let r: NativeResult;
  if (generator === 'duet-client') {
    const c = row.connections * row.streams;
    const l = await pool.run({
      protocol: row.protocol, httpUrl: t.url, grpcUrl: t.url, model: suite.model, inputs, concurrency: c, durationS: seconds, warmupS: 0,
      // gRPC: one HTTP/2 connection per thread, so `connections` threads; REST: a socket per loop.
      workers: row.protocol === 'grpc' ? row.connections : Math.min(c, availableParallelism()), encode: 'once',
    }, {
      beforeMeasure: async () => {
        stats0 = duet ? await readStats(duet, suite.model) : undefined;
        elu0 = t.metricsUrl ? await scrapeElu(t.metricsUrl) : undefined;
        cpu0 = serverCpu(t.pid);
      },
    });
    r = { requests: l.requests, errors: l.errors, seconds: l.seconds, rps: l.throughput, p50us: l.latency.p50 * 1000, p99us: l.latency.p99 * 1000, clientCpuSeconds: null };
    r.clientCpuSeconds = l.clientElu * l.seconds;
  } else {
    elu0 = t.metricsUrl ? await scrapeElu(t.metricsUrl) : undefined;
    cpu0 = serverCpu(t.pid);
    const run = { target: t.url, connections: row.connections, streams: row.streams, seconds };
    if (generator === 'wrk') {
      const req = encodeHttp(suite.model, undefined, inputs, row.protocol === 'http-binary');
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(req.headers)) if (k !== 'content-length') headers[k] = String(v);
      r = await runWrk(dir, run, req.path, Buffer.concat(req.chunks), headers);
    } else {
      const def = INFERENCE_SERVICE.ModelInfer;
      r = await runH2load(dir, run, def.path, grpcFrame(def.requestSerialize(grpcRequest(suite.model, undefined, inputs))));
    }
  }
  const cpu1 = serverCpu(t.pid);
  const elu1 = t.metricsUrl && elu0 ? await scrapeElu(t.metricsUrl) : undefined;
  const st = duet ? serverTime(stats0, await readStats(duet, suite.model)) : undefined;
  // h2load sees HTTP statuses only: a gRPC error in the trailers counts as success there, so Duet's own count decides.
  if (generator === 'h2load' && duet) {
    const hidden = r.requests - (st?.count ?? 0);
    if (hidden > 0) r = { ...r, requests: r.requests - hidden, errors: r.errors + hidden, rps: ((r.requests - hidden) / r.requests) * r.rps };
  }
  const clientCpu = r.clientCpuSeconds === null || !(r.seconds > 0) ? null : r.clientCpuSeconds / r.seconds;
  return {
    suite: suite.name, row: row.id, label: row.label, target: t.name, generator, protocol: row.protocol,
    connections: row.connections, streams: row.streams, round, seconds: r.seconds, requests: r.requests, errors: r.errors,
    rps: r.rps, p50us: r.p50us, p99us: r.p99us, clientCpu, clientBound: clientBound(clientCpu),
    serverMainUs: usPerRequest(cpu0?.main, cpu1?.main, r.requests),
    serverAllUs: usPerRequest(cpu0?.all, cpu1?.all, r.requests),
    serverElu: eluBetween(elu0, elu1),
    computeUs: st && Number.isFinite(st.computeMs) ? st.computeMs * 1000 : null,
  };
}
