// `duet bench` as a library: every scenario over every protocol and concurrency against Duet, each
// next to its floor (the echo servers carrying the same bytes) and the in-process call.

import { arch, availableParallelism, cpus, freemem, loadavg, platform, release, totalmem } from 'node:os';
import { CLIENT_BOUND_ELU, WorkerPool, defaultWorkers, type LoadResult } from './load.js';
import { InProcess } from './inprocess.js';
import { describeData, makeInputs, resolveShapes, tensorBytes, type BenchInput, type Protocol } from './payload.js';
import type { Scenario } from './scenarios.js';
import {
  capture, modelInfo, readStats, serverTime, startDuet, startEcho,
  type ChildServer, type EchoServer, type Endpoints,
} from './target.js';
import type { Progress } from './progress.js';
import { cpuSeconds } from './procstat.js';
import type { LatencySummary } from './stats.js';

export type Target = 'duet' | 'echo' | 'in-process';

export interface RunRecord {
  scenario: string;
  model: string;
  shape: string;
  data: string;
  /** Raw tensor bytes of the request's inputs. */
  tensorBytes: number;
  target: Target;
  protocol: Protocol | 'in-process';
  concurrency: number;
  workers: number;
  seconds: number;
  requests: number;
  errors: number;
  errorSamples: string[];
  /** Successful requests per second. */
  throughput: number;
  /** Client-measured latency (encode, send, server, receive, decode), ms. */
  latencyMs: LatencySummary;
  /** Server time per request from the statistics extension (data plane in to out), ms. */
  serverMs: number | null;
  serverQueueMs: number | null;
  serverComputeMs: number | null;
  /** Mean client latency minus mean server time: transport, protocol codecs and client work, ms. */
  overheadMs: number | null;
  wireRequestBytes: number | null;
  wireResponseBytes: number | null;
  payloadRequestBytes: number | null;
  payloadResponseBytes: number | null;
  clientElu: number;
  clientBound: boolean;
  /** Share of all the machine's cores busy during the run, 0..1 (client and server together when both are local). */
  hostCpu: number;
  /** Cores the server process used during the run (when the bench started it). */
  serverCpu: number | null;
}

export interface BenchOptions {
  scenarios: Scenario[];
  protocols: Protocol[];
  concurrency: number[];
  durationS: number;
  warmupS: number;
  /** A running server; absent: start one over `modelRepository`. */
  endpoints?: Endpoints;
  modelRepository: string;
  baselines: { echo: boolean; inProcess: boolean };
  workers?: number;
  encode?: 'each' | 'once';
  timeoutS?: number;
  progress?: Progress;
  log?: (line: string) => void;
  /** The command line, recorded in the results. */
  command?: string[];
}

export interface MachineInfo {
  cpu: string;
  cores: number;
  memoryGiB: number;
  freeMemoryGiB: number;
  os: string;
  node: string;
  /** One-minute load average when the run began (other work on the machine shows here). */
  loadAverage?: number;
}

export interface BenchResults {
  meta: {
    date: string;
    machine: MachineInfo;
    target: string;
    settings: { durationS: number; warmupS: number; concurrency: number[]; protocols: Protocol[]; encode: 'each' | 'once'; workers: string };
    scenarios: { name: string; title: string; model: string; shape: string; data: string; tensorBytes: number }[];
    notes: string[];
    /** The bench command line's arguments. */
    command?: string[];
  };
  runs: RunRecord[];
}

export function machineInfo(): MachineInfo {
  const c = cpus();
  return {
    cpu: c[0]?.model.trim() ?? 'unknown',
    cores: availableParallelism(),
    memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    freeMemoryGiB: Math.round((freemem() / 2 ** 30) * 10) / 10,
    os: `${platform()} ${release()} ${arch()}`,
    node: process.version,
    loadAverage: platform() === 'win32' ? undefined : Math.round(loadavg()[0] * 100) / 100,
  };
}

function cpuTimes(): { busy: number; total: number } {
  let busy = 0;
  let total = 0;
  for (const c of cpus()) {
    const t = c.times;
    const all = t.user + t.nice + t.sys + t.idle + t.irq;
    total += all;
    busy += all - t.idle;
  }
  return { busy, total };
}

const shapeText = (inputs: BenchInput[]) => inputs.map((i) => i.shape.join('x')).join('+');

export async function runBench(opts: BenchOptions): Promise<BenchResults> {
  const log = opts.log ?? (() => {});
  const notes: string[] = [];
  const runs: RunRecord[] = [];
  const scenariosMeta: BenchResults['meta']['scenarios'] = [];
  const encode = opts.encode ?? 'each';
  let own: ChildServer | undefined;
  let echo: EchoServer | undefined;
  let inProcess: InProcess | undefined;
  const pool = new WorkerPool();
  const date = new Date().toISOString();
  const machine = machineInfo();
  try {
    let ep = opts.endpoints;
    if (!ep) {
      log(`starting duet serve over ${opts.scenarios.map((s) => s.model).filter((m, i, a) => a.indexOf(m) === i).join(', ')} from ${opts.modelRepository}`);
      own = await startDuet(opts.modelRepository, opts.scenarios.map((s) => s.model));
      ep = own;
    }
    if (opts.baselines.echo) echo = await startEcho();
    if (opts.baselines.inProcess) inProcess = new InProcess(opts.modelRepository);

    const levels = opts.concurrency;
    const perScenario = opts.protocols.length * levels.length * (echo ? 2 : 1) + (inProcess ? levels.length : 0);
    opts.progress?.start(opts.scenarios.length * perScenario, opts.warmupS + opts.durationS);

    for (const sc of opts.scenarios) {
      let inputs: BenchInput[];
      try {
        const info = await modelInfo(ep, sc.model, sc.version);
        inputs = makeInputs(resolveShapes(info.inputs, sc.shapes, sc.model, { keepVariable: sc.data.kind === 'file' }), sc.data);
      } catch (e) {
        const msg = `scenario ${sc.name}: ${(e as Error).message}; skipped`;
        notes.push(msg);
        log(msg);
        opts.progress?.skip(perScenario);
        continue;
      }
      const base = {
        scenario: sc.name, model: sc.model, shape: shapeText(inputs), data: describeData(sc.data), tensorBytes: tensorBytes(inputs),
      };
      scenariosMeta.push({ name: sc.name, title: sc.title, model: sc.model, shape: base.shape, data: base.data, tensorBytes: base.tensorBytes });

      for (const protocol of opts.protocols) {
        let canned: Awaited<ReturnType<typeof capture>> | undefined;
        try {
          canned = await capture(protocol, ep, sc.model, sc.version, inputs);
        } catch (e) {
          const msg = `scenario ${sc.name} over ${protocol}: the first request failed (${(e as Error).message}); measuring anyway, no echo floor`;
          notes.push(msg);
          log(msg);
        }
        for (const c of levels) {
          opts.progress?.begin(`${sc.name} ${protocol} c=${c}`);
          const record = await measureRemote(pool, opts, ep, own?.pid, sc, inputs, protocol, c, 'duet', encode);
          runs.push({ ...base, ...record });
          opts.progress?.end(runs[runs.length - 1]);
          if (echo) {
            if (canned) {
              await echo.setCanned(canned);
              opts.progress?.begin(`${sc.name} ${protocol} c=${c} echo floor`);
              const floor = await measureRemote(pool, opts, echo, echo.pid, sc, inputs, protocol, c, 'echo', encode);
              runs.push({ ...base, ...floor });
              opts.progress?.end(runs[runs.length - 1]);
            } else opts.progress?.skip(1);
          }
        }
      }

      if (inProcess) {
        for (const c of levels) {
          opts.progress?.begin(`${sc.name} in-process c=${c}`);
          try {
            const cpu0 = cpuTimes();
            const r = await inProcess.run(sc.model, sc.version, inputs, c, opts.durationS, opts.warmupS);
            runs.push({ ...base, ...record(r, 'in-process', 'in-process', c, undefined, cpu0, null) });
            opts.progress?.end(runs[runs.length - 1]);
          } catch (e) {
            const msg = `scenario ${sc.name} in-process: ${(e as Error).message}`;
            notes.push(msg);
            log(msg);
            opts.progress?.skip(levels.length - levels.indexOf(c));
            break;
          }
        }
      }
    }
  } finally {
    opts.progress?.finish();
    await pool.close();
    await Promise.all([own?.stop(), echo?.stop(), inProcess?.close()]);
  }
  return {
    meta: {
      date,
      machine,
      target: opts.endpoints ? `running server at ${opts.endpoints.httpUrl} (REST), ${opts.endpoints.grpcUrl} (gRPC)` : 'duet serve started by the bench on 127.0.0.1 (child process)',
      settings: {
        durationS: opts.durationS, warmupS: opts.warmupS, concurrency: opts.concurrency, protocols: opts.protocols, encode,
        workers: opts.workers ? String(opts.workers) : `min(concurrency, ${defaultWorkers(1e9)} cores)`,
      },
      scenarios: scenariosMeta,
      notes,
      command: opts.command,
    },
    runs,
  };
}

async function measureRemote(
  pool: WorkerPool, opts: BenchOptions, ep: Endpoints, pid: number | undefined, sc: Scenario, inputs: BenchInput[],
  protocol: Protocol, c: number, target: Target, encode: 'each' | 'once',
): Promise<Omit<RunRecord, 'scenario' | 'model' | 'shape' | 'data' | 'tensorBytes'>> {
  let before: Awaited<ReturnType<typeof readStats>>;
  let cpu0 = cpuTimes();
  let srv0: number | undefined;
  const r = await pool.run({
    protocol, httpUrl: ep.httpUrl, grpcUrl: ep.grpcUrl, model: sc.model, version: sc.version, inputs,
    concurrency: c, durationS: opts.durationS, warmupS: opts.warmupS, workers: opts.workers, encode, timeoutS: opts.timeoutS,
  }, {
    beforeMeasure: async () => {
      if (target === 'duet') before = await readStats(ep, sc.model, sc.version);
      cpu0 = cpuTimes();
      srv0 = pid === undefined ? undefined : cpuSeconds(pid);
    },
    onPhase: (p) => opts.progress?.phase(p),
  });
  const srv1 = pid === undefined ? undefined : cpuSeconds(pid);
  const serverCpu = srv0 !== undefined && srv1 !== undefined ? (srv1 - srv0) / r.seconds : null;
  const after = target === 'duet' ? await readStats(ep, sc.model, sc.version) : undefined;
  return record(r, target, protocol, c, serverTime(before, after), cpu0, serverCpu);
}

function record(
  r: LoadResult, target: Target, protocol: Protocol | 'in-process', c: number,
  st: ReturnType<typeof serverTime>, cpu0: { busy: number; total: number }, serverCpu: number | null,
): Omit<RunRecord, 'scenario' | 'model' | 'shape' | 'data' | 'tensorBytes'> {
  const cpu1 = cpuTimes();
  const hostCpu = cpu1.total > cpu0.total ? (cpu1.busy - cpu0.busy) / (cpu1.total - cpu0.total) : NaN;
  return {
    target, protocol, concurrency: c, workers: r.workers, seconds: r.seconds,
    requests: r.requests, errors: r.errors, errorSamples: r.errorSamples, throughput: r.throughput,
    latencyMs: r.latency,
    serverMs: st?.totalMs ?? null,
    serverQueueMs: st ? st.queueMs : null,
    serverComputeMs: st && Number.isFinite(st.computeMs) ? st.computeMs : null,
    overheadMs: st && r.requests ? r.latency.mean - st.totalMs : null,
    wireRequestBytes: r.wire?.requestBytes ?? null,
    wireResponseBytes: r.wire?.responseBytes ?? null,
    payloadRequestBytes: r.payload?.requestBytes ?? null,
    payloadResponseBytes: r.payload?.responseBytes ?? null,
    clientElu: r.clientElu,
    clientBound: r.clientElu > CLIENT_BOUND_ELU,
    hostCpu,
    serverCpu,
  };
}
