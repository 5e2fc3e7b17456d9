// The server section of clusters.yaml: access settings and the phone's address.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { defaultServerConfig, loadConfig, serverOptionNames } from './config.js';

const dir = mkdtempSync(join(tmpdir(), 'mc-server-config-'));
const load = (server: string) => {
  const file = join(dir, 'clusters.yaml');
  writeFileSync(file, `clusters:\n  here:\n    transport: local\n${server}`);
  return loadConfig(file);
};
const loadError = (server: string): string => {
  try {
    load(server);
  } catch (error) {
    expect((error as Error).message.split('\n')).toHaveLength(1);
    return (error as Error).message;
  }
  throw new Error('expected the config to be rejected');
};

it('defaults to tokens required, a first token made at start, no CORS origin and no public URL', () => {
  expect(load('').server).toEqual({ corsOrigins: [], auth: { allowLoopbackWithoutToken: false, createTokenAtFirstStart: true }, metricsAccess: 'loopback', logLevel: 'info' });
  expect(defaultServerConfig).toEqual(load('').server);
});

it('reads every server option', () => {
  const config = load(
    'server:\n  publicUrl: https://mc.example.org/\n  corsOrigins: [https://app.example.org, "http://localhost:5173"]\n  auth:\n    allowLoopbackWithoutToken: true\n    createTokenAtFirstStart: false\n  tls:\n    certFile: /etc/mc/cert.pem\n    keyFile: /etc/mc/key.pem\n  metricsAccess: token\n  logLevel: debug\n',
  );
  expect(config.server).toEqual({
    publicUrl: 'https://mc.example.org',
    corsOrigins: ['https://app.example.org', 'http://localhost:5173'],
    auth: { allowLoopbackWithoutToken: true, createTokenAtFirstStart: false },
    tls: { certFile: '/etc/mc/cert.pem', keyFile: '/etc/mc/key.pem' },
    metricsAccess: 'token',
    logLevel: 'debug',
  });
});

it('names the field of a bad server option, with a hint for a misspelt one', () => {
  expect(loadError('server:\n  publicUrl: ftp://mc.example.org\n')).toMatch(/field "server\.publicUrl" must be an http:\/\/ or https:\/\/ URL/);
  expect(loadError('server:\n  corsOrigins: [https://app.example.org/path]\n')).toMatch(/field "server\.corsOrigins\.0" must be origins/);
  expect(loadError('server:\n  auth:\n    allowLoopbackWithoutTokens: true\n')).toMatch(/unknown field "allowLoopbackWithoutTokens" \(did you mean "allowLoopbackWithoutToken"\?\) in server\.auth$/);
  expect(loadError('server:\n  publicURL: https://mc.example.org\n')).toMatch(/unknown field "publicURL" \(did you mean "publicUrl"\?\) in server$/);
  expect(loadError('server:\n  tls:\n    certfile: a.pem\n    keyFile: b.pem\n')).toMatch(/unknown field "certfile" \(did you mean "certFile"\?\) in server\.tls$/);
  expect(loadError('server:\n  metricsAccess: everyone\n')).toMatch(/field "server\.metricsAccess"/);
  expect(loadError('server:\n  logLevel: verbose\n')).toMatch(/field "server\.logLevel"/);
  expect(loadError('server:\n  auth:\n    allowLoopbackWithoutToken: yes please\n')).toMatch(/field "server\.auth\.allowLoopbackWithoutToken"/);
});

it('config/clusters.example.yaml documents every server option', () => {
  const example = readFileSync('config/clusters.example.yaml', 'utf8');
  expect(serverOptionNames).toEqual(['publicUrl', 'corsOrigins', 'auth', 'tls', 'metricsAccess', 'logLevel', 'allowLoopbackWithoutToken', 'createTokenAtFirstStart', 'certFile', 'keyFile']);
  expect(serverOptionNames.filter((name) => !new RegExp(`^\\s*#?\\s*${name}:`, 'm').test(example))).toEqual([]);
});
