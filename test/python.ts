// Running Debian's Python for the interop checks: a script prints one JSON line per check
// ({"check": name, "ok": bool, "detail": ...}) and each line becomes a node test.

import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';

export const PYTHON = '/usr/bin/python3'; // Debian's, where the python3-* packages install; not a pyenv one on PATH

export interface Run {
  code: number | null;
  signal: string | null;
  timedOut: boolean;
  stdout: string;
  stderr: string;
}

interface Check {
  check: string;
  ok: boolean;
  detail: unknown;
}

export function python(args: string[], timeout: number): Promise<Run> {
  // A pyenv or virtualenv setting must not redirect Debian's interpreter to other site-packages.
  const env: NodeJS.ProcessEnv = { ...process.env, PYTHONDONTWRITEBYTECODE: '1' };
  for (const k of ['PYTHONPATH', 'PYTHONHOME', 'PYTHONSTARTUP', 'VIRTUAL_ENV']) delete env[k];
  return new Promise((resolve) => {
    execFile(PYTHON, args, { timeout, maxBuffer: 16 * 1024 * 1024, env, killSignal: 'SIGKILL' }, (err, stdout, stderr) => {
      const e = err as (NodeJS.ErrnoException & { code?: number | string; killed?: boolean; signal?: string }) | null;
      resolve({
        code: e ? (typeof e.code === 'number' ? e.code : null) : 0,
        signal: e?.signal ?? null,
        timedOut: Boolean(e?.killed),
        stdout: String(stdout),
        stderr: String(stderr) + (e && typeof e.code === 'string' ? `\n${e.message}` : ''),
      });
    });
  });
}

export const tail = (s: string, n = 2000) => (s.length > n ? `...${s.slice(-n)}` : s).trim();

/** Why Debian's Python cannot run the checks (with how to fix it), or undefined when it can. */
export async function pythonMissing(modules: string, installHint: string): Promise<string | undefined> {
  if (!existsSync(PYTHON)) return `${PYTHON} does not exist; ${installHint}`;
  const r = await python(['-c', `import ${modules}`], 30_000);
  if (r.code !== 0) return `${PYTHON} cannot import ${modules}: ${tail(r.stderr, 600)}\n${installHint}`;
  return undefined;
}

/**
 * A suite `label` with one test per expected check and one for the script's exit status; `run` (in a
 * before hook) runs the script, or throws why it cannot. A check the script does not report fails by name.
 */
export function checkTests(label: string, script: string, expected: string[], run: () => Promise<Run>, timeoutMs: number): void {
  describe(label, () => {
    let result: Run;
    const checks = new Map<string, Check>();
    before(async () => {
      result = await run();
      for (const line of result.stdout.split('\n')) {
        if (!line.startsWith('{')) continue;
        try {
          const c = JSON.parse(line) as Check;
          if (typeof c.check === 'string') checks.set(c.check, c);
        } catch {
          // not one of ours; shown below if the run failed
        }
      }
    });
    const how = () =>
      `${script} ${result.timedOut ? `timed out after ${timeoutMs} ms` : `exited with code ${result.code}${result.signal ? ` (signal ${result.signal})` : ''}`}` +
      `\nstderr: ${tail(result.stderr) || '(empty)'}`;
    const detail = (d: unknown) => (typeof d === 'string' ? d : JSON.stringify(d));

    for (const name of expected) {
      test(name, () => {
        const c = checks.get(name);
        if (!c) assert.fail(`check '${name}' was not reported; ${how()}`);
        assert.ok(c.ok, `check '${name}' failed: ${detail(c.detail)}`);
      });
    }
    // Also fails on a check that failed but is not in `expected` (the script exits 1 then).
    test(`${script} ran to completion and exited 0`, () => {
      assert.equal(result.code, 0, how());
    });
  });
}
