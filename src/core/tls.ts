// TLS settings for the listeners: one shape for the options, one check that PEM text is usable, and
// the node:tls options a listener is created with.

import { createPrivateKey, X509Certificate } from 'node:crypto';
import { createSecureContext, type TlsOptions as NodeTlsOptions } from 'node:tls';

/** PEM text (or its bytes). */
export type Pem = string | Buffer;

/** A certificate and its key; with `clientCa`, clients must present a certificate signed by it (mutual TLS). */
export interface TlsOptions {
  cert: Pem;
  key: Pem;
  clientCa?: Pem;
}

/** What one listener is given (the gRPC transport reads the same shape). */
export interface ListenerTls {
  cert: Pem;
  key: Pem;
  /** CA certificates that client certificates are verified against. */
  ca?: Pem;
  /** Refuse, at the handshake, a client without a certificate signed by `ca`. */
  requireClientCert: boolean;
}

/** A TLS setting that cannot work; the message names the setting. */
export class TlsConfigError extends Error {}

export function listenerTls(t: TlsOptions): ListenerTls {
  return { cert: t.cert, key: t.key, ca: t.clientCa, requireClientCert: t.clientCa !== undefined };
}

/** Options for tls/https/http2 createServer. */
export function nodeTlsOptions(t: ListenerTls): NodeTlsOptions {
  return { cert: t.cert, key: t.key, ca: t.ca, requestCert: t.requireClientCert, rejectUnauthorized: t.requireClientCert };
}

/** "TLS" or "mutual TLS" for the startup log (never any key material). */
export function describeTls(t: TlsOptions | null | undefined): string | undefined {
  if (!t) return undefined;
  return t.clientCa !== undefined ? 'mutual TLS: client certificates required' : 'TLS';
}

const firstLine = (e: unknown) => String((e as Error).message ?? e).split('\n')[0];

/**
 * Throws a TlsConfigError naming the setting when a certificate or key is not PEM, the key does not
 * belong to the certificate, or the client CA is not a certificate. `names` says what to call each
 * setting in the message (a flag, or an option path).
 */
export function checkTls(t: TlsOptions, names: { cert: string; key: string; clientCa: string } = { cert: 'tls.cert', key: 'tls.key', clientCa: 'tls.clientCa' }): void {
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(t.cert);
  } catch (e) {
    throw new TlsConfigError(`${names.cert} is not a PEM-encoded certificate (${firstLine(e)})`);
  }
  let key;
  try {
    key = createPrivateKey(t.key);
  } catch (e) {
    throw new TlsConfigError(`${names.key} is not a PEM-encoded private key without a passphrase (${firstLine(e)})`);
  }
  if (!cert.checkPrivateKey(key)) throw new TlsConfigError(`${names.key} is not the private key of the certificate in ${names.cert}`);
  if (t.clientCa !== undefined) {
    try {
      new X509Certificate(t.clientCa);
    } catch (e) {
      throw new TlsConfigError(`${names.clientCa} is not a PEM-encoded CA certificate (${firstLine(e)})`);
    }
  }
  try {
    createSecureContext({ cert: t.cert, key: t.key, ca: t.clientCa });
  } catch (e) {
    throw new TlsConfigError(`${names.cert} / ${names.key}${t.clientCa !== undefined ? ` / ${names.clientCa}` : ''} cannot be used for TLS (${firstLine(e)})`);
  }
}
