// What a hop back from a worker thread costs when the main thread slept for it, against the same hop
// while the main thread polls (setImmediate turns), and with both threads pinned to one CPU or two.
// On a VM whose idle vCPUs halt, the sleeping case pays for waking the other vCPU (BENCHMARKS.md,
// "Answer polling"). Usage: node tools/wake_cost.mjs [busyUs=600] [hops=1500]
import { Worker } from 'node:worker_threads';
import { readdirSync } from 'node:fs';
import { execFileSync } from 'node:child_process';

const busyUs = Number(process.argv[2] ?? 600);
const hops = Number(process.argv[3] ?? 1500);
const now = () => performance.timeOrigin + performance.now();
const median = (a) => a.sort((x, y) => x - y)[a.length >> 1];

const before = new Set(readdirSync('/proc/self/task'));
const worker = new Worker(`
  const { parentPort } = require('node:worker_threads');
  const now = () => performance.timeOrigin + performance.now();
  parentPort.on('message', (busyUs) => {
    const end = now() + busyUs / 1000;
    while (now() < end);
    parentPort.postMessage(now());
  });`, { eval: true });
await new Promise((r) => worker.once('online', r));
const workerTids = readdirSync('/proc/self/task').filter((t) => !before.has(t));

async function measure(poll) {
  const back = [];
  const t0 = process.cpuUsage();
  for (let i = 0; i < hops; i++) {
    let got = false;
    const answer = new Promise((r) => worker.once('message', (t) => { got = true; r(t); }));
    worker.postMessage(busyUs);
    if (poll) {
      const spin = () => { if (!got) setImmediate(spin); };
      setImmediate(spin);
    }
    const sent = await answer;
    back.push((now() - sent) * 1000);
  }
  const cpu = process.cpuUsage(t0);
  return { hop: median(back), cpu: (cpu.user + cpu.system) / hops };
}

function pin(main, other) {
  try {
    execFileSync('taskset', ['-p', '-c', main, String(process.pid)], { stdio: 'ignore' });
    for (const t of workerTids) execFileSync('taskset', ['-p', '-c', other, t], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

console.log(`worker busy ${busyUs} µs per request, ${hops} hops each; median worker->main hop, process CPU per hop`);
const cpus = readdirSync('/sys/devices/system/cpu').filter((d) => /^cpu\d+$/.test(d)).length;
const layouts = [['free', null]];
if (cpus >= 2) layouts.push(['two CPUs (0 and 1)', ['0', '1']], ['one CPU (0)', ['0', '0']]);
for (const [label, p] of layouts) {
  if (p && !pin(...p)) continue;
  for (const poll of [false, true]) {
    const r = await measure(poll);
    console.log(`${label.padEnd(20)} main ${poll ? 'polls ' : 'sleeps'}: hop ${r.hop.toFixed(1).padStart(6)} µs, CPU ${r.cpu.toFixed(0).padStart(5)} µs`);
  }
}
await worker.terminate();
