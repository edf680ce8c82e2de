// An emulated network link for `duet bench --suite link`: a TCP proxy on 127.0.0.1 that delays every
// byte by a fixed one-way latency and caps each direction's rate with a token bucket. It passes the
// bytes through untouched (HTTP/1.1, HTTP/2, anything over TCP). The kernel here has no netem and
// Debian packages no link emulator, so this is an emulation in user space: the TCP handshake itself
// is not delayed, timers fire at millisecond granularity, and the proxy's own CPU is on the machine.

import net from 'node:net';
import { performance } from 'node:perf_hooks';

export interface LinkSpec {
  /** Short name, e.g. "10 ms / 100 Mbit/s". */
  name: string;
  /** One-way delay added in each direction, ms (the round trip gains twice this). */
  latencyMs: number;
  /** Rate cap per direction, bits per second; Infinity for none. */
  rateBps: number;
  /** Token-bucket depth in bytes (the largest burst sent at once); default 16 KiB. */
  burstBytes?: number;
}

/** The links the suite measures by default: a LAN, a fast WAN, a slow WAN. */
export const DEFAULT_LINKS: LinkSpec[] = [
  { name: '1 ms / 1 Gbit/s', latencyMs: 1, rateBps: 1e9 },
  { name: '10 ms / 100 Mbit/s', latencyMs: 10, rateBps: 100e6 },
  { name: '50 ms / 10 Mbit/s', latencyMs: 50, rateBps: 10e6 },
];

/** "10ms/100mbit" (also "10 ms / 100 Mbit/s", units kbit, mbit, gbit) to a LinkSpec. */
export function parseLink(s: string): LinkSpec {
  const m = /^\s*([\d.]+)\s*ms\s*\/\s*([\d.]+)\s*(k|m|g)bit(?:\/s)?\s*$/i.exec(s);
  if (!m) throw new Error(`--links: '${s}' is not LATENCYms/RATE[k|m|g]bit, e.g. 10ms/100mbit`);
  const latencyMs = Number(m[1]);
  const rateBps = Number(m[2]) * { k: 1e3, m: 1e6, g: 1e9 }[m[3].toLowerCase() as 'k' | 'm' | 'g'];
  if (!Number.isFinite(latencyMs) || !(rateBps > 0)) throw new Error(`--links: '${s}' needs a latency and a positive rate`);
  const rate = rateBps >= 1e9 ? `${rateBps / 1e9} Gbit/s` : rateBps >= 1e6 ? `${rateBps / 1e6} Mbit/s` : `${rateBps / 1e3} kbit/s`;
  return { name: `${latencyMs} ms / ${rate}`, latencyMs, rateBps };
}

/**
 * When each chunk of one direction reaches the far end: a token bucket of `burstBytes` filling at
 * the rate decides when it leaves, the latency is added to that. Pure (times are given), so its
 * arithmetic is tested exactly; chunks larger than the bucket leave in bucket-sized pieces.
 */
export class LinkShaper {
  private readonly bytesPerMs: number;
  private readonly burst: number;
  private tokens: number;
  /** The time `tokens` was computed for (may lie ahead of now while a queue drains). */
  private at = -Infinity;

  constructor(private readonly link: Pick<LinkSpec, 'latencyMs' | 'rateBps' | 'burstBytes'>) {
    if (!(link.latencyMs >= 0)) throw new RangeError(`latency must be >= 0 ms, got ${link.latencyMs}`);
    if (!(link.rateBps > 0)) throw new RangeError(`rate must be > 0 bit/s, got ${link.rateBps}`);
    this.bytesPerMs = link.rateBps / 8 / 1000;
    this.burst = Math.max(1, link.burstBytes ?? 16 * 1024);
    this.tokens = this.burst;
  }

  /** The delivery time (ms, the clock of `now`) of `bytes` arriving at `now`, given every earlier chunk. */
  schedule(now: number, bytes: number): number {
    let left = bytes;
    let depart = now;
    do {
      const piece = Math.min(left, this.burst);
      const t = Math.max(now, this.at);
      if (!Number.isFinite(this.bytesPerMs)) this.tokens = this.burst;
      else if (t > this.at) this.tokens = Math.min(this.burst, this.tokens + (t - this.at) * this.bytesPerMs);
      if (this.tokens >= piece) {
        depart = t;
        this.tokens -= piece;
        this.at = t;
      } else {
        depart = t + (piece - this.tokens) / this.bytesPerMs;
        this.tokens = 0;
        this.at = depart;
      }
      left -= piece;
    } while (left > 0);
    return depart + this.link.latencyMs;
  }
}

export interface LinkStats {
  connections: number;
  /** Bytes carried client to server, and server to client. */
  upBytes: number;
  downBytes: number;
  /** Chunks written before their scheduled time (must stay 0: the emulation never runs early). */
  early: number;
}

export interface LinkProxy {
  /** host:port to connect to instead of the target. */
  address: string;
  port: number;
  stats: LinkStats;
  /** Open connections now. */
  open(): number;
  close(): Promise<void>;
}

/** One direction of one connection: chunks wait in order for their delivery time, then are written. */
class Pipe {
  private readonly queue: { at: number; buf: Buffer }[] = [];
  private queued = 0;
  private timer: NodeJS.Timeout | undefined;
  /** The sender's end has been read (and is passed on once the queue is delivered). */
  ended = false;

  constructor(private readonly from: net.Socket, private readonly to: net.Socket, private readonly shaper: LinkShaper,
    private readonly stats: LinkStats, private readonly count: (n: number) => void, private readonly maxQueued: number) {
    from.on('data', (buf: Buffer) => this.push(buf));
    from.on('end', () => {
      this.ended = true;
      this.flush();
    });
  }

  private push(buf: Buffer): void {
    const now = performance.now();
    const at = this.shaper.schedule(now, buf.byteLength);
    this.count(buf.byteLength);
    if (this.queue.length === 0 && at <= now) {
      this.to.write(buf);
      return;
    }
    this.queue.push({ at, buf });
    this.queued += buf.byteLength;
    // Like a router's buffer: a sender faster than the link is held back by TCP, not by our memory.
    if (this.queued > this.maxQueued) this.from.pause();
    this.arm();
  }

  private arm(): void {
    if (this.timer || this.queue.length === 0) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.flush();
    }, Math.max(0, this.queue[0].at - performance.now()));
  }

  private flush(): void {
    const now = performance.now();
    while (this.queue.length && this.queue[0].at <= now) {
      const { at, buf } = this.queue.shift()!;
      if (performance.now() < at) this.stats.early++;
      this.queued -= buf.byteLength;
      if (!this.to.destroyed) this.to.write(buf);
    }
    if (this.queued <= this.maxQueued / 2 && this.from.isPaused()) this.from.resume();
    if (this.queue.length) this.arm();
    else if (this.ended && !this.to.destroyed) this.to.end();
  }

  stop(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }
}

/** Start the proxy: connections to it are carried to `target` (host:port) over the emulated link. */
export function startLinkProxy(target: string, link: LinkSpec): Promise<LinkProxy> {
  const [host, portText] = [target.slice(0, target.lastIndexOf(':')), target.slice(target.lastIndexOf(':') + 1)];
  const stats: LinkStats = { connections: 0, upBytes: 0, downBytes: 0, early: 0 };
  const sockets = new Set<net.Socket>();
  // A window of the bandwidth-delay product, at least 1 MiB, queued per direction before the sender is paused.
  const bdp = Number.isFinite(link.rateBps) ? (link.rateBps / 8) * (link.latencyMs / 1000) * 2 : 0;
  const maxQueued = Math.max(1 << 20, bdp);
  // Half-open allowed: each direction ends on its own, after its delayed bytes are delivered.
  const server = net.createServer({ allowHalfOpen: true }, (client) => {
    stats.connections++;
    client.pause();
    const upstream = net.connect({ host: host.replace(/^\[|\]$/g, ''), port: Number(portText), allowHalfOpen: true });
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.setNoDelay(true);
      s.on('close', () => sockets.delete(s));
      // Either end failing takes the other down, as a broken link would.
      s.on('error', () => {
        client.destroy();
        upstream.destroy();
      });
    }
    const pipes = [
      new Pipe(client, upstream, new LinkShaper(link), stats, (n) => (stats.upBytes += n), maxQueued),
      new Pipe(upstream, client, new LinkShaper(link), stats, (n) => (stats.downBytes += n), maxQueued),
    ];
    const done = () => {
      if (client.destroyed && upstream.destroyed) for (const p of pipes) p.stop();
    };
    // A reset or error on one side resets the other; a clean end is passed on by its pipe once delivered.
    client.on('close', (hadError) => {
      if (hadError || !pipes[0].ended) upstream.destroy();
      done();
    });
    upstream.on('close', (hadError) => {
      if (hadError || !pipes[1].ended) client.destroy();
      done();
    });
    upstream.once('connect', () => client.resume());
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as net.AddressInfo).port;
      resolve({
        address: `127.0.0.1:${port}`,
        port,
        stats,
        open: () => sockets.size,
        close: () => new Promise<void>((done) => {
          for (const s of sockets) s.destroy();
          server.close(() => done());
        }),
      });
    });
  });
}

/**
 * The time a request and its response spend on the link itself: both one-way latencies and each
 * direction's bytes beyond the first burst at the link's rate, ms (what the shaper above imposes).
 * What a faster protocol cannot save on that link.
 */
export function transferMs(link: Pick<LinkSpec, 'latencyMs' | 'rateBps' | 'burstBytes'>, upBytes: number, downBytes: number): number {
  const perByte = Number.isFinite(link.rateBps) ? 8000 / link.rateBps : 0;
  const burst = link.burstBytes ?? 16 * 1024;
  return 2 * link.latencyMs + (Math.max(0, upBytes - burst) + Math.max(0, downBytes - burst)) * perByte;
}
