// HAProxy in front of Duet replicas, for the scale test: the config (README "Deploying" shows the same
// lines), the process, and its runtime API.

import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import net from 'node:net';
import { join } from 'node:path';

export interface Backend {
  name: string;
  rest: number;
  grpc: number;
  /** A slot the runtime API fills in later (address set, then enabled). */
  spare?: boolean;
}

/**
 * REST is balanced per request (HTTP/1.1 keep-alive to the backends, each request dispatched on its own);
 * gRPC per HTTP/2 stream: the frontend speaks h2, the backends h2c (`proto h2`), and `balance roundrobin`
 * picks a server for every stream, so one client connection reaches every replica. Active checks ask each
 * replica's REST port for /v2/health/ready; a draining replica answers 400 and leaves both pools.
 * Connection failures and empty responses are retried on another server (inference is safe to replay).
 */
export function haproxyConfig(o: { restPort: number; grpcPort: number; socket: string; backends: Backend[] }): string {
  const servers = (kind: 'rest' | 'grpc') => o.backends.map((b) => `  server ${b.name} 127.0.0.1:${b[kind]}${kind === 'grpc' ? ' proto h2' : ''}`
    + ` check port ${b.rest}${kind === 'grpc' ? ' check-proto h1' : ''}${b.spare ? ' disabled' : ''}`).join('\n');
  return `global
  maxconn 2000
  stats socket ${o.socket} mode 600 level admin

defaults
  mode http
  timeout connect 1s
  timeout client 30s
  timeout server 30s
  timeout check 1s
  retries 3
  option redispatch 1
  retry-on conn-failure empty-response 503
  option httpchk GET /v2/health/ready
  http-check expect status 200
  default-server inter 100ms fall 1 rise 1

frontend rest
  bind 127.0.0.1:${o.restPort}
  default_backend duet_rest

frontend grpc
  bind 127.0.0.1:${o.grpcPort} proto h2
  default_backend duet_grpc

backend duet_rest
  balance roundrobin
${servers('rest')}

backend duet_grpc
  balance roundrobin
${servers('grpc')}
`;
}

export class HAProxy {
  private out = '';
  private constructor(readonly child: ChildProcess, readonly socket: string) {
    child.stdout!.setEncoding('utf8').on('data', (s: string) => (this.out += s));
    child.stderr!.setEncoding('utf8').on('data', (s: string) => (this.out += s));
  }

  get output(): string {
    return this.out;
  }

  /** Writes the config into dir and starts haproxy in the foreground (-db), after checking the config (-c). */
  static async start(dir: string, config: string): Promise<HAProxy> {
    const cfg = join(dir, 'haproxy.cfg');
    await writeFile(cfg, config);
    const check = await run('haproxy', ['-c', '-f', cfg]);
    assert.equal(check.code, 0, `haproxy -c rejected the config:\n${check.out}\n${config}`);
    const socket = config.match(/stats socket (\S+)/)![1];
    return new HAProxy(spawn('haproxy', ['-db', '-f', cfg], { stdio: ['ignore', 'pipe', 'pipe'] }), socket);
  }

  /** One runtime API command (the admin socket); its answer. */
  command(line: string): Promise<string> {
    return new Promise((resolve, reject) => {
      const c = net.connect(this.socket);
      let answer = '';
      c.setEncoding('utf8').on('data', (s: string) => (answer += s));
      c.on('error', reject);
      c.on('end', () => resolve(answer));
      c.end(`${line}\n`);
    });
  }

  /** Each server's operational state (UP/DOWN/MAINT...) in backend, from `show servers state`. */
  async states(backend: string): Promise<Record<string, number>> {
    const text = await this.command(`show servers state ${backend}`);
    const out: Record<string, number> = {};
    // Columns: be_id be_name srv_id srv_name srv_addr srv_op_state ...; op state 2 is running (UP).
    for (const line of text.split('\n')) {
      const f = line.trim().split(/\s+/);
      if (f.length > 6 && f[1] === backend) out[f[3]] = Number(f[5]);
    }
    return out;
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise((r) => this.child.once('exit', r));
    this.child.kill('SIGTERM');
    const t = setTimeout(() => this.child.kill('SIGKILL'), 3000);
    await exited;
    clearTimeout(t);
  }
}

function run(cmd: string, args: string[]): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const c = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    c.stdout.setEncoding('utf8').on('data', (s: string) => (out += s));
    c.stderr.setEncoding('utf8').on('data', (s: string) => (out += s));
    c.on('error', (e) => resolve({ code: -1, out: `${cmd}: ${e.message} (Debian: apt-get install haproxy)` }));
    c.on('close', (code) => resolve({ code, out }));
  });
}

/** A port free right now on 127.0.0.1 (for listeners that cannot report a port 0 choice back). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}
