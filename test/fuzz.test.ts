// A seeded, bounded fuzz run in CI: a few thousand mutated REST bodies (JSON and binary extension,
// broken headers), ModelInferRequest messages over raw HTTP/2, ModelStreamInfer streams of them,
// and requests sent over both protocols that must fail alike. No answer may be a 5xx (501 aside) or
// UNKNOWN/INTERNAL/DATA_LOSS, a normal request must succeed after every batch, and the server's
// RSS must stay within a bound. DUET_FUZZ_SEED and DUET_FUZZ_COUNT change the run; a failure prints
// the seed and the command that reproduces each failing case.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { describeReport, runFuzz } from './fuzz/run.js';
import { seedOf } from './fuzz/rng.js';
import { startFuzzServer } from './fuzz/server.js';

const SEED = seedOf(process.env.DUET_FUZZ_SEED, 20_240_901);
const COUNT = Number(process.env.DUET_FUZZ_COUNT ?? 3000);
const MAX_RSS_GROWTH = 320 * 1048576;

let server: Awaited<ReturnType<typeof startFuzzServer>>;
before(async () => {
  server = await startFuzzServer();
});
after(() => server.stop());

test(`fuzz: ${COUNT} mutated requests (seed ${SEED}) get clean errors, the server stays up within its memory bound`, { timeout: 120_000 }, async () => {
  const report = await runFuzz({
    seed: SEED,
    count: COUNT,
    target: server.target,
    rss: () => process.memoryUsage().rss,
    maxRssGrowthBytes: MAX_RSS_GROWTH,
    breakStreamFraming: true,
  });
  const text = describeReport(report).join('\n');
  console.log(text);
  assert.equal(report.failures.length, 0, text);
  // The run must have reached the server's validation, not only its JSON parser.
  assert.ok((report.outcomes['http 200'] ?? 0) > 0 && (report.outcomes['grpc 0'] ?? 0) > 0, text);
});
