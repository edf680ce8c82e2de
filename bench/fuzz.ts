// npm run fuzz -- [--count N] [--seed S] [--case I] [--url HOST:PORT --grpc HOST:PORT] [--concurrency C]
//                  [--max-rss-growth-mb M] [--no-stream-framing]
// Without --url it starts a server in this process on the fuzz models (and then bounds its RSS).
// The cases and checks are test/fuzz/'s, the same as test/fuzz.test.ts runs in CI. (It lives here
// because node --test runs every file under a test/ folder.)

import { parseArgs } from 'node:util';
import { describeReport, runFuzz } from '../test/fuzz/run.js';
import { seedOf } from '../test/fuzz/rng.js';
import { startFuzzServer } from '../test/fuzz/server.js';

const { values } = parseArgs({
  options: {
    count: { type: 'string', default: '5000' },
    seed: { type: 'string' },
    case: { type: 'string' },
    url: { type: 'string' },
    grpc: { type: 'string' },
    concurrency: { type: 'string', default: '8' },
    'max-rss-growth-mb': { type: 'string', default: '512' },
    'no-stream-framing': { type: 'boolean', default: false },
  },
});

const seed = seedOf(values.seed, Math.floor(Math.random() * 2 ** 32));
const server = values.url ? undefined : await startFuzzServer();
const target = server ? server.target : { http: values.url!, grpc: values.grpc };
console.log(`fuzz: seed ${seed}, target REST ${target.http}${target.grpc ? `, gRPC ${target.grpc}` : ''}`);
const report = await runFuzz({
  seed,
  count: Number(values.count),
  only: values.case === undefined ? undefined : Number(values.case),
  target,
  concurrency: Number(values.concurrency),
  rss: server ? () => process.memoryUsage().rss : undefined,
  maxRssGrowthBytes: Number(values['max-rss-growth-mb']) * 1048576,
  breakStreamFraming: !values['no-stream-framing'],
  log: (l) => console.log(l),
});
for (const line of describeReport(report)) console.log(line);
await server?.stop();
if (report.failures.length) {
  console.log(`fuzz: ${report.failures.length} failures with seed ${seed}`);
  process.exit(1);
}
console.log('fuzz: no failures');
