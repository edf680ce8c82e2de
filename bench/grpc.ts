// npm run bench:grpc: Duet's gRPC against its transport floors, with native load generators so the
// client is not the bottleneck: h2load (nghttp2-client) for gRPC, wrk for REST binary. In one run,
// interleaved over rounds: a bare node:http2 gRPC handler (the floor), a bare grpc-js server, Duet as
// built here, optionally an older Duet build (--old DIR, e.g. a checkout on grpc-js), and REST binary
// (bare node:http echo and Duet) for the c=1 comparison. my_model, 128 FP32 in, 1 FP32 out.
//   node dist/bench/grpc.js [--rounds 2] [--old /path/to/built/checkout ...] [--n 20000] [--n1 5000]
// Ratios to the floor are the result; absolute numbers depend on the machine and its load.

import { execFileSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import http2 from 'node:http2';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { inference } from '../src/generated/proto.js';
import { ROOT, startChild, stopChild, table } from './lib.js';

const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '2' },
    old: { type: 'string', multiple: true },
    n: { type: 'string', default: '20000' },
    n1: { type: 'string', default: '5000' },
    'wrk-seconds': { type: 'string', default: '3' },
    /** Throughput only: no c=1 runs, no REST (for comparing builds over many rounds). */
    'c64-only': { type: 'boolean', default: false },
  },
});
const ROUNDS = Number(values.rounds);
const N64 = Number(values.n);
const N1 = Number(values.n1);
const WRK_SECONDS = Number(values['wrk-seconds']);
const C64_ONLY = values['c64-only']!;
const GRPC_PATH = '/inference.GRPCInferenceService/ModelInfer';
const REST_PATH = '/v2/models/my_model/infer';
const CLK_TCK = 100;

const tmp = mkdtempSync(join(tmpdir(), 'duet-bench-grpc-'));
const data = Float32Array.from({ length: 128 }, (_, i) => Math.fround(Math.sin(i) * 10));

/** The request as a client sends it: one length-prefixed ModelInferRequest. */
function grpcBody(): Buffer {
  const msg = inference.ModelInferRequest.encode({
    model_name: 'my_model', inputs: [{ name: 'INPUT0', datatype: 'FP32', shape: [1, 128] }],
    raw_input_contents: [new Uint8Array(data.buffer)],
  }).finish();
  const out = Buffer.alloc(5 + msg.byteLength);
  out.writeUInt32BE(msg.byteLength, 1);
  out.set(msg, 5);
  return out;
}

/** Triton's binary extension: a JSON header, then the tensor's bytes. */
function restBody(): { body: Buffer; headerLength: number } {
  const head = Buffer.from(JSON.stringify({
    inputs: [{ name: 'INPUT0', datatype: 'FP32', shape: [1, 128], parameters: { binary_data_size: data.byteLength } }],
    parameters: { binary_data_output: true },
  }));
  return { body: Buffer.concat([head, Buffer.from(data.buffer)]), headerLength: head.length };
}

const grpcFile = join(tmp, 'body.grpc');
writeFileSync(grpcFile, grpcBody());
const rest = restBody();
const restFile = join(tmp, 'body.bin');
writeFileSync(restFile, rest.body);
// wrk sends the file as the body and reports exact percentiles from its own histogram.
const luaFile = join(tmp, 'post.lua');
writeFileSync(luaFile, `
local f = io.open("${restFile}", "rb")
wrk.method = "POST"
wrk.body = f:read("*all")
f:close()
wrk.headers["Inference-Header-Content-Length"] = "${rest.headerLength}"
wrk.headers["Content-Type"] = "application/octet-stream"
function done(summary, latency, requests)
  io.write(string.format("RESULT %d %d %d %d %d\\n", summary.requests, summary.duration,
    summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    latency:percentile(50), latency:percentile(99)))
end
`);

interface Run { rps: number; p50us: number; p99us: number; cpuUsPerReq: number; mainUsPerReq: number; failed: number }

/** CPU seconds used so far by a process (all its threads) and by its main thread alone. */
function cpuSeconds(pid: number): { all: number; main: number } {
  const read = (path: string) => {
    const f = readFileSync(path, 'utf8');
    const fields = f.slice(f.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
  };
  return { all: read(`/proc/${pid}/stat`), main: read(`/proc/${pid}/task/${pid}/stat`) };
}

function percentile(sorted: number[], p: number): number {
  return sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] : NaN;
}

function h2load(port: number, n: number, c: number, m: number, pid: number): Run {
  const log = join(tmp, 'h2load.log');
  rmSync(log, { force: true });
  const cpu0 = cpuSeconds(pid);
  const out = execFileSync('h2load', ['-n', String(n), '-c', String(c), '-m', String(m),
    '-H', 'content-type:application/grpc', '-H', 'te:trailers', '-d', grpcFile, `--log-file=${log}`,
    `http://127.0.0.1:${port}${GRPC_PATH}`], { encoding: 'utf8', maxBuffer: 1 << 24 });
  const cpu1 = cpuSeconds(pid);
  const rps = Number(/finished in [\d.]+\w+, ([\d.]+) req\/s/.exec(out)?.[1] ?? NaN);
  const m2 = /requests: \d+ total, \d+ started, \d+ done, (\d+) succeeded, (\d+) failed/.exec(out);
  const lat = readFileSync(log, 'utf8').trim().split('\n').map((l) => Number(l.split('\t')[2])).sort((a, b) => a - b);
  const done = Number(m2?.[1] ?? n);
  return { rps, p50us: percentile(lat, 0.5), p99us: percentile(lat, 0.99), cpuUsPerReq: ((cpu1.all - cpu0.all) * 1e6) / done,
    mainUsPerReq: ((cpu1.main - cpu0.main) * 1e6) / done, failed: Number(m2?.[2] ?? 0) };
}

function wrk(port: number, c: number, pid: number): Run {
  const cpu0 = cpuSeconds(pid);
  const out = execFileSync('wrk', ['-t1', `-c${c}`, `-d${WRK_SECONDS}s`, '-s', luaFile, `http://127.0.0.1:${port}${REST_PATH}`], { encoding: 'utf8' });
  const cpu1 = cpuSeconds(pid);
  const [reqs, durUs, errs, p50, p99] = /RESULT (\d+) (\d+) (\d+) (\d+) (\d+)/.exec(out)!.slice(1).map(Number);
  return { rps: reqs / (durUs / 1e6), p50us: p50, p99us: p99, cpuUsPerReq: ((cpu1.all - cpu0.all) * 1e6) / reqs,
    mainUsPerReq: ((cpu1.main - cpu0.main) * 1e6) / reqs, failed: errs };
}

/** One call before measuring: h2load sees HTTP statuses only, so a gRPC error would pass unseen. */
function checkGrpc(port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const s = http2.connect(`http://127.0.0.1:${port}`);
    s.on('error', reject);
    const req = s.request({ ':method': 'POST', ':path': GRPC_PATH, 'content-type': 'application/grpc', te: 'trailers' });
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('trailers', (t) => {
      s.close();
      const body = Buffer.concat(chunks);
      const ok = t['grpc-status'] === '0' && body.length > 5 && inference.ModelInferResponse.decode(body.subarray(5)).raw_output_contents.length === 1;
      if (ok) resolve();
      else reject(new Error(`port ${port}: grpc-status ${t['grpc-status']} ${t['grpc-message'] ?? ''}`));
    });
    req.end(readFileSync(grpcFile));
  });
}

function checkRest(port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method: 'POST', path: REST_PATH, headers: { 'inference-header-content-length': rest.headerLength } }, (res) => {
      res.resume();
      res.on('end', () => (res.statusCode === 200 ? resolve() : reject(new Error(`port ${port}: HTTP ${res.statusCode}`))));
    });
    req.on('error', reject);
    req.end(rest.body);
  });
}

interface Target { name: string; child: ChildProcess; grpc?: number; rest?: number; floorOf?: 'grpc' | 'rest' }

const serveArgs = (repo: string) => ['serve', '--model-repository', repo, '--http-port', '0', '--grpc-port', '0', '--metrics-port', '0', '--host', '127.0.0.1'];
const PORTS = [/REST \(KServe v2\) listening on http:\/\/[^:]+:(\d+)/, /gRPC .* listening on [^:]+:(\d+)/];

async function duet(name: string, dir: string): Promise<Target> {
  const s = await startChild(join(dir, 'dist/src/cli/main.js'), serveArgs(join(dir, 'models')), ...PORTS);
  return { name, child: s.child, rest: s.ports[0], grpc: s.ports[1] };
}

/** The commit a build was made from, or its folder's name when it is not a git checkout. */
function revision(dir: string): string {
  try {
    return execFileSync('git', ['-C', dir, 'rev-parse', '--short', 'HEAD'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return dir.split('/').filter(Boolean).pop()!;
  }
}

async function main() {
  const targets: Target[] = [];
  try {
    const h2 = await startChild(join(ROOT, 'dist/bench/echo-h2.js'), [], /h2 echo listening on port (\d+)/);
    targets.push({ name: 'node:http2 gRPC echo (floor)', child: h2.child, grpc: h2.port, floorOf: 'grpc' });
    const gjs = await startChild(join(ROOT, 'dist/bench/echo-grpc.js'), [], /grpc echo listening on port (\d+)/);
    targets.push({ name: 'grpc-js echo', child: gjs.child, grpc: gjs.port });
    for (const dir of values.old ?? []) targets.push(await duet(`Duet ${revision(dir)} (--old)`, dir));
    targets.push(await duet('Duet (this build)', ROOT));
    if (!C64_ONLY) {
      const he = await startChild(join(ROOT, 'dist/bench/echo-http.js'), [], /echo listening on port (\d+)/);
      targets.push({ name: 'node:http echo (REST floor)', child: he.child, rest: he.port, floorOf: 'rest' });
    }
    for (const t of targets) {
      if (t.grpc) await checkGrpc(t.grpc);
      if (t.rest && (t.floorOf === 'rest' || t.name.startsWith('Duet'))) await checkRest(t.rest);
    }
    // Warm-up: JIT, connection setup and the model's first runs stay out of the measured rounds.
    for (const t of targets) {
      if (t.grpc) h2load(t.grpc, 3000, 4, 16, t.child.pid!);
      if (t.rest && !C64_ONLY) wrk(t.rest, 1, t.child.pid!);
    }
    const ratios = new Map<Target, Run[]>(targets.map((t) => [t, []]));
    const rows: string[][] = [['round', 'target', 'gRPC 4x16 req/s', 'x floor', 'CPU us/req', 'main us/req', 'gRPC c1 p50 us', 'c1 p99 us', 'REST bin c1 p50 us', 'REST bin c64 req/s', 'x floor']];
    for (let round = 1; round <= ROUNDS; round++) {
      // The floor first, then the others in an order that rotates each round, so drifting load hits each alike.
      const others = targets.filter((t) => t.floorOf !== 'grpc');
      const order = [targets[0], ...others.slice((round - 1) % others.length), ...others.slice(0, (round - 1) % others.length)];
      const floor = targets[0];
      const results = order.map((t) => {
        const pid = t.child.pid!;
        // The shared machine's load drifts: each 4x16 run is paired with a floor run just before it.
        const paired = t.grpc && t !== floor ? h2load(floor.grpc!, N64, 4, 16, floor.child.pid!) : undefined;
        const g64 = t.grpc ? h2load(t.grpc, N64, 4, 16, pid) : undefined;
        const g1 = t.grpc && !C64_ONLY ? h2load(t.grpc, N1, 1, 1, pid) : undefined;
        const wantRest = !C64_ONLY && t.rest && (t.floorOf === 'rest' || t.name.startsWith('Duet (this'));
        const r1 = wantRest ? wrk(t.rest!, 1, pid) : undefined;
        const r64 = wantRest ? wrk(t.rest!, 64, pid) : undefined;
        const failed = (g64?.failed ?? 0) + (g1?.failed ?? 0) + (r1?.failed ?? 0) + (r64?.failed ?? 0);
        if (failed) process.stderr.write(`warning: ${t.name}: ${failed} failed requests in round ${round}\n`);
        process.stderr.write(`round ${round}: ${t.name} done\n`);
        return { t, g64, g1, r1, r64, floorRps: paired?.rps ?? g64?.rps ?? NaN };
      });
      const floorRest = results.find((r) => r.t.floorOf === 'rest')?.r64?.rps ?? NaN;
      const f = (v: number | undefined, d = 0) => (v === undefined ? '' : v.toFixed(d));
      results.sort((a, b) => targets.indexOf(a.t) - targets.indexOf(b.t));
      for (const { t, g64, g1, r1, r64, floorRps } of results) {
        if (g64) ratios.get(t)!.push({ ...g64, rps: g64.rps / floorRps });
        rows.push([String(round), t.name, f(g64?.rps), g64 ? (g64.rps / floorRps).toFixed(3) : '', f(g64?.cpuUsPerReq), f(g64?.mainUsPerReq), f(g1?.p50us), f(g1?.p99us),
          f(r1?.p50us), f(r64?.rps), r64 ? (r64.rps / floorRest).toFixed(3) : '']);
      }
    }
    const c = cpus();
    process.stdout.write(`\n${new Date().toISOString()}, ${c.length} x ${c[0]?.model ?? 'cpu'}, Node ${process.version}, h2load -n ${N64} -c 4 -m 16 / -n ${N1} -c 1 -m 1, wrk -t1 -d${WRK_SECONDS}s\n`);
    process.stdout.write('x floor: req/s over the floor run just before (gRPC) or in the same round (REST); CPU us/req: the server process (all threads), main us/req: its main thread, during the 4x16 run\n\n');
    process.stdout.write(table(rows) + '\n');
    // Over the rounds: the median (and range) of each target's ratio to the floor of its round.
    const med = (xs: number[]) => xs.slice().sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)];
    const summary = [['target', 'rounds', 'median x floor', 'range', 'median CPU us/req', 'median main us/req']];
    for (const [t, rs] of ratios) {
      if (!rs.length) continue;
      const xs = rs.map((r) => r.rps);
      summary.push([t.name, String(rs.length), med(xs).toFixed(3), `${Math.min(...xs).toFixed(3)}–${Math.max(...xs).toFixed(3)}`,
        med(rs.map((r) => r.cpuUsPerReq)).toFixed(0), med(rs.map((r) => r.mainUsPerReq)).toFixed(0)]);
    }
    process.stdout.write(`\ngRPC 4x16 over ${ROUNDS} rounds\n${table(summary)}\n`);
  } finally {
    await Promise.all(targets.map((t) => stopChild(t.child)));
    rmSync(tmp, { recursive: true, force: true });
  }
}

main().catch((e) => {
  process.stderr.write(`${(e as Error).stack}\n`);
  process.exitCode = 1;
});
