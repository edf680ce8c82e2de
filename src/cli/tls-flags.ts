// The TLS flags of `duet serve`: --tls-* for every listener, and Triton's --grpc-* SSL flags for the
// gRPC listener alone (each falls back to its --tls-* counterpart). Files are read and checked here so
// a bad one stops startup with the flag named.

import { readFileSync } from 'node:fs';
import { checkTls, TlsConfigError, type TlsOptions } from '../core/tls.js';

/** The TLS flags' values, as the flag table (serve-flags.ts) gives them. */
export type TlsFlagValues = {
  [K in 'tls-cert' | 'tls-key' | 'tls-client-ca' | 'grpc-use-ssl' | 'grpc-use-ssl-mutual' | 'grpc-server-cert' | 'grpc-server-key' | 'grpc-root-cert']?: string;
};

export interface TlsFlags {
  /** REST and metrics. */
  tls?: TlsOptions;
  /** gRPC: undefined = as `tls`, null = plaintext. */
  grpcTls?: TlsOptions | null;
  /** Flags that were given but have no effect, for the log. */
  warnings: string[];
}

/** Triton's bool values. */
function bool(name: string, v: string | undefined): boolean | undefined {
  if (v === undefined) return undefined;
  const s = v.toLowerCase();
  if (s === 'true' || s === 'on' || s === '1') return true;
  if (s === 'false' || s === 'off' || s === '0') return false;
  throw new TlsConfigError(`--${name} must be true or false (or 1/0, on/off), got '${v}'`);
}

export function tlsFromFlags(v: TlsFlagValues, read: (path: string) => Buffer = readFileSync): TlsFlags {
  const files = new Map<string, Buffer>();
  const file = (flag: keyof TlsFlagValues): Buffer => {
    const path = v[flag]!;
    let pem = files.get(path);
    if (!pem) {
      try {
        pem = read(path);
      } catch (e) {
        throw new TlsConfigError(`--${flag}: cannot read '${path}' (${(e as Error).message})`);
      }
      files.set(path, pem);
    }
    return pem;
  };
  const named = (flag: keyof TlsFlagValues) => `--${flag} '${v[flag]}'`;
  const warnings: string[] = [];

  if (v['tls-cert'] !== undefined && v['tls-key'] === undefined) throw new TlsConfigError('--tls-cert needs --tls-key (the certificate\'s private key)');
  if (v['tls-key'] !== undefined && v['tls-cert'] === undefined) throw new TlsConfigError('--tls-key needs --tls-cert (the certificate it belongs to)');
  if (v['tls-client-ca'] !== undefined && v['tls-cert'] === undefined) throw new TlsConfigError('--tls-client-ca needs --tls-cert and --tls-key (mutual TLS is TLS first)');
  let tls: TlsOptions | undefined;
  if (v['tls-cert'] !== undefined) {
    tls = { cert: file('tls-cert'), key: file('tls-key'), ...(v['tls-client-ca'] !== undefined ? { clientCa: file('tls-client-ca') } : {}) };
    checkTls(tls, { cert: named('tls-cert'), key: named('tls-key'), clientCa: named('tls-client-ca') });
  }

  const useSsl = bool('grpc-use-ssl', v['grpc-use-ssl']);
  const mutualFlag = bool('grpc-use-ssl-mutual', v['grpc-use-ssl-mutual']);
  const grpcFiles = (['grpc-server-cert', 'grpc-server-key', 'grpc-root-cert'] as const).filter((f) => v[f] !== undefined);
  if (useSsl === undefined && mutualFlag === undefined && grpcFiles.length === 0) return { tls, warnings };

  // Triton: --grpc-use-ssl-mutual turns SSL on whatever its value.
  if (!(mutualFlag !== undefined || (useSsl ?? tls !== undefined))) {
    if (grpcFiles.length) warnings.push(`${grpcFiles.map((f) => `--${f}`).join(', ')} ignored: gRPC is plaintext without --grpc-use-ssl true (as in Triton)`);
    return { tls, grpcTls: null, warnings };
  }
  const certFlag = v['grpc-server-cert'] !== undefined ? 'grpc-server-cert' : 'tls-cert';
  const keyFlag = v['grpc-server-key'] !== undefined ? 'grpc-server-key' : 'tls-key';
  const caFlag = v['grpc-root-cert'] !== undefined ? 'grpc-root-cert' : 'tls-client-ca';
  const why = mutualFlag !== undefined ? '--grpc-use-ssl-mutual' : '--grpc-use-ssl true';
  if (v[certFlag] === undefined) throw new TlsConfigError(`${why} needs --grpc-server-cert (or --tls-cert)`);
  if (v[keyFlag] === undefined) throw new TlsConfigError(`${why} needs --grpc-server-key (or --tls-key)`);
  const mutual = mutualFlag ?? v['tls-client-ca'] !== undefined;
  if (mutual && v[caFlag] === undefined) throw new TlsConfigError('--grpc-use-ssl-mutual needs --grpc-root-cert (or --tls-client-ca): the CA that signs client certificates');
  if (!mutual && v['grpc-root-cert'] !== undefined) warnings.push('--grpc-root-cert ignored: client certificates are only checked with --grpc-use-ssl-mutual true');
  const grpcTls: TlsOptions = { cert: file(certFlag), key: file(keyFlag), ...(mutual ? { clientCa: file(caFlag) } : {}) };
  checkTls(grpcTls, { cert: named(certFlag), key: named(keyFlag), clientCa: named(caFlag) });
  return { tls, grpcTls, warnings };
}
