// npm run bench: my_model over REST (JSON and binary) at concurrency 1 and 64, next to a bare
// node:http echo server measured in the same run. Ratios matter; absolute numbers depend on the machine.
//   node dist/bench/rest.js [--seconds 5]

import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { ROOT, runLoad, startChild, stopChild, table, type HttpCall, type LoadResult } from './lib.js';

const { values } = parseArgs({ options: { seconds: { type: 'string', default: '5' }, concurrency: { type: 'string', default: '1,64' } } });
const seconds = Number(values.seconds);
const levels = values.concurrency!.split(',').map(Number);

const features = Array.from({ length: 128 }, (_, i) => Math.fround(Math.sin(i) * 10));
const jsonBody = Buffer.from(JSON.stringify({ inputs: [{ name: 'INPUT0', datatype: 'FP32', shape: [1, 128], data: features }] }));
const head = Buffer.from(JSON.stringify({
  inputs: [{ name: 'INPUT0', datatype: 'FP32', shape: [1, 128], parameters: { binary_data_size: 512 } }],
  parameters: { binary_data_output: true },
}));
const binBody = Buffer.concat([head, Buffer.from(Float32Array.from(features).buffer)]);

const calls: Record<string, HttpCall> = {
  json: { path: '/v2/models/my_model/infer', headers: { 'content-type': 'application/json' }, body: jsonBody },
  binary: { path: '/v2/models/my_model/infer', headers: { 'inference-header-content-length': head.length }, body: binBody },
};

async function main() {
  const echo = await startChild(join(ROOT, 'dist/bench/echo-http.js'), [], /echo listening on port (\d+)/);
  const duet = await startChild(join(ROOT, 'dist/src/cli/main.js'),
    ['serve', '--model-repository', join(ROOT, 'models'), '--http-port', '0', '--host', '127.0.0.1'],
    /listening on http:\/\/[^:]+:(\d+)/);
  const rows = [['target', 'conc', 'req/s', 'p50 ms', 'p99 ms', 'errors', 'vs echo']];
  const results: Record<string, LoadResult> = {};
  try {
    for (const c of levels) {
      // Echo first with the same JSON body, so each Duet row has its floor from this run.
      const base = await runLoad(echo.port, calls.json, c, seconds);
      results[`echo c${c}`] = base;
      rows.push(['node:http echo (JSON body)', String(c), base.rps.toFixed(0), base.p50ms.toFixed(3), base.p99ms.toFixed(3), String(base.errors), '1.00']);
      for (const kind of ['json', 'binary'] as const) {
        const r = await runLoad(duet.port, calls[kind], c, seconds);
        results[`duet ${kind} c${c}`] = r;
        rows.push([`duet my_model REST ${kind}`, String(c), r.rps.toFixed(0), r.p50ms.toFixed(3), r.p99ms.toFixed(3), String(r.errors), (r.rps / base.rps).toFixed(2)]);
      }
    }
  } finally {
    await stopChild(duet.child);
    await stopChild(echo.child);
  }
  process.stdout.write(`\nmy_model over REST, ${seconds}s per row, closed loop on 127.0.0.1 (${new Date().toISOString()})\n\n`);
  process.stdout.write(table(rows) + '\n');
}

main().catch((e) => {
  process.stderr.write(`${(e as Error).stack}\n`);
  process.exit(1);
});
