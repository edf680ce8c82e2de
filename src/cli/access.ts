// `duet serve`'s access flags: the API key, Triton's restricted APIs and allowed browser origins.

import { readFileSync } from 'node:fs';
import { invalidArg } from '../core/errors.js';
import { parseRestrictions, type Restrictions } from '../security/auth.js';
import { parseAllowedOrigin } from '../security/cors.js';
import type { ServerOptions } from '../server.js';

/** The access flags' values, as the flag table (serve-flags.ts) gives them. */
export interface AccessValues {
  'api-key'?: string;
  'api-key-file'?: string;
  'http-restricted-api'?: string[];
  'grpc-restricted-protocol'?: string[];
  'cors-allow-origin'?: string[];
}

export type AccessOptions = Pick<ServerOptions, 'apiKey' | 'httpRestrictedApis' | 'grpcRestrictedProtocols' | 'corsAllowOrigins'>;

/**
 * Flags into server options; throws INVALID_ARGUMENT naming the flag. `keyFrom` names where --api-key
 * came from (e.g. DUET_API_KEY) for messages; never the key itself.
 */
export function accessOptions(values: AccessValues, keyFrom = '--api-key'): AccessOptions {
  if (values['api-key'] !== undefined && values['api-key-file'] !== undefined) {
    throw invalidArg(`give ${keyFrom === '--api-key' ? keyFrom : `--api-key (here from ${keyFrom})`} or --api-key-file, not both`);
  }
  let apiKey = values['api-key'];
  let from = keyFrom;
  if (values['api-key-file'] !== undefined) {
    from = `--api-key-file ${values['api-key-file']}`;
    try {
      apiKey = readFileSync(values['api-key-file'], 'utf8').trim();
    } catch (e) {
      throw invalidArg(`--api-key-file: cannot read '${values['api-key-file']}': ${(e as Error).message}`);
    }
  } else if (apiKey !== undefined) {
    apiKey = apiKey.trim();
  }
  if (apiKey !== undefined && apiKey === '') throw invalidArg(`the API key from ${from} is empty`);
  const origins = values['cors-allow-origin'] ?? [];
  origins.forEach(parseAllowedOrigin);
  const http: Restrictions = parseRestrictions(values['http-restricted-api'] ?? [], 'http-restricted-api');
  const grpc: Restrictions = parseRestrictions(values['grpc-restricted-protocol'] ?? [], 'grpc-restricted-protocol', 'triton-grpc-protocol-');
  return {
    apiKey,
    httpRestrictedApis: http,
    grpcRestrictedProtocols: grpc,
    corsAllowOrigins: origins.length ? origins : undefined,
  };
}

/** Startup-log lines saying what is on; never a key or a header's value. */
export function describeAccess(o: AccessOptions): string[] {
  const groups = (r: Restrictions | undefined) => {
    const byHeader = new Map<string, string[]>();
    for (const [c, { header }] of Object.entries(r ?? {})) byHeader.set(header, [...(byHeader.get(header) ?? []), c]);
    return [...byHeader].map(([h, cs]) => `${cs.join(',')} need '${h}'`).join('; ');
  };
  const lines = [o.apiKey
    ? 'API key: required on REST, gRPC and metrics (health live/ready exempt)'
    : 'API key: off (anyone who reaches the ports may call every API; set --api-key-file or DUET_API_KEY)'];
  const h = groups(o.httpRestrictedApis);
  const g = groups(o.grpcRestrictedProtocols);
  if (h) lines.push(`restricted REST APIs: ${h}`);
  if (g) lines.push(`restricted gRPC protocols: ${g}`);
  lines.push(o.corsAllowOrigins?.length
    ? `browsers: CORS allowed for ${o.corsAllowOrigins.join(', ')}; other cross-origin requests refused`
    : 'browsers: cross-origin requests refused (no --cors-allow-origin)');
  return lines;
}
