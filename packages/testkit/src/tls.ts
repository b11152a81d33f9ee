import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { findBinary } from './binaries.js';
import { ServerUnavailableError } from './errors.js';

const run = promisify(execFile);

/** A throwaway CA and a server certificate for 127.0.0.1 / localhost signed by it (PEM text and paths). */
export interface TlsMaterial {
  ca: string;
  cert: string;
  key: string;
  caPath: string;
  certPath: string;
  keyPath: string;
}

/** Creates a CA and a server certificate in `dir` with the openssl CLI. */
export async function createTlsMaterial(dir: string): Promise<TlsMaterial> {
  const openssl = findBinary('openssl', ['/usr/bin', '/usr/local/bin']);
  if (!openssl) {
    throw new ServerUnavailableError(
      'redis',
      'openssl is needed for a TLS server and was not found',
      'apt-get install openssl',
    );
  }
  const path = (name: string) => join(dir, name);
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  writeFileSync(path('server.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
  await run(openssl, [
    'req',
    '-x509',
    ...ec,
    '-days',
    '2',
    '-subj',
    '/CN=larder-testkit-ca',
    '-keyout',
    path('ca.key'),
    '-out',
    path('ca.crt'),
  ]);
  await run(openssl, [
    'req',
    ...ec,
    '-subj',
    '/CN=localhost',
    '-keyout',
    path('server.key'),
    '-out',
    path('server.csr'),
  ]);
  await run(openssl, [
    'x509',
    '-req',
    '-in',
    path('server.csr'),
    '-CA',
    path('ca.crt'),
    '-CAkey',
    path('ca.key'),
    '-CAcreateserial',
    '-days',
    '2',
    '-extfile',
    path('server.ext'),
    '-out',
    path('server.crt'),
  ]);
  return {
    ca: readFileSync(path('ca.crt'), 'utf8'),
    cert: readFileSync(path('server.crt'), 'utf8'),
    key: readFileSync(path('server.key'), 'utf8'),
    caPath: path('ca.crt'),
    certPath: path('server.crt'),
    keyPath: path('server.key'),
  };
}
