// Flag combinations that fail before any certificate is parsed (test/tls.test.ts covers real certificates).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tlsFromFlags, type TlsFlagValues } from './tls-flags.js';

const notPem = () => Buffer.from('hello');
const fails = (v: TlsFlagValues, re: RegExp, read = notPem) => assert.throws(() => tlsFromFlags(v, read), re);

test('no TLS flags: plaintext everywhere', () => {
  assert.deepEqual(tlsFromFlags({}, notPem), { tls: undefined, warnings: [] });
});

test('a certificate needs its key and the other way round; a client CA needs both', () => {
  fails({ 'tls-cert': 'c.pem' }, /--tls-cert needs --tls-key/);
  fails({ 'tls-key': 'k.pem' }, /--tls-key needs --tls-cert/);
  fails({ 'tls-client-ca': 'ca.pem' }, /--tls-client-ca needs --tls-cert and --tls-key/);
});

test('Triton\'s bool values, and nothing else', () => {
  fails({ 'grpc-use-ssl': 'yes' }, /--grpc-use-ssl must be true or false \(or 1\/0, on\/off\), got 'yes'/);
  fails({ 'grpc-use-ssl-mutual': '2' }, /--grpc-use-ssl-mutual must be true or false/);
  for (const off of ['false', 'OFF', '0']) assert.equal(tlsFromFlags({ 'grpc-use-ssl': off }, notPem).grpcTls, null);
});

test('gRPC TLS needs a certificate and key from --grpc-server-* or --tls-*; mutual needs a CA', () => {
  fails({ 'grpc-use-ssl': 'true' }, /--grpc-use-ssl true needs --grpc-server-cert \(or --tls-cert\)/);
  fails({ 'grpc-use-ssl': '1', 'grpc-server-cert': 'c.pem' }, /needs --grpc-server-key \(or --tls-key\)/);
  // --grpc-use-ssl-mutual turns SSL on even with --grpc-use-ssl false, as in Triton.
  fails({ 'grpc-use-ssl': 'false', 'grpc-use-ssl-mutual': 'true' }, /--grpc-use-ssl-mutual needs --grpc-server-cert/);
  fails({ 'grpc-use-ssl-mutual': 'true', 'grpc-server-cert': 'c.pem', 'grpc-server-key': 'k.pem' },
    /--grpc-use-ssl-mutual needs --grpc-root-cert \(or --tls-client-ca\)/);
});

test('--grpc-server-* without --grpc-use-ssl are ignored with a warning, as Triton ignores them', () => {
  const r = tlsFromFlags({ 'grpc-server-cert': 'c.pem', 'grpc-root-cert': 'ca.pem' }, () => assert.fail('nothing should be read'));
  assert.equal(r.grpcTls, null);
  assert.deepEqual(r.warnings, ['--grpc-server-cert, --grpc-root-cert ignored: gRPC is plaintext without --grpc-use-ssl true (as in Triton)']);
});

test('an unreadable file or one that is not PEM is named with its flag', () => {
  const missing = () => {
    throw new Error("ENOENT: no such file or directory, open 'c.pem'");
  };
  fails({ 'tls-cert': 'c.pem', 'tls-key': 'k.pem' }, /--tls-cert: cannot read 'c\.pem' \(ENOENT/, missing);
  fails({ 'tls-cert': 'c.pem', 'tls-key': 'k.pem' }, /--tls-cert 'c\.pem' is not a PEM-encoded certificate/);
  fails({ 'grpc-use-ssl': 'on', 'grpc-server-cert': 'g.pem', 'grpc-server-key': 'k.pem' }, /--grpc-server-cert 'g\.pem' is not a PEM-encoded certificate/);
});
