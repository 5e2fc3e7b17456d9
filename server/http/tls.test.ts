// The server's own HTTPS: a pair that cannot serve is refused naming its file, the server answers GraphQL over TLS, and
// a renewed certificate is served from the next handshake without a restart (a broken renewal keeps the running one).
import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';
import { afterAll, expect, it } from 'vitest';
import { startServer } from '../main.js';
import { ConfigError } from '../errors.js';
import { readTlsPair } from './tls.js';
import { selfSigned } from '../../test/self-signed.js';

const dir = mkdtempSync(join(tmpdir(), 'mc-tls-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Writes a file as renewal tools do: a new file renamed over the old one. */
function replace(path: string, content: string): void {
  writeFileSync(`${path}.new`, content);
  renameSync(`${path}.new`, path);
}

const first = selfSigned(dir, 'first');
const second = selfSigned(dir, 'second');

it('names the file at fault when the pair cannot serve', () => {
  const files = { certFile: join(dir, 'c.pem'), keyFile: join(dir, 'k.pem') };
  expect(() => readTlsPair(files)).toThrow(new ConfigError(`server.tls.certFile: cannot read ${files.certFile}: ENOENT`));
  writeFileSync(files.certFile, 'not a certificate');
  writeFileSync(files.keyFile, first.key);
  expect(() => readTlsPair(files)).toThrow(/^server\.tls\.certFile: .*c\.pem is not a PEM certificate/);
  writeFileSync(files.certFile, first.cert);
  writeFileSync(files.keyFile, 'not a key');
  expect(() => readTlsPair(files)).toThrow(/^server\.tls\.keyFile: .*k\.pem is not a PEM private key/);
  writeFileSync(files.keyFile, second.key);
  expect(() => readTlsPair(files)).toThrow(/^server\.tls\.keyFile: .*k\.pem is not the key of the certificate in .*c\.pem/);
  writeFileSync(files.keyFile, first.key);
  expect(readTlsPair(files).cert.toString()).toBe(first.cert);
});

/** POSTs a query over HTTPS trusting only `ca`; returns the answer and the certificate's CN the server presented. */
function ask(url: string, ca: string): Promise<{ status: number; body: string; servedBy: string }> {
  return new Promise((resolve, reject) => {
    const req = request(`${url}/graphql`, { method: 'POST', ca, agent: false, headers: { 'content-type': 'application/json' } }, (res) => {
      const servedBy = String((res.socket as TLSSocket).getPeerCertificate().subject.CN);
      let body = '';
      res.setEncoding('utf8').on('data', (chunk) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, servedBy }));
    });
    req.on('error', reject);
    req.end(JSON.stringify({ query: '{ __typename }' }));
  });
}

it('serves HTTPS with server.tls and takes a renewed certificate without a restart', async () => {
  const certFile = join(dir, 'live.cert.pem');
  const keyFile = join(dir, 'live.key.pem');
  writeFileSync(certFile, first.cert);
  writeFileSync(keyFile, first.key);
  const configPath = join(dir, 'clusters.yaml');
  writeFileSync(configPath, `clusters: {}\nserver:\n  auth:\n    allowLoopbackWithoutToken: true\n  tls:\n    certFile: ${certFile}\n    keyFile: ${keyFile}\n`);
  const running = await startServer({ configPath, dataDir: join(dir, 'data'), port: 0, host: '127.0.0.1', dev: false, staticDir: dir });
  try {
    expect(running.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    expect(await ask(running.url, first.cert)).toEqual({ status: 200, body: '{"data":{"__typename":"Query"}}', servedBy: 'first' });

    replace(keyFile, second.key);
    replace(certFile, second.cert);
    await expect.poll(() => ask(running.url, second.cert).then((answer) => answer.servedBy, () => 'not yet'), { timeout: 5_000 }).toBe('second');

    // A renewal that went wrong (a key without its certificate): the running pair stays, and says why in the log.
    replace(keyFile, first.key);
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    expect((await ask(running.url, second.cert)).servedBy).toBe('second');
  } finally {
    await running.stop();
  }
}, 30_000);
