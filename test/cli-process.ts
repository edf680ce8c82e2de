// `duet serve` in a child process, for tests of signals, exit codes and the log.

import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const CLI = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Every child started here; killAll() (from an after hook) makes sure none outlives the tests. */
const children = new Set<ChildProcess>();
export function killAll(): void {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
}

export class Cli {
  stdout = '';
  stderr = '';
  readonly exited: Promise<Exit>;
  readonly child: ChildProcess;

  constructor(args: string[], env?: NodeJS.ProcessEnv) {
    this.child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env });
    children.add(this.child);
    this.child.stdout!.setEncoding('utf8').on('data', (s: string) => (this.stdout += s));
    this.child.stderr!.setEncoding('utf8').on('data', (s: string) => (this.stderr += s));
    this.exited = new Promise((resolve) => this.child.on('exit', (code, signal) => resolve({ code, signal })));
  }

  /** `duet serve` on 127.0.0.1 with free ports and no metrics listener. */
  static serve(repo: string, extra: string[] = []): Cli {
    return new Cli(['serve', '--model-repository', repo, '--host', '127.0.0.1', '--http-port', '0', '--grpc-port', '0', '--metrics-port', 'off', ...extra]);
  }

  get output(): string {
    return `stdout:\n${this.stdout}\nstderr:\n${this.stderr}`;
  }

  /** Waits for the exit, killing the process (and failing) if it takes longer than ms. */
  async exit(ms: number): Promise<Exit> {
    const timer = setTimeout(() => this.child.kill('SIGKILL'), ms);
    try {
      const e = await this.exited;
      assert.notEqual(e.signal, 'SIGKILL', `the CLI did not exit within ${ms} ms\n${this.output}`);
      return e;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Waits until stdout matches re, failing if the process exits first or ms pass. */
  async waitFor(re: RegExp, ms: number): Promise<RegExpMatchArray> {
    const deadline = Date.now() + ms;
    for (;;) {
      const m = this.stdout.match(re);
      if (m) return m;
      if (this.child.exitCode !== null || this.child.signalCode !== null) {
        assert.fail(`the CLI exited (${this.child.exitCode ?? this.child.signalCode}) before printing ${re}\n${this.output}`);
      }
      if (Date.now() > deadline) assert.fail(`no ${re} within ${ms} ms\n${this.output}`);
      await sleep(20);
    }
  }

  /** The REST port from the startup log. */
  async port(ms = 30_000): Promise<number> {
    return (await this.ports(false, ms)).http;
  }

  /** The REST and gRPC ports from the startup log (with withGrpc false, gRPC is off: 0). */
  async ports(withGrpc = true, ms = 30_000): Promise<{ http: number; grpc: number }> {
    const http = Number((await this.waitFor(/REST .*listening on https?:\/\/[^\s]*:(\d+)/, ms))[1]);
    const grpc = withGrpc ? Number((await this.waitFor(/gRPC .*listening on [^\s]*:(\d+)/, ms))[1]) : 0;
    return { http, grpc };
  }
}
