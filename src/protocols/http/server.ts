// The REST front-end on node:http: reads bodies (gzip/deflate, size-limited), routes, compresses
// answers the client accepts, and turns every error into {"error": "..."} with the table's status.

import http from 'node:http';
import https from 'node:https';
import net, { type AddressInfo } from 'node:net';
import tls from 'node:tls';
import { promisify } from 'node:util';
import zlib from 'node:zlib';
import { BudgetLease, type ByteBudget } from '../../core/budget.js';
import { asInferenceError, InferenceError } from '../../core/errors.js';
import type { Api } from '../../api/index.js';
import { discardRest, HttpError, readBody } from './body.js';
import { Exchange, type Conn } from './exchange.js';
import type { ConsoleSite } from './console.js';
import { ParsePool } from './parse-pool.js';
import { kserveRoutes, noRoute, type HttpReply } from './routes.js';
import { RouteTable } from './route-table.js';
import { openApiRoutes } from './openapi/routes.js';
import { openAiRoutes } from './openai/routes.js';
import { asOpenAiRefusal, isOpenAiPath, openAiErrorBody } from './openai/errors.js';
import { nodeTlsOptions, type ListenerTls } from '../../core/tls.js';
import { DEFAULT_HOST } from '../../core/listen.js';
import { admit, type Admission } from './admission.js';
import { DEFAULT_STREAM_IDLE_TIMEOUT_MS, finalFrameMs, idleTimeoutError, shutdownError, waitForDrain, type CloseReport } from '../lifecycle.js';

const gzip = promisify(zlib.gzip);
const deflate = promisify(zlib.deflate);

export interface HttpServerOptions {
  host?: string;
  port?: number;
  /** Largest request body accepted, after decompression. */
  maxBodyBytes?: number;
  /** Compress responses at least this large when the client accepts it. */
  compressMinBytes?: number;
  /** Serve HTTPS instead of HTTP. */
  tls?: ListenerTls;
  /** API key, restricted APIs and browser origins, checked before a body is read (admission.ts). */
  admission?: Admission;
  /** Bytes in flight across all requests; a body is held against it until its response is written. */
  budget?: ByteBudget;
  /** A request whose body stalls this long is dropped with 408 (0 = never). */
  requestTimeoutMs?: number;
  /** A streaming response whose reader takes no data for this long is cancelled; 0: never. */
  streamIdleTimeoutMs?: number;
  /** Answers gRPC-Web requests (and their CORS preflights) and says true; false leaves the request to REST. */
  grpcWeb?: (req: http.IncomingMessage, res: http.ServerResponse) => boolean;
  /** The web console: its static files (no key needed) and its settings route. */
  console?: ConsoleSite;
}

const EMPTY = Buffer.alloc(0);
const NO_CHUNKS: Uint8Array[] = [];
const NO_ADMISSION: Admission = {};

export const DEFAULT_HTTP_PORT = 8000;
export const DEFAULT_MAX_BODY = 64 * 1024 * 1024;
/** --request-timeout: as Triton's and most proxies' idle limits, a minute without bytes. */
export const DEFAULT_REQUEST_TIMEOUT_MS = 60_000;

function pickEncoding(accept: string | undefined): 'gzip' | 'deflate' | undefined {
  if (!accept) return undefined;
  const offered = accept.split(',').map((s) => {
    const [name, ...params] = s.trim().toLowerCase().split(';');
    const q = params.find((p) => p.trim().startsWith('q='));
    return { name: name.trim(), q: q ? Number(q.trim().slice(2)) : 1 };
  }).filter((e) => e.q > 0);
  const names = offered.sort((a, b) => b.q - a.q).map((e) => e.name);
  return names.find((n): n is 'gzip' | 'deflate' => n === 'gzip' || n === 'deflate');
}

const EXCHANGE = Symbol('duet.exchange');
type Answer = http.ServerResponse & { [EXCHANGE]?: Exchange };

function onResponseClose(this: Answer): void {
  const x = this[EXCHANGE]!;
  x.owner.answered(x, this);
}

export class HttpServer {
  readonly server: http.Server | https.Server;
  /** Every REST route this server answers: it dispatches with this table and documents it (openapi/). */
  readonly routes = new RouteTable();
  private readonly maxBody: number;
  private readonly compressMin: number;
  private readonly parsers = new ParsePool();
  private readonly idleMs: number;
  /** Set by close(): responses still to go out end their connection, so a keep-alive client cannot hold shutdown open. */
  private closing = false;
  private closed: Promise<CloseReport> | undefined;
  private readonly exchanges = new Set<Exchange>();
  /** Connections that carry requests, by the socket requests arrive on. */
  private readonly conns = new Map<net.Socket, Conn>();
  /** Every accepted TCP connection (under TLS, also those still in their handshake), for the final cut. */
  private readonly sockets = new Set<net.Socket>();

  constructor(private readonly api: Api, private readonly opts: HttpServerOptions = {}) {
    this.maxBody = opts.maxBodyBytes ?? DEFAULT_MAX_BODY;
    this.compressMin = opts.compressMinBytes ?? 1024;
    this.idleMs = opts.streamIdleTimeoutMs ?? DEFAULT_STREAM_IDLE_TIMEOUT_MS;
    const access = opts.admission?.access;
    this.routes.add(...kserveRoutes(), ...openAiRoutes());
    this.routes.add(...openApiRoutes(this.routes, { requiresKey: access?.requiresKey, restricted: access?.restrictedHeaders }));
    if (opts.console) this.routes.add(...opts.console.routes());
    const handler = (req: http.IncomingMessage, res: http.ServerResponse) => void this.handle(req, res);
    this.server = opts.tls
      ? https.createServer({ ...nodeTlsOptions(opts.tls), keepAliveTimeout: 65_000 }, handler)
      : http.createServer({ keepAliveTimeout: 65_000 }, handler);
    // Clients that hold the socket idle must not keep the process alive at shutdown.
    this.server.headersTimeout = 60_000;
    this.server.on('connection', (socket: net.Socket) => {
      this.sockets.add(socket);
      socket.once('close', () => this.sockets.delete(socket));
    });
    // Under TLS a request's socket is the TLSSocket of 'secureConnection', not the raw one.
    this.server.on(this.server instanceof tls.Server ? 'secureConnection' : 'connection', (socket: net.Socket) => this.track(socket));
  }

  private track(socket: net.Socket): Conn {
    const c: Conn = { active: 0, readAt: 0 };
    this.conns.set(socket, c);
    socket.once('close', () => this.conns.delete(socket));
    return c;
  }

  listen(): Promise<AddressInfo> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.opts.port ?? DEFAULT_HTTP_PORT, this.opts.host ?? DEFAULT_HOST, () => {
        this.server.off('error', reject);
        resolve(this.server.address() as AddressInfo);
      });
    });
  }

  /**
   * Stop accepting connections at once; requests in flight finish and their responses are written in
   * full; idle keep-alive connections close. Streams still open shortly before `graceMs` end with a
   * final error frame; whatever is left at `graceMs` is cut. Reports how many requests were cut.
   */
  close(graceMs = Infinity): Promise<CloseReport> {
    this.closing = true;
    this.closed ??= new Promise((resolve) => {
      let cut = 0;
      const timers: NodeJS.Timeout[] = [];
      // Not http.Server#close(): it calls closeIdleConnections(), which counts a connection whose response
      // has been ended (res.end()) but not yet flushed as idle and destroys it mid-body.
      net.Server.prototype.close.call(this.server, () => {
        for (const t of timers) clearTimeout(t);
        void this.parsers.close().then(() => resolve({ cut }));
      });
      for (const socket of this.conns.keys()) this.endIfIdle(socket);
      if (!Number.isFinite(graceMs)) return;
      timers.push(setTimeout(() => {
        for (const x of this.exchanges) {
          if (x.stream && !x.cut) {
            x.cut = true;
            cut++;
            x.cancel(shutdownError());
          }
        }
      }, Math.max(0, graceMs - finalFrameMs(graceMs))));
      timers.push(setTimeout(() => {
        for (const x of this.exchanges) if (!x.cut) cut++;
        for (const [socket, c] of this.conns) {
          // A connection with no response in progress but part of a request in: that request is cut too.
          if (c.active === 0 && socket.bytesRead > c.readAt) cut++;
          socket.destroy();
        }
        for (const socket of this.sockets) socket.destroy();
      }, graceMs));
    });
    return this.closed;
  }

  /** While closing: end a connection with no response in progress and no new request arriving. */
  private endIfIdle(socket: net.Socket): void {
    const c = this.conns.get(socket);
    if (this.closing && c && c.active === 0 && socket.bytesRead === c.readAt) socket.destroySoon();
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    if (this.opts.grpcWeb && this.aside(req, res, this.opts.grpcWeb)) return;
    // The console's files are public (a page must load before it can ask for a key); they skip the API.
    if (this.opts.console && this.aside(req, res, (q, s) => this.opts.console!.serve(q, s))) return;
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const path = q < 0 ? url : url.slice(0, q);
    const verb = req.method ?? 'GET';
    const socket = req.socket;
    const x = new Exchange(this, this.routes, verb, path, req, this.conns.get(socket) ?? this.track(socket));
    const ctx = x.ctx;
    this.exchanges.add(x);
    x.conn.active++;
    if (this.api.wrapper.logsAccess) x.writtenAt = socket.bytesWritten;
    (res as Answer)[EXCHANGE] = x;
    // One shared listener (no closure per response): see answered().
    res.on('close', onResponseClose);
    let body: Buffer | undefined;
    try {
      // Origin, then the wrapper's auth step, before a byte of the body is read.
      const gate = admit(req, this.opts.admission ?? NO_ADMISSION, this.api.wrapper, ctx);
      for (const k in gate.headers) res.setHeader(k, gate.headers[k]);
      if (gate.reply) return await this.send(req, res, isOpenAiPath(path) ? asOpenAiRefusal(gate.reply) : gate.reply);
      if (verb === 'POST' || verb === 'PUT') {
        if (this.opts.budget) x.lease = new BudgetLease(this.opts.budget);
        body = await readBody(req, {
          maxBytes: this.maxBody, lease: x.lease, signal: x,
          idleMs: this.opts.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS,
        });
      }
      if (!x.route) throw noRoute(verb, path);
      const reply = await x.route.handle(this.api, ctx, x.hit!.params, {
        body: body ?? EMPTY,
        headers: req.headers,
        parsers: this.parsers,
      });
      const sent = this.send(req, res, reply, x);
      if (sent) await sent;
    } catch (e) {
      if (res.headersSent) {
        res.destroy();
        return;
      }
      const status = e instanceof HttpError ? e.status : asInferenceError(e).httpStatus;
      const message = e instanceof HttpError || e instanceof InferenceError ? e.message : asInferenceError(e).message;
      // A body taken whole may still wait for node:http to mark the request complete.
      const unread = body === undefined && !req.complete;
      // A stalled body ends its connection; other refused bodies (too large, no budget) are read and
      // thrown away for a moment, so the client, still sending, reads the answer instead of a reset.
      const json = isOpenAiPath(path) ? openAiErrorBody(status, message, e) : { error: message };
      await this.send(req, res, { status, json, headers: status === 408 ? { connection: 'close' } : undefined });
      if (unread && status !== 408) discardRest(req);
    }
  }

  /**
   * A response's 'close': it comes after 'finish' (the whole response handed to the kernel), or alone
   * when the client went away (then the call is not counted as answered, as before).
   */
  answered(x: Exchange, res: http.ServerResponse): void {
    const wrapper = this.api.wrapper;
    const socket = x.socket;
    if (res.writableFinished) {
      if (wrapper.logsAccess) {
        x.bytesIn = socket.bytesRead - x.conn.readAt;
        x.bytesOut = socket.bytesWritten - x.writtenAt;
      }
      wrapper.finished(x.ctx, res.statusCode);
    }
    // The body's bytes are held until the response is written or the request dies.
    x.lease?.release();
    this.exchanges.delete(x);
    if (!res.writableFinished) x.cancel();
    x.conn.active--;
    x.conn.readAt = socket.bytesRead;
    this.endIfIdle(socket);
  }

  /**
   * gRPC-Web goes to its own transport, console files to the console; their connections are tracked as any
   * other (gRPC-Web's metrics and shutdown are gRPC's).
   */
  private aside(req: http.IncomingMessage, res: http.ServerResponse, handler: (req: http.IncomingMessage, res: http.ServerResponse) => boolean): boolean {
    if (this.closing) res.setHeader('connection', 'close');
    if (!handler(req, res)) {
      res.removeHeader('connection');
      return false;
    }
    const socket = req.socket;
    const conn = this.conns.get(socket) ?? this.track(socket);
    conn.active++;
    res.on('close', () => {
      conn.active--;
      conn.readAt = socket.bytesRead;
      this.endIfIdle(socket);
    });
    return true;
  }

  /**
   * Writes the reply. Not async: a plain reply is written in this tick and nothing is returned (no
   * promise per request); a stream or a compressed body returns the promise of its end.
   */
  private send(req: http.IncomingMessage, res: http.ServerResponse, reply: HttpReply, x?: Exchange): Promise<void> | undefined {
    const headers: http.OutgoingHttpHeaders = reply.headers ? { ...reply.headers } : {};
    if (reply.events) return this.sendEvents(res, reply.status, headers, reply.events, x);
    let text = reply.text;
    const chunks = reply.chunks ?? NO_CHUNKS;
    if (reply.json !== undefined) {
      text = JSON.stringify(reply.json);
      headers['content-type'] = 'application/json';
    } else if (text !== undefined || reply.chunks) {
      headers['content-type'] ??= 'application/json';
    }
    let length = text === undefined ? 0 : Buffer.byteLength(text, 'utf8');
    for (const c of chunks) length += c.byteLength;
    const enc = length >= this.compressMin ? pickEncoding(req.headers['accept-encoding']) : undefined;
    if (enc) return this.sendCompressed(res, reply.status, headers, text === undefined ? chunks : [Buffer.from(text, 'utf8'), ...chunks], enc);
    this.writeAll(res, reply.status, headers, length, text, chunks);
    return undefined;
  }

  private async sendCompressed(res: http.ServerResponse, status: number, headers: http.OutgoingHttpHeaders, parts: readonly Uint8Array[], enc: 'gzip' | 'deflate'): Promise<void> {
    const whole = parts.length === 1 ? parts[0] : Buffer.concat(parts);
    const packed = enc === 'gzip' ? await gzip(whole) : await deflate(whole);
    headers['content-encoding'] = enc;
    headers.vary = res.hasHeader('vary') ? `${String(res.getHeader('vary'))}, Accept-Encoding` : 'Accept-Encoding';
    this.writeAll(res, status, headers, packed.byteLength, undefined, [packed]);
  }

  private writeAll(res: http.ServerResponse, status: number, headers: http.OutgoingHttpHeaders, length: number, text: string | undefined, chunks: readonly Uint8Array[]): void {
    if (status !== 204) headers['content-length'] = length;
    if (this.closing) headers.connection = 'close';
    res.writeHead(status, headers);
    // Written in one tick: node:http corks the socket, so head and body leave in one write (a string
    // body is joined to the head; buffers go out with it in one writev).
    const last = chunks.length - 1;
    if (last < 0) {
      res.end(text);
      return;
    }
    if (text !== undefined) res.write(text);
    for (let i = 0; i < last; i++) res.write(chunks[i]);
    res.end(chunks[last]);
  }

  private async sendEvents(res: http.ServerResponse, status: number, headers: http.OutgoingHttpHeaders, events: AsyncIterable<string>, x?: Exchange): Promise<void> {
    if (this.closing) headers.connection = 'close';
    if (x) x.stream = true;
    res.writeHead(status, headers);
    const signal = x?.signal;
    // The server ending the stream (shutdown) aborts with an InferenceError: its error frame still goes out.
    const clientGone = () => signal?.aborted === true && !(signal.reason instanceof InferenceError);
    const it = events[Symbol.asyncIterator]();
    try {
      for (;;) {
        if (clientGone()) break;
        const n = await it.next();
        if (n.done) break;
        // A slow reader holds the stream here instead of growing the server's buffers; one that takes
        // nothing for the idle timeout is cut, which ends the model's stream too.
        if (res.write(n.value) || !signal || signal.aborted) continue;
        if (await waitForDrain(res, signal, this.idleMs) === 'timeout') {
          x!.cancel(idleTimeoutError(this.idleMs));
          res.destroy();
          break;
        }
      }
    } finally {
      await it.return?.();
      res.end();
    }
  }
}
