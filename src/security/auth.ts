// Who may make which call, the same for every protocol: the API key (`Authorization: Bearer KEY`) and
// Triton's restricted-API groups (a category of calls needs one header with one value). Front-ends
// name the call (a gRPC method name or path; REST routes use the name of the gRPC method they match)
// and give read access to the request's headers or metadata; nothing here knows about a wire.

import { createHash, timingSafeEqual } from 'node:crypto';
import { InferenceError, invalidArg } from '../core/errors.js';

/** Triton's restricted-API categories, in its order. */
export const CATEGORIES = [
  'health', 'metadata', 'inference', 'shared-memory', 'model-config', 'model-repository', 'statistics', 'trace', 'logging',
] as const;
export type Category = (typeof CATEGORIES)[number];

/** Each call's category by method name; the REST routes map onto the same names (Triton groups them the same way). */
const CATEGORY_OF: Record<string, Category> = {
  ServerLive: 'health', ServerReady: 'health', ModelReady: 'health', Health: 'health',
  ServerMetadata: 'metadata', ModelMetadata: 'metadata',
  ModelInfer: 'inference', ModelStreamInfer: 'inference', Predict: 'inference', Generate: 'inference',
  ModelConfig: 'model-config',
  ModelStatistics: 'statistics',
  RepositoryIndex: 'model-repository', RepositoryModelLoad: 'model-repository', RepositoryModelUnload: 'model-repository',
  SystemSharedMemoryStatus: 'shared-memory', SystemSharedMemoryRegister: 'shared-memory', SystemSharedMemoryUnregister: 'shared-memory',
  CudaSharedMemoryStatus: 'shared-memory', CudaSharedMemoryRegister: 'shared-memory', CudaSharedMemoryUnregister: 'shared-memory',
  TraceSetting: 'trace',
  LogSettings: 'logging',
};

/**
 * Calls open without the API key: what Kubernetes probes and load balancers ask, and PublicFile, the
 * REST routes of static documents a browser opens by link (the OpenAPI document), which hold no state.
 */
const KEY_EXEMPT = new Set(['ServerLive', 'ServerReady', 'Health', 'PublicFile']);

/** True when a call needs no API key (for the OpenAPI document's security requirements). */
export const keyExempt = (method: string): boolean => KEY_EXEMPT.has(operationName(method));

/** '/inference.GRPCInferenceService/ModelInfer' -> 'ModelInfer'; every grpc.health.v1.Health method -> 'Health'. */
export function operationName(method: string): string {
  if (!method.startsWith('/')) return method;
  const [service, name = ''] = method.slice(1).split('/');
  return service === 'grpc.health.v1.Health' ? 'Health' : name;
}

/** The category of a call, or undefined for calls outside Triton's groups (reflection, unknown routes). */
export function categoryOf(method: string): Category | undefined {
  return CATEGORY_OF[operationName(method)];
}

export interface Restriction {
  /** Header (gRPC metadata key) name, lower case. */
  header: string;
  value: string;
}
export type Restrictions = Partial<Record<Category, Restriction>>;

export interface AccessPolicy {
  /** When set, every call but the exempt ones needs `Authorization: Bearer <apiKey>`. */
  apiKey?: string;
  restrictions?: Restrictions;
  /** Triton's word in the refusal: 'API' on REST, 'protocol' on gRPC. */
  restrictedNoun?: 'API' | 'protocol';
}

/** Reads one request header (or gRPC metadata value) by lower-case name. */
export type HeaderReader = (name: string) => string | undefined;

const digest = (s: string) => createHash('sha256').update(s, 'utf8').digest();

/** Equal strings, in time that does not depend on where they differ (both are hashed to 32 bytes first). */
export function sameSecret(presented: string, expectedDigest: Buffer): boolean {
  return timingSafeEqual(digest(presented), expectedDigest);
}

const BEARER = /^Bearer[ \t]+([^ \t].*?)[ \t]*$/i;

export class AccessControl {
  private readonly keyDigest: Buffer | undefined;
  private readonly restricted: [Category, Restriction, Buffer][];
  private readonly noun: string;

  constructor(policy: AccessPolicy = {}) {
    if (policy.apiKey !== undefined && policy.apiKey === '') throw invalidArg('the API key must not be empty');
    this.keyDigest = policy.apiKey === undefined ? undefined : digest(policy.apiKey);
    this.restricted = Object.entries(policy.restrictions ?? {}).map(([c, r]) => [c as Category, { header: r.header.toLowerCase(), value: r.value }, digest(r.value)]);
    this.noun = policy.restrictedNoun ?? 'API';
  }

  /** True when any check is configured (front-ends skip the work otherwise). */
  get enabled(): boolean {
    return this.keyDigest !== undefined || this.restricted.length > 0;
  }

  /** The restricted groups' header names (a browser's preflight must be allowed to send them). */
  get headerNames(): string[] {
    return [...new Set(this.restricted.map(([, r]) => r.header))];
  }

  /** Each restricted category's header name (for the OpenAPI document; the values stay here). */
  get restrictedHeaders(): Partial<Record<Category, string>> {
    return Object.fromEntries(this.restricted.map(([c, r]) => [c, r.header]));
  }

  get requiresKey(): boolean {
    return this.keyDigest !== undefined;
  }

  /** Why this call may not go on, or undefined when it may. `method` is a method name or a gRPC path. */
  check(method: string, header: HeaderReader): InferenceError | undefined {
    const op = operationName(method);
    if (this.keyDigest && !KEY_EXEMPT.has(op)) {
      const denied = this.checkKey(header);
      if (denied) return denied;
    }
    const category = CATEGORY_OF[op];
    if (category === undefined) return undefined;
    for (const [c, r, valueDigest] of this.restricted) {
      if (c !== category) continue;
      const got = header(r.header);
      if (got === undefined || !sameSecret(got, valueDigest)) {
        return new InferenceError('PERMISSION_DENIED', `This ${this.noun} is restricted, expecting header '${r.header}'`);
      }
    }
    return undefined;
  }

  /** The API key alone (the metrics port has no categories). Undefined when it matches or none is set. */
  checkKey(header: HeaderReader): InferenceError | undefined {
    if (!this.keyDigest) return undefined;
    const auth = header('authorization');
    if (auth === undefined || auth === '') {
      return new InferenceError('UNAUTHENTICATED', `this server requires an API key: send the header 'Authorization: Bearer <key>'`);
    }
    const m = BEARER.exec(auth);
    if (!m) return new InferenceError('UNAUTHENTICATED', `the Authorization header must be 'Bearer <key>'`);
    if (!sameSecret(m[1], this.keyDigest)) return new InferenceError('UNAUTHENTICATED', 'the API key in the Authorization header is not valid');
    return undefined;
  }
}

const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/**
 * Triton's `--http-restricted-api` / `--grpc-restricted-protocol` values, `<categories>:<header>=<value>`
 * (split at the first ':' and the first '=' after it), into one table. A category may be in one group
 * only. `headerPrefix` is Triton's 'triton-grpc-protocol-' for gRPC, so its clients' metadata keeps working.
 */
export function parseRestrictions(args: readonly string[], flag: string, headerPrefix = ''): Restrictions {
  const out: Restrictions = {};
  const what = flag.includes('grpc') ? 'protocol' : 'API';
  for (const arg of args) {
    const colon = arg.indexOf(':');
    const eq = colon < 0 ? -1 : arg.indexOf('=', colon + 1);
    const names = colon < 0 ? '' : arg.slice(0, colon);
    const key = eq < 0 ? '' : arg.slice(colon + 1, eq);
    const value = eq < 0 ? '' : arg.slice(eq + 1);
    if (!names || !key || !value) throw invalidArg(`--${flag} format is '<categories>:<header>=<value>', got '${arg}'`);
    if (!TOKEN.test(key)) throw invalidArg(`--${flag}: '${key}' is not a valid header name`);
    for (const raw of names.split(',')) {
      const name = raw.trim();
      if (!(CATEGORIES as readonly string[]).includes(name)) {
        throw invalidArg(`--${flag}: unknown restricted ${what} '${name}'; use ${CATEGORIES.join(', ')}`);
      }
      if (out[name as Category]) throw invalidArg(`--${flag}: restricted ${what} '${name}' can not be in more than one group`);
      out[name as Category] = { header: (headerPrefix + key).toLowerCase(), value };
    }
  }
  return out;
}
