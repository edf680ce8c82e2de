// The Dockerfile read without a Docker engine: its stages and the runtime stage's environment, for the
// container test and for the manifests' check of what a pod of the image runs.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from '../harness.js';

export interface Instruction {
  op: string;
  args: string;
}

export interface Stage {
  from: string;
  name?: string;
  body: Instruction[];
}

/** The Dockerfile's stages: FROM's image (ARG defaults substituted) and the instructions after it. */
export function parseDockerfile(text: string): Stage[] {
  const args: Record<string, string> = {};
  const stages: Stage[] = [];
  const lines = text.replace(/\\\n/g, ' ').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
  for (const line of lines) {
    const [, op, rest] = line.match(/^(\w+)\s+(.*)$/)!;
    const sub = rest.replace(/\$\{(\w+)\}/g, (_, n: string) => args[n] ?? '');
    if (op.toUpperCase() === 'ARG' && stages.length === 0) {
      const [k, v] = sub.split('=');
      args[k] = v ?? '';
    } else if (op.toUpperCase() === 'FROM') {
      const [from, , name] = sub.split(/\s+/);
      stages.push({ from, name, body: [] });
    } else {
      stages.at(-1)!.body.push({ op: op.toUpperCase(), args: rest });
    }
  }
  return stages;
}

/** ENV's K=V pairs (unquoted values, as this Dockerfile writes them). */
export function envOf(stage: Stage): Record<string, string> {
  const env: Record<string, string> = {};
  for (const i of stage.body.filter((x) => x.op === 'ENV')) {
    for (const pair of i.args.split(/\s+/)) {
      const at = pair.indexOf('=');
      env[pair.slice(0, at)] = pair.slice(at + 1);
    }
  }
  return env;
}

/** The project's Dockerfile: its stages, the runtime (last) stage and that stage's environment. */
export function projectDockerfile() {
  const stages = parseDockerfile(readFileSync(join(ROOT, 'Dockerfile'), 'utf8'));
  const runtime = stages.at(-1)!;
  return { stages, runtime, env: envOf(runtime) };
}
